"""Events out: signed webhooks to an account's endpoints, delivered from the database, never to private addresses.

A local HTTP server receives them (WEBHOOK_ALLOW_PRIVATE_ADDRESSES on, as it
is on 127.0.0.1), and the Standard Webhooks reference library verifies what
it receives. Where a refusal is tested, every connection goes through a
guard that records it and never lets one leave this machine.
"""

import base64
import ipaddress
import json
import socket
from collections import deque
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import issue_named_token
from conftest import ALICE_CHAT, make_due, poll_bot, run_sweep
from events import services
from events.models import Delivery, Endpoint
from events.tasks import sweep_webhooks_task
from relay.models import Message
from relay.tests.helpers import get_message, post_text
from relay.tests.linking import destination, destination_url
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOKS_URL = "/api/v1/webhooks/"
ALL_EVENTS = ["message.sent", "message.failed", "message.answered", "destination.unreachable"]
PUBLIC_ADDRESS = "93.184.216.34"


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def private_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str] | None]:
    """Names resolved as the test says (None: no such name); every other name as usual."""
    names: dict[str, list[str] | None] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in names:
            return real(host, port, *args, **kwargs)
        if names[host] is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in names[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every connection opened (httpx opens them with socket.create_connection); one beyond this machine is
    recorded and refused, never made."""
    opened: list[tuple[str, int]] = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        opened.append((address[0], address[1]))
        if address[0] != "localhost" and not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError(f"the test refuses a connection to {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return opened


def create(api, url: str, events: list[str] = ALL_EVENTS):
    return api.post(WEBHOOKS_URL, {"url": url, "events": events}, format="json")


@pytest.fixture
def endpoint(private_allowed, alice_linked, receiver) -> dict:
    """Alice's endpoint at the receiver, subscribed to every event; the 201 body, with its secret."""
    response = create(alice_linked, receiver.url)
    assert response.status_code == 201, response.content
    return response.json()


def make_deliveries_due() -> None:
    Delivery.objects.filter(status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())


def sweep() -> None:
    """What the worker's periodic sweep does, run in-process."""
    sweep_webhooks_task()


def emit_for(user, data: dict | None = None) -> None:
    with transaction.atomic():
        services.emit(user=user, event_type="message.sent", data=data or {"message": {"id": 1}})


# -- what arrives ----------------------------------------------------------------------


def test_a_sent_message_arrives_signed_and_the_standard_webhooks_library_verifies_it(
    tg, alice_linked, endpoint, receiver
):
    sent = post_text(alice_linked, "deployed")

    [request] = receiver.requests
    event = request.verified(endpoint["secret"])
    message = get_message(alice_linked, sent["id"])
    assert event["type"] == "message.sent"
    assert event["data"] == {
        "message": {
            "id": sent["id"],
            "destination": message["destination"],
            "status": "sent",
            "created_at": message["created_at"],
            "sent_at": message["sent_at"],
            "error": "",
        }
    }
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"].startswith("msg_")
    assert request.path == "/hook"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.webhook_id == headers["webhook-id"]


def test_a_signature_made_with_another_secret_does_not_verify(tg, alice_linked, endpoint, receiver):
    post_text(alice_linked, "deployed")

    [request] = receiver.requests
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(Exception, match="signature"):
        request.verified(other)


def test_a_receiver_answering_500_gets_the_same_delivery_once_more_and_no_more(tg, alice_linked, endpoint, receiver):
    receiver.answers.append(500)
    post_text(alice_linked, "deployed")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at > timezone.now()

    sweep()
    assert len(receiver.requests) == 1, "not due yet"
    make_deliveries_due()
    sweep()
    make_deliveries_due()
    sweep()

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.verified(endpoint["secret"])["type"] == "message.sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert delivery.delivered_at is not None


def test_a_delivery_fails_after_its_last_attempt(private_allowed, alice, receiver):
    Endpoint.objects.create(user=alice, url=receiver.url, events=ALL_EVENTS, secret=services.create_secret())
    receiver.answers.extend([503] * (services.MAX_ATTEMPTS + 1))

    emit_for(alice)
    for _ in range(services.MAX_ATTEMPTS + 1):
        make_deliveries_due()
        sweep()

    assert len(receiver.requests) == services.MAX_ATTEMPTS
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", services.MAX_ATTEMPTS, 503)
    assert delivery.last_error == "HTTP 503"


def test_backoff_doubles_from_five_seconds_to_an_hour(monkeypatch):
    bounds = []
    monkeypatch.setattr("events.services.random.uniform", lambda low, high: bounds.append((low, high)) or high)

    ceilings = [services.backoff_seconds(attempts) for attempts in range(1, services.MAX_ATTEMPTS)]

    assert ceilings == [5, 10, 20, 40, 80, 160, 320, 640, 1280]
    assert services.backoff_seconds(20) == 3600
    assert bounds[0] == (2.5, 5)


def test_a_redirect_is_not_followed(private_allowed, alice, receiver):
    Endpoint.objects.create(user=alice, url=receiver.url, events=ALL_EVENTS, secret=services.create_secret())
    receiver.answers.append(302)

    emit_for(alice)

    assert [request.path for request in receiver.requests] == ["/hook"]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("pending", 302, "HTTP 302")


def test_a_delivery_is_claimed_by_one_worker_only(private_allowed, alice, receiver):
    Endpoint.objects.create(user=alice, url=receiver.url, events=ALL_EVENTS, secret=services.create_secret())
    receiver.answers.append(500)
    emit_for(alice)
    make_deliveries_due()
    delivery = Delivery.objects.get()

    claimed = services.claim(delivery.pk)
    assert claimed is not None
    assert services.claim(delivery.pk) is None
    sweep()
    assert len(receiver.requests) == 1, "the sweep passes over a claimed delivery"

    services.record(claimed, services.send(claimed))
    assert len(receiver.requests) == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_a_message_telegram_refuses_arrives_as_message_failed(tg, alice_linked, endpoint, receiver):
    tg.add_fault(kind="too_long", chat_id=ALICE_CHAT)

    sent = post_text(alice_linked, "too long, Telegram says")

    [event] = receiver.events(endpoint["secret"])
    message = get_message(alice_linked, sent["id"])
    assert event["type"] == "message.failed"
    assert event["data"]["message"]["id"] == sent["id"]
    assert (event["data"]["message"]["status"], event["data"]["message"]["error"]) == ("failed", message["error"])
    assert "too long" in message["error"]


def test_a_blocked_chat_sends_destination_unreachable_and_fails_each_queued_message(
    tg, alice_linked, endpoint, receiver
):
    tg.add_fault(kind="500", chat_id=ALICE_CHAT)
    ids = [post_text(alice_linked, text)["id"] for text in ("first", "second", "third")]
    assert receiver.requests == []
    tg.block(ALICE_CHAT)

    make_due()
    run_sweep()

    events = receiver.events(endpoint["secret"])
    assert [event["type"] for event in events] == ["destination.unreachable"] + ["message.failed"] * 3
    mine = destination(alice_linked, "me")
    assert events[0]["data"] == {
        "destination": {
            "id": mine["id"],
            "label": "me",
            "kind": "private",
            "unreachable_reason": "Forbidden: bot was blocked by the user",
        }
    }
    assert sorted(event["data"]["message"]["id"] for event in events[1:]) == ids
    assert {event["data"]["message"]["status"] for event in events[1:]} == {"failed"}


def test_the_bot_told_of_a_block_sends_destination_unreachable_once(tg, alice_linked, endpoint, receiver):
    tg.add_fault(kind="500", chat_id=ALICE_CHAT)
    queued = post_text(alice_linked, "waiting")["id"]

    tg.user_blocks_bot(ALICE_CHAT)
    poll_bot()
    make_due()
    run_sweep()

    events = receiver.events(endpoint["secret"])
    assert [event["type"] for event in events] == ["destination.unreachable", "message.failed"]
    assert events[1]["data"]["message"]["id"] == queued


def test_removing_a_destination_fails_its_queued_messages_one_event_each(tg, alice_linked, endpoint, receiver):
    tg.add_fault(kind="500", chat_id=ALICE_CHAT, times=-1)
    ids = [post_text(alice_linked, text)["id"] for text in ("first", "second")]

    mine = destination(alice_linked, "me")
    assert alice_linked.delete(destination_url(mine["id"])).status_code == 204

    events = receiver.events(endpoint["secret"])
    assert [event["type"] for event in events] == ["message.failed", "message.failed"]
    assert [event["data"]["message"]["id"] for event in events] == ids
    assert {event["data"]["message"]["destination"] for event in events} == {mine["id"]}


def test_bundled_messages_arrive_as_one_message_sent_each(settings, tg, alice_linked, endpoint, receiver):
    settings.DELIVERY_CHAT_INTERVAL_SECONDS = 60
    mine = destination(alice_linked, "me")
    assert alice_linked.patch(destination_url(mine["id"]), {"bundle": True}, format="json").status_code == 200
    first = post_text(alice_linked, "first")["id"]
    bundled = [post_text(alice_linked, text)["id"] for text in ("second", "third")]
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1

    make_due()
    run_sweep()

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 2
    events = receiver.events(endpoint["secret"])
    assert [event["type"] for event in events] == ["message.sent"] * 3
    assert [event["data"]["message"]["id"] for event in events] == [first, *bundled]


def test_an_endpoint_is_sent_only_the_events_it_subscribes_to(private_allowed, tg, alice_linked, receiver):
    body = create(alice_linked, receiver.url, ["message.failed"]).json()
    assert body["events"] == ["message.failed"]
    post_text(alice_linked, "sent, not failed")
    assert receiver.requests == []

    tg.add_fault(kind="too_long", chat_id=ALICE_CHAT)
    post_text(alice_linked, "this one fails")

    assert [event["type"] for event in receiver.events(body["secret"])] == ["message.failed"]


def test_message_answered_is_emitted_with_the_answer(private_allowed, tg, alice, alice_linked, receiver):
    body = create(alice_linked, receiver.url, ["message.answered"]).json()
    sent = post_text(alice_linked, "deploy?")
    answer = {"value": "yes", "kind": "button", "by": "Alice", "at": "2026-01-01T00:00:00Z"}
    with transaction.atomic():
        services.emit_message(message=Message.objects.get(pk=sent["id"]), event_type="message.answered", answer=answer)

    [event] = receiver.events(body["secret"])
    assert event["type"] == "message.answered"
    assert (event["data"]["message"]["id"], event["data"]["message"]["answer"]) == (sent["id"], answer)


# -- private addresses ------------------------------------------------------------------


REFUSED_URLS = [
    "http://127.0.0.1/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:a00:1]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[2002:7f00:1::]/hook",
    "http://localhost:8000/hook",
    # Spellings of 127.0.0.1 the resolver understands.
    "http://2130706433/hook",
    "http://0x7f.1/hook",
    "http://127.1/hook",
    "https://rebind.example/hook",
    "https://half.example/hook",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_an_endpoint_at_a_private_address_is_refused_when_made(alice_api, dns, url):
    dns["rebind.example"] = ["10.0.0.7"]
    # Every address is checked, not only the first.
    dns["half.example"] = [PUBLIC_ADDRESS, "192.168.0.10"]

    response = create(alice_api, url)

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["url"]
    assert "public address" in response.json()["url"][0]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "hook",
        "http:///hook",
        "http://a:70000/",
    ],
)
def test_an_endpoint_that_is_not_http_is_refused(alice_api, url):
    response = create(alice_api, url)

    assert response.status_code == 400
    assert list(response.json()) == ["url"]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "url", [f"https://{PUBLIC_ADDRESS}/hook", "https://public.example/hook", "https://not-yet.example/hook"]
)
def test_an_endpoint_at_a_public_address_or_a_name_not_yet_resolving_is_made(alice_api, dns, connections, url):
    dns["public.example"] = [PUBLIC_ADDRESS, "2606:2800:220:1:248:1893:25c8:1946"]
    dns["not-yet.example"] = None

    response = create(alice_api, url)

    assert response.status_code == 201, response.content
    assert response.json()["url"] == url
    assert connections == []


SEND_TIME_URLS = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://10.0.0.7:{port}/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://rebind.example:{port}/hook",
]


@pytest.mark.parametrize("url", SEND_TIME_URLS)
def test_a_private_address_is_refused_at_send_time_and_never_connected_to(alice, receiver, dns, connections, url):
    # Made when it pointed somewhere public (or when the operator allowed private addresses), then it changed.
    dns["rebind.example"] = ["127.0.0.1"]
    Endpoint.objects.create(
        user=alice, url=url.format(port=receiver.port), events=ALL_EVENTS, secret=services.create_secret()
    )

    emit_for(alice)
    make_deliveries_due()
    sweep()

    assert receiver.requests == []
    assert connections == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, None)
    assert delivery.last_error.startswith("Refused: ")
    assert "public address" in delivery.last_error


def test_a_name_that_moved_to_a_private_address_since_it_was_made_is_refused(alice_api, alice, dns, connections):
    dns["hooks.example"] = [PUBLIC_ADDRESS]
    assert create(alice_api, "https://hooks.example/hook").status_code == 201

    dns["hooks.example"] = ["10.0.0.7"]
    emit_for(alice)

    assert connections == []
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert "hooks.example resolves to 10.0.0.7" in delivery.last_error


def test_the_send_connects_to_the_address_it_checked_not_to_a_later_answer(alice, receiver, connections, monkeypatch):
    # The name answers a public address once, then loopback: a client that looked it up again would be fooled.
    answers = deque([[PUBLIC_ADDRESS], ["127.0.0.1"]])
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        addresses = answers.popleft() if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    url = f"http://rebind.example:{receiver.port}/hook"
    Endpoint.objects.create(user=alice, url=url, events=ALL_EVENTS, secret=services.create_secret())

    emit_for(alice)

    assert connections == [(PUBLIC_ADDRESS, receiver.port)]
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("ConnectError")


def test_a_name_with_no_address_at_send_time_is_tried_again(alice, dns, connections):
    dns["gone.example"] = None
    Endpoint.objects.create(user=alice, url="https://gone.example/", events=ALL_EVENTS, secret=services.create_secret())

    emit_for(alice)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "gone.example has no address" in delivery.last_error
    assert connections == []


def test_with_private_addresses_allowed_a_local_name_is_delivered_to(private_allowed, alice, alice_api, receiver):
    # localhost may come first as ::1, where nothing listens: the next address takes it.
    response = create(alice_api, f"http://localhost:{receiver.port}/hook")
    assert response.status_code == 201, response.content

    emit_for(alice, {"message": {"id": 7}})

    [event] = receiver.events(response.json()["secret"])
    assert event["data"] == {"message": {"id": 7}}
    assert receiver.requests[0].headers["Host"] == f"localhost:{receiver.port}"
    assert Delivery.objects.get().status == "delivered"


# -- the API --------------------------------------------------------------------------


def test_the_secret_is_shown_once_when_the_endpoint_is_made(private_allowed, alice_api, receiver):
    response = create(alice_api, receiver.url, ["message.sent", "message.sent", "destination.unreachable"])

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url", "events", "created_at", "secret"}
    assert (body["url"], body["events"]) == (receiver.url, ["message.sent", "destination.unreachable"])
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    listed = alice_api.get(WEBHOOKS_URL)
    assert listed.status_code == 200
    assert body["secret"] not in listed.content.decode()
    assert body["secret"].removeprefix("whsec_") not in listed.content.decode()
    [endpoint] = listed.json()
    assert set(endpoint) == {"id", "url", "events", "created_at", "recent_deliveries"}


def test_a_test_event_arrives_and_the_list_shows_its_delivery(alice_api, endpoint, receiver):
    response = alice_api.post(f"{WEBHOOKS_URL}{endpoint['id']}/test/")

    assert response.status_code == 202
    [event] = receiver.events(endpoint["secret"])
    assert event["type"] == "webhook.test"
    assert event["data"] == {"endpoint": {"id": endpoint["id"], "url": endpoint["url"]}}
    [listed] = alice_api.get(WEBHOOKS_URL).json()
    [delivery] = listed["recent_deliveries"]
    assert delivery["webhook_id"] == response.json()["webhook_id"] == receiver.requests[0].headers["webhook-id"]
    assert (delivery["event_type"], delivery["status"], delivery["attempts"]) == ("webhook.test", "delivered", 1)


def test_a_removed_endpoint_is_sent_nothing_more(tg, alice_api, alice_linked, endpoint, receiver):
    receiver.answers.append(500)
    post_text(alice_linked, "first")
    assert len(receiver.requests) == 1

    assert alice_api.delete(f"{WEBHOOKS_URL}{endpoint['id']}/").status_code == 204
    make_deliveries_due()
    sweep()
    post_text(alice_linked, "second")

    assert len(receiver.requests) == 1
    assert not Delivery.objects.exists()
    assert alice_api.get(WEBHOOKS_URL).json() == []
    assert alice_api.delete(f"{WEBHOOKS_URL}{endpoint['id']}/").status_code == 404


@pytest.mark.parametrize("events", [[], ["message.nope"], "message.sent", None], ids=["none", "unknown", "str", "null"])
def test_events_must_be_a_list_of_known_ones(private_allowed, alice_api, events):
    response = create(alice_api, "http://127.0.0.1:9/hook", events)

    assert response.status_code == 400
    assert list(response.json()) == ["events"]


def test_an_account_has_at_most_so_many_endpoints(private_allowed, alice_api):
    for _ in range(services.MAX_ENDPOINTS):
        assert create(alice_api, "http://127.0.0.1:9/hook").status_code == 201

    response = create(alice_api, "http://127.0.0.1:9/hook")

    assert response.status_code == 409
    assert response.json()["code"] == "too_many_webhooks"


def test_another_account_neither_sees_nor_removes_nor_tests_an_endpoint(
    tg, alice_linked, bob, bob_api, endpoint, receiver
):
    bobs = create(bob_api, receiver.url, ["message.sent"]).json()
    url = f"{WEBHOOKS_URL}{endpoint['id']}/"

    assert [each["id"] for each in bob_api.get(WEBHOOKS_URL).json()] == [bobs["id"]]
    assert bob_api.delete(url).status_code == 404
    assert bob_api.post(f"{url}test/").status_code == 404
    post_text(alice_linked, "alice's")

    assert Endpoint.objects.filter(pk=endpoint["id"]).exists()
    assert [event["type"] for event in receiver.events(endpoint["secret"])] == ["message.sent"]
    assert not Delivery.objects.filter(endpoint_id=bobs["id"]).exists()


def test_a_send_only_token_may_not_manage_webhooks(alice, endpoint):
    send_only = APIClient()
    send_only.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_named_token(user=alice, name='ci', scope='send')[1]}")

    assert send_only.get(WEBHOOKS_URL).status_code == 403
    assert send_only.post(f"{WEBHOOKS_URL}{endpoint['id']}/test/").status_code == 403
    assert not Delivery.objects.exists()


def test_old_finished_deliveries_are_pruned(private_allowed, alice, receiver):
    Endpoint.objects.create(user=alice, url=receiver.url, events=ALL_EVENTS, secret=services.create_secret())
    receiver.answers.append(500)
    emit_for(alice)
    emit_for(alice)
    pending, delivered = Delivery.objects.order_by("pk")
    assert (pending.status, delivered.status) == ("pending", "delivered")

    assert services.prune_deliveries(now=timezone.now() + services.RETENTION + timedelta(days=1)) == 1

    assert list(Delivery.objects.values_list("pk", flat=True)) == [pending.pk]


def test_the_body_is_the_json_that_was_signed(private_allowed, alice, receiver):
    endpoint = Endpoint.objects.create(user=alice, url=receiver.url, events=ALL_EVENTS, secret=services.create_secret())

    emit_for(alice, {"message": {"id": 1, "text": "ünïcödé ✓"}})

    [request] = receiver.requests
    assert json.loads(request.body)["data"] == {"message": {"id": 1, "text": "ünïcödé ✓"}}
    assert request.verified(endpoint.secret)["data"]["message"]["text"] == "ünïcödé ✓"


def test_a_button_pressed_in_telegram_arrives_as_message_answered(private_allowed, tg, alice, alice_linked, receiver):
    from conftest import ALICE_CHAT, poll_bot

    body = create(alice_linked, receiver.url, ["message.answered"]).json()
    buttons = [[{"text": "Ship it", "answer": "yes"}, {"text": "Stop", "answer": "no"}]]
    asked = alice_linked.post("/api/v1/messages/", {"text": "Ship v2.3?", "buttons": buttons}, format="json").json()
    (question,) = tg.sent(chat_id=ALICE_CHAT)

    tg.press_button(ALICE_CHAT, question["message_id"], user_id=ALICE_CHAT, text="Ship it")
    poll_bot()

    # Verified with the standardwebhooks library (Receiver.events).
    [event] = receiver.events(body["secret"])
    assert event["type"] == "message.answered"
    assert event["data"]["message"]["id"] == asked["id"]
    answer = event["data"]["message"]["answer"]
    assert (answer["value"], answer["kind"]) == ("yes", "button")
