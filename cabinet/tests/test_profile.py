"""The profile: the name the bot uses, and the password."""

from django.test import Client
from django.urls import reverse
from knox.models import AuthToken

from accounts.services import issue_named_token
from conftest import PASSWORD

PROFILE = reverse("cabinet:profile")
PASSWORD_CHANGE = reverse("cabinet:password-change")
DASHBOARD = reverse("cabinet:dashboard")
NEW_PASSWORD = "a much longer new secret"


def test_the_profile_page_has_both_forms(alice_web, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = alice_web.get(PROFILE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Alice"' in html
    for field in ("name", "old_password", "new_password1", "new_password2", "revoke_tokens"):
        assert f'for="id_{field}"' in html


def test_changing_the_name(alice, alice_web):
    response = alice_web.post(PROFILE, {"name": "  Алиса  "})
    assert (response.status_code, response.url) == (303, PROFILE)
    alice.refresh_from_db()
    assert alice.name == "Алиса"
    assert alice_web.post(PROFILE, {"name": ""}).url == PROFILE
    assert alice_web.get(PROFILE).context["name_form"].errors["name"] == ["This field is required."]
    alice.refresh_from_db()
    assert alice.name == "Алиса"


def password_change(web, *, follow: bool = False, **extra):
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, **extra}
    return web.post(PASSWORD_CHANGE, data, follow=follow)


def test_changing_the_password_keeps_this_session_and_ends_the_others(alice, alice_web):
    elsewhere = Client()
    elsewhere.force_login(alice)
    issue_named_token(user=alice, name="kept")
    response = password_change(alice_web)
    assert (response.status_code, response.url) == (303, PROFILE)
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert alice_web.get(DASHBOARD).status_code == 200
    assert elsewhere.get(DASHBOARD).status_code == 302
    assert AuthToken.objects.filter(user=alice).count() == 1


def test_changing_the_password_can_revoke_every_token(alice, bob, alice_web):
    issue_named_token(user=alice, name="one")
    issue_named_token(user=alice, name="two")
    issue_named_token(user=bob, name="bob's")
    response = password_change(alice_web, revoke_tokens="on")
    assert response.status_code == 303
    assert not AuthToken.objects.filter(user=alice).exists()
    assert AuthToken.objects.filter(user=bob).count() == 1
    assert "2 API tokens are revoked" in alice_web.get(PROFILE).content.decode()


def test_a_wrong_old_password_changes_nothing(alice, alice_web):
    response = password_change(alice_web, old_password="not it")
    assert (response.status_code, response.url) == (303, PROFILE + "#password")
    assert "Your old password was entered incorrectly" in alice_web.get(PROFILE).content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_weak_new_password_is_refused(alice, alice_web):
    response = password_change(alice_web, new_password1="12345678", new_password2="12345678", follow=True)
    assert "This password is too common." in response.content.decode()
