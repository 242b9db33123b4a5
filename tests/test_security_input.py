"""Input: whatever a request body holds, the API answers 4xx with a JSON body naming the problem, never 500.

Every API operation that takes a body is sent bodies too large, of the wrong
type, of invalid UTF-8, nested too deeply, with numbers too large and with
characters no database column takes; the longest real message must still fit.
"""

import json

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, client_for, link

pytestmark = pytest.mark.django_db

# (method, path, a valid body) of every operation that reads a body.
BODIES = [
    ("post", "/api/v1/messages/", {"text": "hello"}),
    ("post", "/message/sent", {"content": "hello"}),
    ("post", "/api/v1/auth/token/", {"username": "alice", "password": "x"}),
    ("post", "/users/login", {"username": "alice", "password": "x"}),
    ("post", "/api/v1/auth/register/", {"username": "carol", "password": "plum orchard 47", "name": "C"}),
    ("post", "/users/signup", {"username": "carol", "password": "plum orchard 47"}),
    ("post", "/api/v1/telegram/verify/", {"code": "ABCDEFGH"}),
    ("patch", "/bot/verify", {"verification_code": "ABCDEFGH"}),
]
IDS = [f"{method.upper()} {path}" for method, path, _ in BODIES]
LONGEST = settings.MESSAGE_MAX_LENGTH
EMOJI = "\U0001f600"


@pytest.fixture
def api(tg, alice) -> APIClient:
    link(alice, ALICE_CHAT)
    return client_for(alice)


def send(api: APIClient, method: str, path: str, body: bytes, content_type: str = "application/json"):
    return api.generic(method.upper(), path, body, content_type=content_type)


def assert_refused(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    problem = json.dumps(response.json()).lower()
    for word in words:
        assert word.lower() in problem, problem


def with_first_field(body: dict, value: str) -> bytes:
    """The valid body with its first field's value replaced by raw JSON text."""
    field = next(iter(body))
    rest = {key: item for key, item in body.items() if key != field}
    return (
        "{"
        + json.dumps(field)
        + ": "
        + value
        + "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in rest.items())
        + "}"
    ).encode()


@pytest.mark.parametrize(("method", "path", "body"), BODIES, ids=IDS)
def test_a_body_over_the_limit_is_413(api, method, path, body):
    oversize = json.dumps({**body, "padding": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}).encode()

    assert_refused(send(api, method, path, oversize), 413, "too large")
    form = ("padding=" + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE).encode()
    assert_refused(send(api, method, path, form, "application/x-www-form-urlencoded"), 413, "too large")


@pytest.mark.parametrize("escaped", [False, True], ids=["utf-8", "json escapes"])
@pytest.mark.parametrize("path", ["/api/v1/messages/", "/message/sent"])
def test_the_longest_message_of_four_byte_characters_fits(api, path, escaped):
    field = "text" if path.endswith("messages/") else "content"
    body = json.dumps({field: EMOJI * LONGEST}, ensure_ascii=escaped).encode()
    assert len(body) > 128 * 1024

    response = send(api, "post", path, body)

    assert response.status_code == 202, response.content[:300]


# A text/plain body is the message itself on the native API (test_a_text_body_is_the_message).
OTHER_TYPES = [
    pytest.param(method, path, body, content_type, id=f"{content_type.split(';')[0]}-{name}")
    for (method, path, body), name in zip(BODIES, IDS, strict=True)
    for content_type in ["text/plain", "application/xml", "multipart/form-data; boundary=x", "image/png"]
    if not (content_type == "text/plain" and path == "/api/v1/messages/")
]


@pytest.mark.parametrize(("method", "path", "body", "content_type"), OTHER_TYPES)
def test_a_body_of_another_type_is_415(api, method, path, body, content_type):
    response = send(api, method, path, json.dumps(body).encode(), content_type)

    assert_refused(response, 415, "unsupported media type", content_type.split(";")[0])


@pytest.mark.parametrize(("method", "path", "body"), BODIES, ids=IDS)
@pytest.mark.parametrize(
    "raw",
    [b'"\xff\xfe"', b'"caf\xc3"', b'"\xed\xa0\x80"', b'"\xc0\xaf"'],
    ids=["not utf-8", "cut in a character", "encoded surrogate", "overlong"],
)
def test_invalid_utf8_is_400(api, method, path, body, raw):
    field = next(iter(body))
    payload = b'{"' + field.encode() + b'": ' + raw + b"}"

    assert_refused(send(api, method, path, payload), 400, "utf-8")


@pytest.mark.parametrize(("method", "path", "body"), BODIES, ids=IDS)
@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_400(api, method, path, body, depth):
    payload = with_first_field(body, "[" * depth + "]" * depth)

    response = send(api, method, path, payload)

    assert_refused(response, 400, "nested too deeply" if depth > 10_000 else next(iter(body)))


@pytest.mark.parametrize(("method", "path", "body"), BODIES, ids=IDS)
@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("1" * 5000, "digits"),
        ("1e999", None),
        ("-1e999", None),
        ("NaN", "nan"),
        ("Infinity", "infinity"),
        ("2" * 4000, None),
    ],
    ids=["5000 digits", "overflowing float", "negative overflow", "NaN", "Infinity", "4000 digits"],
)
def test_huge_numbers_are_400(api, method, path, body, number, problem):
    response = send(api, method, path, with_first_field(body, number))

    assert_refused(response, 400, problem or next(iter(body)))


@pytest.mark.parametrize(("method", "path", "body"), BODIES, ids=IDS)
@pytest.mark.parametrize(
    "text", ["a\x00b", "\ud800", "x\udfffy"], ids=["NUL", "lone high surrogate", "lone low surrogate"]
)
def test_characters_no_column_stores_are_400(api, method, path, body, text):
    field = next(iter(body))

    response = send(api, method, path, json.dumps({**body, field: text}).encode())

    assert_refused(response, 400, field)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/messages/99999999999999999999999999999/",
        "/api/v1/messages/9223372036854775808/",
    ],
)
def test_huge_numbers_in_the_url_are_404(api, path):
    assert_refused(api.get(path), 404, "")


@pytest.mark.parametrize(
    "query",
    ["before=99999999999999999999999999", "before=1e999", "cursor=99999999999999999999999999", "page=1e999"],
)
def test_huge_numbers_in_paging_parameters_are_400_naming_them(api, query):
    assert_refused(api.get(f"/api/v1/messages/?{query}"), 400, query.split("=")[0])


@pytest.mark.parametrize(("method", "path", "body"), BODIES, ids=IDS)
@pytest.mark.parametrize("payload", [b"{", b'{"text": "unterminated', b"[]", b'"just a string"', b"null", b"42"])
def test_malformed_or_wrongly_shaped_json_is_400(api, method, path, body, payload):
    response = send(api, method, path, payload)

    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json()


def test_the_webhook_too_refuses_an_oversize_body(tg):
    body = b'{"update_id": 1, "padding": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'

    response = APIClient().generic(
        "POST",
        "/telegram/webhook/",
        body,
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="test-webhook-secret",
    )

    assert_refused(response, 413, "too large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"]
)
def test_a_text_body_is_the_message(api, tg, content_type):
    # `curl -d 'Backup done'` labels a bare text as a form; `-H 'Content-Type: text/plain'` says what it is.
    response = send(api, "post", "/api/v1/messages/", "Backup done ✓ 🚀".encode(), content_type)

    assert response.status_code == 202, response.content
    assert response.json()["text"] == "Backup done ✓ 🚀"
