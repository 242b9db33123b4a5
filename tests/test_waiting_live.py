"""`?wait=` on the real web server: waiting requests hold threads of their own, never the turn to run.

One gunicorn process that runs one request at a time (WEB_THREADS=1) and
holds two more while they wait for an answer (WAIT_SLOTS=2), as
gunicorn.conf.py and config/turns.py make it. While two requests wait on a
question, the rest of the API answers; a third wait finds no slot and is
answered at once; a press in the simulated Telegram ends both waits.
"""

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.cli_relay import CliRelay, Person
from tests.processes import wait_until
from tests.test_cli_ask import press

QUESTION = {"text": "Ship v2.3?", "buttons": [[{"text": "Ship it", "answer": "yes"}, {"text": "Stop", "answer": "no"}]]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRelay]:
    running = CliRelay(tmp_path_factory.mktemp("waiting"))
    running.relay.processes.env["WAIT_SLOTS"] = "2"
    try:
        running.start()
        yield running
    finally:
        running.stop()


def waiting_now(stack: CliRelay) -> float:
    metrics = stack.api.get("/metrics").text
    [line] = [line for line in metrics.splitlines() if line.startswith("tgrelay_waiting_requests ")]
    return float(line.split()[1])


def asked(stack: CliRelay, person: Person) -> tuple[int, dict]:
    """A question sent to the person's chat: its id in the API and the Telegram message that carried it."""
    message_id = stack.api.post("/api/v1/messages/", json=QUESTION, headers=person.auth).json()["id"]
    question = wait_until(
        lambda: next((sent for sent in stack.telegram.sent(person.chat_id) if "reply_markup" in sent), None),
        what="the question to reach the chat",
    )
    wait_until(lambda: stack.message(person, message_id)["status"] == "sent", what="the question to be sent")
    return message_id, question


def test_requests_that_wait_leave_the_api_to_the_others_until_the_answer_comes(stack: CliRelay) -> None:
    person = stack.person("wendy")
    message_id, question = asked(stack, person)
    answers: list[dict] = []

    def wait_for_the_answer() -> None:
        with httpx.Client(base_url=stack.url, timeout=120) as client:
            waited = client.get(f"/api/v1/messages/{message_id}/", params={"wait": 90}, headers=person.auth)
            answers.append(waited.json())

    waiters = [threading.Thread(target=wait_for_the_answer) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    wait_until(lambda: waiting_now(stack) == 2, what="both requests to wait")

    # The one turn to run is free: the rest of the API answers while they wait.
    sent = stack.api.post("/api/v1/messages/", json={"text": "beside the waiters"}, headers=person.auth)
    assert sent.status_code == 202, sent.text
    listed = stack.api.get("/api/v1/messages/", headers=person.auth)
    assert listed.status_code == 200
    # No slot is left in the process: a third wait is answered at once, unanswered.
    third = stack.api.get(f"/api/v1/messages/{message_id}/", params={"wait": 90}, headers=person.auth)
    assert third.status_code == 200
    assert third.json()["answer"] is None
    assert all(waiter.is_alive() for waiter in waiters)
    assert answers == []

    press(stack, person, question, "Ship it")
    for waiter in waiters:
        waiter.join(60)
    assert [answer["answer"]["value"] for answer in answers] == ["yes", "yes"]
    assert waiting_now(stack) == 0
