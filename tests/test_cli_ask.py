"""`tgrelay ask`: a question with buttons, answered in the simulated Telegram, and the command's exit code.

The installed command runs against the real processes (tests/cli_relay.py);
the person presses a button or replies through the simulator's control API,
as Telegram would deliver it to the bot. The command exits 0 for the first
button, 1 for any other answer and 2 when no answer came in time. The
service may send webhooks to 127.0.0.1, where a test's receiver hears the
answer as a signed `message.answered` event.
"""

import os
import pty
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.cli_relay import CliRelay, Person
from tests.processes import wait_until
from tests.webhook_receiver import Receiver


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRelay]:
    running = CliRelay(tmp_path_factory.mktemp("cli-ask"), webhooks_to_private_addresses=True)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def person(stack: CliRelay) -> Person:
    return stack.person("dave")


def asking(stack: CliRelay, person: Person, *args: str, stderr=subprocess.PIPE) -> tuple[subprocess.Popen, dict]:
    """`tgrelay ask` started, and the question as it reached the person's chat."""
    since = len(stack.telegram.sent(person.chat_id))
    process = stack.start_command("ask", *args, env=stack.configured(person), stdout=subprocess.PIPE, stderr=stderr)

    def question() -> dict | None:
        if process.poll() is not None:
            raise AssertionError(f"tgrelay exited with {process.returncode}: {process.communicate()}")
        return next(iter(stack.telegram.sent(person.chat_id)[since:]), None)

    arrived = wait_until(question, what="the question to reach the chat")

    # A reply finds its question by the Telegram message it answers, which the relay records once sent.
    def recorded() -> bool:
        latest = stack.api.get("/api/v1/messages/", headers=person.auth).json()["results"][0]
        return arrived["text"].endswith(latest["text"]) and latest["status"] == "sent"

    wait_until(recorded, what="the question to be recorded as sent")
    return process, arrived


def press(stack: CliRelay, person: Person, question: dict, label: str) -> None:
    path = f"/_control/chats/{person.chat_id}/messages/{question['message_id']}/press"
    [data] = [
        button["callback_data"]
        for row in question["reply_markup"]["inline_keyboard"]
        for button in row
        if button["text"] == label
    ]
    pressed = stack.telegram.http.post(path, json={"from": person.chat_id, "data": data})
    assert pressed.status_code == 200, pressed.text


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"tgrelay ask did not finish: {process.communicate()}") from None
    assert "Traceback" not in (stderr or ""), stderr
    return process.returncode, stdout, stderr or ""


def test_the_first_button_exits_0_and_prints_its_answer(stack: CliRelay, person: Person) -> None:
    process, question = asking(stack, person, "Ship v2.3?", "--button", "yes:Ship", "--button", "no:Stop")

    assert question["text"] == person.header + "Ship v2.3?"
    labels = [[button["text"] for button in row] for row in question["reply_markup"]["inline_keyboard"]]
    assert labels == [["Ship", "Stop"]]
    press(stack, person, question, "Ship")

    code, stdout, stderr = finished(process)
    assert (code, stdout) == (0, "yes\n"), stderr


def test_an_approval_gate_exits_with_the_pressed_answer_and_the_webhook_hears_it(stack: CliRelay) -> None:
    # A person of its own, so no other test's answers reach the endpoint.
    person = stack.person("erin")
    with Receiver() as receiver:
        created = stack.api.post(
            "/api/v1/webhooks/", json={"url": receiver.url, "events": ["message.answered"]}, headers=person.auth
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert secret.startswith("whsec_")

        process, question = asking(
            stack, person, "Ship v2.3?", "--button", "yes:Ship", "--button", "no:Stop", "--timeout", "1m"
        )
        labels = [[button["text"] for button in row] for row in question["reply_markup"]["inline_keyboard"]]
        assert (question["text"], labels) == (person.header + "Ship v2.3?", [["Ship", "Stop"]])
        message_id = stack.api.get("/api/v1/messages/", headers=person.auth).json()["results"][0]["id"]

        pressed = time.monotonic()
        press(stack, person, question, "Ship")
        code, stdout, stderr = finished(process)
        print(f"\npress to `tgrelay ask` exiting: {time.monotonic() - pressed:.2f}s")
        assert (code, stdout) == (0, "yes\n"), stderr

        [event] = wait_until(lambda: receiver.events(secret), what="message.answered at the webhook endpoint")

    assert event["type"] == "message.answered"
    assert event["data"]["message"]["id"] == message_id
    answer = event["data"]["message"]["answer"]
    assert (answer["value"], answer["kind"]) == ("yes", "button")
    assert answer == stack.message(person, message_id)["answer"]
    assert [request.path for request in receiver.requests] == ["/hook"]


def test_another_button_exits_1_and_prints_its_answer(stack: CliRelay, person: Person) -> None:
    process, question = asking(
        stack, person, "Restart web-1?", "--button", "yes:Restart", "--button", "no:Leave it", "--timeout", "2m"
    )
    press(stack, person, question, "Leave it")

    code, stdout, stderr = finished(process)
    assert (code, stdout) == (1, "no\n"), stderr


def test_a_written_reply_exits_1_and_prints_it(stack: CliRelay, person: Person) -> None:
    process, question = asking(stack, person, "Which tag?", "--button", "latest:Latest")
    path = f"/_control/chats/{person.chat_id}/messages/{question['message_id']}/reply"
    replied = stack.telegram.http.post(path, json={"from": person.chat_id, "text": "v2.3.1"})
    assert replied.status_code == 200, replied.text

    code, stdout, stderr = finished(process)
    assert (code, stdout) == (1, "v2.3.1\n"), stderr


def test_no_answer_in_time_exits_2_with_a_progress_line_on_a_terminal(stack: CliRelay, person: Person) -> None:
    # stderr is a terminal here, so the command shows how long it still waits.
    terminal, stderr = pty.openpty()
    try:
        process, _ = asking(stack, person, "Anyone?", "--button", "yes:Yes", "--timeout", "5s", stderr=stderr)
        os.close(stderr)
        code, stdout, _ = finished(process)
        shown = _read_all(terminal)
    finally:
        os.close(terminal)

    assert (code, stdout) == (2, "")
    assert "Waiting for an answer to message" in shown
    assert "no answer within 5s" in shown


def test_no_progress_line_when_stderr_is_not_a_terminal(stack: CliRelay, person: Person) -> None:
    process, _ = asking(stack, person, "Anyone there?", "--button", "yes:Yes", "--timeout", "3s")

    code, stdout, stderr = finished(process)
    assert (code, stdout) == (2, "")
    assert stderr == "tgrelay: no answer within 3s\n"


def test_the_python_client_asks_and_gets_the_answer(stack: CliRelay, person: Person) -> None:
    import tgrelay

    with tgrelay.Client(stack.url, person.token) as relay:
        since = len(stack.telegram.sent(person.chat_id))
        question = relay.send_question("Merge #42?", [("merge", "Merge"), ("wait", "Not yet")])
        [arrived] = wait_until(lambda: stack.telegram.sent(person.chat_id)[since:], what="the question")
        press(stack, person, arrived, "Not yet")

        answer = relay.wait_for_answer(question, timeout=60)

        assert answer is not None
        assert (answer.value, answer.kind) == ("wait", "button")
        assert answer.by and answer.at is not None
        assert relay.message(question.id).answer == answer
        assert relay.ask("Still there?", [("yes", "Yes")], timeout=1) is None


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end closed: Linux's EIO
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
