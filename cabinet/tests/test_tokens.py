"""API tokens: created with a name and shown once, listed with last use, revoked."""

import re

from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import ApiTokenLabel
from accounts.services import issue_token

TOKENS = reverse("cabinet:tokens")
REVOKE = reverse("cabinet:token-revoke")


def api_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def create(web, name: str) -> str:
    response = web.post(TOKENS, {"name": name})
    assert (response.status_code, response.url) == (303, TOKENS)
    return web.get(TOKENS).context["new_token"]["value"]


def test_a_new_token_is_shown_once_with_a_curl_example(alice, alice_web):
    response = alice_web.post(TOKENS, {"name": "backup script"})
    # Its value is in neither the address nor anything the browser keeps.
    assert (response.status_code, response.url) == (303, TOKENS)
    response = alice_web.get(TOKENS)
    token = response.context["new_token"]["value"]
    html = response.content.decode()
    assert "Your new token “backup script”" in html
    assert f'value="{token}"' in html
    assert re.search(
        rf"curl -s -X POST http://testserver/api/v1/messages/ \\\s+-H 'Authorization: Bearer {token}'", html
    )
    label = ApiTokenLabel.objects.get(token__user=alice)
    assert (label.name, label.last_used_at) == ("backup script", None)
    # Shown once: reloading the page shows the list with its name and prefix, never the value, and makes no token.
    listed = alice_web.get(TOKENS).content.decode()
    assert AuthToken.objects.filter(user=alice).count() == 1
    assert "backup script" in listed
    assert token not in listed
    assert f"<code>{token[:8]}…</code>" in listed


def test_the_token_works_and_its_last_use_is_recorded_once_a_minute(alice, alice_web):
    token = create(alice_web, "ci")
    api = api_with(token)
    assert api.get("/api/v1/messages/").status_code == 200
    first_use = ApiTokenLabel.objects.get(name="ci").last_used_at
    assert first_use is not None
    # Within the minute, using the token writes nothing: the label (its scope) comes with the token's own query.
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/messages/").status_code == 200
    touching = [query["sql"] for query in queries if "accounts_apitokenlabel" in query["sql"]]
    assert len(touching) == 1 and touching[0].startswith('SELECT "knox_authtoken"')
    assert ApiTokenLabel.objects.get(name="ci").last_used_at == first_use
    for each in caches.all():  # the minute has passed
        each.clear()
    api.get("/api/v1/messages/")
    assert ApiTokenLabel.objects.get(name="ci").last_used_at > first_use
    page = alice_web.get(TOKENS).content.decode()
    assert '<td data-label="Last used"><time datetime=' in page


def test_tokens_from_logging_in_through_the_api_are_listed_too(alice, alice_web, django_assert_max_num_queries):
    _, plain = issue_token(user=alice)
    api_with(plain).get("/api/v1/messages/")
    create(alice_web, "named")
    with django_assert_max_num_queries(3):
        response = alice_web.get(TOKENS)
    html = response.content.decode()
    assert "(logged in through the API)" in html
    assert "named" in html
    assert len(response.context["tokens"]) == 2
    assert ApiTokenLabel.objects.get(token__token_key=plain[:15]).last_used_at is not None


def test_a_token_needs_a_name(alice_web):
    response = alice_web.post(TOKENS, {"name": ""}, follow=True)
    assert response.context["form"].errors["name"] == ["This field is required."]
    assert response.context["new_token"] is None
    assert not AuthToken.objects.exists()


def test_revoking_a_token_stops_it(alice, alice_web):
    token = create(alice_web, "old")
    digest = AuthToken.objects.get(user=alice).digest
    response = alice_web.post(REVOKE, {"token": digest})
    assert (response.status_code, response.url) == (303, TOKENS)
    assert api_with(token).get("/api/v1/messages/").status_code == 401
    assert not ApiTokenLabel.objects.exists()
    assert "The token is revoked." in alice_web.get(TOKENS).content.decode()


def test_another_accounts_tokens_are_neither_shown_nor_revocable(alice, bob, alice_web, bob_web):
    bobs = create(bob_web, "bob's laptop")
    digest = AuthToken.objects.get(user=bob).digest
    page = alice_web.get(TOKENS).content.decode()
    assert "laptop" not in page and digest not in page
    assert "No tokens yet." in page
    response = alice_web.post(REVOKE, {"token": digest}, follow=True)
    assert "There is no such token" in response.content.decode()
    assert api_with(bobs).get("/api/v1/messages/").status_code == 200
