"""/metrics: the Prometheus text format, counters from every process, queue gauges from the rows."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from conftest import ALICE_CHAT, basic_auth, link, make_due, run_sweep
from ops import metrics
from relay.models import Message
from relay.splitting import split_message
from relay.tests.helpers import post_text

ROOT = Path(__file__).resolve().parents[2]
COUNTERS = {
    "tgrelay_messages_accepted_total": metrics.message_accepted,
    "tgrelay_messages_sent_total": lambda: metrics.message_sent(0.3),
    "tgrelay_messages_failed_total": metrics.message_failed,
    "tgrelay_send_retries_total": metrics.send_retried,
    "tgrelay_telegram_429_total": metrics.telegram_rate_limited,
}


def scrape(client, **headers) -> dict[tuple, float]:
    """Every sample of a /metrics answer, keyed by name and labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def changes(before: dict, after: dict) -> dict:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}


def queued_at(user, chat, created_at, status=Message.Status.QUEUED) -> Message:
    return Message.objects.create(
        user=user, destination=chat, text="hi", status=status, created_at=created_at, next_attempt_at=created_at
    )


@pytest.fixture
def frozen_now(monkeypatch):
    now = timezone.now()
    monkeypatch.setattr("ops.metrics.timezone.now", lambda: now)
    return now


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/metrics", "/metrics/"])
def test_metrics_are_served_without_authentication_by_default(client, path):
    response = client.get(path)

    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "tgrelay_messages_accepted",
        "tgrelay_messages_sent",
        "tgrelay_messages_failed",
        "tgrelay_send_retries",
        "tgrelay_telegram_429",
        "tgrelay_accept_to_sent_seconds",
        "tgrelay_queue_depth",
        "tgrelay_oldest_queued_age_seconds",
    } <= names


@pytest.mark.django_db
@pytest.mark.parametrize("name", COUNTERS)
def test_each_event_counts_once_on_its_own_counter(client, name):
    before = scrape(client)

    COUNTERS[name]()

    changed = changes(before, scrape(client))
    counted = {key: delta for key, delta in changed.items() if key[0].endswith("_total")}
    assert counted == {(name, ()): 1}


@pytest.mark.django_db
def test_sent_latency_lands_in_its_histogram_bucket(client):
    before = scrape(client)

    metrics.message_sent(0.3)
    metrics.message_sent(42.0)

    after = scrape(client)
    delta = changes(before, after)
    name = "tgrelay_accept_to_sent_seconds"
    assert delta[(f"{name}_count", ())] == 2
    assert delta[(f"{name}_sum", ())] == pytest.approx(42.3)
    assert (f"{name}_bucket", (("le", "0.25"),)) not in delta
    assert delta[(f"{name}_bucket", (("le", "0.5"),))] == 1
    assert delta[(f"{name}_bucket", (("le", "30.0"),))] == 1
    assert delta[(f"{name}_bucket", (("le", "60.0"),))] == 2
    assert delta[(f"{name}_bucket", (("le", "+Inf"),))] == 2


@pytest.mark.django_db
def test_a_negative_latency_from_clock_skew_counts_as_zero(client):
    before = scrape(client)

    metrics.message_sent(-1.5)

    delta = changes(before, scrape(client))
    assert delta[("tgrelay_accept_to_sent_seconds_bucket", (("le", "0.1"),))] == 1
    assert ("tgrelay_accept_to_sent_seconds_sum", ()) not in delta


@pytest.mark.django_db
def test_queue_gauges_are_zero_with_nothing_queued(client, alice, frozen_now):
    chat = link(alice, ALICE_CHAT)
    queued_at(alice, chat, frozen_now - timedelta(days=3), status=Message.Status.SENT)
    queued_at(alice, chat, frozen_now - timedelta(days=2), status=Message.Status.FAILED)

    samples = scrape(client)

    assert value(samples, "tgrelay_queue_depth") == 0
    assert value(samples, "tgrelay_oldest_queued_age_seconds") == 0


@pytest.mark.django_db
def test_queue_gauges_count_queued_rows_and_age_the_oldest(client, alice, bob, frozen_now):
    alice_chat, bob_chat = link(alice, ALICE_CHAT), link(bob, 2002)
    queued_at(alice, alice_chat, frozen_now - timedelta(seconds=30))
    queued_at(bob, bob_chat, frozen_now - timedelta(seconds=125))
    queued_at(alice, alice_chat, frozen_now - timedelta(seconds=5))
    # Older, but no longer waiting: neither counts.
    queued_at(alice, alice_chat, frozen_now - timedelta(hours=5), status=Message.Status.SENT)
    queued_at(bob, bob_chat, frozen_now - timedelta(hours=6), status=Message.Status.FAILED)

    samples = scrape(client)

    assert value(samples, "tgrelay_queue_depth") == 3
    assert value(samples, "tgrelay_oldest_queued_age_seconds") == 125

    Message.objects.filter(created_at=frozen_now - timedelta(seconds=125)).update(status=Message.Status.SENT)
    samples = scrape(client)

    assert value(samples, "tgrelay_queue_depth") == 2
    assert value(samples, "tgrelay_oldest_queued_age_seconds") == 30


@pytest.mark.django_db
def test_counters_recorded_in_another_process_are_served_too(client):
    """The delivery worker counts in its own process; a scrape of the web process sees it."""
    before = scrape(client)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PROMETHEUS_MULTIPROC_DIR": os.environ["PROMETHEUS_MULTIPROC_DIR"],
    }
    script = "import django; django.setup(); from ops import metrics; metrics.message_sent(2.0); metrics.send_retried()"

    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)

    delta = changes(before, scrape(client))
    assert delta[("tgrelay_messages_sent_total", ())] == 1
    assert delta[("tgrelay_send_retries_total", ())] == 1
    assert delta[("tgrelay_accept_to_sent_seconds_count", ())] == 1


# -- METRICS_TOKEN -------------------------------------------------------------------


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = "scrape-secret-1"
    return settings.METRICS_TOKEN


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-secret", "Bearer scrape-secret-", "Token scrape-secret-1", "bearer  scrape-secret-1"],
)
def test_metrics_token_is_required_when_set(client, metrics_token, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"tgrelay_" not in response.content


@pytest.mark.django_db
def test_metrics_token_in_a_bearer_header_is_accepted(client, metrics_token):
    samples = scrape(client, Authorization=f"Bearer {metrics_token}")

    assert ("tgrelay_queue_depth", ()) in samples


@pytest.mark.django_db
def test_an_api_login_does_not_open_metrics_guarded_by_a_token(alice, client, metrics_token):
    response = client.get("/metrics", headers={"Authorization": basic_auth("alice")})

    assert response.status_code == 401


# -- counted by the real delivery path ------------------------------------------------


def delivery_changes(client, action) -> dict[str, float]:
    before = scrape(client)
    action()
    return {key[0]: delta for key, delta in changes(before, scrape(client)).items() if not key[1]}


@pytest.mark.django_db(transaction=True)
def test_a_message_accepted_and_sent_is_counted_with_its_latency(tg, alice_linked, client):
    delta = delivery_changes(client, lambda: post_text(alice_linked, "Hello"))

    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == split_message("Alice", "Hello")
    assert delta["tgrelay_messages_accepted_total"] == 1
    assert delta["tgrelay_messages_sent_total"] == 1
    assert delta["tgrelay_accept_to_sent_seconds_count"] == 1
    assert "tgrelay_messages_failed_total" not in delta


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_counts_a_retry_then_the_send(tg, alice_linked, client):
    tg.add_fault(kind="502")

    delta = delivery_changes(client, lambda: post_text(alice_linked, "Hello"))

    assert delta["tgrelay_send_retries_total"] == 1
    assert "tgrelay_messages_sent_total" not in delta
    assert delta["tgrelay_queue_depth"] == 1

    make_due()
    delta = delivery_changes(client, run_sweep)

    assert delta["tgrelay_messages_sent_total"] == 1
    assert delta["tgrelay_queue_depth"] == -1


@pytest.mark.django_db(transaction=True)
def test_a_429_is_counted_and_is_not_a_retry(tg, alice_linked, client):
    tg.add_fault(kind="429", retry_after=5)

    delta = delivery_changes(client, lambda: post_text(alice_linked, "Hello"))

    assert delta["tgrelay_telegram_429_total"] == 1
    assert "tgrelay_send_retries_total" not in delta
    assert "tgrelay_messages_sent_total" not in delta


@pytest.mark.django_db(transaction=True)
def test_a_blocked_chat_counts_each_message_it_fails(tg, alice_linked, client):
    tg.add_fault(kind="500", times=-1)
    post_text(alice_linked, "first")
    post_text(alice_linked, "second")
    tg.clear_faults()
    tg.block(ALICE_CHAT)

    make_due()
    delta = delivery_changes(client, run_sweep)

    assert delta["tgrelay_messages_failed_total"] == 2
    assert Message.objects.filter(status=Message.Status.FAILED).count() == 2
