"""The webhooks page: endpoints added with their events, the secret shown once, a test event, removal, refusals."""

import pytest
from django.urls import reverse
from standardwebhooks import Webhook

from cabinet.tests.pages import shown
from events.models import Delivery, Endpoint
from events.tests.test_webhooks import receiver  # noqa: F401 (a local receiver on 127.0.0.1)

WEBHOOKS = reverse("cabinet:webhooks")
PUBLIC_URL = "https://93.184.216.34/hooks/tg-relay"


def add(web, url: str = PUBLIC_URL, events: tuple[str, ...] = ("message.sent", "message.answered"), **headers):
    """Add an endpoint through the page; the page after the redirect."""
    response = web.post(WEBHOOKS, {"url": url, "events": list(events)}, **headers)
    assert response.status_code == 303
    return response, web.get(WEBHOOKS, **headers)


def test_the_page_is_in_the_navigation(alice_web):
    html = alice_web.get(reverse("cabinet:dashboard")).content.decode()
    assert f'<a href="{WEBHOOKS}">Webhooks</a>' in html
    assert f'<a href="{WEBHOOKS}" aria-current="page">Webhooks</a>' in alice_web.get(WEBHOOKS).content.decode()


def test_an_endpoint_is_added_with_its_events_and_its_secret_is_shown_once(alice, alice_web):
    response, page = add(alice_web)

    assert response.url == WEBHOOKS + "#new-endpoint"
    endpoint = Endpoint.objects.get()
    assert (endpoint.user, endpoint.url, endpoint.events) == (alice, PUBLIC_URL, ["message.sent", "message.answered"])
    secret = page.context["new_endpoint"]["secret"]
    assert secret == endpoint.secret and secret.startswith("whsec_")
    assert f'value="{secret}"' in page.content.decode()
    assert "shown only this once" in page.content.decode()
    again = alice_web.get(WEBHOOKS).content.decode()
    assert secret not in again
    listed = shown(again)
    assert PUBLIC_URL in listed
    assert "A message is sent (message.sent); A question is answered (message.answered)" in listed
    assert "No deliveries yet." in listed


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.com/hook", "Enter an http:// or https:// URL with a host."),
        ("not a url", "Enter an http:// or https:// URL with a host."),
        ("http://127.0.0.1:9/hook", "This address is not public"),
        ("http://10.0.0.5/hook", "This address is not public"),
        ("http://169.254.169.254/latest/meta-data", "This address is not public"),
    ],
)
def test_a_refused_url_is_a_form_error(alice_web, url, error):
    response, page = add(alice_web, url=url)

    assert response.url == WEBHOOKS + "#add"
    assert page.status_code == 200
    assert error in page.content.decode()
    assert page.context["form"]["url"].value() == url
    assert not Endpoint.objects.exists()


def test_no_event_chosen_is_a_form_error(alice_web):
    _, page = add(alice_web, events=())
    assert "Choose at least one event." in page.content.decode()
    assert not Endpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_test_event_reaches_the_receiver_signed_and_its_delivery_is_listed(settings, alice_web, receiver):  # noqa: F811
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    add(alice_web, url=receiver.url)
    endpoint = Endpoint.objects.get()

    response = alice_web.post(reverse("cabinet:webhook-test", args=[endpoint.pk]))

    assert (response.status_code, response.url) == (303, f"{WEBHOOKS}#endpoint-{endpoint.pk}")
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == "webhook.test"
    [request] = receiver.requests
    event = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert event["data"] == {"endpoint": {"id": endpoint.pk, "url": receiver.url}}
    page = shown(alice_web.get(WEBHOOKS).content.decode())
    assert "A test event is on its way" in page
    assert "webhook.test delivered 1 HTTP 200" in page


def test_a_failed_delivery_shows_its_attempts_and_last_error(alice_web):
    add(alice_web)
    endpoint = Endpoint.objects.get()
    alice_web.post(reverse("cabinet:webhook-test", args=[endpoint.pk]))
    Delivery.objects.filter(endpoint=endpoint).update(
        status="failed", attempts=10, last_status_code=502, last_error="HTTP 502"
    )

    page = shown(alice_web.get(WEBHOOKS).content.decode())

    assert "webhook.test failed 10 HTTP 502 · HTTP 502" in page


def test_an_endpoint_is_removed_after_a_confirmation(alice_web):
    add(alice_web)
    endpoint = Endpoint.objects.get()
    confirm = reverse("cabinet:webhook-remove-confirm", args=[endpoint.pk])
    assert f'action="{confirm}"' in alice_web.get(WEBHOOKS).content.decode()

    page = alice_web.get(confirm)
    assert page.status_code == 200
    assert f"Remove the endpoint {PUBLIC_URL}?" in page.content.decode()
    assert Endpoint.objects.exists()

    response = alice_web.post(reverse("cabinet:webhook-remove", args=[endpoint.pk]))
    assert (response.status_code, response.url) == (303, WEBHOOKS)
    assert not Endpoint.objects.exists()
    assert "The webhook endpoint is removed." in alice_web.get(WEBHOOKS).content.decode()
    # A second click, from another tab.
    alice_web.post(reverse("cabinet:webhook-remove", args=[endpoint.pk]))
    assert "There is no such webhook endpoint" in alice_web.get(WEBHOOKS).content.decode()


def test_another_accounts_endpoint_is_not_found(alice_web, bob_web):
    add(alice_web)
    endpoint = Endpoint.objects.get()

    assert PUBLIC_URL not in bob_web.get(WEBHOOKS).content.decode()
    assert bob_web.get(reverse("cabinet:webhook-remove-confirm", args=[endpoint.pk])).status_code == 404
    assert bob_web.post(reverse("cabinet:webhook-test", args=[endpoint.pk])).status_code == 404
    assert bob_web.post(reverse("cabinet:webhook-test", args=[2**63])).status_code == 404
    bob_web.post(reverse("cabinet:webhook-remove", args=[endpoint.pk]))
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.exists()


def test_the_russian_page_renders(alice_web):
    headers = {"HTTP_ACCEPT_LANGUAGE": "ru"}
    _, page = add(alice_web, **headers)
    html = page.content.decode()

    assert "<title>Вебхуки · tg-relay</title>" in html
    assert "Скопируйте секрет подписи сейчас" in html
    assert "Отправлено сообщение (message.sent)" in html
    _, refused = add(alice_web, url="http://127.0.0.1/hook", **headers)
    assert "Этот адрес не публичный" in refused.content.decode()
