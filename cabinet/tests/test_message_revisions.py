"""Editing and deleting a sent message from its page, checked where it counts: in the chat at the simulated Telegram."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cabinet.tests.pages import post, shown
from conftest import ALICE_CHAT
from relay.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

# Alice's chat speaks Russian, so the bot's header is in Russian whatever the page's language.
HEADER = "Alice, я получил от тебя сообщение:\n"
LONG = "line\n" * 1500
FORTY_NINE_HOURS = 49 * 3600


def page_of(message_id: int) -> str:
    return reverse("cabinet:message", args=[message_id])


def edit_url(message_id: int) -> str:
    return reverse("cabinet:message-edit", args=[message_id])


def delete_url(message_id: int) -> str:
    return reverse("cabinet:message-delete", args=[message_id])


def confirm_url(message_id: int) -> str:
    return reverse("cabinet:message-delete-confirm", args=[message_id])


def cancel_url(message_id: int) -> str:
    return reverse("cabinet:message-cancel", args=[message_id])


def edits_made(tg) -> int:
    return tg.request_counts()["counts"].get("editMessageText", 0)


def test_the_page_of_a_sent_message_offers_its_text_to_edit_and_the_edit_reaches_the_chat(tg, alice_linked, alice_web):
    sent = post(alice_linked, text="**Disk** at 91%", title="Backup", format="markdown")
    page = alice_web.get(page_of(sent["id"])).content.decode()
    assert f'action="{edit_url(sent["id"])}"' in page
    # Prefilled with the text as written, in the message's format.
    assert re.search(r"<textarea [^>]*name=\"text\"[^>]*>\n?\*\*Disk\*\* at 91%</textarea>", page)
    assert "Write it in Markdown, as the original was" in page

    response = alice_web.post(edit_url(sent["id"]), {"text": "**Disk** at 40%"})

    assert (response.status_code, response.url) == (303, page_of(sent["id"]))
    assert edits_made(tg) == 1
    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert record["edited"] is True
    # The header and the title stay; the Markdown is rendered as when it was sent.
    assert record["text"] == HEADER + "Backup\nDisk at 40%"
    assert {entity["type"] for entity in record["entities"]} == {"bold"}
    after = alice_web.get(response.url).content.decode()
    assert "The new text is on its way to the chat." in after
    assert '<div class="message-full" id="message-text">**Disk** at 40%</div>' in after
    assert "Changes under way" not in after


def test_an_edit_needing_fewer_parts_removes_the_rest_from_the_chat(tg, alice_linked, alice_web):
    sent = post(alice_linked, text=LONG)
    first, second = tg.sent(chat_id=ALICE_CHAT)

    response = alice_web.post(edit_url(sent["id"]), {"text": "short now"})

    assert response.status_code == 303
    first_now, second_now = tg.sent(chat_id=ALICE_CHAT)
    assert first_now["text"] == HEADER + "short now"
    assert tg.deleted(chat_id=ALICE_CHAT) == [{"chat_id": ALICE_CHAT, "message_id": second["message_id"]}]
    assert "Telegram has received 1 of 1." in alice_web.get(page_of(sent["id"])).content.decode()


def test_a_sent_message_is_deleted_from_the_chat_after_a_confirmation(tg, alice_linked, alice_web):
    sent = post(alice_linked, text=LONG)
    page = alice_web.get(page_of(sent["id"])).content.decode()
    # The button only opens the confirm page: a GET changes nothing.
    assert f'<form method="get" action="{confirm_url(sent["id"])}"' in page

    confirm = alice_web.get(confirm_url(sent["id"]))

    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert f"Delete message {sent['id']} from Alice?" in shown(html)
    assert "48 hours" in html
    assert f'<form method="post" action="{delete_url(sent["id"])}">' in html
    assert f'href="{page_of(sent["id"])}"' in html
    assert tg.deleted(chat_id=ALICE_CHAT) == []

    response = alice_web.post(delete_url(sent["id"]))

    assert (response.status_code, response.url) == (303, page_of(sent["id"]))
    records = tg.sent(chat_id=ALICE_CHAT)
    assert [record.get("deleted") for record in records] == [True, True]
    assert len(tg.deleted(chat_id=ALICE_CHAT)) == 2
    after = alice_web.get(response.url).content.decode()
    assert "The message is being deleted from the chat." in after
    assert Message.objects.get(pk=sent["id"]).status == "deleted"
    # Nothing is left to edit or delete.
    assert f'action="{edit_url(sent["id"])}"' not in after
    assert f'action="{confirm_url(sent["id"])}"' not in after
    # A second delete from a page loaded before says why not, in words.
    again = alice_web.post(delete_url(sent["id"]), follow=True)
    assert again.status_code == 200
    assert "The message is deleted: only a sent message can be deleted." in again.content.decode()
    assert len(tg.deleted(chat_id=ALICE_CHAT)) == 2


def test_a_deletion_past_telegrams_48_hours_shows_telegrams_refusal(tg, alice_linked, alice_web):
    sent = post(alice_linked, text="old news")
    (record,) = tg.sent(chat_id=ALICE_CHAT)
    tg.age_message(ALICE_CHAT, record["message_id"], FORTY_NINE_HOURS)

    response = alice_web.post(delete_url(sent["id"]))

    assert response.status_code == 303
    assert tg.deleted(chat_id=ALICE_CHAT) == []
    facts = shown(alice_web.get(page_of(sent["id"])).content.decode())
    assert "Last error Telegram: message can't be deleted (older than 48 hours)" in facts
    # Still in the chat, so still there to edit or delete again.
    assert Message.objects.get(pk=sent["id"]).status == "sent"
    assert "Edit in the chat" in facts


def test_a_change_telegram_has_not_made_yet_is_shown_with_its_last_error(tg, alice_linked, alice_web):
    sent = post(alice_linked, text="before")
    tg.add_fault(method="editMessageText", kind="500", times=1)

    alice_web.post(edit_url(sent["id"]), {"text": "after"})

    page = alice_web.get(page_of(sent["id"])).content.decode()
    facts = shown(page)
    assert "Changes under way New text, waiting for Telegram" in facts
    assert "Last try:" in facts
    # The form goes on from the text asked for, not the one still in the chat.
    assert re.search(r"<textarea [^>]*>\n?after</textarea>", page)
    assert tg.sent(chat_id=ALICE_CHAT)[0]["text"] == HEADER + "before"


def test_a_queued_message_is_still_cancelled_not_edited(tg, alice_linked, alice_web):
    later = timezone.now() + timedelta(hours=1)
    queued = post(alice_linked, text="later", deliver_at=later.isoformat())
    page = alice_web.get(page_of(queued["id"])).content.decode()
    assert f'action="{cancel_url(queued["id"])}"' in page
    assert f'action="{edit_url(queued["id"])}"' not in page
    assert f'action="{confirm_url(queued["id"])}"' not in page

    # An edit from a page loaded while it was... never sent: refused on the page, in words.
    refused = alice_web.post(edit_url(queued["id"]), {"text": "sooner"}, follow=True)
    assert refused.status_code == 200
    assert "The message is not sent yet, so there is nothing to edit" in refused.content.decode()
    cancelled = alice_web.post(cancel_url(queued["id"]), follow=True)

    assert "The message is cancelled: it will not be sent." in cancelled.content.decode()
    assert Message.objects.get(pk=queued["id"]).status == "cancelled"
    assert tg.sent(chat_id=ALICE_CHAT) == []


def test_another_accounts_message_is_not_found_for_edit_and_delete(tg, alice_linked, bob_web):
    sent = post(alice_linked, text="mine")

    assert bob_web.post(edit_url(sent["id"]), {"text": "bob's"}).status_code == 404
    assert bob_web.get(confirm_url(sent["id"])).status_code == 404
    assert bob_web.post(delete_url(sent["id"])).status_code == 404
    for missing in (sent["id"] + 1000, 2**63):
        assert bob_web.post(edit_url(missing), {"text": "x"}).status_code == 404
        assert bob_web.post(delete_url(missing)).status_code == 404
    assert edits_made(tg) == 0
    assert tg.deleted(chat_id=ALICE_CHAT) == []
    assert Message.objects.get(pk=sent["id"]).status == "sent"


def test_edit_and_delete_take_a_post_with_its_csrf_token_from_a_logged_in_owner(tg, alice, alice_linked):
    sent = post(alice_linked, text="mine")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.post(edit_url(sent["id"]), {"text": "forged"}).status_code == 403
    assert browser.post(delete_url(sent["id"])).status_code == 403
    # A GET of the POST addresses is a page, never a change.
    assert browser.get(edit_url(sent["id"])).status_code == 303
    assert browser.get(delete_url(sent["id"])).status_code == 303
    logged_out = Client()
    response = logged_out.post(edit_url(sent["id"]), {"text": "anon"})
    assert response.status_code == 302 and response.url.startswith(reverse("cabinet:login"))
    assert logged_out.get(confirm_url(sent["id"])).status_code == 302
    assert edits_made(tg) == 0
    assert tg.deleted(chat_id=ALICE_CHAT) == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "This field is required."),
        ("  \n\u200b ", "The message is empty."),
        (LONG, "The new text needs more Telegram messages than the original went out as"),
    ],
)
def test_an_edit_that_cannot_be_made_is_shown_on_the_page_with_the_text_kept(tg, alice_linked, alice_web, text, error):
    sent = post(alice_linked, text="short")

    response = alice_web.post(edit_url(sent["id"]), {"text": text})

    assert (response.status_code, response.url) == (303, f"{page_of(sent['id'])}#edit")
    page = alice_web.get(page_of(sent["id"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<ul class="errorlist"' in html
    assert error in html
    if text == LONG:
        # What was typed is there to shorten, not lost.
        assert "line\nline\n" in html
    assert edits_made(tg) == 0
    assert "edited" not in tg.sent(chat_id=ALICE_CHAT)[0]
    # The error shows once; a reload is the message's page again.
    assert error not in alice_web.get(page_of(sent["id"])).content.decode()


def test_the_russian_pages_show_edit_and_delete(tg, alice_linked, alice_web):
    sent = post(alice_linked, text="short")
    ru = {"HTTP_ACCEPT_LANGUAGE": "ru"}

    page = shown(alice_web.get(page_of(sent["id"]), **ru).content.decode())
    assert "Изменить в чате" in page
    assert "Удалить из чата" in page
    assert "Сохранить новый текст" in page
    confirm = shown(alice_web.get(confirm_url(sent["id"]), **ru).content.decode())
    assert "Удалить сообщение?" in confirm
    assert f"Удалить сообщение {sent['id']} из чата Alice?" in confirm

    alice_web.post(edit_url(sent["id"]), {"text": LONG}, **ru)
    refused = shown(alice_web.get(page_of(sent["id"]), **ru).content.decode())
    assert "Сократите текст или отправьте его новым сообщением." in refused
    alice_web.post(edit_url(sent["id"]), {"text": "новый текст"}, **ru)
    edited = shown(alice_web.get(page_of(sent["id"]), **ru).content.decode())
    assert "Новый текст отправляется в чат." in edited
    alice_web.post(delete_url(sent["id"]), **ru)
    deleted = shown(alice_web.get(page_of(sent["id"]), **ru).content.decode())
    assert "Сообщение удаляется из чата." in deleted
    assert tg.sent(chat_id=ALICE_CHAT)[0]["deleted"] is True
