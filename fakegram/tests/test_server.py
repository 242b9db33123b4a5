"""The simulated Telegram, driven over real HTTP the way the relay and other processes use it."""

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from fakegram.server import MIGRATED, POLL_CONFLICT, WEBHOOK_ACTIVE, FakeTelegram

TOKEN = "123456:TEST-token_for-fakegram"
NEW_GROUP = -1001234567890


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # Local traffic must not go through a proxy named in the environment.
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


def bot(tg: FakeTelegram, method: str, token: str = TOKEN) -> str:
    return f"{tg.url}/bot{token}/{method}"


def control(tg: FakeTelegram, path: str) -> str:
    return f"{tg.url}/_control/{path}"


def send(http: httpx.Client, tg: FakeTelegram, chat_id: int = 42, text: str = "hi", **extra) -> httpx.Response:
    return http.post(bot(tg, "sendMessage"), json={"chat_id": chat_id, "text": text, **extra})


def get_updates(tg: FakeTelegram, **params) -> httpx.Response:
    """A getUpdates call on its own connection, so it can run in a thread."""
    with httpx.Client(trust_env=False, timeout=15) as client:
        return client.get(bot(tg, "getUpdates"), params=params)


def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def poller_is_waiting(tg: FakeTelegram, tickets: int) -> Callable[[], bool]:
    # A poller takes its ticket and starts waiting under one hold of the lock,
    # so once the ticket is visible and the lock is free, it is waiting.
    def check() -> bool:
        with tg._lock:
            return tg._poll_ticket == tickets

    return check


def error(code: int, description: str, **parameters) -> dict:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


# -- getMe, tokens, methods ------------------------------------------------------


def test_get_me_describes_the_bot(tg, http):
    response = http.get(bot(tg, "getMe"))

    assert response.status_code == 200
    me = response.json()["result"]
    assert response.json()["ok"] is True
    assert me["id"] == 7000000001
    assert me["is_bot"] is True
    assert me["first_name"] == "tg-relay demo"
    assert me["username"] == "tgrelay_demo_bot"
    assert me["can_join_groups"] is False


def test_method_names_are_case_insensitive(tg, http):
    assert http.post(bot(tg, "getme")).json()["ok"] is True


def test_wrong_token_is_unauthorized(tg, http):
    response = http.post(bot(tg, "getMe", token="654321:other"))

    assert response.status_code == 401
    assert response.json() == error(401, "Unauthorized")


def test_any_token_is_accepted_when_none_is_configured(http):
    with FakeTelegram(bot_username="other_bot") as tg:
        response = http.get(bot(tg, "getMe", token="1:whatever"))

    assert response.json()["result"]["username"] == "other_bot"


def test_unknown_method_is_not_found(tg, http):
    response = http.post(bot(tg, "sendTelepathy"))

    assert response.status_code == 404
    assert response.json() == error(404, "Not Found")


# -- sendMessage -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["line one\nline two\n\n  indented\n", "<b>&amp; & < >", "emoji 👍🏽 flags 🇷🇺 and ∑"],
)
@pytest.mark.parametrize("encoding", ["json", "form"])
def test_send_message_round_trips_text_exactly(tg, http, text, encoding):
    fields = {"chat_id": 42, "text": text}
    if encoding == "json":
        response = http.post(bot(tg, "sendMessage"), json=fields)
    else:
        response = http.post(bot(tg, "sendMessage"), data=fields)

    assert response.status_code == 200
    message = response.json()["result"]
    assert message["text"] == text
    assert message["chat"] == {"id": 42, "type": "private"}
    assert message["from"]["is_bot"] is True
    assert isinstance(message["date"], int)
    assert tg.sent() == [{"chat_id": 42, "message_id": message["message_id"], "text": text, "date": message["date"]}]


def test_form_values_are_read_as_json_like_telegram_does(tg, http):
    response = http.post(
        bot(tg, "sendMessage"),
        data={"chat_id": "-100123", "text": "123", "link_preview_options": '{"is_disabled": true}'},
    )

    assert response.json()["result"]["chat"]["id"] == -100123
    assert response.json()["result"]["text"] == "123"


def test_query_string_parameters_work_with_get(tg, http):
    response = http.get(bot(tg, "sendMessage"), params={"chat_id": "7", "text": "via GET"})

    assert response.json()["result"]["chat"]["id"] == 7


def test_malformed_json_parameter_is_rejected(tg, http):
    response = http.post(bot(tg, "sendMessage"), data={"chat_id": "7", "text": "x", "link_preview_options": "{"})

    assert response.json() == error(400, "Bad Request: can't parse link preview options JSON object")


def test_message_ids_increase_per_chat(tg, http):
    ids = [send(http, tg, chat_id).json()["result"]["message_id"] for chat_id in (1, 1, 2, 1)]

    assert ids == [1, 2, 1, 3]


def test_text_limit_counts_unicode_code_points(tg, http):
    assert send(http, tg, text="x" * 4096).status_code == 200
    assert send(http, tg, text="👍" * 4096).status_code == 200  # 8192 UTF-16 units

    too_long = send(http, tg, text="x" * 4097)

    assert too_long.status_code == 400
    assert too_long.json() == error(400, "Bad Request: message is too long")
    assert len(tg.sent()) == 2


def test_html_markup_does_not_count_towards_the_limit(tg, http):
    response = send(http, tg, text="<b>" + "x" * 4096 + "</b>", parse_mode="HTML")

    assert response.status_code == 200
    assert tg.sent()[0]["parse_mode"] == "HTML"


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"chat_id": 42, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": 42, "text": "  \n "}, "Bad Request: message text is empty"),
        ({"chat_id": 42}, "Bad Request: message text is empty"),
        ({"chat_id": 42, "text": "<b></b>", "parse_mode": "HTML"}, "Bad Request: message text is empty"),
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
        ({"chat_id": "@nobody", "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": 42, "text": "hi", "parse_mode": "BBCode"}, "Bad Request: unsupported parse_mode"),
    ],
)
def test_invalid_send_is_a_bad_request(tg, http, fields, description):
    response = http.post(bot(tg, "sendMessage"), json=fields)

    assert response.status_code == 400
    assert response.json() == error(400, description)
    assert tg.sent() == []


def test_html_is_parsed_like_telegram(tg, http):
    text = 'Price <b>&lt;5</b> &amp; <a href="https://t.me/x?a=1&b=2">more</a> &#128077;'

    response = send(http, tg, text=text, parse_mode="HTML")

    assert response.json()["result"]["text"] == "Price <5 & more 👍"
    assert tg.sent()[0]["text"] == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("é <p>x</p>", 'Unsupported start tag "p" at byte offset 3'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ],
)
def test_bad_html_cannot_be_parsed(tg, http, text, reason):
    response = send(http, tg, text=text, parse_mode="HTML")

    assert response.status_code == 400
    assert response.json() == error(400, f"Bad Request: can't parse entities: {reason}")


def test_plain_text_may_contain_anything(tg, http):
    assert send(http, tg, text="a < b <p>").status_code == 200


# -- getUpdates ------------------------------------------------------------------


def test_offset_confirms_earlier_updates(tg, http):
    first, second, third = (tg.user_says(7, f"message {n}") for n in range(3))

    everything = http.get(bot(tg, "getUpdates")).json()["result"]
    after_first = http.get(bot(tg, "getUpdates"), params={"offset": second}).json()["result"]
    again = http.get(bot(tg, "getUpdates")).json()["result"]
    limited = http.get(bot(tg, "getUpdates"), params={"limit": 1}).json()["result"]
    confirmed = http.get(bot(tg, "getUpdates"), params={"offset": third + 1}).json()["result"]

    assert [u["update_id"] for u in everything] == [first, second, third]
    assert [u["update_id"] for u in after_first] == [second, third]
    assert [u["update_id"] for u in again] == [second, third]
    assert [u["update_id"] for u in limited] == [second]
    assert confirmed == []
    assert http.get(bot(tg, "getWebhookInfo")).json()["result"]["pending_update_count"] == 0


def test_long_poll_returns_as_soon_as_a_message_arrives(tg):
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(get_updates, tg, timeout=30)
        wait_until(poller_is_waiting(tg, tickets=1))
        update_id = tg.user_says(7, "wake up")
        response = poll.result(timeout=5)

    assert response.status_code == 200
    assert [u["update_id"] for u in response.json()["result"]] == [update_id]


def test_long_poll_without_updates_ends_empty(tg):
    assert get_updates(tg, timeout=1).json() == {"ok": True, "result": []}


def test_a_newer_poller_terminates_the_waiting_one(tg):
    with ThreadPoolExecutor(1) as pool:
        older = pool.submit(get_updates, tg, timeout=30)
        wait_until(poller_is_waiting(tg, tickets=1))
        newer = get_updates(tg, timeout=0)
        terminated = older.result(timeout=5)

    assert newer.json() == {"ok": True, "result": []}
    assert terminated.status_code == 409
    assert terminated.json() == error(409, POLL_CONFLICT)


# -- webhooks --------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[SimpleNamespace]:
    """A webhook endpoint that answers the queued statuses (then 200) and records every call."""
    state = SimpleNamespace(statuses=[], calls=queue.Queue())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = state.statuses.pop(0) if state.statuses else 200
            state.calls.put(SimpleNamespace(status=status, headers=self.headers, update=body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def test_webhook_receives_updates_with_the_secret(tg, http, receiver):
    response = http.post(bot(tg, "setWebhook"), json={"url": receiver.url, "secret_token": "s3cr3t-_X"})
    update_id = tg.user_says(7, "/start", username="alice")
    call = receiver.calls.get(timeout=5)

    assert response.json() == {"ok": True, "result": True, "description": "Webhook was set"}
    assert call.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t-_X"
    assert call.headers["Content-Type"] == "application/json"
    assert call.update["update_id"] == update_id
    assert call.update["message"]["text"] == "/start"
    wait_until(lambda: http.get(bot(tg, "getWebhookInfo")).json()["result"]["pending_update_count"] == 0)
    info = http.get(bot(tg, "getWebhookInfo")).json()["result"]
    assert info["url"] == receiver.url
    assert info["has_custom_certificate"] is False
    assert "last_error_date" not in info


def test_webhook_is_retried_after_an_error(tg, http, receiver):
    receiver.statuses = [500]
    http.post(bot(tg, "setWebhook"), json={"url": receiver.url})
    update_id = tg.user_says(7, "hello")

    first, second = receiver.calls.get(timeout=5), receiver.calls.get(timeout=5)

    assert (first.status, second.status) == (500, 200)
    assert first.update == second.update
    assert "X-Telegram-Bot-Api-Secret-Token" not in first.headers
    wait_until(lambda: len(tg.webhook_deliveries()) == 2)
    state = http.get(control(tg, "webhook")).json()
    assert state["url"] == receiver.url
    assert [(d["update_id"], d["status"], d["ok"]) for d in state["deliveries"]] == [
        (update_id, 500, False),
        (update_id, 200, True),
    ]
    info = http.get(bot(tg, "getWebhookInfo")).json()["result"]
    assert "500" in info["last_error_message"]
    assert isinstance(info["last_error_date"], int)


def test_get_updates_conflicts_with_a_webhook(tg, http, receiver):
    http.post(bot(tg, "setWebhook"), json={"url": receiver.url})

    conflict = http.get(bot(tg, "getUpdates"))
    deleted = http.post(bot(tg, "deleteWebhook"))
    after = http.get(bot(tg, "getUpdates"))

    assert conflict.status_code == 409
    assert conflict.json() == error(409, WEBHOOK_ACTIVE)
    assert deleted.json() == {"ok": True, "result": True, "description": "Webhook was deleted"}
    assert after.json() == {"ok": True, "result": []}
    assert http.get(bot(tg, "getWebhookInfo")).json()["result"]["url"] == ""


def test_webhook_secret_must_use_allowed_characters(tg, http):
    response = http.post(bot(tg, "setWebhook"), json={"url": "http://127.0.0.1:9/hook", "secret_token": "no spaces!"})

    assert response.json() == error(400, "Bad Request: secret token contains unallowed characters")
    assert http.get(bot(tg, "getWebhookInfo")).json()["result"]["url"] == ""


# -- scripted faults -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"kind": "429", "retry_after": 3}, error(429, "Too Many Requests: retry after 3", retry_after=3)),
        ({"kind": "500"}, error(500, "Internal Server Error")),
        ({"kind": "502"}, error(502, "Bad Gateway")),
        ({"kind": "403"}, error(403, "Forbidden: bot was blocked by the user")),
        ({"kind": "chat_not_found"}, error(400, "Bad Request: chat not found")),
        ({"kind": "migrate", "migrate_to_chat_id": NEW_GROUP}, error(400, MIGRATED, migrate_to_chat_id=NEW_GROUP)),
        ({"kind": "too_long"}, error(400, "Bad Request: message is too long")),
    ],
)
def test_fault_answers_once_and_sends_nothing(tg, http, rule, expected):
    assert http.post(control(tg, "faults"), json=rule).status_code == 200

    failed = send(http, tg, text="lost")
    next_one = send(http, tg, text="delivered")

    assert failed.status_code == expected["error_code"]
    assert failed.json() == expected
    assert next_one.status_code == 200
    assert [m["text"] for m in tg.sent()] == ["delivered"]


def test_429_fault_sets_the_retry_after_header(tg, http):
    tg.add_fault(kind="429", retry_after=7)

    response = send(http, tg)

    assert response.headers["Retry-After"] == "7"
    assert http.get(control(tg, "requests")).json()["rate_limited"] == 1


def test_drop_closes_the_connection_without_an_answer(tg, http):
    tg.add_fault(kind="drop")

    with pytest.raises(httpx.TransportError):
        send(http, tg, text="lost")

    assert send(http, tg, text="delivered").status_code == 200
    assert [m["text"] for m in tg.sent()] == ["delivered"]


def test_slow_answers_normally_after_the_delay(tg, http):
    tg.add_fault(kind="slow", delay=0.3)

    started = time.monotonic()
    response = send(http, tg, text="eventually")

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert [m["text"] for m in tg.sent()] == ["eventually"]


def test_a_slow_send_still_waiting_when_the_server_is_reset_is_forgotten(tg, http):
    tg.add_fault(kind="slow", delay=0.5)
    outcome: list = []

    def late_send() -> None:
        with httpx.Client(timeout=5) as own:
            try:
                outcome.append(send(own, tg, text="late").status_code)
            except httpx.TransportError as exc:
                outcome.append(type(exc).__name__)

    sender = threading.Thread(target=late_send)
    sender.start()
    wait_until(lambda: tg.request_counts()["counts"].get("sendMessage", 0) == 1)
    tg.reset()
    sender.join()

    # Telegram as it is after the reset: the late send was dropped, not recorded.
    assert outcome and outcome[0] != 200
    assert tg.sent() == []
    assert send(http, tg, text="after").status_code == 200
    assert [m["text"] for m in tg.sent()] == ["after"]


def test_times_counts_uses_of_a_rule(tg, http):
    tg.add_fault(kind="500", times=2)

    statuses = [send(http, tg).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_times_minus_one_lasts_until_cleared(tg, http):
    http.post(control(tg, "faults"), json={"rules": [{"kind": "502", "times": -1}]})

    failing = [send(http, tg).status_code for _ in range(3)]
    http.delete(control(tg, "faults"))

    assert failing == [502, 502, 502]
    assert send(http, tg).status_code == 200


def test_faults_can_target_one_chat_or_another_method(tg, http):
    tg.add_fault(kind="403", chat_id=5)
    tg.add_fault(method="getMe", kind="500")

    assert send(http, tg, chat_id=6).status_code == 200
    assert send(http, tg, chat_id=5).status_code == 403
    assert http.get(bot(tg, "getMe")).status_code == 500
    assert http.get(bot(tg, "getMe")).status_code == 200


# -- persistent chat states ------------------------------------------------------


def test_blocked_chat_is_forbidden_until_unblocked(tg, http):
    http.post(control(tg, "chats/5/block"))

    blocked = [send(http, tg, chat_id=5) for _ in range(2)]
    other = send(http, tg, chat_id=6)
    http.post(control(tg, "chats/5/unblock"))

    assert [r.json() for r in blocked] == [error(403, "Forbidden: bot was blocked by the user")] * 2
    assert other.status_code == 200
    assert send(http, tg, chat_id=5).status_code == 200


def poll_for(http: httpx.Client, tg: FakeTelegram, allowed: list[str]) -> list[dict]:
    return http.post(bot(tg, "getUpdates"), json={"allowed_updates": allowed}).json()["result"]


def test_a_user_blocking_the_bot_is_reported_only_when_asked_for(tg, http):
    tg.user_says(5, "hi", first_name="Eve", username="eve")
    poll_for(http, tg, ["message"])
    http.post(control(tg, "users/5/block")).raise_for_status()
    unasked = send(http, tg, chat_id=5)
    http.post(control(tg, "users/5/unblock")).raise_for_status()
    assert [list(u)[1] for u in poll_for(http, tg, ["message", "my_chat_member"])] == ["message"]

    blocked = http.post(control(tg, "users/5/block")).json()
    again = http.post(control(tg, "users/5/block")).json()
    refused = send(http, tg, chat_id=5)
    restarted = http.post(control(tg, "users/5/unblock")).json()
    accepted = send(http, tg, chat_id=5)

    updates = [u for u in poll_for(http, tg, ["message", "my_chat_member"]) if "my_chat_member" in u]
    assert [u["update_id"] for u in updates] == [blocked["update_id"], restarted["update_id"]]
    # Telegram reports a change only: blocking twice is one update.
    assert again == {"update_id": None}
    assert unasked.status_code == refused.status_code == 403
    kicked, member = (u["my_chat_member"] for u in updates)
    assert kicked["chat"] == {"id": 5, "first_name": "Eve", "username": "eve", "type": "private"}
    assert kicked["from"] == {"id": 5, "is_bot": False, "first_name": "Eve", "username": "eve"}
    assert isinstance(kicked["date"], int)
    assert kicked["old_chat_member"]["status"] == "member"
    assert kicked["new_chat_member"] == {"status": "kicked", "user": tg._bot_user(), "until_date": 0}
    assert member["old_chat_member"]["status"] == "kicked"
    assert member["new_chat_member"] == {"status": "member", "user": tg._bot_user()}
    assert refused.json() == error(403, "Forbidden: bot was blocked by the user")
    assert accepted.status_code == 200


def test_a_user_blocking_the_bot_is_not_sent_by_default(tg, http):
    tg.user_blocks_bot(5)
    tg.user_says(5, "hi")

    updates = http.get(bot(tg, "getUpdates")).json()["result"]

    assert [list(u)[1] for u in updates] == ["message"]


def test_a_webhook_asked_for_my_chat_member_receives_it(tg, http, receiver):
    http.post(bot(tg, "setWebhook"), json={"url": receiver.url, "allowed_updates": ["message", "my_chat_member"]})

    update_id = tg.user_blocks_bot(5)

    call = receiver.calls.get(timeout=5)
    assert call.update["update_id"] == update_id
    assert call.update["my_chat_member"]["new_chat_member"]["status"] == "kicked"


def test_chat_not_found_persists(tg, http):
    http.post(control(tg, "chats/5/not_found"))

    assert [send(http, tg, chat_id=5).status_code for _ in range(2)] == [400, 400]
    assert send(http, tg, chat_id=5).json() == error(400, "Bad Request: chat not found")


def test_migrated_group_points_to_its_new_id(tg, http):
    http.post(control(tg, "chats/-5/migrate"), json={"to": NEW_GROUP})

    old = send(http, tg, chat_id=-5)
    new = send(http, tg, chat_id=NEW_GROUP)

    assert old.json() == error(400, MIGRATED, migrate_to_chat_id=NEW_GROUP)
    assert new.json()["result"]["chat"]["type"] == "supergroup"
    assert [m["chat_id"] for m in tg.sent()] == [NEW_GROUP]


# -- strict rate limits ----------------------------------------------------------


def test_per_chat_limit_answers_429_like_telegram(tg, http):
    http.post(control(tg, "limits"), json={"per_chat_per_second": 1, "global_per_second": None})

    first = send(http, tg, chat_id=1)
    limited = send(http, tg, chat_id=1)
    other_chat = send(http, tg, chat_id=2)

    assert first.status_code == 200
    assert limited.status_code == 429
    retry_after = limited.json()["parameters"]["retry_after"]
    assert isinstance(retry_after, int) and retry_after >= 1
    assert limited.json() == error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
    assert limited.headers["Retry-After"] == str(retry_after)
    assert other_chat.status_code == 200
    time.sleep(retry_after)  # the one correct way to handle a 429
    assert send(http, tg, chat_id=1).status_code == 200
    assert http.get(control(tg, "requests")).json()["rate_limited"] == 1


def test_global_limit_spans_chats(tg, http):
    tg.set_limits(global_per_second=3)

    statuses = [send(http, tg, chat_id=chat).status_code for chat in range(1, 5)]

    assert statuses == [200, 200, 200, 429]


def test_sends_within_the_limits_are_never_limited(tg, http):
    tg.set_limits(per_chat_per_second=1, global_per_second=30)

    statuses = {send(http, tg, chat_id=chat).status_code for chat in range(1, 21)}

    assert statuses == {200}
    assert tg.request_counts()["rate_limited"] == 0


def test_limits_are_off_by_default(tg, http):
    assert {send(http, tg, chat_id=1).status_code for _ in range(10)} == {200}


# -- control API -----------------------------------------------------------------


def test_user_message_is_shaped_like_telegrams(tg, http):
    created = http.post(
        control(tg, "users/555/messages"),
        json={"text": "/start abc_123", "first_name": "Bob", "username": "bob", "language_code": "en"},
    ).json()
    plain = http.post(control(tg, "users/555/messages"), json={"text": "just text"}).json()

    updates = http.get(bot(tg, "getUpdates")).json()["result"]

    assert updates[0]["update_id"] == created["update_id"]
    message = updates[0]["message"]
    assert message["message_id"] == created["message_id"]
    assert message["from"] == {
        "id": 555,
        "is_bot": False,
        "first_name": "Bob",
        "username": "bob",
        "language_code": "en",
    }
    assert message["chat"] == {"id": 555, "first_name": "Bob", "username": "bob", "type": "private"}
    assert message["text"] == "/start abc_123"
    assert message["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert isinstance(message["date"], int)
    assert plain["message_id"] == created["message_id"] + 1
    assert "entities" not in updates[1]["message"]
    assert updates[1]["message"]["from"]["first_name"] == "Alice"


def test_raw_updates_of_any_shape_are_queued(tg, http):
    garbage = http.post(control(tg, "updates"), json={"weird": [1, {"x": None}]}).json()
    explicit = http.post(control(tg, "updates"), json={"update_id": 1000, "message": {"text": 5}}).json()
    following = tg.push_update({"edited_message": {}})

    updates = http.get(bot(tg, "getUpdates")).json()["result"]

    assert updates[0] == {"update_id": garbage["update_id"], "weird": [1, {"x": None}]}
    assert explicit == {"update_id": 1000}
    assert following == 1001
    assert [u["update_id"] for u in updates] == [garbage["update_id"], 1000, 1001]


def test_sent_can_be_filtered_by_chat(tg, http):
    send(http, tg, chat_id=1, text="one")
    send(http, tg, chat_id=2, text="two", parse_mode="HTML")

    everything = http.get(control(tg, "sent")).json()["messages"]
    to_two = http.get(control(tg, "sent"), params={"chat_id": 2}).json()["messages"]

    assert [m["text"] for m in everything] == ["one", "two"]
    assert to_two == [{"chat_id": 2, "message_id": 1, "text": "two", "date": to_two[0]["date"], "parse_mode": "HTML"}]


def test_wait_sent_returns_once_enough_messages_are_sent(tg, http):
    def wait() -> dict:
        with httpx.Client(trust_env=False, timeout=15) as client:
            return client.get(control(tg, "wait_sent"), params={"count": 2, "timeout": 10, "chat_id": 5}).json()

    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(wait)
        send(http, tg, chat_id=6, text="elsewhere")
        send(http, tg, chat_id=5, text="a")
        send(http, tg, chat_id=5, text="b")
        result = waiting.result(timeout=5)

    assert result["complete"] is True
    assert [m["text"] for m in result["messages"]] == ["a", "b"]


def test_wait_sent_reports_an_incomplete_wait(tg, http):
    result = http.get(control(tg, "wait_sent"), params={"count": 1, "timeout": 0.1}).json()

    assert result == {"messages": [], "complete": False}
    assert tg.wait_sent(1, timeout=0.1) == []


def test_request_counts_include_failures(tg, http):
    http.get(bot(tg, "getMe"))
    http.get(bot(tg, "getMe", token="1:wrong"))
    send(http, tg, text="")
    send(http, tg)
    http.get(bot(tg, "noSuchMethod"))

    assert http.get(control(tg, "requests")).json() == {
        "counts": {"getMe": 2, "sendMessage": 2, "noSuchMethod": 1},
        "total": 5,
        "rate_limited": 0,
    }


def test_reset_forgets_everything_but_keeps_update_ids_growing(tg, http, receiver):
    before = tg.user_says(1, "old")
    send(http, tg)
    tg.add_fault(kind="500", times=-1)
    tg.block(9)
    tg.set_limits(per_chat_per_second=1)
    http.post(bot(tg, "setWebhook"), json={"url": receiver.url})

    assert http.post(control(tg, "reset")).json() == {"ok": True}

    assert http.get(control(tg, "sent")).json() == {"messages": []}
    assert http.get(control(tg, "requests")).json() == {"counts": {}, "total": 0, "rate_limited": 0}
    assert http.get(control(tg, "faults")).json() == {"rules": []}
    assert http.get(control(tg, "webhook")).json()["url"] == ""
    assert [send(http, tg, chat_id=9).status_code for _ in range(2)] == [200, 200]
    assert http.get(bot(tg, "getUpdates")).json()["result"] == []
    assert tg.user_says(1, "new") > before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "faults", b"{not json"),
        ("POST", "faults", {"kind": "boom"}),
        ("POST", "faults", {"kind": "500", "times": 0}),
        ("POST", "faults", {"kind": "500", "colour": "red"}),
        ("POST", "faults", {"kind": "migrate"}),
        ("POST", "faults", {"rules": "all of them"}),
        ("POST", "faults", None),
        ("POST", "limits", {"per_chat_per_second": -1}),
        ("POST", "limits", {"per_minute": 20}),
        ("POST", "updates", [1, 2, 3]),
        ("POST", "updates", {"update_id": "seven"}),
        ("POST", "users/abc/messages", {"text": "hi"}),
        ("POST", "users/5/messages", {}),
        ("POST", "users/5/messages", {"text": "hi", "first_name": 3}),
        ("POST", "chats/5/migrate", {"to": "elsewhere"}),
        ("POST", "chats/five/block", None),
        ("POST", "users/five/block", None),
        ("POST", "users/0/unblock", None),
        ("POST", "users/5/block", {"reason": "spam"}),
        ("GET", "wait_sent?count=many", None),
        ("GET", "sent?chat_id=x", None),
    ],
)
def test_bad_control_input_is_a_400(tg, http, method, path, body):
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()

    response = http.request(method, control(tg, path), content=content)

    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


def test_unknown_control_endpoint_is_a_404(tg, http):
    assert http.post(control(tg, "chats/5/befriend")).status_code == 404
    assert http.get(control(tg, "nothing")).status_code == 404


def test_python_methods_reject_bad_input(tg):
    with pytest.raises(ValueError):
        tg.add_fault(kind="teapot")
    with pytest.raises(ValueError):
        tg.set_limits(per_chat_per_second=0)


# -- python -m fakegram ----------------------------------------------------------


def test_command_line_serves_until_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "fakegram", "--port", "0", "--token", TOKEN, "--bot-username", "cli_bot"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ThreadPoolExecutor(1) as pool:
            line = pool.submit(process.stdout.readline).result(timeout=10)
        match = re.fullmatch(r"fakegram listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        with httpx.Client(trust_env=False, timeout=5) as client:
            me = client.get(f"{match[1]}/bot{TOKEN}/getMe").json()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        process.kill()

    assert me["result"]["username"] == "cli_bot"
    assert process.returncode == 0
    assert TOKEN not in stdout + stderr
