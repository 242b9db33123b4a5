"""Linking by verification code: the bot hands one to a chat, the account submits it through the API."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, BOB_CHAT, link, poll_bot, text_update, verification_code_in
from relay.models import Destination
from relaybot.bot import handle_update
from relaybot.models import LinkCode

pytestmark = pytest.mark.django_db

VERIFY_URL = "/api/v1/telegram/verify/"
LINK_URL = "/api/v1/telegram/link/"


def code_for(tg, chat_id: int, text: str = "hello", **sender) -> str:
    """Write to the bot from chat_id and read the verification code it answers with."""
    handle_update(text_update(chat_id, text, **sender))
    return verification_code_in(tg.sent(chat_id=chat_id)[-1]["text"])


def verify(client: APIClient, code: str):
    return client.post(VERIFY_URL, {"code": code}, format="json")


def verify_compat(client: APIClient, code: str, slash: str = ""):
    return client.patch(f"/bot/verify{slash}", {"verification_code": code}, format="json")


def test_submitting_the_code_links_the_chat_that_received_it(tg, alice, alice_api):
    code = code_for(tg, ALICE_CHAT, first_name="Alisa", username="alisa_tg", language_code="en")

    response = verify(alice_api, code)

    assert response.status_code == 200
    body = response.json()
    assert body["linked"] is True
    assert body["chat"]["chat_id"] == ALICE_CHAT
    assert body["chat"]["username"] == "alisa_tg"
    assert body["chat"]["first_name"] == "Alisa"
    chat = Destination.objects.get()
    assert (chat.user, chat.chat_id, chat.language_code) == (alice, ALICE_CHAT, "en")


def test_code_from_a_polled_message_links_the_chat(tg, alice, alice_api):
    tg.user_says(ALICE_CHAT, "hi there")
    assert poll_bot() == 1
    code = verification_code_in(tg.sent(chat_id=ALICE_CHAT)[0]["text"])

    assert verify(alice_api, code).status_code == 200

    assert Destination.objects.get().chat_id == ALICE_CHAT


def test_bare_start_gives_a_code_that_links(tg, alice, alice_api):
    code = code_for(tg, ALICE_CHAT, "/start")

    assert verify(alice_api, code).status_code == 200
    assert Destination.objects.get().user == alice


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "slash"])
def test_assignment_route_links_the_chat(tg, alice, alice_api, slash):
    code = code_for(tg, ALICE_CHAT)

    response = verify_compat(alice_api, code, slash)

    assert response.status_code == 200
    assert response.json()["chat"]["chat_id"] == ALICE_CHAT
    assert Destination.objects.get().user == alice


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "  {code}  "], ids=["exact", "lowercase", "padded"])
def test_code_may_be_typed_loosely(tg, alice, alice_api, typed):
    code = code_for(tg, ALICE_CHAT)

    response = verify(alice_api, typed.format(code=code, lower=code.lower()))

    assert response.status_code == 200
    assert Destination.objects.get().user == alice


def test_code_works_once(tg, alice, alice_api):
    code = code_for(tg, ALICE_CHAT)
    assert verify(alice_api, code).status_code == 200

    second = verify(alice_api, code)

    assert second.status_code == 400
    assert "code" in second.json()
    assert Destination.objects.get().user == alice


def test_code_works_once_on_either_route(tg, alice, alice_api):
    code = code_for(tg, ALICE_CHAT)
    assert verify(alice_api, code).status_code == 200

    response = verify_compat(alice_api, code)

    assert response.status_code == 400
    assert "verification_code" in response.json()


def test_another_account_cannot_redeem_a_used_code(tg, alice, alice_api, bob_api):
    code = code_for(tg, ALICE_CHAT)
    assert verify(alice_api, code).status_code == 200

    assert verify(bob_api, code).status_code == 400
    assert verify_compat(bob_api, code).status_code == 400

    assert Destination.objects.get().user == alice
    assert bob_api.get(LINK_URL).json() == {"linked": False, "chat": None}


def test_unknown_code_is_refused(alice_api):
    for response in (verify(alice_api, "ABCDEFGH"), verify_compat(alice_api, "ABCDEFGH")):
        assert response.status_code == 400
    assert not Destination.objects.exists()


def test_link_code_is_not_a_verification_code(tg, alice_api):
    link_code = alice_api.post(LINK_URL).json()["code"]

    assert verify(alice_api, link_code).status_code == 400
    assert not Destination.objects.exists()


def test_a_newer_code_for_the_chat_replaces_the_older(tg, alice, alice_api):
    older = code_for(tg, ALICE_CHAT, "hello")
    newer = code_for(tg, ALICE_CHAT, "hello again")

    assert verify(alice_api, older).status_code == 400
    assert verify(alice_api, newer).status_code == 200


def test_codes_of_different_chats_are_independent(tg, alice, bob, alice_api, bob_api):
    alices = code_for(tg, ALICE_CHAT)
    bobs = code_for(tg, BOB_CHAT)

    assert verify(bob_api, bobs).status_code == 200
    assert verify(alice_api, alices).status_code == 200

    assert Destination.objects.get(chat_id=ALICE_CHAT).user == alice
    assert Destination.objects.get(chat_id=BOB_CHAT).user == bob


def test_expired_code_is_refused(tg, alice_api):
    code = code_for(tg, ALICE_CHAT)
    LinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert verify(alice_api, code).status_code == 400
    assert verify_compat(alice_api, code).status_code == 400
    assert not Destination.objects.exists()


def test_code_works_until_its_time_is_up(tg, alice, alice_api, settings):
    code = code_for(tg, ALICE_CHAT)
    almost = timezone.now() + settings.VERIFICATION_CODE_TTL - timedelta(seconds=5)

    with mock.patch("django.utils.timezone.now", return_value=almost):
        assert verify(alice_api, code).status_code == 200


def test_code_fails_after_its_time_is_up(tg, alice_api, settings):
    code = code_for(tg, ALICE_CHAT)
    later = timezone.now() + settings.VERIFICATION_CODE_TTL + timedelta(seconds=5)

    with mock.patch("django.utils.timezone.now", return_value=later):
        assert verify(alice_api, code).status_code == 400
    assert not Destination.objects.exists()


def test_reply_states_how_long_the_code_lives(tg, settings):
    minutes = int(settings.VERIFICATION_CODE_TTL.total_seconds() // 60)

    handle_update(text_update(ALICE_CHAT, "hello", language_code="en"))

    assert f"{minutes} min" in tg.sent(chat_id=ALICE_CHAT)[0]["text"]


def test_verifying_a_second_chat_replaces_the_first(tg, alice, alice_api):
    link(alice, ALICE_CHAT)

    assert verify(alice_api, code_for(tg, BOB_CHAT)).status_code == 200

    assert list(Destination.objects.filter(user=alice).values_list("chat_id", flat=True)) == [BOB_CHAT]


def test_verifying_moves_a_chat_from_its_former_account(tg, alice, bob, alice_api, bob_api):
    link(alice, ALICE_CHAT)

    assert verify(bob_api, code_for(tg, ALICE_CHAT)).status_code == 200

    assert Destination.objects.get().user == bob
    assert alice_api.get(LINK_URL).json() == {"linked": False, "chat": None}


def test_verify_needs_authentication():
    assert APIClient().post(VERIFY_URL, {"code": "ABCDEFGH"}, format="json").status_code == 401
    assert APIClient().patch("/bot/verify", {"verification_code": "ABCDEFGH"}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "code"), ({"code": ""}, "code"), ({"code": "A" * 65}, "code"), ({"verification_code": "ABCDEFGH"}, "code")],
)
def test_verify_names_a_bad_field(alice_api, body, field):
    response = alice_api.post(VERIFY_URL, body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize("body", [{}, {"verification_code": ""}, {"code": "ABCDEFGH"}])
def test_assignment_route_names_a_bad_field(alice_api, body):
    response = alice_api.patch("/bot/verify", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["verification_code"]
