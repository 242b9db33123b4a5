"""Isolation: a second account reaches none of the first one's messages, chat, codes or tokens.

The routes come from the URLconf itself: each one must either have an
isolation check below or be listed, with the reason, among the routes that
hold nothing of an account's. A new route fails this file until it is one or
the other. Every check runs as bob, by Bearer token and by HTTP Basic, against
alice's data, and nothing bob receives may mention alice's texts or chat.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from knox.models import AuthToken
from rest_framework.test import APIClient

from conftest import PASSWORD, basic_auth, client_for, link
from relay.models import Destination, Message
from relay.tests.helpers import streamed_json
from relaybot import services as telegram_services
from relaybot.models import LinkCode

pytestmark = pytest.mark.django_db

# Chat ids no timestamp or id in an answer could contain by chance.
ALICE_CHAT = 7_310_000_019
BOB_CHAT = 7_310_000_027
ALICE_SECRET = "alice's secret plan"
ALICE_KEY = "alice-idempotency-key"

# Routes that act on no account's data, or guard it in their own way, and why.
NO_ACCOUNT_DATA = {
    "schema": "the OpenAPI schema",
    "swagger-ui": "documentation",
    "redoc": "documentation",
    "redoc-bundle": "the documentation's script",
    "healthz": "a liveness probe",
    "readyz": "a readiness probe",
    "metrics": "counts across all accounts, no account's data",
    "api-register": "creates an account; anonymous",
    "compat-signup": "creates an account; anonymous",
    "compat-login": "exchanges the caller's own password for a token",
    "telegram-webhook": "Telegram's, authenticated by the webhook secret (tests/test_security_secrets.py)",
    "admin-login": "only forwards to the cabinet's login",
}
# Whole namespaces with isolation of their own.
NAMESPACES = {
    "admin": "staff only, Django's permission checks",
    "cabinet": "browser pages on a session; their isolation is tested in cabinet/tests/",
}


def url_routes(patterns=None, prefix: str = "", namespace: str | None = None):
    """(route, URL name, namespace) of every URL pattern, included ones too."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_routes(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name, namespace


@dataclass
class World:
    bob: "RecordingClient"
    alice: APIClient
    alice_message_ids: list[int]
    missing_id: int
    alice_user: object
    bob_user: object
    notes: list[str] = field(default_factory=list)


class RecordingClient:
    """bob's API client; keeps every answer, to search them for alice's data afterwards."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.answers: list[bytes] = []

    def __getattr__(self, method: str) -> Callable:
        call = getattr(self.client, method)

        def recorded(*args, **kwargs):
            response = call(*args, **kwargs)
            if response.streaming:
                # Read whole here and handed on as it was, for the test to read too.
                body = b"".join(response.streaming_content)
                response.streaming_content = [body]
                self.answers.append(body)
            else:
                self.answers.append(response.content)
            return response

        return recorded


@pytest.fixture(params=["bearer", "basic"])
def world(request, tg, alice, bob) -> World:
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    alice_api = client_for(alice)
    sent = alice_api.post("/api/v1/messages/", {"text": ALICE_SECRET}, format="json", HTTP_IDEMPOTENCY_KEY=ALICE_KEY)
    tg.add_fault(kind="500", chat_id=ALICE_CHAT, times=-1)
    queued = alice_api.post("/api/v1/messages/", {"text": ALICE_SECRET + " (queued)"}, format="json")
    assert sent.status_code == queued.status_code == 202
    ids = [sent.json()["id"], queued.json()["id"]]
    if request.param == "bearer":
        bob_api = client_for(bob)
    else:
        bob_api = APIClient()
        bob_api.credentials(HTTP_AUTHORIZATION=basic_auth("bob", PASSWORD))
    return World(
        bob=RecordingClient(bob_api),
        alice=alice_api,
        alice_message_ids=ids,
        missing_id=max(ids) + 1000,
        alice_user=alice,
        bob_user=bob,
    )


def message_detail(w: World) -> None:
    missing = w.bob.get(f"/api/v1/messages/{w.missing_id}/")
    for message_id in w.alice_message_ids:
        theirs = w.bob.get(f"/api/v1/messages/{message_id}/")
        # The same answer as for an id that never existed: not even existence leaks.
        assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json()) == (404, missing.json())


def message_list(w: World) -> None:
    listed = w.bob.get("/api/v1/messages/")
    assert listed.status_code == 200
    assert not {item["id"] for item in listed.json()["results"]} & set(w.alice_message_ids)
    mine = w.bob.post("/api/v1/messages/", {"text": "bob writes"}, format="json")
    assert mine.status_code == 202
    assert Message.objects.get(pk=mine.json()["id"]).destination.chat_id == BOB_CHAT
    # alice's idempotency key is hers alone: bob's request with it is a new message of his.
    replay = w.bob.post("/api/v1/messages/", {"text": "bob again"}, format="json", HTTP_IDEMPOTENCY_KEY=ALICE_KEY)
    assert replay.status_code == 202
    assert replay.json()["id"] not in w.alice_message_ids


def compat_sent(w: World) -> None:
    for url in ("/message/sent", "/message/sent/"):
        listed = w.bob.get(url)
        assert listed.status_code == 200
        assert not {item["id"] for item in streamed_json(listed)} & set(w.alice_message_ids)
        mine = w.bob.post(url, {"content": "bob writes"}, format="json", HTTP_IDEMPOTENCY_KEY=ALICE_KEY)
        assert mine.status_code == 202
        assert mine.json()["id"] not in w.alice_message_ids
        assert Message.objects.get(pk=mine.json()["id"]).destination.chat_id == BOB_CHAT


def telegram_link(w: World) -> None:
    alice_code = w.alice.post("/api/v1/telegram/link/").json()["code"]
    status = w.bob.get("/api/v1/telegram/link/")
    assert status.json()["chat"]["chat_id"] == BOB_CHAT
    # bob's new code leaves alice's pending one valid, and links only bob.
    assert w.bob.post("/api/v1/telegram/link/").status_code == 201
    assert LinkCode.objects.filter(user=w.alice_user, used_at__isnull=True).count() == 1
    assert w.bob.delete("/api/v1/telegram/link/").status_code == 204
    assert Destination.objects.get(chat_id=ALICE_CHAT).user == w.alice_user
    assert w.alice.get("/api/v1/telegram/link/").json()["chat"]["chat_id"] == ALICE_CHAT
    assert w.bob.delete("/api/v1/telegram/link/").status_code == 404
    chat = telegram_services.link_by_link_code(
        code=alice_code,
        chat=telegram_services.private_chat(telegram_services.TelegramUser(chat_id=ALICE_CHAT, first_name="Alice")),
    )
    assert chat.user == w.alice_user


def _verify(w: World, url: str, method: str, field_name: str) -> None:
    # A code the bot gave alice's chat; bob guesses next to it.
    _, code = telegram_services.issue_verification_code(who=telegram_services.TelegramUser(chat_id=ALICE_CHAT))
    guess = code[:-1] + ("A" if code[-1] != "A" else "B")
    wrong = getattr(w.bob, method)(url, {field_name: guess}, format="json")
    unrelated = getattr(w.bob, method)(url, {field_name: "ZZZZ2222"}, format="json")
    assert wrong.status_code == unrelated.status_code == 400
    assert wrong.json() == unrelated.json()
    assert Destination.objects.get(chat_id=ALICE_CHAT).user == w.alice_user


def telegram_verify(w: World) -> None:
    _verify(w, "/api/v1/telegram/verify/", "post", "code")


def compat_verify(w: World) -> None:
    _verify(w, "/bot/verify", "patch", "verification_code")
    _verify(w, "/bot/verify/", "patch", "verification_code")


def api_token(w: World) -> None:
    # Logging out revokes only the token bob sends; alice's keep working.
    response = w.bob.delete("/api/v1/auth/token/")
    assert response.status_code in (204, 400)
    assert w.alice.get("/api/v1/messages/").status_code == 200


def account_delete(w: World) -> None:
    # bob deletes only himself: alice's account, chat and messages, queued ones included, stay as they were.
    alices = Message.objects.filter(pk__in=w.alice_message_ids).order_by("pk")
    before = list(alices.values_list("status", "error"))
    assert w.bob.post("/api/v1/auth/account/delete/", {"password": PASSWORD}, format="json").status_code == 204
    assert not type(w.bob_user).objects.filter(pk=w.bob_user.pk).exists()
    assert w.alice.get("/api/v1/messages/").status_code == 200
    assert list(alices.values_list("status", "error")) == before
    assert Destination.objects.get(chat_id=ALICE_CHAT).user == w.alice_user


def destination_list(w: World) -> None:
    # bob lists and links only his own; `to` and the list filter never reach alice's.
    alices = Destination.objects.get(chat_id=ALICE_CHAT)
    assert (
        w.alice.patch(f"/api/v1/destinations/{alices.pk}/", {"label": "alice-only"}, format="json").status_code == 200
    )
    alices.refresh_from_db()
    listed = w.bob.get("/api/v1/destinations/").json()
    assert [d["chat_id"] for d in listed] == [BOB_CHAT]
    assert w.bob.post("/api/v1/destinations/", {"label": alices.label}, format="json").status_code == 201
    for to in (alices.pk, str(alices.pk), "alice-only"):
        sent = w.bob.post("/api/v1/messages/", {"text": "to alice?", "to": to}, format="json")
        assert sent.status_code == 404, sent.content
        assert w.bob.get("/api/v1/messages/", {"destination": to}).status_code == 404
    assert not Message.objects.filter(destination=alices, text="to alice?").exists()


def destination_detail(w: World) -> None:
    alices = Destination.objects.get(chat_id=ALICE_CHAT)
    url = f"/api/v1/destinations/{alices.pk}/"
    assert w.bob.get(url).status_code == 404
    assert w.bob.patch(url, {"label": "mine", "is_default": True}, format="json").status_code == 404
    assert w.bob.delete(url).status_code == 404
    after = Destination.objects.get(pk=alices.pk)
    assert (after.user, after.label, after.is_default) == (w.alice_user, alices.label, True)


def token_list(w: World) -> None:
    # A token bob makes is his: limited to alice's destination it cannot be made at all.
    alices = Destination.objects.get(chat_id=ALICE_CHAT)
    made = w.bob.post("/api/v1/auth/tokens/", {"name": "ci", "scope": "send", "destination": alices.pk}, format="json")
    assert made.status_code == 404
    assert all(token["destination"] is None for token in w.bob.get("/api/v1/auth/tokens/").json())
    alice_digests = set(AuthToken.objects.filter(user=w.alice_user).values_list("digest", flat=True))
    assert not alice_digests & {token["id"] for token in w.bob.get("/api/v1/auth/tokens/").json()}


def token_detail(w: World) -> None:
    for digest in AuthToken.objects.filter(user=w.alice_user).values_list("digest", flat=True):
        assert w.bob.delete(f"/api/v1/auth/tokens/{digest}/").status_code == 404
    assert w.alice.get("/api/v1/messages/").status_code == 200


def integration_list(w: World) -> None:
    # bob's integrations are his; one for alice's destination cannot be made.
    from publish.services import create_integration

    create_integration(user=w.alice_user, kind="gotify", name="alice's app")
    alices = Destination.objects.get(chat_id=ALICE_CHAT)
    made = w.bob.post("/api/v1/integrations/", {"kind": "ntfy", "name": "x", "destination": alices.pk}, format="json")
    assert made.status_code == 404
    assert w.bob.get("/api/v1/integrations/").json() == []


def integration_detail(w: World) -> None:
    from publish.models import Integration
    from publish.services import create_integration

    integration, _ = create_integration(user=w.alice_user, kind="webhook", name="alice's hook")
    assert w.bob.delete(f"/api/v1/integrations/{integration.pk}/").status_code == 404
    assert Integration.objects.filter(pk=integration.pk).exists()


def _hook(w: World, kind: str, suffix: str, body: str, content_type: str) -> None:
    # A hook's secret is its credential: bob's posts to bob's chat whatever else the request carries,
    # another kind's secret or a guess next to alice's is the same 404 as nonsense.
    from publish.services import create_integration

    _, alices = create_integration(user=w.alice_user, kind=kind, name="alice's")
    _, bobs = create_integration(user=w.bob_user, kind=kind, name="bob's")
    _, bobs_other = create_integration(user=w.bob_user, kind="gotify", name="bob's app")
    mine = w.bob.post(f"/hooks/{bobs}{suffix}", body, content_type=content_type)
    assert mine.status_code == 200, mine.content
    [message_id] = mine.json()["accepted"]
    assert Message.objects.get(pk=message_id).destination.chat_id == BOB_CHAT
    guess = alices[:-1] + ("A" if alices[-1] != "A" else "B")
    nonsense = w.bob.post(f"/hooks/nonsense{suffix}", body, content_type=content_type)
    for secret in (guess, bobs_other):
        refused = w.bob.post(f"/hooks/{secret}{suffix}", body, content_type=content_type)
        assert (refused.status_code, refused.json()) == (404, nonsense.json())
    assert not Message.objects.filter(user=w.alice_user).exclude(pk__in=w.alice_message_ids).exists()


def hook_alertmanager(w: World) -> None:
    alert = {"status": "firing", "labels": {"alertname": "BobsAlert"}}
    _hook(w, "alertmanager", "/alertmanager", json.dumps({"status": "firing", "alerts": [alert]}), "application/json")


def hook_grafana(w: World) -> None:
    alert = {"status": "firing", "labels": {"alertname": "BobsAlert"}}
    body = json.dumps({"status": "firing", "title": "[FIRING:1]", "alerts": [alert]})
    _hook(w, "grafana", "/grafana", body, "application/json")


def hook_generic(w: World) -> None:
    _hook(w, "webhook", "", "bob's hook", "text/plain")


def _bobs_secret_client(w: World) -> "RecordingClient":
    # A client without bob's password or token, whose answers are searched with his.
    client = RecordingClient(APIClient())
    client.answers = w.bob.answers
    return client


def _alices_labelled(w: World) -> Destination:
    alices = Destination.objects.get(chat_id=ALICE_CHAT)
    assert (
        w.alice.patch(f"/api/v1/destinations/{alices.pk}/", {"label": "alice-only"}, format="json").status_code == 200
    )
    return alices


def ntfy_topic(w: World) -> None:
    # A topic alice has and bob hasn't is the 404 of one nobody has, by bob's password, token or
    # integration secret, and nothing of it reaches alice's chat; bob's "me" is his own chat.
    from publish.services import create_integration

    alices = _alices_labelled(w)
    _, bobs = create_integration(user=w.bob_user, kind="ntfy", name="bob's")
    secret_client = _bobs_secret_client(w)
    nobody = w.bob.post("/nobody-has-this", "to alice?", content_type="text/plain")
    assert nobody.status_code == 404
    for path in ("/alice-only", "/ALICE-ONLY", f"/{alices.pk}"):
        refused = w.bob.post(path, "to alice?", content_type="text/plain")
        by_secret = secret_client.post(
            path, "to alice?", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {bobs}"
        )
        for answer in (refused, by_secret):
            assert answer.status_code == 404, answer.content
            assert answer.json()["code"] == nobody.json()["code"] == 40401
    mine = w.bob.put("/me", "bob writes", content_type="text/plain")
    assert mine.status_code == 200, mine.content
    assert Message.objects.get(pk=int(mine.json()["id"])).destination.chat_id == BOB_CHAT
    assert not Message.objects.filter(destination=alices).exclude(pk__in=w.alice_message_ids).exists()


def ntfy_json(w: World) -> None:
    # "/" is the map of the service to read, and ntfy's JSON publishing: to bob's topics only.
    alices = _alices_labelled(w)
    assert w.bob.get("/").status_code == 200
    refused = w.bob.post("/", {"topic": "alice-only", "message": "to alice?"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (404, 40401)
    mine = w.bob.post("/", {"topic": "me", "message": "bob writes"}, format="json")
    assert mine.status_code == 200, mine.content
    assert Message.objects.get(pk=int(mine.json()["id"])).destination.chat_id == BOB_CHAT
    assert not Message.objects.filter(destination=alices).exclude(pk__in=w.alice_message_ids).exists()


def gotify_message(w: World) -> None:
    # Only an application token publishes, to its own account: bob's reaches bob's chat; his password,
    # his API token or a guess next to alice's token is refused.
    from publish.services import create_integration

    _, alices = create_integration(user=w.alice_user, kind="gotify", name="alice's app")
    _, bobs = create_integration(user=w.bob_user, kind="gotify", name="bob's app")
    assert w.bob.post("/message", {"message": "to alice?"}, format="json").status_code == 401
    secret_client = _bobs_secret_client(w)
    guess = alices[:-1] + ("A" if alices[-1] != "A" else "B")
    refused = secret_client.post("/message", {"message": "to alice?"}, format="json", HTTP_X_GOTIFY_KEY=guess)
    assert refused.status_code == 401
    mine = secret_client.post("/message", {"message": "bob writes"}, format="json", HTTP_X_GOTIFY_KEY=bobs)
    assert mine.status_code == 200, mine.content
    assert Message.objects.get(pk=mine.json()["id"]).destination.chat_id == BOB_CHAT
    assert not Message.objects.filter(user=w.alice_user).exclude(pk__in=w.alice_message_ids).exists()


def _alices_webhook(w: World):
    from django.test import override_settings

    from events.services import create_endpoint

    with override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True):
        endpoint, _ = create_endpoint(user=w.alice_user, url="http://127.0.0.1:9/alices-hook", events=["message.sent"])
    return endpoint


def webhook_list(w: World) -> None:
    # bob lists only the endpoints he makes; alice's, its URL and its secret never reach him.
    from django.test import override_settings

    alices = _alices_webhook(w)
    body = {"url": "http://127.0.0.1:9/", "events": ["message.sent"]}
    with override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True):
        mine = w.bob.post("/api/v1/webhooks/", body, format="json")
    assert mine.status_code == 201, mine.content
    assert [each["id"] for each in w.bob.get("/api/v1/webhooks/").json()] == [mine.json()["id"]]
    assert not any(alices.secret.encode() in body or b"alices-hook" in body for body in w.bob.answers)


def webhook_detail(w: World) -> None:
    from events.models import Endpoint

    alices = _alices_webhook(w)
    assert w.bob.delete(f"/api/v1/webhooks/{alices.pk}/").status_code == 404
    assert Endpoint.objects.filter(pk=alices.pk).exists()


def webhook_test(w: World) -> None:
    from events.models import Delivery

    alices = _alices_webhook(w)
    assert w.bob.post(f"/api/v1/webhooks/{alices.pk}/test/").status_code == 404
    assert not Delivery.objects.filter(endpoint=alices).exists()


CHECKS: dict[str, Callable[[World], None]] = {
    "api-webhooks": webhook_list,
    "api-webhook": webhook_detail,
    "api-webhook-test": webhook_test,
    "home": ntfy_json,
    "ntfy-topic": ntfy_topic,
    "gotify-message": gotify_message,
    "hook-alertmanager": hook_alertmanager,
    "hook-grafana": hook_grafana,
    "hook": hook_generic,
    "api-integrations": integration_list,
    "api-integration": integration_detail,
    "api-destinations": destination_list,
    "api-destination": destination_detail,
    "api-tokens": token_list,
    "api-token-detail": token_detail,
    "api-message": message_detail,
    "api-messages": message_list,
    "compat-sent": compat_sent,
    "api-telegram-link": telegram_link,
    "api-telegram-verify": telegram_verify,
    "compat-verify": compat_verify,
    "api-token": api_token,
    "api-account-delete": account_delete,
}


ROUTES = sorted({(route, name) for route, name, namespace in url_routes() if namespace not in NAMESPACES})


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[route or "/" for route, _ in ROUTES])
def test_every_route_is_checked_or_holds_no_account_data(route, name):
    assert name in CHECKS or name in NO_ACCOUNT_DATA, (
        f"{route!r} ({name}) is new: add an isolation check to CHECKS, or say in NO_ACCOUNT_DATA why it needs none"
    )
    if name in NO_ACCOUNT_DATA:
        # Nothing that takes an id may be waved through.
        assert "<" not in route and "(?P" not in route, f"{route!r} takes an id: it needs an isolation check"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_second_account_gets_nothing_of_the_first(world, name):
    CHECKS[name](world)

    assert world.bob.answers
    for body in world.bob.answers:
        assert ALICE_SECRET.encode() not in body
        assert str(ALICE_CHAT).encode() not in body
