"""Named API tokens and their scopes: full, send-only, and send-only to one destination, on every API route."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.services import issue_token
from conftest import ALICE_CHAT, PASSWORD, link
from events.models import Endpoint
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL, delivered_text, texts
from relay.tests.linking import destination, destination_url, link_group

pytestmark = pytest.mark.django_db(transaction=True)

TOKENS_URL = "/api/v1/auth/tokens/"
LISTED_FIELDS = {"id", "name", "scope", "destination", "created", "last_used_at"}


@pytest.fixture(autouse=True)
def back_to_back(settings):
    settings.DELIVERY_GROUP_INTERVAL_SECONDS = 0


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def new_token(api: APIClient, **body) -> dict:
    response = api.post(TOKENS_URL, {"name": "a token", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def listed_tokens(api: APIClient) -> list[dict]:
    response = api.get(TOKENS_URL)
    assert response.status_code == 200, response.content
    return response.json()


def assert_no_such_destination(response) -> None:
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "destination_not_found"


@pytest.fixture
def ci(tg, alice_linked) -> dict:
    """Alice's group "CI", linked as "ci" besides her private chat (still her default)."""
    return link_group(tg, alice_linked, "CI", "ci")[1]


# -- creating, listing and revoking --------------------------------------------------


@pytest.mark.parametrize("scope", ["full", "send"])
def test_a_new_token_is_shown_once_with_its_name_and_scope(alice_linked, scope):
    body = new_token(alice_linked, name="  deploy bot ", scope=scope)

    assert set(body) == LISTED_FIELDS | {"token"}
    assert (body["name"], body["scope"], body["destination"], body["last_used_at"]) == ("deploy bot", scope, None, None)
    assert body["id"] != body["token"]
    listed = listed_tokens(alice_linked)
    assert all(set(each) == LISTED_FIELDS for each in listed)
    assert {key: value for key, value in body.items() if key != "token"} in listed
    # The value is in no later answer.
    assert body["token"] not in alice_linked.get(TOKENS_URL).content.decode()


def test_the_scope_is_full_unless_asked(alice_linked):
    body = new_token(alice_linked)

    assert body["scope"] == "full"
    assert bearer(body["token"]).get(MESSAGES_URL).status_code == 200


def test_the_list_shows_a_tokens_last_use(alice_linked):
    body = new_token(alice_linked, name="used")

    assert bearer(body["token"]).get(MESSAGES_URL).status_code == 200

    (used,) = [each for each in listed_tokens(alice_linked) if each["id"] == body["id"]]
    assert used["last_used_at"] is not None


@pytest.mark.parametrize("by", ["label", "label in capitals", "id"])
def test_a_send_only_token_may_be_limited_to_a_destination_by_label_or_id(alice_linked, ci, by):
    named = {"label": "ci", "label in capitals": "CI", "id": ci["id"]}[by]

    body = new_token(alice_linked, name="ci job", scope="send", destination=named)

    assert (body["scope"], body["destination"]) == ("send", ci["id"])
    (listed,) = [each for each in listed_tokens(alice_linked) if each["id"] == body["id"]]
    assert listed["destination"] == ci["id"]


@pytest.mark.parametrize("scope", [{}, {"scope": "full"}], ids=["no-scope", "full"])
def test_a_token_limited_to_a_destination_is_send_only_whatever_scope_was_asked(alice_linked, ci, scope):
    body = new_token(alice_linked, name="x", destination="ci", **scope)

    assert (body["scope"], body["destination"]) == ("send", ci["id"])
    assert bearer(body["token"]).get(MESSAGES_URL).status_code == 403


def test_a_token_for_a_destination_the_account_does_not_have_is_refused(tg, alice_linked, bob_linked):
    link_group(tg, bob_linked, "Bob's CI", "bobs-ci")
    bobs = destination(bob_linked, "bobs-ci")

    for named in ["nowhere", "bobs-ci", bobs["id"]]:
        response = alice_linked.post(TOKENS_URL, {"name": "x", "scope": "send", "destination": named}, format="json")
        assert_no_such_destination(response)
    assert len(listed_tokens(alice_linked)) == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x" * 101}, {"name": "x", "scope": "read"}, {"name": 42}],
    ids=["no-name", "blank-name", "long-name", "unknown-scope", "name-not-a-string"],
)
def test_a_token_request_that_makes_no_sense_is_400(alice_linked, body):
    response = alice_linked.post(TOKENS_URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) <= {"name", "scope"}


def test_a_revoked_token_stops_working(alice_linked):
    body = new_token(alice_linked, name="short-lived")
    client = bearer(body["token"])
    assert client.get(MESSAGES_URL).status_code == 200

    assert alice_linked.delete(f"{TOKENS_URL}{body['id']}/").status_code == 204

    assert client.get(MESSAGES_URL).status_code == 401
    assert body["id"] not in [each["id"] for each in listed_tokens(alice_linked)]
    assert alice_linked.delete(f"{TOKENS_URL}{body['id']}/").status_code == 404


def test_an_account_can_neither_see_nor_revoke_another_accounts_tokens(alice_linked, bob_linked):
    bobs = new_token(bob_linked, name="bob's")

    assert bobs["id"] not in [each["id"] for each in listed_tokens(alice_linked)]
    assert alice_linked.delete(f"{TOKENS_URL}{bobs['id']}/").status_code == 404
    assert bearer(bobs["token"]).get(MESSAGES_URL).status_code == 200


# -- a send-only token on every route --------------------------------------------------


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def drf_routes() -> list[tuple[str, str]]:
    """(route, method) for every method of every DRF view the URL conf serves: every API route."""
    found = []
    for route, callback in _routes(get_resolver().url_patterns):
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if view is None or not issubclass(view, APIView):
            # Everything under api/ must be DRF's, where the token's scope is checked.
            assert not route.startswith("api/"), f"{route} is not a DRF view: a token's scope is not checked there"
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.append((route.removeprefix("^").removesuffix("$").removesuffix("/?"), method.upper()))
    return found


ROUTES = drf_routes()
# Open to anyone without credentials, so nothing a send-only token could be kept from.
PUBLIC = {
    ("api/schema/", "GET"),
    ("docs/", "GET"),
    ("redoc/", "GET"),
    ("api/v1/auth/register/", "POST"),
    ("api/v1/auth/token/", "POST"),
    ("users/signup", "POST"),
    ("users/login", "POST"),
}
SENDING = {("api/v1/messages/", "POST"), ("message/sent", "POST")}
# Revokes the token the request carries, and nothing else.
LOGGING_OUT = {("api/v1/auth/token/", "DELETE")}
# What the account's own requests may touch; each one must answer a send-only token 403.
KEPT_FROM_SEND_ONLY = [
    (route, method) for route, method in ROUTES if (route, method) not in PUBLIC | SENDING | LOGGING_OUT
]


def test_the_route_list_covers_every_route_a_send_only_token_is_kept_from():
    assert set(KEPT_FROM_SEND_ONLY) >= {
        ("api/v1/messages/", "GET"),
        ("api/v1/messages/<int:message_id>/", "GET"),
        ("message/sent", "GET"),
        ("api/v1/destinations/", "GET"),
        ("api/v1/destinations/", "POST"),
        ("api/v1/destinations/<int:destination_id>/", "GET"),
        ("api/v1/destinations/<int:destination_id>/", "PATCH"),
        ("api/v1/destinations/<int:destination_id>/", "DELETE"),
        ("api/v1/telegram/link/", "GET"),
        ("api/v1/telegram/link/", "POST"),
        ("api/v1/telegram/link/", "DELETE"),
        ("api/v1/telegram/verify/", "POST"),
        ("bot/verify", "PATCH"),
        ("api/v1/auth/tokens/", "GET"),
        ("api/v1/auth/tokens/", "POST"),
        ("api/v1/auth/tokens/<str:token_id>/", "DELETE"),
        ("api/v1/auth/account/delete/", "POST"),
        ("api/v1/integrations/", "GET"),
        ("api/v1/integrations/", "POST"),
        ("api/v1/integrations/<int:integration_id>/", "DELETE"),
    }
    assert set(ROUTES) >= SENDING | PUBLIC | LOGGING_OUT


def test_a_send_only_token_can_log_itself_out_and_is_refused_after(alice_linked):
    ci_token = new_token(alice_linked, name="ci job", scope="send")["token"]
    other = new_token(alice_linked, name="other", scope="send")["token"]
    ci = bearer(ci_token)

    assert ci.delete("/api/v1/auth/token/").status_code == 204

    assert ci.post(MESSAGES_URL, {"text": "after logging out"}, format="json").status_code == 401
    # Only the token it carried: the account's other tokens still work.
    assert bearer(other).post(MESSAGES_URL, {"text": "still here"}, format="json").status_code == 202
    assert alice_linked.get(MESSAGES_URL).status_code == 200


def url_for(route: str, samples: dict[str, object]) -> str:
    """The route with each of its parameters replaced by an existing object's id."""

    def sample(match: re.Match) -> str:
        name = match.group(1)
        assert name in samples, f"{route}: no sample value for <{name}>; add one to this test"
        return str(samples[name])

    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", sample, route)
    assert re.fullmatch(r"[\w/.-]*", url), f"{route}: a route this test cannot fill in; teach it"
    return url


@pytest.fixture
def samples(alice, alice_linked, ci) -> dict[str, object]:
    message = Message.objects.create(user=alice, destination_id=ci["id"], text="old", status=Message.Status.SENT)
    other_token = new_token(alice_linked, name="another")
    integration = alice_linked.post("/api/v1/integrations/", {"kind": "ntfy", "name": "ntfy"}, format="json")
    assert integration.status_code == 201, integration.content
    # On a private address: a test event the full token queues is refused there, never sent.
    webhook = Endpoint.objects.create(user=alice, url="http://127.0.0.1:9/", events=["message.sent"], secret="whsec_")
    return {
        "message_id": message.pk,
        "destination_id": ci["id"],
        "token_id": other_token["id"],
        "integration_id": integration.json()["id"],
        "webhook_id": webhook.pk,
    }


def request(client: APIClient, method: str, url: str):
    # A body each route could take; the scope must refuse before any of it is read.
    return getattr(client, method.lower())(url, {"text": "x", "label": "x", "code": "x"}, format="json")


@pytest.mark.parametrize(("route", "method"), KEPT_FROM_SEND_ONLY, ids=[f"{m} {r}" for r, m in KEPT_FROM_SEND_ONLY])
def test_a_send_only_token_is_403_on_every_other_route(alice, alice_linked, samples, route, method):
    send_only = bearer(new_token(alice_linked, scope="send")["token"])
    url = url_for(route, samples)
    before = (
        list(Message.objects.values_list("pk", "status")),
        listed_tokens(alice_linked),
        alice_linked.get("/api/v1/destinations/").json(),
    )

    response = request(send_only, method, url)

    assert response.status_code == 403, response.content
    assert "may only send messages" in response.json()["detail"]
    # Nothing changed.
    after = (
        list(Message.objects.values_list("pk", "status")),
        listed_tokens(alice_linked),
        alice_linked.get("/api/v1/destinations/").json(),
    )
    assert [before[0], before[2]] == [after[0], after[2]]
    assert [each["id"] for each in before[1]] == [each["id"] for each in after[1]]
    # The same request with a full token is not refused: the 403 is the scope's.
    full = bearer(issue_token(user=alice)[1])
    assert request(full, method, url).status_code not in (401, 403)


@pytest.mark.parametrize(("route", "method"), sorted(PUBLIC), ids=[f"{m} {r}" for r, m in sorted(PUBLIC)])
def test_the_routes_left_out_are_open_to_anyone(db, route, method):
    response = request(APIClient(), method, url_for(route, {}))

    assert response.status_code not in (401, 403)


def test_a_send_only_token_sends_through_both_routes(tg, alice_linked):
    send_only = bearer(new_token(alice_linked, scope="send")["token"])

    api = send_only.post(MESSAGES_URL, {"text": "from CI"}, format="json")
    original = send_only.post("/message/sent", {"content": "the original route"}, format="json")
    named = send_only.post(MESSAGES_URL, {"text": "named", "to": "me"}, format="json")

    assert (api.status_code, original.status_code, named.status_code) == (202, 202, 202)
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [
        delivered_text("Alice", "from CI"),
        delivered_text("Alice", "the original route"),
        delivered_text("Alice", "named"),
    ]


def test_a_full_token_reads_and_changes_everything(alice_linked):
    full = bearer(new_token(alice_linked, scope="full")["token"])

    assert full.get(MESSAGES_URL).status_code == 200
    assert full.get("/api/v1/destinations/").status_code == 200
    assert full.get(TOKENS_URL).status_code == 200


# -- a token limited to one destination ------------------------------------------------


@pytest.fixture
def ci_token(alice_linked, ci) -> APIClient:
    return bearer(new_token(alice_linked, name="ci job", scope="send", destination="ci")["token"])


def test_a_limited_token_sends_without_to_to_its_destination_not_the_default(tg, alice_linked, ci, ci_token):
    response = ci_token.post(MESSAGES_URL, {"text": "build passed"}, format="json")
    original = ci_token.post("/message/sent", {"content": "deployed"}, format="json")

    assert response.status_code == 202
    assert response.json()["destination"] == ci["id"]
    assert original.status_code == 202
    assert texts(tg.sent(chat_id=ci["chat_id"]))[-2:] == [
        delivered_text("Alice", "build passed"),
        delivered_text("Alice", "deployed"),
    ]
    assert tg.sent(chat_id=ALICE_CHAT) == []


@pytest.mark.parametrize("to", ["ci", "CI", "id"])
def test_a_limited_token_may_name_its_own_destination(tg, ci, ci_token, to):
    response = ci_token.post(MESSAGES_URL, {"text": "named", "to": ci["id"] if to == "id" else to}, format="json")

    assert response.status_code == 202
    assert response.json()["destination"] == ci["id"]


def test_a_limited_token_naming_another_destination_is_403(tg, alice_linked, ci, ci_token):
    mine = destination(alice_linked, "me")

    for to in ["me", mine["id"]]:
        response = ci_token.post(MESSAGES_URL, {"text": "elsewhere", "to": to}, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "destination_not_allowed"
    assert tg.sent(chat_id=ALICE_CHAT) == []
    assert not Message.objects.exists()


def test_a_limited_token_naming_no_destination_is_told_so(tg, ci_token):
    assert_no_such_destination(ci_token.post(MESSAGES_URL, {"text": "lost", "to": "nowhere"}, format="json"))


def test_removing_the_destination_revokes_the_tokens_limited_to_it(tg, alice, alice_linked, ci, ci_token):
    unlimited = bearer(new_token(alice_linked, scope="send")["token"])
    assert ci_token.post(MESSAGES_URL, {"text": "before"}, format="json").status_code == 202

    assert alice_linked.delete(destination_url(ci["id"])).status_code == 204

    assert ci_token.post(MESSAGES_URL, {"text": "after"}, format="json").status_code == 401
    assert ci_token.post("/message/sent", {"content": "after"}, format="json").status_code == 401
    assert [each["destination"] for each in listed_tokens(alice_linked)] == [None, None]
    # A token not limited to it goes on, to the default.
    assert unlimited.post(MESSAGES_URL, {"text": "still here"}, format="json").status_code == 202


def test_relinking_the_private_chat_keeps_a_token_limited_to_a_group(tg, alice, alice_linked, ci, ci_token):
    link(alice, ALICE_CHAT + 1)

    assert ci_token.post(MESSAGES_URL, {"text": "still limited"}, format="json").status_code == 202


def test_an_account_with_a_limited_token_can_be_deleted(tg, alice, alice_linked, ci, ci_token):
    response = alice_linked.post("/api/v1/auth/account/delete/", {"password": PASSWORD}, format="json")

    assert response.status_code == 204
    assert ci_token.post(MESSAGES_URL, {"text": "after"}, format="json").status_code == 401
