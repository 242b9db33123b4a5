"""A worker whose lease ran out during a send records nothing, and a lease too short for a send is refused at start."""

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

import relaybot.client
from conftest import ALICE_CHAT
from relay import delivery
from relay.models import Destination
from relay.splitting import split_message
from relay.tests.helpers import LINK_URL, get_message, post_text, texts

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
# Two parts under alice's header.
LONG_TEXT = "\n".join(f"line {number} " + "x" * 60 for number in range(100))


def queue_without_delivering(api, text: str) -> dict:
    """POST while another worker holds the chat, so nothing is sent yet; the chat is free again afterwards."""
    chat = Destination.objects.get(chat_id=ALICE_CHAT)
    Destination.objects.filter(pk=chat.pk).update(
        lease_token="other", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    body = post_text(api, text)
    Destination.objects.filter(pk=chat.pk).update(lease_token="", lease_expires_at=None)
    return body


def in_a_thread(work: Callable[[], object]) -> threading.Thread:
    """A delivery worker of its own: another thread, another database connection."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_until_telegram_has(tg, sends: int) -> None:
    """Until the simulated Telegram has received that many sendMessage requests (answered or not)."""
    deadline = time.monotonic() + 10
    while tg.request_counts()["counts"].get("sendMessage", 0) < sends:
        assert time.monotonic() < deadline, "the worker never sent"
        time.sleep(0.01)


def test_a_worker_that_lost_its_lease_during_a_send_records_nothing(tg, alice_linked):
    parts = split_message("Alice", LONG_TEXT)
    assert len(parts) == 2
    body = queue_without_delivering(alice_linked, LONG_TEXT)
    chat_pk = Destination.objects.get(chat_id=ALICE_CHAT).pk
    # The first worker's first part takes Telegram 2 s to answer.
    tg.add_fault(kind="slow", delay=2)
    first_worker = in_a_thread(lambda: delivery.deliver_destination(chat_pk))
    wait_until_telegram_has(tg, 1)

    # Meanwhile its lease runs out (the test stands in for the clock), and a second worker takes the chat over.
    Destination.objects.filter(pk=chat_pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    delivery.deliver_destination(chat_pk)
    assert get_message(alice_linked, body["id"])["status"] == "sent"
    first_worker.join()

    # The first worker's late answer changed nothing: the message stays sent, its second part went once.
    assert get_message(alice_linked, body["id"])["status"] == "sent"
    delivery.deliver_destination(chat_pk)
    sent = Counter(texts(tg.sent(chat_id=ALICE_CHAT)))
    # The first part twice: the first worker's request had reached Telegram before its lease ran out.
    assert sent == {parts[0]: 2, parts[1]: 1}


def failed_total(client) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    families = text_string_to_metric_families(response.content.decode())
    samples = [sample for family in families for sample in family.samples]
    return sum(sample.value for sample in samples if sample.name == "tgrelay_messages_failed_total")


@pytest.fixture
def one_attempt_of_one_second(settings, monkeypatch):
    """One attempt per message, by a client that gives up after 1 s, built fresh and thrown away after the test."""
    settings.DELIVERY_MAX_ATTEMPTS = 1
    settings.TELEGRAM_TIMEOUT_SECONDS = 1
    clients: dict = {}
    monkeypatch.setattr(relaybot.client, "_clients", clients)
    yield
    for each in clients.values():
        each.close()


def test_a_failure_is_counted_once_when_an_unlink_races_the_send(tg, alice_linked, client, one_attempt_of_one_second):
    body = queue_without_delivering(alice_linked, "Hello")
    chat_pk = Destination.objects.get(chat_id=ALICE_CHAT).pk
    failed_before = failed_total(client)
    # Telegram answers after 3 s; the worker gives up after 1 s, and with one attempt allowed, fails the message.
    tg.add_fault(kind="slow", delay=3)
    worker = in_a_thread(lambda: delivery.deliver_destination(chat_pk))
    wait_until_telegram_has(tg, 1)

    # While the send waits, the user unlinks the chat: that fails the message.
    assert alice_linked.delete(LINK_URL).status_code in (200, 204)
    worker.join()

    message = get_message(alice_linked, body["id"])
    assert (message["status"], message["error"], message["attempts"]) == (
        "failed",
        "Not delivered: the chat was unlinked.",
        0,
    )
    assert failed_total(client) - failed_before == 1


def test_the_start_up_checks_refuse_a_lease_shorter_than_a_send(settings):
    settings.TELEGRAM_TIMEOUT_SECONDS = 10
    settings.DELIVERY_LEASE_SECONDS = 60
    call_command("check")

    settings.DELIVERY_LEASE_SECONDS = 30
    with pytest.raises(SystemCheckError, match="DELIVERY_LEASE_SECONDS=30 is shorter than one send may take"):
        call_command("check")

    settings.TELEGRAM_TIMEOUT_SECONDS = 2
    call_command("check")


def test_the_worker_does_not_start_with_a_lease_shorter_than_a_send(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATA_DIR": str(tmp_path),
        "DELIVERY_LEASE_SECONDS": "20",
        "TELEGRAM_TIMEOUT_SECONDS": "10",
    }
    worker = subprocess.run(
        [sys.executable, "manage.py", "run_huey"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert worker.returncode != 0
    assert "relay.E001" in worker.stderr
    assert "Set DELIVERY_LEASE_SECONDS to at least 50" in worker.stderr
