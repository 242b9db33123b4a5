"""Integrations: made with a tool and a destination, the secret shown once with each tool's settings, revoked."""

import html
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from conftest import ALICE_CHAT, BOB_CHAT, link
from publish.models import Integration

INTEGRATIONS = reverse("cabinet:integrations")
HOOK = re.compile(r"http://127\.0\.0\.1:8000/hooks/([-_A-Za-z0-9]+)")


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_URL = "http://127.0.0.1:8000"


def make(web: Client, **fields) -> dict:
    """Make an integration through the page; the page that shows it once, as text, and its secret."""
    response = web.post(INTEGRATIONS, {"destination": "", "template": ""} | fields)
    assert (response.status_code, response.url) == (303, INTEGRATIONS + "#new-integration")
    page = web.get(INTEGRATIONS)
    return {"html": page.content.decode(), "secret": page.context["new_integration"]["secret"], "page": page}


def snippet(page, title: str) -> str:
    [text] = [each["text"] for each in page.context["snippets"] if each["title"] == title]
    assert html.escape(text) in page.content.decode()
    return text


def test_an_alertmanager_integration_is_shown_once_with_its_receiver(alice, alice_web):
    made = make(alice_web, kind="alertmanager", name="prod cluster")
    secret = made["secret"]

    assert "Your new integration “prod cluster”" in made["html"]
    assert f'value="{secret}"' in made["html"]
    receiver = snippet(made["page"], "alertmanager.yml: a receiver, and a route to it")
    assert receiver == (
        "route:\n  receiver: telegram\nreceivers:\n  - name: telegram\n    webhook_configs:\n"
        f"      - url: http://127.0.0.1:8000/hooks/{secret}/alertmanager\n        send_resolved: true"
    )
    integration = Integration.objects.get()
    assert (integration.user, integration.kind, integration.name, integration.destination) == (
        alice,
        "alertmanager",
        "prod cluster",
        None,
    )
    # Shown once: the list has its name and tool, never the secret.
    listed = alice_web.get(INTEGRATIONS).content.decode()
    assert secret not in listed
    assert "prod cluster" in listed and "Prometheus Alertmanager" in listed
    assert '<td data-label="Last used"><span class="muted">never</span></td>' in listed


@pytest.mark.django_db(transaction=True)
def test_the_url_on_the_page_works_and_its_use_is_listed(tg, alice, alice_web):
    link(alice, ALICE_CHAT)
    made = make(alice_web, kind="grafana", name="grafana")
    url = HOOK.search(snippet(made["page"], "Grafana: Alerting → Contact points → Add contact point"))
    body = {"status": "firing", "title": "[FIRING:1] Disk", "alerts": [{"labels": {"alertname": "Disk"}}]}

    answer = Client().post(f"/hooks/{url[1]}/grafana", json.dumps(body), content_type="application/json")

    assert answer.status_code == 200, answer.content
    assert tg.sent(chat_id=ALICE_CHAT)[0]["text"].endswith("[FIRING:1] Disk\nDisk")
    assert '<td data-label="Last used"><time datetime=' in alice_web.get(INTEGRATIONS).content.decode()


def test_ntfy_and_gotify_come_with_each_tools_settings(alice, alice_web):
    link(alice, ALICE_CHAT)
    me = alice.destinations.get()

    ntfy = make(alice_web, kind="ntfy", name="uptime kuma", destination=str(me.pk))
    token = ntfy["secret"]
    kuma = snippet(ntfy["page"], "Uptime Kuma: notification type ntfy")
    assert kuma == (
        f"Server URL: http://127.0.0.1:8000\nTopic: {me.label}\nAuthentication method: Access token\n"
        f"Access token: {token}"
    )
    assert snippet(ntfy["page"], "Apprise URL") == f"ntfy://{token}@127.0.0.1:8000/{me.label}?auth=token"
    assert f'Authorization: "Bearer {token}"' in snippet(ntfy["page"], "Home Assistant: configuration.yaml")

    gotify = make(alice_web, kind="gotify", name="proxmox")
    app_token = gotify["secret"]
    proxmox = snippet(gotify["page"], "Proxmox VE: Datacenter → Notifications → Add → Gotify")
    assert proxmox == f"Server URL: http://127.0.0.1:8000\nAPI Token: {app_token}"
    assert snippet(gotify["page"], "Apprise URL") == f"gotify://127.0.0.1:8000/{app_token}"
    listed = alice_web.get(INTEGRATIONS).content.decode()
    assert f'<td data-label="Destination">{me.label}</td>' in listed
    assert '<td data-label="Destination"><span class="muted">the default</span></td>' in listed


def test_a_webhook_keeps_its_template_and_behind_https_apprise_uses_the_secure_schemes(alice, alice_web, settings):
    settings.PUBLIC_URL = "https://relay.example/tg"
    made = make(alice_web, kind="webhook", name="ci", template="{{ title }}: {{ status }}")

    assert Integration.objects.get().template == "{{ title }}: {{ status }}"
    assert snippet(made["page"], "Apprise URL") == f"jsons://relay.example/tg/hooks/{made['secret']}"
    assert (
        snippet(made["page"], "curl: a text")
        == f"curl -d 'Backup done' https://relay.example/tg/hooks/{made['secret']}"
    )


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"kind": "webhook", "template": "{% if %}"}, "template", "The template cannot be used: "),
        ({"kind": "webhook", "template": "{% include 'x.html' %}"}, "template", "The template cannot be used: "),
        ({"kind": "grafana", "template": "{{ x }}"}, "template", "Only a webhook uses a template"),
        ({"kind": "smtp"}, "kind", "Select a valid choice."),
        ({"kind": "ntfy", "name": ""}, "name", "This field is required."),
    ],
)
def test_what_cannot_be_made_is_said_and_nothing_is_made(alice_web, fields, field, error):
    response = alice_web.post(INTEGRATIONS, {"name": "x", "destination": "", "template": ""} | fields, follow=True)

    assert response.context["form"].errors[field][0].startswith(error)
    assert response.context["new_integration"] is None
    assert not Integration.objects.exists()


def test_another_accounts_destination_cannot_be_chosen(alice, bob, alice_web):
    link(bob, BOB_CHAT)
    bobs = bob.destinations.get()

    response = alice_web.post(INTEGRATIONS, {"kind": "ntfy", "name": "x", "destination": str(bobs.pk)}, follow=True)

    assert response.context["form"].errors["destination"][0].startswith("Select a valid choice.")
    assert f'value="{bobs.pk}"' not in str(response.context["form"]["destination"])
    assert not Integration.objects.exists()


def test_revoking_asks_first_then_the_hook_stops(tg, alice, alice_web):
    link(alice, ALICE_CHAT)
    made = make(alice_web, kind="webhook", name="cron")
    integration = Integration.objects.get()
    confirm = reverse("cabinet:integration-revoke-confirm", args=[integration.pk])
    revoke = reverse("cabinet:integration-revoke", args=[integration.pk])

    page = alice_web.get(confirm).content.decode()
    assert "Revoke “cron” (Webhook)?" in page
    assert f'action="{revoke}"' in page
    assert alice_web.get(revoke).url == INTEGRATIONS  # a GET never revokes
    assert Integration.objects.exists()
    response = alice_web.post(revoke)

    assert (response.status_code, response.url) == (303, INTEGRATIONS)
    assert not Integration.objects.exists()
    assert "The integration is revoked." in alice_web.get(INTEGRATIONS).content.decode()
    assert Client().post(f"/hooks/{made['secret']}", "late", content_type="text/plain").status_code == 404


def test_another_accounts_integrations_are_neither_shown_nor_revocable(alice, bob, alice_web, bob_web):
    make(bob_web, kind="gotify", name="bob's proxmox")
    bobs = Integration.objects.get()

    page = alice_web.get(INTEGRATIONS).content.decode()
    assert "proxmox" not in page
    assert "No integrations yet." in page
    assert alice_web.get(reverse("cabinet:integration-revoke-confirm", args=[bobs.pk])).status_code == 404
    response = alice_web.post(reverse("cabinet:integration-revoke", args=[bobs.pk]), follow=True)
    assert "There is no such integration" in response.content.decode()
    assert Integration.objects.filter(pk=bobs.pk).exists()


def test_the_page_is_in_the_navigation_and_speaks_russian(alice_web):
    dashboard = alice_web.get(reverse("cabinet:dashboard")).content.decode()
    assert f'<a href="{INTEGRATIONS}">Integrations</a>' in dashboard

    page = alice_web.get(INTEGRATIONS, HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert "<title>Интеграции · tg-relay</title>" in page
    assert f'<a href="{INTEGRATIONS}" aria-current="page">Интеграции</a>' in page
    assert "Создать интеграцию" in page
    assert "Интеграций пока нет." in page
