"""/healthz and /readyz: unauthenticated JSON probes, outside the API schema."""

import socket
import sqlite3

import pytest
from django.core.cache import cache
from django.db import OperationalError
from drf_spectacular.generators import SchemaGenerator
from huey.contrib.djhuey import HUEY

import relaybot.client

SLASHES = pytest.mark.parametrize("slash", ["", "/"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_clients(monkeypatch):
    """A client cache of the test's own, so a changed TELEGRAM_API_URL takes effect."""
    clients: dict = {}
    monkeypatch.setattr(relaybot.client, "_clients", clients)
    yield
    for client in clients.values():
        client.close()


@pytest.fixture
def telegram_down(settings, fresh_clients):
    settings.TELEGRAM_API_URL = f"http://127.0.0.1:{closed_port()}"
    cache.clear()
    return settings.TELEGRAM_API_URL


class BrokenConnection:
    def cursor(self):
        raise OperationalError("could not connect to server: Connection refused")


def assert_nothing_secret(response, settings) -> None:
    body = response.content.decode()
    assert settings.TELEGRAM_BOT_TOKEN not in body
    assert settings.TELEGRAM_BOT_TOKEN.partition(":")[2] not in body
    assert "/bot" not in body
    assert settings.TELEGRAM_API_URL not in body


# -- /healthz ------------------------------------------------------------------------


@SLASHES
def test_healthz_answers_ok_without_authentication(client, slash):
    response = client.get("/healthz" + slash)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_touches_neither_database_nor_telegram(client, monkeypatch):
    # No django_db mark: any query would fail the test. A dead Bot API is not its business either.
    monkeypatch.setattr("ops.views.connection", BrokenConnection())
    monkeypatch.setattr("ops.views.get_bot", lambda: pytest.fail("healthz called Telegram"))

    assert client.get("/healthz").status_code == 200


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


# -- /readyz -------------------------------------------------------------------------


@SLASHES
def test_readyz_is_ok_when_database_queue_and_telegram_answer(tg, db, client, slash):
    response = client.get("/readyz" + slash)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "queue": {"status": "ok"}, "telegram": {"status": "ok"}},
    }
    assert tg.request_counts()["counts"] == {"getMe": 1}


def test_readyz_reports_the_database_down(tg, db, client, monkeypatch, settings):
    monkeypatch.setattr("ops.views.connection", BrokenConnection())

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "error", "error": "OperationalError"}
    assert body["checks"]["queue"] == {"status": "ok"}
    assert body["checks"]["telegram"] == {"status": "ok"}
    # The driver's message can name hosts and users; only the kind of error is shown.
    assert "refused" not in response.content.decode()


def test_readyz_reports_the_queue_down(tg, db, client, monkeypatch):
    def unreachable():
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(HUEY.storage, "queue_size", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": {"status": "ok"},
        "queue": {"status": "error", "error": "OperationalError"},
        "telegram": {"status": "ok"},
    }


def test_readyz_asks_the_queue_storage(tg, db, client, monkeypatch):
    asked = []
    monkeypatch.setattr(HUEY.storage, "queue_size", lambda: asked.append(True) or 0)

    assert client.get("/readyz").status_code == 200
    assert asked == [True]


def test_readyz_reports_telegram_unreachable_without_the_token_or_url(db, client, telegram_down, settings):
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["telegram"] == {"status": "error", "error": "getMe: ConnectError"}
    assert_nothing_secret(response, settings)


def test_readyz_reports_a_bot_api_refusal_by_its_description(tg, db, client, settings):
    tg.add_fault(kind="500", method="getMe")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["telegram"] == {"status": "error", "error": "Internal Server Error"}
    assert_nothing_secret(response, settings)


def test_readyz_remembers_the_telegram_answer_instead_of_asking_each_probe(tg, db, client):
    for _ in range(5):
        assert client.get("/readyz").status_code == 200

    assert tg.request_counts()["counts"] == {"getMe": 1}

    cache.clear()  # What the cache's expiry does.
    assert client.get("/readyz").status_code == 200
    assert tg.request_counts()["counts"] == {"getMe": 2}


def test_readyz_remembers_a_telegram_failure_too(tg, db, client):
    tg.add_fault(kind="502", method="getMe", times=1)

    assert client.get("/readyz").status_code == 503
    # The Bot API is fine again, but probes are answered from the cache until it expires.
    assert client.get("/readyz").status_code == 503
    assert tg.request_counts()["counts"] == {"getMe": 1}

    cache.clear()
    assert client.get("/readyz").status_code == 200


def test_readyz_needs_no_authentication_even_with_a_metrics_token(tg, db, client, settings):
    settings.METRICS_TOKEN = "metrics-secret"

    assert client.get("/readyz").status_code == 200


def test_probes_and_metrics_are_not_in_the_api_schema():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    assert paths  # The API itself is there.
    assert not [path for path in paths if any(name in path for name in ("healthz", "readyz", "metrics"))]
