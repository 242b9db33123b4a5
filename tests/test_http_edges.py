"""Edges of the HTTP layer: odd ids, HEAD, invisible texts, and bodies too large or chunked.

The body tests run the web server as production does (gunicorn, started by
config/run.py's web_command, with keep-alive threads) and speak HTTP/1.1 to
it over a raw socket, since the connection itself is what they check.
"""

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from hypothesis import given, settings
from hypothesis import strategies as st

from config import schema_rules
from config.run import web_command
from conftest import ALICE_CHAT, link
from relay.models import Message
from relay.validation import has_visible_character
from tests.processes import ROOT, Processes, answers, free_port, service_env, wait_until

# -- 13: ids that are not ids ------------------------------------------------------------------------------

NOT_IDS = ["²", "①", "٣", "99999999999999999999999", str(2**63), "-1", "1.0", " 1", "abc", ""]


@pytest.mark.django_db
def test_message_status_ignores_anything_but_a_database_id(alice, alice_linked):
    """Superscripts and circled digits pass str.isdigit() but not int(); a huge number overflows the database."""
    accepted = alice_linked.post("/api/v1/messages/", {"text": "kept"}, format="json")
    assert accepted.status_code == 202
    browser = Client(raise_request_exception=False)
    browser.force_login(alice)
    for value in NOT_IDS:
        response = browser.get("/cabinet/messages/status/", {"id": [value, str(accepted.json()["id"])]})
        assert response.status_code == 200, value
        assert response.content.decode().count("kept") == 1, value
        alone = browser.get("/cabinet/messages/status/", {"id": value})
        assert alone.status_code == 200, value
        assert "kept" not in alone.content.decode(), value
    # Ids in paths: a number past the database's range is simply not found.
    for value in ("99999999999999999999999", str(2**63)):
        assert alice_linked.get(f"/api/v1/messages/{value}/").status_code == 404
        assert browser.get(f"/cabinet/messages/{value}/").status_code == 404


# -- 15: HEAD wherever GET -------------------------------------------------------------------------------

SAMPLES = ("1", "x", "auth")


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    """A concrete path for each route in the URLconf that answers one (parameters filled with a sample)."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + _concrete(pattern.pattern, SAMPLES[0]))
            continue
        assert isinstance(pattern, URLPattern)
        for sample in SAMPLES:
            path = "/" + prefix + _concrete(pattern.pattern, sample)
            try:
                match = resolve(path)
            except Resolver404:
                continue
            if match.func == pattern.callback:
                yield path
                break
        # Otherwise an earlier route answers this path (the cabinet's own admin login, say): no route of its own.


def _concrete(pattern: RoutePattern | RegexPattern, sample: str) -> str:
    text = str(pattern)
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:\w+:)?\w+>", sample, text)
    text = text.removeprefix("^").removesuffix("$").replace("/?", "/")
    return re.sub(r"\(\?P<\w+>[^)]*\)", sample, text)


@pytest.mark.django_db
@pytest.mark.parametrize("logged_in", [True, False], ids=["logged-in", "anonymous"])
def test_head_is_answered_wherever_get_is(logged_in, alice, tg):
    browser = Client(raise_request_exception=False)
    if logged_in:
        link(alice, ALICE_CHAT)
        browser.force_login(alice)
    refused = []
    paths = list(_routes(get_resolver()))
    for expected in ("/cabinet/", "/cabinet/messages/", "/docs/", "/healthz/", "/api/v1/messages/1/", "/message/sent/"):
        assert expected in paths
    for path in paths:
        get = browser.get(path)
        if get.status_code == 405:
            continue
        head = browser.head(path)
        if head.status_code != get.status_code:
            refused.append(f"{path}: GET {get.status_code}, HEAD {head.status_code}")
        assert b"".join(head.streaming_content if head.streaming else [head.content]) == b"", path
    assert not refused, "\n".join(refused)


# -- 16: texts with nothing visible ------------------------------------------------------------------------

INVISIBLE = [
    "\u200b\u200c\u200d\ufeff",  # zero-width space, non-joiner, joiner, BOM
    "\u2060\u2061\u2062\u2063",  # word joiner, invisible operators
    "\u200e\u200f\u202a\u202e\u2066\u2069",  # direction marks and embeddings
    "\ufe0f\ufe0e",  # variation selectors
    "\u3164\u115f\u1160\uffa0",  # Hangul fillers
    "\u034f\u180e\u00ad",  # combining grapheme joiner, Mongolian vowel separator, soft hyphen
    "\U000e0041\U000e007f",  # tag characters
    "\u2800",  # Braille pattern blank
    " \u00a0\u2003\u3000\t\n\r\u2028\u2029\x0b\x0c\x1f\x7f\x85",  # whitespace and controls
]
VISIBLE = [
    "👨\u200d👩\u200d👧",  # emoji joined with ZWJ
    "❤\ufe0f",  # heart with a variation selector
    "\u200ba\u200b",
    ".",
    "e\u0301",
    "\u0301",  # a combining mark alone still shows (on a dotted circle)
    "ㅤx",
]


@pytest.mark.django_db
@pytest.mark.parametrize("text", INVISIBLE)
def test_a_text_with_nothing_visible_is_refused_everywhere(text, alice, alice_linked):
    api = alice_linked.post("/api/v1/messages/", {"text": text}, format="json")
    assert api.status_code == 400
    assert api.json() == {"text": ["The message is empty."]}
    compat = alice_linked.post("/message/sent", {"content": text}, format="json")
    assert compat.status_code == 400
    assert compat.json() == {"content": ["The message is empty."]}
    browser = Client()
    browser.force_login(alice)
    page = browser.post("/cabinet/messages/send/", {"text": text}, follow=True)
    assert "The message is empty." in page.content.decode()
    assert not Message.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("text", VISIBLE)
def test_a_text_with_one_visible_character_is_sent(text, alice, alice_linked, tg):
    api = alice_linked.post("/api/v1/messages/", {"text": text}, format="json")
    assert api.status_code == 202
    assert api.json()["text"] == text


@given(st.text(st.characters() | st.sampled_from("".join(INVISIBLE) + "\x00a"), max_size=8))
@settings(deadline=None)  # the first example builds the pattern, over all of Unicode
def test_the_schema_pattern_states_the_servers_rule(text):
    """What the OpenAPI schema says a message text must match is what the server accepts."""
    accepted = "\x00" not in text and has_visible_character(text)
    patterns = [rule["pattern"] for rule in schema_rules.visible_text()["allOf"]]
    assert all(re.search(pattern, text) for pattern in patterns) == accepted


# -- 14: bodies over the limit, and chunked bodies, against gunicorn -----------------------------------------

SEED = """
from accounts.models import User
from accounts.services import issue_token
from relay.models import Destination
User.objects.filter(username="edges").delete()
user = User.objects.create_user(username="edges", password="an unused password", name="Edges")
Destination.objects.create(user=user, label="me", kind="private", is_default=True, chat_id=4242)
print(issue_token(user=user)[1])
"""
LIMIT = 512 * 1024


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[dict]:
    """The web server as `make run` starts it, with keep-alive threads, and a token of an account with a chat."""
    tmp = tmp_path_factory.mktemp("edges")
    env = service_env(
        tmp / "data",
        backends=True,
        WEB_WORKERS="1",
        WEB_THREADS="2",
        TELEGRAM_BOT_TOKEN="4242:http-edges",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        QUEUE_NAME=f"http-edges-{free_port()}",
    )
    processes = Processes(tmp, env)
    processes.run("manage.py", "migrate", "--noinput")
    seeded = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    port = free_port()
    processes.start("web", *web_command(sys.executable, "127.0.0.1", str(port), env)[1:])
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        wait_until(lambda: processes.alive("web") and answers(http, "/healthz"), what="the web server")
        yield {"port": port, "token": seeded.stdout.strip().splitlines()[-1], "http": http}
    finally:
        processes.stop_all()
        _drop_seeded_account(env)


def _drop_seeded_account(env: dict[str, str]) -> None:
    # On PostgreSQL the database outlives the test; the account goes, its messages with it.
    code = "from accounts.models import User; User.objects.filter(username='edges').delete()"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)


def _exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Send `request` on a new connection; the answer's status, headers, body, and whether the server then closed.

    The request is sent from another thread while the answer is read, as a
    client does: a server that answers before reading a large body must not
    leave both sides waiting on full buffers.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sender = threading.Thread(target=_send, args=(sock, request))
        sender.start()
        received = b""
        while b"\r\n\r\n" not in received:
            received += _recv(sock)
        head, body = received.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        if not request.startswith(b"HEAD "):
            while len(body) < int(headers.get("content-length", 0)):
                body += _recv(sock)
        closed = _closed(sock)
        sender.join()
    return int(status_line.split()[1]), headers, body, closed


def _send(sock: socket.socket, data: bytes) -> None:
    # The server may answer and close before the whole body is sent.
    with contextlib.suppress(OSError):
        sock.sendall(data)


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    assert data, "the server closed the connection without a complete answer"
    return data


def _closed(sock: socket.socket) -> bool:
    """Whether the server closes the connection (rather than keeping it for another request)."""
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def _post(token: str, headers: str, body: bytes) -> bytes:
    start = (
        "POST /api/v1/messages/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n{headers}\r\n"
    )
    return start.encode() + body


def _chunked(body: bytes, size: int) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


def test_a_body_over_the_limit_gets_413_and_the_connection_closes(web):
    body = json.dumps({"text": "x" * (LIMIT + 100_000)}).encode()
    status, headers, answer, closed = _exchange(
        web["port"], _post(web["token"], f"Content-Length: {len(body)}\r\n", body)
    )
    assert status == 413
    assert json.loads(answer) == {"detail": f"Request body too large: at most {LIMIT} bytes."}
    # The body was not read, so this connection cannot carry another request.
    assert headers["connection"] == "close"
    assert closed
    # A new connection is served as usual.
    small = json.dumps({"text": "after the refusal"}).encode()
    status, headers, answer, _ = _exchange(
        web["port"], _post(web["token"], f"Content-Length: {len(small)}\r\nConnection: close\r\n", small)
    )
    assert status == 202, answer
    assert json.loads(answer)["text"] == "after the refusal"


def test_a_chunked_message_is_accepted_with_its_text(web):
    text = "Привет, chunked 🚀 " * 50
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    status, headers, answer, closed = _exchange(
        web["port"], _post(web["token"], "Transfer-Encoding: chunked\r\n", _chunked(body, 100))
    )
    assert status == 202, answer
    assert headers["connection"] == "keep-alive"
    message = web["http"].get(
        f"/api/v1/messages/{json.loads(answer)['id']}/", headers={"Authorization": f"Bearer {web['token']}"}
    )
    assert message.json()["text"] == text


def test_a_chunked_body_over_the_limit_gets_413_and_the_connection_closes(web):
    body = json.dumps({"text": "y" * (LIMIT + 10)}).encode()
    status, headers, answer, closed = _exchange(
        web["port"], _post(web["token"], "Transfer-Encoding: chunked\r\n", _chunked(body, 60_000))
    )
    assert status == 413
    assert json.loads(answer)["detail"] == f"Request body too large: at most {LIMIT} bytes."
    assert headers["connection"] == "close"
    assert closed


def test_head_through_gunicorn_has_the_headers_and_no_body(web):
    status, headers, answer, _ = _exchange(
        web["port"], b"HEAD /cabinet/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert int(headers["content-length"]) > 0
    assert answer == b""
