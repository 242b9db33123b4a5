"""Hooks: Alertmanager's and Grafana's notifications, and anything else posted to /hooks/<secret>.

Each test posts what the tool posts and reads what the simulated Telegram
received: the text after the header, its entities (bold title, links as
text_link), and whether it rang.
"""

import json
import logging
from urllib.parse import urlsplit

import pytest
from django.test import Client

from conftest import ALICE_CHAT, BOB_CHAT
from publish.models import Integration
from publish.services import create_integration, revoke_integration
from relay.models import Destination, Message
from relay.splitting import format_header
from relay.tests.linking import destination, destination_url, link_group

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = format_header("Alice")
GENERATOR = "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
EXTERNAL = "http://alertmanager.example:9093"


def am_alert(name: str = "InstanceDown", status: str = "firing", **labels: str) -> dict:
    labels = {"alertname": name, "severity": "critical", "instance": "web-1:9100", "job": "node", **labels}
    return {
        "status": status,
        "labels": {key: value for key, value in labels.items() if value is not None},
        "annotations": {"summary": f"{labels['instance']} is down", "description": "No scrape for 5 minutes."},
        "startsAt": "2026-03-01T12:00:00.123456789Z",
        "endsAt": "2026-03-01T12:05:12Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": GENERATOR,
        "fingerprint": "c6eadffa33fcdf37",
    }


def am_payload(*alerts: dict, status: str | None = None, **fields) -> dict:
    """Alertmanager's webhook body (version 4), its common labels worked out as Alertmanager does."""
    common = dict(alerts[0]["labels"])
    for alert in alerts[1:]:
        common = {key: value for key, value in common.items() if alert["labels"].get(key) == value}
    annotations = dict(alerts[0]["annotations"])
    for alert in alerts[1:]:
        annotations = {key: value for key, value in annotations.items() if alert["annotations"].get(key) == value}
    firing = any(alert["status"] == "firing" for alert in alerts)
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="InstanceDown"}',
        "truncatedAlerts": 0,
        "status": status or ("firing" if firing else "resolved"),
        "receiver": "tg-relay",
        "groupLabels": {"alertname": common["alertname"]} if "alertname" in common else {},
        "commonLabels": common,
        "commonAnnotations": annotations,
        "externalURL": EXTERNAL,
        "alerts": list(alerts),
    }
    return body | fields


def grafana_payload(status: str = "firing") -> dict:
    """Grafana's webhook contact point body (unified alerting), as its documentation shows it."""
    alert = {
        "status": status,
        "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1", "__alert_rule_uid__": "x1"},
        "annotations": {
            "description": "The system has high memory usage",
            "runbook_url": "https://runbooks.example/1234",
            "summary": "This alert was triggered for zone us-1",
        },
        "startsAt": "2026-03-01T09:51:03.157076+02:00",
        "endsAt": "2026-03-01T10:01:03+02:00" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.example/alerting/grafana/1afz29v7z/view",
        "fingerprint": "c6eadffa33fcdf37",
        "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2",
        "dashboardURL": "https://grafana.example/d/abc",
        "panelURL": "https://grafana.example/d/abc?viewPanel=2",
        "values": {"B": 44.23943737541908, "C": 1},
    }
    title = f"[{status.upper()}:1]  (High memory usage blue us-1)"
    return {
        "receiver": "tg-relay",
        "status": status,
        "orgId": 1,
        "alerts": [alert],
        "groupLabels": {"alertname": "High memory usage"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "https://grafana.example/",
        "version": "1",
        "groupKey": '{}:{alertname="High memory usage"}',
        "truncatedAlerts": 0,
        "title": title,
        "state": "alerting" if status == "firing" else "ok",
        "message": "**Firing**\n\nValue: B=44.2, C=1\nLabels: ...",
    }


@pytest.fixture
def web() -> Client:
    # No session and no CSRF token, as a tool posts.
    return Client(enforce_csrf_checks=True)


def hook(user, kind: str, **options) -> str:
    """A new integration's hook path (the secret in it)."""
    integration, secret = create_integration(user=user, kind=kind, name=f"my {kind}", **options)
    suffix = {"webhook": ""}.get(kind, f"/{kind}")
    return f"/hooks/{secret}{suffix}"


def post_json(web: Client, path: str, body: object, **headers):
    return web.post(path, json.dumps(body), content_type="application/json", headers=headers)


def received(tg, chat_id: int = ALICE_CHAT, header: str = HEADER) -> dict:
    """The one message the chat received, its text without the header and its entities from after it."""
    [record] = tg.sent(chat_id=chat_id)
    assert record["text"].startswith(header)
    assert record.get("entity_problems", []) == []
    offset = len(header.encode("utf-16-le")) // 2
    entities = [{**entity, "offset": entity["offset"] - offset} for entity in record.get("entities", [])]
    return {**record, "text": record["text"].removeprefix(header), "entities": entities}


def covered(text: str, entity: dict) -> str:
    """The part of `text` an entity covers (UTF-16 offsets)."""
    units = text.encode("utf-16-le")
    return units[entity["offset"] * 2 : (entity["offset"] + entity["length"]) * 2].decode("utf-16-le")


def links(message: dict) -> dict[str, str]:
    return {covered(message["text"], e): e["url"] for e in message["entities"] if e["type"] == "text_link"}


def bold(message: dict) -> list[str]:
    return [covered(message["text"], e) for e in message["entities"] if e["type"] == "bold"]


# -- Alertmanager -----------------------------------------------------------------------------------------------


def test_a_firing_group_is_one_message_with_each_alert_and_links(tg, alice, alice_linked, web):
    path = hook(alice, "alertmanager")
    body = am_payload(am_alert(), am_alert(instance="web-2:9100", severity="warning"))

    response = post_json(web, path, body)

    assert response.status_code == 200, response.content
    [message_id] = response.json()["accepted"]
    message = received(tg)
    text = message["text"]
    assert text.startswith("🔥 FIRING: InstanceDown (2)\n")
    assert bold(message)[0] == "FIRING: InstanceDown (2)"
    # What all alerts share is said once; each alert has its own name, severity, summary and labels.
    assert text.count("No scrape for 5 minutes.") == 1
    assert "InstanceDown · critical\nweb-1:9100 is down\ninstance: web-1:9100" in text
    assert "InstanceDown · warning\nweb-2:9100 is down\ninstance: web-2:9100" in text
    assert "job: node" in text
    assert text.count("Since 2026-03-01 12:00:00 UTC") == 2
    assert bold(message).count("InstanceDown") == 2
    silence = EXTERNAL + "/#/silences/new?filter=%7Balertname%3D%22InstanceDown%22%7D"
    assert links(message) == {"Source": GENERATOR, "Silence": silence, "Alertmanager": EXTERNAL}
    assert [covered(text, e) for e in message["entities"] if e["type"] == "text_link"].count("Source") == 2
    stored = Message.objects.get(pk=message_id)
    assert (stored.format, stored.status, stored.destination.chat_id) == ("markdown", "sent", ALICE_CHAT)


def test_a_resolved_notification_says_when_and_how_long(tg, alice, alice_linked, web):
    body = am_payload(am_alert(status="resolved", severity="warning"))

    assert post_json(web, hook(alice, "alertmanager"), body).status_code == 200

    message = received(tg)
    assert message["text"].startswith("✅ RESOLVED: InstanceDown (1)\n")
    assert "Started 2026-03-01 12:00:00 UTC, resolved 2026-03-01 12:05:12 UTC (after 5m 12s)" in message["text"]
    # Nothing left to silence.
    assert set(links(message)) == {"Source", "Alertmanager"}
    # A single alert says its own labels, the common ones included.
    assert "instance: web-1:9100 · job: node" in message["text"]


def test_times_are_in_the_accounts_time_zone(tg, alice, alice_linked, web):
    alice.time_zone = "Europe/Moscow"
    alice.save()

    assert post_json(web, hook(alice, "alertmanager"), am_payload(am_alert())).status_code == 200

    assert "Since 2026-03-01 15:00:00 MSK" in received(tg)["text"]


@pytest.mark.parametrize(
    ("severities", "silent_destination", "rings"),
    [
        (["critical", "info"], True, True),  # critical rings even where the destination is silent
        (["warning"], False, True),  # warning: as the destination is set
        (["warning"], True, False),
        (["info"], False, False),
        (["none", "info"], False, False),
        ([None], False, True),  # no severity: as the destination is set
    ],
)
def test_severity_decides_whether_it_rings(tg, alice, alice_linked, web, severities, silent_destination, rings):
    mine = destination(alice_linked, "me")
    alice_linked.patch(destination_url(mine["id"]), {"silent": silent_destination}, format="json")
    alerts = [am_alert(instance=f"web-{n}", severity=severity) for n, severity in enumerate(severities)]

    assert post_json(web, hook(alice, "alertmanager"), am_payload(*alerts)).status_code == 200

    assert received(tg).get("disable_notification", False) is not rings


def test_an_alert_without_annotations_or_urls_still_reads(tg, alice, alice_linked, web):
    alert = {"labels": {"alertname": "Watchdog", "severity": "none"}, "startsAt": "2026-03-01T12:00:00Z"}
    body = {"status": "firing", "alerts": [alert], "externalURL": ""}

    assert post_json(web, hook(alice, "alertmanager"), body).status_code == 200

    message = received(tg)
    assert message["text"] == "🔥 FIRING: Watchdog (1)\nWatchdog · none\nSince 2026-03-01 12:00:00 UTC"
    assert message.get("disable_notification") is True


def test_a_mixed_group_lists_firing_then_resolved(tg, alice, alice_linked, web):
    body = am_payload(am_alert(instance="a", status="resolved"), am_alert(instance="b"), am_alert(instance="c"))

    assert post_json(web, hook(alice, "alertmanager"), body).status_code == 200

    text = received(tg)["text"]
    assert text.startswith("🔥 FIRING: InstanceDown (2)\n")
    assert text.index("Firing (2)") < text.index("instance: b") < text.index("Resolved (1)") < text.index("instance: a")


def test_a_huge_group_is_cut_to_whole_alerts_and_says_how_many_are_left_out(tg, alice, alice_linked, web):
    alerts = [
        am_alert(instance=f"host-{n:03}", region=f"{n}" * 500, **{f"l{i:02}": f"{n}-{i}" for i in range(20)})
        for n in range(80)
    ]

    assert post_json(web, hook(alice, "alertmanager"), am_payload(*alerts, truncatedAlerts=20)).status_code == 200

    message = Message.objects.get()
    assert message.status == "sent"
    assert "host-029" in message.text and "host-030" not in message.text
    assert "…and 70 more alerts not shown." in message.text
    # instance, l00 to l19 and region: the first ten, then how many more.
    assert "instance: host-000 · l00: 0-0 · l01: 0-1" in message.text
    assert "l08: 0-8 · +12 more" in message.text
    assert "region" not in message.text
    assert message.text.endswith("[Alertmanager](http://alertmanager.example:9093)")
    assert len(tg.sent(chat_id=ALICE_CHAT)) == len(message.telegram_message_ids) >= 2


def test_labels_and_annotations_are_shown_as_written_never_as_formatting(tg, alice, alice_linked, web):
    alert = am_alert(instance="[click](https://evil.example)")
    alert["annotations"] = {"summary": "**not bold** _nor this_ `nor code`", "description": "# no heading\n- no list"}
    alert["generatorURL"] = "javascript:alert(1)"

    assert post_json(web, hook(alice, "alertmanager"), am_payload(alert)).status_code == 200

    message = received(tg)
    assert "instance: [click](https://evil.example)" in message["text"]
    assert "**not bold** _nor this_ `nor code`\n# no heading\n- no list" in message["text"]
    assert "evil" not in json.dumps(message["entities"])
    assert "Source" not in links(message)
    assert {e["type"] for e in message["entities"]} == {"bold", "text_link"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "body: not JSON"),
        ("", "body: empty"),
        ("[1, 2]", "body: expected a JSON object"),
        ('{"status": "firing"}', "alerts: expected a list"),
        ('{"status": "burning", "alerts": []}', "status: expected one of firing, resolved"),
        ('{"status": "firing", "alerts": [42]}', "alerts[0]: expected a JSON object"),
        ('{"status": "firing", "alerts": [{"status": "x", "labels": {}}]}', "alerts[0].status: expected one of"),
        ('{"status": "firing", "alerts": [{"labels": "a=b"}]}', "alerts[0].labels: expected a JSON object"),
    ],
)
def test_a_payload_that_cannot_be_read_is_a_400_naming_the_problem(tg, alice, alice_linked, web, body, problem):
    response = web.post(hook(alice, "alertmanager"), body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payload"
    assert response.json()["detail"].startswith(problem)
    assert not Message.objects.exists()


# -- Grafana ------------------------------------------------------------------------------------------------------


def test_grafana_firing_has_its_title_values_and_links(tg, alice, alice_linked, web):
    response = post_json(web, hook(alice, "grafana"), grafana_payload())

    assert response.status_code == 200, response.content
    message = received(tg)
    text = message["text"]
    assert text.startswith("🔥 [FIRING:1] (High memory usage blue us-1)\n")
    assert bold(message)[:2] == ["[FIRING:1] (High memory usage blue us-1)", "High memory usage"]
    assert "This alert was triggered for zone us-1\nThe system has high memory usage" in text
    assert "Values: B=44.2394, C=1" in text
    # Grafana's own labels (__alert_rule_uid__) are left out.
    assert "team: blue · zone: us-1" in text and "alert_rule_uid" not in text
    alert = grafana_payload()["alerts"][0]
    assert links(message) == {
        "Source": alert["generatorURL"],
        "Dashboard": alert["dashboardURL"],
        "Panel": alert["panelURL"],
        "Silence": alert["silenceURL"],
        "Runbook": "https://runbooks.example/1234",
        "Grafana": "https://grafana.example/",
    }
    # Its rendered `message` repeats the alerts: not sent.
    assert "Labels: ..." not in text


def test_grafana_resolved(tg, alice, alice_linked, web):
    assert post_json(web, hook(alice, "grafana"), grafana_payload("resolved")).status_code == 200

    text = received(tg)["text"]
    assert text.startswith("✅ [RESOLVED:1] (High memory usage blue us-1)\n")
    assert "Started 2026-03-01 07:51:03 UTC, resolved 2026-03-01 08:01:03 UTC (after 10m)" in text


def test_grafana_without_a_title_gets_one_like_alertmanagers(tg, alice, alice_linked, web):
    body = grafana_payload()
    del body["title"]
    body["alerts"][0]["values"] = None
    body["alerts"][0]["valueString"] = "[ var='B' labels={} value=14151.3 ]"

    assert post_json(web, hook(alice, "grafana"), body).status_code == 200

    text = received(tg)["text"]
    assert text.startswith("🔥 FIRING: High memory usage (1)\n")
    assert "Values: [ var='B' labels={} value=14151.3 ]" in text


# -- the generic hook --------------------------------------------------------------------------------------------


def test_a_text_body_is_the_message_as_it_is(tg, alice, alice_linked, web):
    path = hook(alice, "webhook")
    text = "Backup *done*: 12 GB\nsecond line"

    assert web.post(path, text, content_type="text/plain").status_code == 200
    # curl -d 'Backup done' says it is a form; with no field in it, it is the text.
    assert web.post(path, "Disk full", content_type="application/x-www-form-urlencoded").status_code == 200

    sent = tg.sent(chat_id=ALICE_CHAT)
    assert [record["text"] for record in sent] == [HEADER + text, HEADER + "Disk full"]
    assert "entities" not in sent[0]


def test_json_without_a_template_arrives_whole_as_a_json_code_block(tg, alice, alice_linked, web):
    payload = {"event": "deploy", "ok": True, "tricky": "```end of fence?```", "nested": [1, {"x": None}]}

    assert post_json(web, hook(alice, "webhook"), payload).status_code == 200

    message = received(tg)
    pretty = json.dumps(payload, indent=2, ensure_ascii=False)
    assert message["text"] == f"my webhook\n{pretty}"
    assert message["entities"] == [
        {"type": "bold", "offset": 0, "length": len("my webhook")},
        {"type": "pre", "offset": len("my webhook\n"), "length": len(pretty), "language": "json"},
    ]


def test_json_through_the_integrations_template(tg, alice, alice_linked, web):
    template = (
        "**{{ repository.name }}**: {{ commits|length }} commit{{ commits|pluralize }} by {{ pusher.name|default:'?' }}"
        "{% for commit in commits %}\n- [{{ commit.message|truncatechars:20 }}]({{ commit.url }}){% endfor %}"
    )
    path = hook(alice, "webhook", template=template)
    payload = {
        "repository": {"name": "tg-relay"},
        "pusher": {},
        "commits": [
            {"message": "Hooks: Alertmanager and Grafana", "url": "https://git.example/c/1"},
            {"message": "README", "url": "https://git.example/c/2"},
        ],
    }

    assert post_json(web, path, payload).status_code == 200

    message = received(tg)
    assert message["text"] == "tg-relay: 2 commits by ?\n\n• Hooks: Alertmanager…\n• README"
    assert bold(message) == ["tg-relay"]
    assert links(message) == {"Hooks: Alertmanager…": "https://git.example/c/1", "README": "https://git.example/c/2"}


def test_a_list_is_the_templates_items(tg, alice, alice_linked, web):
    path = hook(alice, "webhook", template="{{ items|length }} events, first {{ items.0.id }}")

    assert post_json(web, path, [{"id": 7}, {"id": 8}]).status_code == 200

    assert received(tg)["text"] == "2 events, first 7"


def test_a_template_that_renders_nothing_sends_nothing(tg, alice, alice_linked, web):
    path = hook(alice, "webhook", template="{% if status == 'firing' %}Firing!{% endif %}")

    response = post_json(web, path, {"status": "ok"})

    assert response.status_code == 200
    assert response.json()["accepted"] == []
    assert not Message.objects.exists()
    assert post_json(web, path, {"status": "firing"}).status_code == 200
    assert received(tg)["text"] == "Firing!"


def test_a_template_that_fails_falls_back_to_the_json_with_a_note(tg, alice, alice_linked, web):
    # Stored before templates were checked, or by hand: it cannot compile.
    integration, secret = create_integration(user=alice, kind="webhook", name="old", template="{% if %}")

    assert post_json(web, f"/hooks/{secret}", {"a": 1}).status_code == 200

    message = received(tg)
    assert message["text"].startswith("old\nThe hook's template failed (")
    assert message["text"].endswith('What was posted:\n\n{\n  "a": 1\n}')
    assert message["entities"][-1]["type"] == "pre"


def test_a_form_is_read_as_its_fields(tg, alice, alice_linked, web):
    path = hook(alice, "webhook", template="{{ host }}: {{ state }} ({{ tag|join:', ' }})")

    response = web.post(path, "host=nas&state=degraded&tag=raid&tag=disk2", "application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert received(tg)["text"] == "nas: degraded (raid, disk2)"


def test_apprise_json_and_form_need_no_template(tg, alice, alice_linked, web):
    path = hook(alice, "webhook")
    apprise = {"version": "1.0", "title": "Backup", "message": "Finished with *2* warnings", "type": "warning"}

    assert post_json(web, path, apprise).status_code == 200
    assert web.post(path, {"version": "1.0", "title": "", "message": "plain form", "type": "info"}).status_code == 200

    first, second = tg.sent(chat_id=ALICE_CHAT)
    assert first["text"] == HEADER + "⚠️ Backup\nFinished with *2* warnings"
    assert second["text"] == HEADER + "plain form"


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        ('{"a": ', "application/json", "body: not JSON: Expecting value at line 1, column 7."),
        ("   \n", "text/plain", "body: the message is empty."),
        (b"\xff\xfe", "text/plain", "body: not text in its charset."),
        ("[" * 100_000 + "]" * 100_000, "application/json", "body: not JSON that can be read."),
    ],
    ids=["bad-json", "blank", "not-utf8", "too-deep"],
)
def test_the_generic_hook_refuses_what_it_cannot_read(alice, alice_linked, web, body, content_type, problem):
    response = web.post(hook(alice, "webhook"), body, content_type=content_type)

    assert (response.status_code, response.json()["detail"]) == (400, problem)
    assert not Message.objects.exists()


def test_text_nobody_can_store_is_replaced_not_refused(tg, alice, alice_linked, web):
    assert post_json(web, hook(alice, "webhook"), {"message": "a\x00b\ud800c"}).status_code == 200

    assert received(tg)["text"] == "a\ufffdb\ufffdc"


def test_an_idempotency_key_makes_a_retry_return_the_first_message(tg, alice, alice_linked, web):
    path = hook(alice, "webhook")
    first = web.post(path, "once", content_type="text/plain", headers={"Idempotency-Key": "job-41"})
    again = web.post(path, "once", content_type="text/plain", headers={"Idempotency-Key": "job-41"})

    assert first.json() == again.json()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


# -- secrets, kinds, destinations ------------------------------------------------------------------------------


def test_a_secret_works_only_on_its_own_kinds_hook_and_the_answer_tells_nothing_else(tg, alice, alice_linked, web):
    _, secret = create_integration(user=alice, kind="alertmanager", name="am")
    _, gotify = create_integration(user=alice, kind="gotify", name="app")
    body = am_payload(am_alert())
    unknown = post_json(web, "/hooks/no-such-secret-at-all/alertmanager", body)

    for path in (f"/hooks/{secret}/grafana", f"/hooks/{secret}", f"/hooks/{gotify}", f"/hooks/{gotify}/alertmanager"):
        response = post_json(web, path, body)
        assert (response.status_code, response.json()) == (404, unknown.json()), path
    assert unknown.status_code == 404
    assert post_json(web, f"/hooks/{secret}/alertmanager/", body).status_code == 200
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    assert web.get(f"/hooks/{secret}/alertmanager").status_code == 405


def test_a_revoked_integration_or_a_deactivated_account_is_404(tg, alice, alice_linked, web):
    integration, secret = create_integration(user=alice, kind="webhook", name="cron")
    assert web.post(f"/hooks/{secret}", "one", content_type="text/plain").status_code == 200
    alice.is_active = False
    alice.save()
    assert web.post(f"/hooks/{secret}", "two", content_type="text/plain").status_code == 404
    alice.is_active = True
    alice.save()
    assert revoke_integration(user=alice, integration_id=integration.pk)
    assert web.post(f"/hooks/{secret}", "three", content_type="text/plain").status_code == 404
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_a_hook_posts_only_to_its_owners_destination(tg, alice, bob, alice_linked, bob_linked, web):
    group_id, team = link_group(tg, alice_linked, "Team", "team")
    alices = hook(alice, "webhook", destination=Destination.objects.get(pk=team["id"]))
    bobs = hook(bob, "alertmanager")

    assert web.post(alices, "to the team", content_type="text/plain").status_code == 200
    assert post_json(web, bobs, am_payload(am_alert())).status_code == 200

    assert [r["text"] for r in tg.sent(chat_id=group_id) if r["text"].startswith(HEADER)] == [HEADER + "to the team"]
    assert received(tg, BOB_CHAT, format_header("Bob"))["text"].startswith("🔥 FIRING")
    assert not tg.sent(chat_id=ALICE_CHAT)


def test_without_a_chat_the_hook_answers_409_so_the_tool_tries_again(alice, web):
    response = post_json(web, hook(alice, "alertmanager"), am_payload(am_alert()))

    assert (response.status_code, response.json()["code"]) == (409, "chat_not_linked")


def test_an_unreachable_chat_is_409_with_the_reason(tg, alice, alice_linked, web):
    Destination.objects.filter(user=alice).update(unreachable_reason="blocked by the user")

    response = post_json(web, hook(alice, "grafana"), grafana_payload())

    assert (response.status_code, response.json()["code"]) == (409, "chat_unreachable")
    assert "blocked by the user" in response.json()["detail"]


def test_a_spent_quota_is_429_with_retry_after(tg, alice, alice_linked, web, settings):
    settings.MESSAGES_PER_MINUTE = 1
    path = hook(alice, "webhook")
    assert web.post(path, "first", content_type="text/plain").status_code == 200

    response = web.post(path, "second", content_type="text/plain")

    assert (response.status_code, response.json()["code"]) == (429, "quota")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_use_is_recorded_and_the_secret_is_never_logged(tg, alice, alice_linked, caplog, monkeypatch):
    integration, secret = create_integration(user=alice, kind="alertmanager", name="am")
    assert integration.last_used_at is None
    # As a tool posts: Django's test client would raise the crash below rather than answer it.
    web = Client(raise_request_exception=False)

    def crash(**kwargs):
        raise RuntimeError("the database went away")

    with caplog.at_level(logging.INFO):
        assert web.post(f"/hooks/{secret}/alertmanager", "{", content_type="application/json").status_code == 400
        assert post_json(web, f"/hooks/{secret}/grafana", grafana_payload()).status_code == 404
        assert web.get(f"/hooks/{secret}/alertmanager").status_code == 405
        monkeypatch.setattr("relay.services.accept", crash)
        crashed = post_json(web, f"/hooks/{secret}/alertmanager", am_payload(am_alert()))

    assert (crashed.status_code, crashed.json()["code"]) == (500, "server_error")
    integration.refresh_from_db()
    assert integration.last_used_at is not None
    refusals = [(r.status, r.integration_id) for r in caplog.records if r.getMessage().startswith("hook refused")]
    assert refusals == [(400, integration.pk), (404, None), (405, None), (500, None)]
    [failure] = [r for r in caplog.records if r.getMessage() == "hook failed"]
    assert "the database went away" in logging.Formatter().formatException(failure.exc_info)
    assert not [r for r in caplog.records if secret in r.getMessage() or secret in str(vars(r))]


# -- the template, checked when the integration is made ------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{% if %}", "{{ x|nosuchfilter }}", "{% load static %}", "{% include 'cabinet/base.html' %}", "{% debug %}",
     "{% url 'home' %}", "{{ x|ljust:'999999999' }}", "{{ x.__class__ }}"],
)  # fmt: skip
def test_a_template_that_cannot_compile_or_reaches_outside_is_refused_when_made(alice_api, template):
    body = {"kind": "webhook", "name": "ci", "template": template}

    response = alice_api.post("/api/v1/integrations/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["template"]
    assert not Integration.objects.exists()


def test_a_template_may_format_numbers_but_not_fill_the_memory(tg, alice, alice_linked, web):
    template = "{{ load|floatformat:2 }} / {{ load|floatformat:'999999999' }} / {{ huge|floatformat:2 }}"
    created = alice_linked.post(
        "/api/v1/integrations/", {"kind": "webhook", "name": "load", "template": template}, format="json"
    )
    assert created.status_code == 201, created.content
    path = urlsplit(created.json()["url"]).path

    assert post_json(web, path, {"load": 0.4567, "huge": "1e999999"}).status_code == 200

    assert received(tg)["text"] == "0.46 / 0.45670000000000000000 / 1e999999"
