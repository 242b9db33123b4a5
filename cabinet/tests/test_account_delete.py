"""Deleting one's account from the profile, with the password."""

from django.test import Client
from django.urls import reverse
from knox.models import AuthToken

from accounts.models import User
from accounts.services import issue_named_token
from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, link, make_due, run_sweep
from relay.models import Destination, Message
from relay.services import enqueue_message
from relaybot.models import LinkCode
from relaybot.services import create_link_code
from relaybot.texts import text

PROFILE = reverse("cabinet:profile")
DELETE = reverse("cabinet:account-delete")
LOGIN = reverse("cabinet:login")
DASHBOARD = reverse("cabinet:dashboard")


def test_the_profile_offers_deletion_with_the_password(alice_web):
    html = alice_web.get(PROFILE).content.decode()
    assert f'action="{DELETE}"' in html
    assert 'name="password"' in html
    assert 'autocomplete="current-password"' in html


def test_deleting_removes_the_account_and_all_it_had_and_tells_the_chat(
    tg, alice, bob, alice_web, django_capture_on_commit_callbacks
):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    issue_named_token(user=alice, name="script")
    issue_named_token(user=bob, name="bob's script")
    create_link_code(user=alice)
    # Stored, not yet handed to delivery (this test's transaction never commits them).
    queued = enqueue_message(user=alice, text="still queued")
    bobs = enqueue_message(user=bob, text="bob's message")
    elsewhere = Client()
    elsewhere.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_web.post(DELETE, {"password": PASSWORD})

    assert (response.status_code, response.url) == (303, LOGIN)
    assert "Your account is deleted" in alice_web.get(LOGIN).content.decode()
    assert not User.objects.filter(username="alice").exists()
    assert not Message.objects.filter(pk=queued.pk).exists()
    assert not AuthToken.objects.filter(user_id=alice.pk).exists()
    assert not Destination.objects.filter(chat_id=ALICE_CHAT).exists()
    assert not LinkCode.objects.filter(user_id=alice.pk).exists()
    assert elsewhere.get(DASHBOARD).status_code == 302
    # bob keeps everything.
    assert Message.objects.filter(pk=bobs.pk).exists()
    assert AuthToken.objects.filter(user=bob).count() == 1
    assert Destination.objects.filter(chat_id=BOB_CHAT, user=bob).exists()

    assert [record["text"] for record in tg.sent(chat_id=ALICE_CHAT)] == [
        text("ru", "account_deleted", username="alice")
    ]
    make_due()
    run_sweep()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_a_wrong_password_deletes_nothing(tg, alice, alice_web):
    link(alice, ALICE_CHAT)
    response = alice_web.post(DELETE, {"password": "not my password"})
    assert (response.status_code, response.url) == (303, f"{PROFILE}#delete")
    assert "This is not your password." in alice_web.get(PROFILE).content.decode()
    assert User.objects.filter(pk=alice.pk).exists()
    assert Destination.objects.filter(user=alice).exists()
    assert tg.sent() == []


def test_wrong_passwords_count_as_failed_logins(settings, alice, alice_web):
    settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS = 2
    for _ in range(2):
        alice_web.post(DELETE, {"password": "a guess"})
    response = alice_web.post(DELETE, {"password": PASSWORD})
    assert response.url == f"{PROFILE}#delete"
    assert "Too many failed attempts" in alice_web.get(PROFILE).content.decode()
    assert User.objects.filter(pk=alice.pk).exists()


def test_opening_the_delete_address_goes_to_the_profile(alice_web):
    response = alice_web.get(DELETE)
    assert response.status_code in (302, 303)
    assert response.url.startswith(PROFILE)
