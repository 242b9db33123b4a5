"""The whole message: its page, the way to it from the list, and search with a status filter over one's own."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from cabinet.tests.test_browser import browser  # noqa: F401 (the Chromium fixture)
from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, link, make_user
from relay.models import Message

MESSAGES = reverse("cabinet:messages")
HEADER = "Alice, я получил от тебя сообщение:\n"


def page_of(message_id: int) -> str:
    return reverse("cabinet:message", args=[message_id])


def long_text(lines: int) -> str:
    return "".join(f"line {n:04} <b>tags</b> & ampersands, the same few words again and again\n" for n in range(lines))


def shown(html: str) -> str:
    """The page's text as a person reads it: markup dropped, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_whole_text_its_delivery_and_each_part_telegram_received(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    text = long_text(150)
    assert len(text) > 9000
    body = alice_api.post("/api/v1/messages/", {"text": text}, format="json").json()
    received = tg.sent(chat_id=ALICE_CHAT)
    assert len(received) == 3

    web = Client()
    web.force_login(alice)
    response = web.get(page_of(body["id"]))
    assert response.status_code == 200
    html = response.content.decode()
    # The text whole, escaped, never cut.
    assert f'<div class="message-full" id="message-text">{escape_html(text)}</div>' in html
    assert '<span class="badge sent">sent</span>' in html
    message = Message.objects.get(pk=body["id"])
    assert f'datetime="{message.created_at.isoformat()}"' in html
    assert f'datetime="{message.sent_at.isoformat()}"' in html
    # Each part as Telegram received it, header included, with Telegram's id for it.
    for number, record in enumerate(received, start=1):
        assert f"Part {number} of 3" in html
        assert f"received, Telegram message {record['message_id']}" in html
        assert f'<div class="message-full">{escape_html(record["text"])}</div>' in html
    assert "Telegram has received 3 of 3." in html
    assert received[0]["text"].startswith(HEADER)
    facts = shown(html)
    assert re.search(r"Failed attempts\s+0", facts)
    assert re.search(r"Last error\s+none", facts)


def escape_html(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def test_a_failed_message_shows_its_attempts_and_last_error(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    message = Message.objects.create(
        user=alice,
        destination=chat,
        header=HEADER,
        text="lost",
        status=Message.Status.FAILED,
        attempts=12,
        error="Bad Gateway from Telegram",
    )
    html = alice_web.get(page_of(message.pk)).content.decode()
    facts = shown(html)
    assert '<span class="badge failed">failed</span>' in html
    assert re.search(r"Failed attempts\s+12", facts)
    assert re.search(r"Last error\s+Bad Gateway from Telegram", facts)
    assert re.search(r"Sent\s+never", facts)
    assert "Telegram has received 0 of 1." in html
    assert "not received" in html


def test_a_message_half_delivered_shows_which_parts_arrived(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    message = Message.objects.create(
        user=alice,
        destination=chat,
        header=HEADER,
        text=long_text(150),
        parts_sent=1,
        telegram_message_ids=[41],
        attempts=1,
    )
    html = alice_web.get(page_of(message.pk)).content.decode()
    assert "Telegram has received 1 of 3." in html
    assert "received, Telegram message 41" in html
    assert html.count("not received") == 2
    assert re.search(r"Sent\s+not yet", shown(html))
    assert "Next attempt" in html


def test_another_accounts_message_or_a_missing_one_is_not_found(alice, bob, alice_web):
    chat = link(bob, BOB_CHAT)
    bobs = Message.objects.create(
        user=bob, destination=chat, header="Bob, я получил от тебя сообщение:\n", text="bob's secret"
    )
    for message_id in (bobs.pk, bobs.pk + 1000, 2**63, 10**30):
        response = alice_web.get(page_of(message_id))
        assert response.status_code == 404, message_id
        assert "bob's secret" not in response.content.decode()


def test_the_list_cuts_a_long_text_and_links_to_the_whole_message(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    text = "x" * 700 + " the end"
    message = Message.objects.create(user=alice, destination=chat, header=HEADER, text=text)
    short = Message.objects.create(user=alice, destination=chat, header=HEADER, text="short one")
    html = alice_web.get(MESSAGES).content.decode()
    assert "the end" not in html
    assert f'<a href="{page_of(message.pk)}">The whole message (708 characters) →</a>' in html
    # Every row leads to its page, a short one too.
    assert f'href="{page_of(short.pk)}"' in html
    assert "the end" in alice_web.get(page_of(message.pk)).content.decode()


# -- search and the status filter -----------------------------------------------------


@pytest.fixture
def history(alice, bob):
    chat = link(alice, ALICE_CHAT)
    rows = [
        ("Deploy finished on web-1", Message.Status.SENT),
        ("deploy FAILED on web-2", Message.Status.FAILED),
        ("Привет, это ПРОВЕРКА", Message.Status.SENT),
        ("backup at 03:00 (a.b)", Message.Status.QUEUED),
        ("axb is not a.b", Message.Status.SENT),
    ]
    for text, status in rows:
        Message.objects.create(user=alice, destination=chat, header=HEADER, text=text, status=status)
    Message.objects.create(
        user=bob, destination=link(bob, BOB_CHAT), header="Bob\n", text="bob's deploy", status="sent"
    )


def listed(client: Client, **query) -> list[str]:
    response = client.get(MESSAGES, query)
    assert response.status_code == 200
    return [unescape(text) for text in re.findall(r'<p class="message-text">([^<]*)</p>', response.content.decode())]


def test_search_finds_ones_own_messages_in_any_letter_case(history, alice_web):
    assert listed(alice_web, q="DEPLOY") == ["deploy FAILED on web-2", "Deploy finished on web-1"]
    # Beyond ASCII too, on SQLite as on PostgreSQL.
    assert listed(alice_web, q="проверка") == ["Привет, это ПРОВЕРКА"]
    # Whole words, through the full-text index, in any order.
    assert listed(alice_web, q="web-2 deploy") == ["deploy FAILED on web-2"]
    assert listed(alice_web, q="03:00 BACKUP") == ["backup at 03:00 (a.b)"]
    assert listed(alice_web, q="провер") == []
    # Punctuation and operators are not a pattern nor a query language: only the words count.
    assert listed(alice_web, q="(a.b)") == ["axb is not a.b", "backup at 03:00 (a.b)"]
    assert listed(alice_web, q='NOT "axb"') == ["axb is not a.b"]


def test_the_status_filter_alone_and_with_a_search(history, alice_web):
    assert listed(alice_web, status="failed") == ["deploy FAILED on web-2"]
    assert listed(alice_web, status="sent", q="deploy") == ["Deploy finished on web-1"]
    assert listed(alice_web, status="queued") == ["backup at 03:00 (a.b)"]
    html = alice_web.get(MESSAGES, {"status": "failed", "q": "nothing like it"}).content.decode()
    assert "No message matches." in html
    # The form keeps what was asked.
    html = alice_web.get(MESSAGES, {"status": "sent", "q": "deploy"}).content.decode()
    assert 'value="deploy"' in html
    assert '<option value="sent" selected>' in html


def test_the_pages_of_a_search_keep_the_search(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    Message.objects.bulk_create(
        Message(user=alice, destination=chat, header=HEADER, text=f"{'match' if n % 2 else 'other'} {n:02}")
        for n in range(50)
    )
    html = alice_web.get(MESSAGES, {"q": "match"}).content.decode()
    (older,) = re.findall(r'<a href="([^"]+)" rel="next">', html)
    below = Message.objects.get(user=alice, text="match 11").pk
    assert unescape(older) == f"?q=match&before={below}"
    assert listed(alice_web, q="match", before=below) == [f"match {n:02}" for n in range(9, 0, -2)]


@pytest.mark.parametrize("query", [{"status": "lost"}, {"q": "x" * 201}])
def test_a_filter_that_makes_no_sense_is_answered_400_with_the_reason(query, alice, alice_web):
    link(alice, ALICE_CHAT)
    response = alice_web.get(MESSAGES, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="errorlist' in html
    assert "the search above needs correcting" in html


# -- in a browser ----------------------------------------------------------------------


def test_chromium_finds_a_long_message_and_reads_it_whole(browser, live_server):  # noqa: F811
    user = make_user("reader", "Reader")
    chat = link(user, ALICE_CHAT)
    header = "Reader, я получил от тебя сообщение:\n"
    text = "Закат над морем\n" + long_text(80) + "the very last line"
    Message.objects.create(
        user=user, destination=chat, header=header, text=text, status="sent", parts_sent=2, telegram_message_ids=[7, 8]
    )
    Message.objects.create(user=user, destination=chat, header=header, text="закат, but queued", status="queued")
    Message.objects.create(user=user, destination=chat, header=header, text="something else", status="sent")
    page = browser.new_page()
    try:
        page.goto(f"{live_server.url}/cabinet/login/")
        page.get_by_label("Username", exact=True).fill("reader")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password", exact=True).press("Enter")
        page.wait_for_url(f"{live_server.url}/cabinet/")
        page.goto(f"{live_server.url}/cabinet/messages/")
        page.get_by_label("Words in the text").fill("ЗАКАТ")
        page.get_by_label("Status").select_option("sent")
        page.get_by_role("button", name="Find").click()
        page.wait_for_url("**/cabinet/messages/?q=*")
        rows = page.locator("li.message")
        assert rows.count() == 1
        assert "the very last line" not in rows.inner_text()
        rows.get_by_role("link", name=re.compile(r"The whole message")).click()
        page.get_by_role("heading", name=re.compile(r"Message \d+")).wait_for()
        assert page.locator("#message-text").inner_text().endswith("the very last line")
        # A part's text shows once its summary is opened.
        assert not page.locator("#part-2 .message-full").is_visible()
        page.get_by_text("Part 2 of 2").click()
        last_part = page.locator("#part-2 .message-full")
        assert last_part.is_visible()
        assert last_part.inner_text().endswith("the very last line")
    finally:
        page.close()
