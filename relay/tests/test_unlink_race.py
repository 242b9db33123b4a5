"""Posting while another request unlinks and relinks the chat: each post is refused or stores its own message.

Real threads, each with its own database connection, against the app: three post,
a fourth unlinks and links the chat again until they are done.
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import issue_token
from conftest import ALICE_CHAT, link, make_due, run_sweep
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL
from relaybot.services import unlink_chat

pytestmark = pytest.mark.django_db(transaction=True)

POSTERS = 3
# Enough for the old code to cross or 500 several posts each run (about one in ten raced), few enough to stay quick.
POSTS_EACH = 15
SEND_URL = "/cabinet/messages/send/"
NOT_LINKED_IN_THE_CABINET = "Connect Telegram first"
ON_ITS_WAY = "The message is on its way."


@dataclass
class Outcome:
    text: str
    status: int
    body: dict | None = None
    location: str = ""


def run_race(alice, post) -> tuple[list[Outcome], int]:
    """POSTERS threads each make POSTS_EACH posts with `post(client, text)` while another thread unlinks and
    relinks alice's chat; returns every post's outcome and how many times the chat was unlinked."""
    start = threading.Barrier(POSTERS + 1)
    posting_done = threading.Event()
    outcomes: list[Outcome] = []
    unlinks = 0
    errors: list[BaseException] = []

    def poster(number: int) -> None:
        try:
            client = post.client(alice)
            start.wait()
            for index in range(POSTS_EACH):
                outcomes.append(post(client, f"post {number}-{index}"))
        except BaseException as error:  # noqa: BLE001 (reported to the test below)
            errors.append(error)
        finally:
            connection.close()

    def unlinker() -> None:
        nonlocal unlinks
        try:
            start.wait()
            while not posting_done.is_set():
                unlinks += unlink_chat(user=alice)
                link(alice, ALICE_CHAT)
                # A breath between rounds: back to back, the unlinker holds SQLite's write lock
                # nearly all the time and the posters mostly wait for it.
                time.sleep(0.002)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    posters = [threading.Thread(target=poster, args=(number,)) for number in range(POSTERS)]
    adversary = threading.Thread(target=unlinker)
    for thread in [*posters, adversary]:
        thread.start()
    for thread in posters:
        thread.join()
    posting_done.set()
    adversary.join()
    assert errors == []
    return outcomes, unlinks


class ApiPost:
    """POST /api/v1/messages/ (or the original /message/sent) with a Bearer token, with or without a key."""

    def __init__(self, url: str, field: str, with_key: bool) -> None:
        self.url, self.field, self.with_key = url, field, with_key

    def client(self, user) -> APIClient:
        _, token = issue_token(user=user)
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    def __call__(self, client: APIClient, text: str) -> Outcome:
        headers = {"HTTP_IDEMPOTENCY_KEY": f"key {text}"} if self.with_key else {}
        response = client.post(self.url, {self.field: text}, format="json", **headers)
        body = response.json() if response["Content-Type"] == "application/json" else None
        return Outcome(text, response.status_code, body)


def assert_stored_and_delivered_or_failed_by_the_unlink(alice, tg, accepted: set[str]) -> None:
    """The accepted posts, and only they, are stored, each once; each is delivered, or failed by an unlink."""
    make_due()
    run_sweep()
    stored = list(Message.objects.filter(user=alice))
    assert sorted(message.text for message in stored) == sorted(accepted)
    shown = Counter(record["text"] for record in tg.sent(chat_id=ALICE_CHAT))
    for message in stored:
        if message.status == Message.Status.SENT:
            assert shown[message.header + message.text] == 1
        else:
            assert (message.status, message.error) == (
                Message.Status.FAILED,
                "Not delivered: the chat was unlinked.",
            ), message.text


@pytest.mark.parametrize(
    "post",
    [
        ApiPost(MESSAGES_URL, "text", with_key=False),
        ApiPost(MESSAGES_URL, "text", with_key=True),
        ApiPost("/message/sent", "content", with_key=False),
        ApiPost("/message/sent", "content", with_key=True),
    ],
    ids=["api", "api-with-key", "original-route", "original-route-with-key"],
)
def test_each_post_racing_an_unlink_is_refused_or_stores_its_own_message(tg, alice, post):
    link(alice, ALICE_CHAT)

    outcomes, unlinks = run_race(alice, post)

    assert unlinks > 0
    assert Counter(outcome.status for outcome in outcomes).keys() <= {202, 409}, [
        (outcome.status, outcome.body) for outcome in outcomes if outcome.status not in (202, 409)
    ]
    text_field = post.field
    accepted = [outcome for outcome in outcomes if outcome.status == 202]
    refused = [outcome for outcome in outcomes if outcome.status == 409]
    # Each 202 names the message made of its own text, never another one.
    assert [outcome.body[text_field] for outcome in accepted] == [outcome.text for outcome in accepted]
    assert len({outcome.body["id"] for outcome in accepted}) == len(accepted)
    assert {outcome.body["code"] for outcome in refused} <= {"chat_not_linked"}
    assert_stored_and_delivered_or_failed_by_the_unlink(alice, tg, {outcome.text for outcome in accepted})


class CabinetPost:
    """The cabinet's send form, logged in."""

    field = "text"

    def client(self, user) -> Client:
        client = Client(raise_request_exception=False)
        client.force_login(user)
        return client

    def __call__(self, client: Client, text: str) -> Outcome:
        response = client.post(SEND_URL, {"text": text})
        outcome = Outcome(text, response.status_code, location=response.get("Location", ""))
        if response.status_code == 303:
            # The dashboard it leads to says, once, what became of the message.
            page = client.get(outcome.location.split("#")[0]).content.decode()
            outcome.body = {"accepted": ON_ITS_WAY in page, "refused": NOT_LINKED_IN_THE_CABINET in page}
        return outcome


def test_each_cabinet_send_racing_an_unlink_is_refused_or_stores_its_own_message(tg, alice):
    link(alice, ALICE_CHAT)

    outcomes, unlinks = run_race(alice, CabinetPost())

    assert unlinks > 0
    assert {outcome.status for outcome in outcomes} == {303}
    # Each one said to be on its way, or refused because no chat is linked.
    assert all(outcome.body["accepted"] != outcome.body["refused"] for outcome in outcomes)
    accepted = {outcome.text for outcome in outcomes if outcome.body["accepted"]}
    assert_stored_and_delivered_or_failed_by_the_unlink(alice, tg, accepted)
