"""The token query every API request makes, its SQL built once per connection (config/prepared.py)."""

import threading

import pytest
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import issue_token
from config.prepared import Placeholder, PreparedQuery
from conftest import ALICE_CHAT, BOB_CHAT, link, make_user
from relay.tests.helpers import delivered_text

MESSAGES_URL = "/api/v1/messages/"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db(transaction=True)
def test_requests_from_many_threads_each_reach_their_own_account_and_default(tg):
    # Each thread has its own connection, so each builds the query for itself.
    accounts = []
    for n, chat_id in enumerate((ALICE_CHAT, BOB_CHAT, 3003, 4004)):
        user = make_user(f"user{n}", f"User {n}")
        link(user, chat_id)
        accounts.append((issue_token(user=user)[1], f"User {n}", chat_id))
    barrier = threading.Barrier(len(accounts))
    answers = {}

    def send(token: str, name: str, chat_id: int) -> None:
        try:
            client = bearer(token)
            barrier.wait()
            answers[chat_id] = [client.post(MESSAGES_URL, {"text": f"from {name}"}, format="json") for _ in range(3)]
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=account) for account in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for _, name, chat_id in accounts:
        assert [response.status_code for response in answers[chat_id]] == [202, 202, 202]
        assert [m["text"] for m in tg.wait_sent(3, chat_id=chat_id)] == [delivered_text(name, f"from {name}")] * 3


@pytest.mark.django_db
def test_a_token_whose_key_matches_another_but_whose_secret_does_not_is_refused(tg, alice):
    link(alice, ALICE_CHAT)
    instance, token = issue_token(user=alice)
    # The same 15-character key, another secret: found by the query, refused by the digest.
    forged = token[:15] + ("0" if token[15] != "0" else "1") + token[16:]

    assert bearer(forged).post(MESSAGES_URL, {"text": "x"}, format="json").status_code == 401
    assert bearer(token).post(MESSAGES_URL, {"text": "x"}, format="json").status_code == 202
    assert AuthToken.objects.filter(token_key=instance.token_key).count() == 1


@pytest.mark.django_db
def test_an_account_without_a_default_destination_is_told_to_link_one(alice):
    response = bearer(issue_token(user=alice)[1]).post(MESSAGES_URL, {"text": "x"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "chat_not_linked"


@pytest.mark.django_db
def test_a_lookup_that_rewrites_its_value_cannot_be_prepared(alice):
    name = Placeholder("name")
    exact = PreparedQuery(lambda value: User.objects.filter(username=value), name)
    assert exact("alice") == [alice]
    assert exact("ALICE") == []
    assert exact("a_ice") == []
    # iexact on SQLite is LIKE with `%` and `_` escaped: "a_ice" would find alice.
    for lookup in ("iexact", "icontains", "startswith"):
        refused = PreparedQuery(
            lambda value, lookup=lookup: User.objects.filter(**{f"username__{lookup}": value}), name
        )
        with pytest.raises(ValueError, match="exact lookup"):
            refused("a_ice")
