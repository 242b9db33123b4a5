"""ntfy's publishing API over HTTP, and what reaches the simulated Telegram."""

import base64
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import get_resolver, resolve
from django.utils import timezone

from accounts.services import issue_named_token, issue_token
from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, basic_auth, link, make_due, run_sweep
from publish.models import Integration
from publish.services import create_integration
from relay import destinations
from relay.models import Destination, Message
from relay.splitting import format_header, utf16_len

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = format_header("Alice")
# Who creates the group the bot is added to.
OWNER = 7001


def publish(path: str, body: bytes | str = b"", *, method: str = "post", auth: str | None = None, **headers):
    """One request to the ntfy edge, as curl sends it."""
    if auth is not None:
        headers["Authorization"] = auth
    send = getattr(Client(), method)
    return send(path, body, content_type=headers.pop("content_type", "text/plain"), headers=headers)


def alice_basic() -> str:
    return basic_auth("alice")


def team(tg, user) -> Destination:
    """A group labelled `team`, linked to the account beside its private chat."""
    chat_id = tg.create_group("Team", members={OWNER: "creator"})
    tg.add_bot_to_group(chat_id, by=OWNER)
    destination = destinations.link(user=user, chat=destinations.ChatInfo(chat_id=chat_id, kind="group", title="Team"))
    destinations.update(destination=destination, label="team")
    destination.refresh_from_db()
    return destination


def only_sent(tg, chat_id: int = ALICE_CHAT) -> dict:
    sent = tg.sent(chat_id)
    assert len(sent) == 1, sent
    return sent[0]


def assert_error(response, status: int, code: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["code"], body["http"]) == (code, status), body
    assert isinstance(body["error"], str) and body["error"]
    return body


# -- what arrives -------------------------------------------------------------------


def test_a_titled_tagged_message_arrives_with_its_header_and_answers_as_ntfy(tg, alice_linked):
    before = int(time.time())
    response = publish("/me", "Disk is 95% full", auth=alice_basic(), Title="Backup failed", Tags="warning,mailsrv13")

    assert response.status_code == 200, response.content
    body = response.json()
    message = Message.objects.get()
    assert body["id"] == str(message.pk)
    assert body["time"] >= before
    assert {key: body[key] for key in ("event", "topic", "message", "title", "tags")} == {
        "event": "message",
        "topic": "me",
        "message": "Disk is 95% full",
        "title": "Backup failed",
        "tags": ["warning", "mailsrv13"],
    }
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "⚠️ Backup failed\nDisk is 95% full\n#mailsrv13"
    start = utf16_len(HEADER + "⚠️ ")
    assert {"type": "bold", "offset": start, "length": len("Backup failed")} in sent["entities"]
    assert "disable_notification" not in sent


@pytest.mark.parametrize("priority", ["1", "2", "min", "low", "LOW"])
def test_min_and_low_priority_arrive_silently(tg, alice_linked, priority):
    assert publish("/me", "quiet", auth=alice_basic(), Priority=priority).status_code == 200

    assert only_sent(tg)["disable_notification"] is True


@pytest.mark.parametrize(
    ("priority", "number"), [("3", 3), ("default", 3), ("4", 4), ("high", 4), ("5", 5), ("max", 5), ("urgent", 5)]
)
def test_default_and_higher_priorities_ring(tg, alice_linked, priority, number):
    response = publish("/me", "loud", auth=alice_basic(), **{"X-Priority": priority})

    assert response.status_code == 200
    assert response.json()["priority"] == number
    assert "disable_notification" not in only_sent(tg)


def test_an_unknown_priority_is_ntfys_400(tg, alice_linked):
    assert_error(publish("/me", "x", auth=alice_basic(), p="6"), 400, 40007)
    assert_error(publish("/me", "x", auth=alice_basic(), p="loudest"), 400, 40007)
    assert not Message.objects.exists()


def test_click_is_a_link_button_and_view_actions_are_more(tg, alice_linked):
    response = publish(
        "/me",
        "Door opened",
        auth=alice_basic(),
        Click="https://home.example/door",
        Actions="view, Camera, https://cam.example/1; http, Close door, https://api.example/close, method=PUT; "
        "view, 'Log, today', https://log.example/, clear=true",
    )

    assert response.status_code == 200, response.content
    assert response.json()["click"] == "https://home.example/door"
    keyboard = only_sent(tg)["reply_markup"]["inline_keyboard"]
    urls = [button["url"] for row in keyboard for button in row]
    # ntfy's http action has no Telegram button; the view actions and the click do.
    assert urls == ["https://cam.example/1", "https://log.example/", "https://home.example/door"]
    assert [button["text"] for row in keyboard for button in row][:2] == ["Camera", "Log, today"]


def test_actions_as_json(tg, alice_linked):
    actions = '[{"action": "view", "label": "Open", "url": "https://x.example/"}]'
    assert publish("/me", "x", auth=alice_basic(), **{"X-Actions": actions}).status_code == 200

    assert only_sent(tg)["reply_markup"]["inline_keyboard"] == [[{"text": "Open", "url": "https://x.example/"}]]


@pytest.mark.parametrize(
    "actions",
    [
        "view",
        "[{}",
        '[{"action": "view", "label": 3, "url": "https://x.example/"}]',
        "view, a, https://a.example; view, b, https://b.example; view, c, https://c.example; view, d, https://d.example",
    ],
)
def test_malformed_actions_are_ntfys_400(tg, alice_linked, actions):
    assert_error(publish("/me", "x", auth=alice_basic(), Actions=actions), 400, 40018)


@pytest.mark.parametrize("url", ["mailto:phil@example.com", "geo:0,0?q=1600", "javascript:alert(1)", "https://"])
def test_a_click_or_view_telegram_cannot_open_is_left_out(tg, alice_linked, url):
    # ntfy takes any URI; Telegram's buttons take web and tg: links only. The message still arrives.
    response = publish("/me", "x", auth=alice_basic(), Click=url, Actions=f"view, Open, {url}")

    assert response.status_code == 200, response.content
    assert "reply_markup" not in only_sent(tg)


@pytest.mark.parametrize(
    "headers",
    [{"Markdown": "yes"}, {"X-Markdown": "1"}, {"md": "true"}, {"content_type": "text/markdown"}],
    ids=["Markdown", "X-Markdown", "md", "content-type"],
)
def test_markdown_becomes_entities(tg, alice_linked, headers):
    response = publish("/me", "Look, **bold** and `code`", auth=alice_basic(), **headers)

    assert response.status_code == 200
    assert response.json()["content_type"] == "text/markdown"
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "Look, bold and code"
    offset = utf16_len(HEADER)
    assert {"type": "bold", "offset": offset + 6, "length": 4} in sent["entities"]
    assert {"type": "code", "offset": offset + 15, "length": 4} in sent["entities"]


def test_without_markdown_the_stars_stay(tg, alice_linked):
    publish("/me", "**not bold**", auth=alice_basic())

    assert only_sent(tg)["text"] == HEADER + "**not bold**"


# -- scheduled delivery ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "seconds"),
    [
        ("X-Delay", "30m", 1800),
        ("Delay", "1h30m", 5400),
        ("In", "1 day", 86400),
        ("X-In", "2 hours", 7200),
        ("delay", "45 min", 2700),
        ("At", "+3600", None),
    ],
)
def test_a_delayed_message_waits_for_its_moment(tg, alice_linked, name, value, seconds):
    now = timezone.now()
    if value == "+3600":
        value, seconds = str(int(now.timestamp()) + 3600), 3600
    response = publish("/me", "later", auth=alice_basic(), **{name: value})

    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert abs((message.deliver_at - now).total_seconds() - seconds) < 5
    assert response.json()["time"] == int(message.deliver_at.timestamp())
    run_sweep()
    assert tg.sent(ALICE_CHAT) == []

    # The clock moves to the moment.
    Message.objects.update(deliver_at=timezone.now())
    make_due()
    run_sweep()
    assert only_sent(tg)["text"] == HEADER + "later"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("5s", 40005),
        ("4d", 40006),
        ("73h", 40006),
        ("tomorrow, 10am", 40004),
        ("1000000000", 40004),
    ],
)
def test_delays_out_of_ntfys_range_or_in_words_are_refused(tg, alice_linked, value, code):
    body = assert_error(publish("/me", "x", auth=alice_basic(), Delay=value), 400, code)
    if value.startswith("tomorrow"):
        assert "duration" in body["error"] and "Unix timestamp" in body["error"]
    assert not Message.objects.exists()


# -- files ----------------------------------------------------------------------------


def test_a_put_file_is_sent_as_a_document(tg, alice_linked):
    data = b"%PDF-1.4 not really a pdf \x00\xff"
    response = publish("/me", data, method="put", auth=alice_basic(), Filename="report.pdf", content_type="")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["attachment"] == {"name": "report.pdf", "type": "application/pdf", "size": len(data)}
    assert body["message"] == "You received a file: report.pdf"
    document = [record for record in tg.sent(ALICE_CHAT) if record.get("method") == "sendDocument"]
    assert [(d["file_name"], d["file_size"], d["mime_type"]) for d in document] == [
        ("report.pdf", len(data), "application/pdf")
    ]
    assert any("You received a file: report.pdf" in (r.get("text") or r.get("caption", "")) for r in tg.sent())


def test_a_posted_file_named_by_query_carries_the_message_given(tg, alice_linked):
    data = b"day,errors\n1,0\n2,3\n"
    response = publish("/me?filename=errors.csv&m=Tonight%27s+errors", data, auth=alice_basic(), content_type="")

    assert response.status_code == 200, response.content
    assert response.json()["message"] == "Tonight's errors"
    documents = [record for record in tg.sent(ALICE_CHAT) if record.get("method") == "sendDocument"]
    assert [(d["file_name"], d["mime_type"], d["file_size"]) for d in documents] == [("errors.csv", "text/csv", 19)]


def test_a_binary_body_without_a_name_is_a_file_as_ntfy_makes_it(tg, alice_linked):
    response = publish("/me", b"\xff\xfe\x00binary", auth=alice_basic(), content_type="application/octet-stream")

    assert response.status_code == 200, response.content
    assert response.json()["attachment"]["name"] == "attachment.bin"


def test_a_file_over_the_limit_is_ntfys_413(tg, alice_linked, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 600
    assert_error(
        publish("/me", b"x" * 1001, method="put", auth=alice_basic(), Filename="big.log"),
        413,
        41301,
    )
    # Up to the file limit, though the request limit is less.
    assert publish("/me", b"x" * 1000, method="put", auth=alice_basic(), Filename="big.log").status_code == 200
    # The rest of the service keeps the request limit.
    assert Client().post("/api/v1/messages/", {"text": "x" * 700}, content_type="application/json").status_code == 413


def test_an_attachment_url_is_a_button(tg, alice_linked):
    response = publish("/me", "Camera 2", auth=alice_basic(), Attach="https://cam.example/snap/2.jpg?size=big")

    assert response.status_code == 200
    assert only_sent(tg)["reply_markup"]["inline_keyboard"] == [
        [{"text": "📎 2.jpg", "url": "https://cam.example/snap/2.jpg?size=big"}]
    ]
    assert_error(publish("/me", "x", auth=alice_basic(), Attach="ftp://cam.example/2.jpg"), 400, 40013)


# -- parameters -----------------------------------------------------------------------


def test_query_parameters_with_short_names(tg, alice_linked):
    response = publish("/me?t=Hello&ta=tada,ci&p=2&m=Built+in+3+min&click=https://ci.example/", auth=alice_basic())

    assert response.status_code == 200, response.content
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "🎉 Hello\nBuilt in 3 min\n#ci"
    assert sent["disable_notification"] is True


def test_a_header_wins_over_a_query_parameter(tg, alice_linked):
    publish("/me?title=from+query", "x", auth=alice_basic(), Title="from header")

    assert Message.objects.get().title == "from header"


def test_the_body_wins_over_the_message_parameter_and_escaped_newlines_are_read(tg, alice_linked):
    publish("/me", "the body", auth=alice_basic(), Message="the header")
    publish("/me", "", auth=alice_basic(), Message="line one\\nline two")

    assert [m.text for m in Message.objects.order_by("pk")] == ["the body", "line one\nline two"]


def test_an_empty_message_is_triggered_as_in_ntfy(tg, alice_linked):
    assert publish("/me", "  \n", auth=alice_basic()).json()["message"] == "triggered"


def test_utf8_and_rfc2047_headers_are_read(tg, alice_linked):
    # What a WSGI server hands Django for a header sent as UTF-8 bytes.
    raw = "Привет 👋".encode().decode("latin-1")
    publish("/me", "x", auth=alice_basic(), Title=raw, Tags="=?UTF-8?B?w4RwZmVs?=,ok")

    message = Message.objects.get()
    assert message.title == "Привет 👋"
    assert "#Äpfel" in only_sent(tg)["text"]


def test_a_long_text_body_becomes_a_file_as_in_ntfy(tg, alice_linked, settings):
    settings.MESSAGE_MAX_LENGTH = 100
    response = publish("/me", "y" * 101, auth=alice_basic())

    assert response.status_code == 200
    assert response.json()["attachment"]["size"] == 101


# -- topics ---------------------------------------------------------------------------


def test_a_topic_names_a_destination_by_its_label(tg, alice_linked, alice):
    destination = team(tg, alice)

    assert publish("/team", "to the team", auth=alice_basic()).status_code == 200
    assert publish("/TEAM", "any case", auth=alice_basic()).status_code == 200
    # A group takes one message every few seconds.
    make_due()
    run_sweep()

    assert [r["text"] for r in tg.sent(destination.chat_id)] == [HEADER + "to the team", HEADER + "any case"]
    assert tg.sent(ALICE_CHAT) == []


def test_a_topic_the_account_does_not_have_is_ntfys_404(tg, alice_linked):
    body = assert_error(publish("/nowhere", "lost", auth=alice_basic()), 404, 40401)

    assert "nowhere" in body["error"]
    assert not Message.objects.exists()


def test_get_on_a_topic_is_not_a_subscription(tg, alice_linked):
    response = Client().get("/me", headers={"Authorization": alice_basic()})
    assert_error(response, 405, 40501)
    assert response["Allow"] == "POST, PUT"
    # A person's browser gets the site's own page for an address with nothing at it.
    page = Client().get("/me", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404
    assert b"<html" in page.content.lower()


def test_the_service_routes_are_never_topics():
    firsts = {str(p.pattern).lstrip("^").split("/")[0] for p in get_resolver().url_patterns} - {""}
    paths = ["/docs/", "/cabinet/", "/api/v1/messages/", "/healthz", "/metrics", "/users/login", "/bot/verify"]
    paths += ["/message/sent", "/message", "/admin", "/cabinet", "/docs", "/redoc", "/static", "/hooks"]
    for path in paths + [f"/{first}" for first in firsts if first]:
        try:
            name = resolve(path).url_name
        except Exception:
            name = None
        assert name != "ntfy-topic", path
    assert resolve("/team").url_name == "ntfy-topic"


def test_paths_without_a_slash_still_redirect_to_the_page():
    response = Client().get("/cabinet", headers={"Accept": "text/html"})

    assert response.status_code == 301
    assert response["Location"] == "/cabinet/"


# -- credentials ----------------------------------------------------------------------


def test_anonymous_is_ntfys_401(tg, alice_linked):
    response = publish("/me", "who?")

    assert_error(response, 401, 40101)
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not Message.objects.exists()


def test_a_browser_session_is_no_credential(tg, alice_linked, alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert_error(browser.post("/me", "riding the session", content_type="text/plain"), 401, 40101)
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "auth",
    [
        "Basic " + base64.b64encode(b"alice:wrong").decode(),
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer " + "0" * 64,
        "Bearer not-a-secret",
        "Token abc",
    ],
)
def test_bad_credentials_are_ntfys_401(tg, alice_linked, auth):
    assert_error(publish("/me", "x", auth=auth), 401, 40101)


def test_an_api_token_publishes(tg, alice_linked, alice):
    _, token = issue_token(user=alice)

    assert publish("/me", "by token", auth=f"Bearer {token}").status_code == 200
    assert only_sent(tg)["text"] == HEADER + "by token"


def test_a_send_only_token_keeps_to_its_destination(tg, alice_linked, alice):
    team(tg, alice)
    me = Destination.objects.get(user=alice, label="me")
    _, token = issue_named_token(user=alice, name="ci", scope="send", destination_id=me.pk)

    assert publish("/me", "allowed", auth=f"Bearer {token}").status_code == 200
    assert_error(publish("/team", "not allowed", auth=f"Bearer {token}"), 403, 40301)
    assert list(Message.objects.values_list("text", flat=True)) == ["allowed"]


def test_an_ntfy_integration_publishes_to_the_topic_or_to_its_own_destination(tg, alice_linked, alice):
    destination = team(tg, alice)
    _, free = create_integration(user=alice, kind="ntfy", name="kuma")
    bound, secret = create_integration(user=alice, kind="ntfy", name="ha", destination=destination)

    assert publish("/me", "by topic", auth=f"Bearer {free}").status_code == 200
    assert_error(publish("/elsewhere", "x", auth=f"Bearer {free}"), 404, 40401)
    # Its own destination, whatever topic the tool was given.
    response = publish("/anything", "to its own", auth=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json()["topic"] == "anything"

    assert [r["text"] for r in tg.sent(ALICE_CHAT)] == [HEADER + "by topic"]
    assert [r["text"] for r in tg.sent(destination.chat_id)] == [HEADER + "to its own"]
    bound.refresh_from_db()
    assert bound.last_used_at is not None


def test_an_integration_of_another_kind_is_no_ntfy_credential(tg, alice_linked, alice):
    for kind in ("gotify", "webhook"):
        _, secret = create_integration(user=alice, kind=kind, name=kind)
        assert_error(publish("/me", "x", auth=f"Bearer {secret}"), 401, 40101)


def test_a_token_as_the_password_of_no_username(tg, alice_linked, alice):
    _, secret = create_integration(user=alice, kind="ntfy", name="cli")
    _, token = issue_token(user=alice)

    for value in (secret, token):
        auth = "Basic " + base64.b64encode(f":{value}".encode()).decode()
        assert publish("/me", "x", auth=auth).status_code == 200
    assert Message.objects.count() == 2


def raw_url(header: str) -> str:
    return base64.urlsafe_b64encode(header.encode()).decode().rstrip("=")


def test_the_auth_query_parameter_carries_any_credential(tg, alice_linked, alice):
    _, secret = create_integration(user=alice, kind="ntfy", name="kuma")
    _, token = issue_token(user=alice)
    headers = [alice_basic(), f"Bearer {token}", f"Bearer {secret}"]

    for header in headers:
        assert publish(f"/me?auth={raw_url(header)}", "x").status_code == 200
    # Padded standard base64 too.
    assert publish(f"/me?auth={base64.b64encode(alice_basic().encode()).decode()}", "x").status_code == 200
    assert_error(publish("/me?auth=%%%", "x"), 401, 40101)
    assert_error(publish(f"/me?auth={raw_url('Basic ' + base64.b64encode(b'alice:nope').decode())}", "x"), 401, 40101)
    assert Message.objects.count() == 4


def test_failed_logins_are_limited_as_everywhere(tg, alice_linked, settings):
    settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS = 2
    wrong = "Basic " + base64.b64encode(b"alice:wrong").decode()
    for _ in range(2):
        assert_error(publish("/me", "x", auth=wrong), 401, 40101)

    response = publish("/me", "x", auth=alice_basic())
    assert_error(response, 429, 42909)
    assert int(response["Retry-After"]) >= 1


def test_the_accounts_quota_is_ntfys_429(tg, alice_linked, settings):
    settings.MESSAGES_PER_MINUTE = 1
    assert publish("/me", "one", auth=alice_basic()).status_code == 200

    response = publish("/me", "two", auth=alice_basic())
    assert_error(response, 429, 42901)
    assert int(response["Retry-After"]) >= 1


def test_bob_cannot_publish_to_alices_topic(tg, alice_linked, bob_linked, alice):
    team(tg, alice)
    _, bobs_secret = create_integration(user=Destination.objects.get(chat_id=BOB_CHAT).user, kind="ntfy", name="b")
    for auth in (basic_auth("bob", PASSWORD), f"Bearer {bobs_secret}"):
        assert_error(publish("/team", "hi alice", auth=auth), 404, 40401)
    # bob's own "me" is his private chat, never alice's.
    assert publish("/me", "bob's own", auth=basic_auth("bob")).status_code == 200
    assert tg.sent(ALICE_CHAT) == []
    assert [r["text"] for r in tg.sent(BOB_CHAT)] == [format_header("Bob") + "bob's own"]


# -- JSON publishing ------------------------------------------------------------------


def test_json_publishing_to_the_root(tg, alice_linked):
    body = {
        "topic": "me",
        "message": "Disk space is **low**",
        "title": "Low disk",
        "tags": ["warning", "cd"],
        "priority": 2,
        "click": "https://filesrv.example/",
        "markdown": True,
        "actions": [{"action": "view", "label": "Admin panel", "url": "https://filesrv.example/admin"}],
        "icon": "https://example.com/icon.png",
        "email": "ignored@example.com",
    }
    response = Client().post("/", body, content_type="application/json", headers={"Authorization": alice_basic()})

    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["topic"], answer["title"], answer["priority"], answer["tags"]) == ("me", "Low disk", 2, body["tags"])
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "⚠️ 💿 Low disk\nDisk space is low"
    assert sent["disable_notification"] is True
    assert {"type": "bold", "offset": utf16_len(HEADER + "⚠️ 💿 Low disk\nDisk space is "), "length": 3} in sent[
        "entities"
    ]
    assert [b["url"] for row in sent["reply_markup"]["inline_keyboard"] for b in row] == [
        "https://filesrv.example/admin",
        "https://filesrv.example/",
    ]


def test_a_json_message_is_taken_as_written(tg, alice_linked):
    body = {"topic": "me", "message": "C:\\new\\data\nsecond line"}
    response = Client().post("/", body, content_type="application/json", headers={"Authorization": alice_basic()})

    assert response.status_code == 200, response.content
    assert only_sent(tg)["text"] == HEADER + "C:\\new\\data\nsecond line"


def test_json_publishing_reads_headers_for_what_the_json_leaves_out(tg, alice_linked):
    # As Apprise sends it: the text in JSON, markdown and priority in headers.
    response = Client().put(
        "/",
        {"topic": "me", "message": "*hi*"},
        content_type="application/json",
        headers={"Authorization": alice_basic(), "X-Markdown": "yes", "X-Priority": "min"},
    )

    assert response.status_code == 200, response.content
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "hi"
    assert sent["disable_notification"] is True


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", 40017),
        ("[1, 2]", 40017),
        ('{"message": "no topic"}', 40009),
        ('{"topic": "a/b", "message": "x"}', 40009),
        ('{"topic": "admin", "message": "x"}', 40009),
        ('{"topic": "me", "message": "x", "tags": [1]}', 40017),
        ('{"topic": "me", "message": {"text": "x"}}', 40017),
        ('{"topic": "me", "message": "x", "priority": "9"}', 40007),
    ],
)
def test_json_publishing_errors(tg, alice_linked, body, code):
    response = Client().post("/", body, content_type="application/json", headers={"Authorization": alice_basic()})

    assert_error(response, 400, code)


def test_the_root_still_answers_get_and_json_publishing_needs_credentials(tg, alice_linked):
    assert Client().get("/").json()["service"] == "tg-relay"
    assert_error(Client().post("/", {"topic": "me"}, content_type="application/json"), 401, 40101)


def test_an_unreachable_destination_is_a_conflict(tg, alice_linked, alice):
    destinations.mark_unreachable(destination=Destination.objects.get(user=alice), reason="bot was blocked")

    body = assert_error(publish("/me", "x", auth=alice_basic()), 409, 40900)
    assert "bot was blocked" in body["error"]


def test_integrations_of_a_removed_destination_stop_working(tg, alice_linked, alice):
    destination = team(tg, alice)
    _, secret = create_integration(user=alice, kind="ntfy", name="ha", destination=destination)
    destinations.remove(destination=destination, reason="test")

    assert not Integration.objects.exists()
    assert_error(publish("/me", "x", auth=f"Bearer {secret}"), 401, 40101)


def test_a_delivery_moment_is_what_the_answer_says(tg, alice_linked):
    response = publish("/me", "x", auth=alice_basic(), In="10m")

    assert timezone.now() + timedelta(minutes=9) < Message.objects.get().deliver_at
    assert response.json()["time"] > time.time() + 540


def test_link_keeps_working_for_the_private_chat_label(tg, alice):
    # A fresh account's first chat is "me": what the README's curl line sends to.
    link(alice, ALICE_CHAT)
    assert publish("/me", "first", auth=alice_basic()).status_code == 200
