"""Login limits hold across web processes, on the embedded default too.

gunicorn runs several worker processes, and a client's requests land on any
of them. Failed logins are counted in the shared cache (the database without
Redis), so the fifth failure closes a username whichever process answers
the next attempt. The test runs the real server and logs in over HTTP.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import Processes, answers, free_port, service_env, wait_until

PASSWORD = "correct horse battery"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[httpx.Client]:
    port = free_port()
    env = service_env(
        tmp_path / "data",
        TELEGRAM_BOT_TOKEN="123456:limits-test-token",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        TELEGRAM_BOT_USERNAME="tgrelay_limits_bot",
    )
    processes = Processes(tmp_path, env)
    processes.run("manage.py", "migrate", "--noinput")
    processes.start(
        "web", "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3",
        "--no-control-socket",
    )  # fmt: skip
    # A new connection for every request, so the attempts spread over the workers.
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Connection": "close"}, timeout=10)

    try:
        wait_until(lambda: processes.alive("web") and answers(client, "/healthz"), what="the web server")
        yield client
    finally:
        client.close()
        processes.stop_all()
        print("--- web ---\n" + processes.logs("web")[-3000:])


def test_failed_logins_are_counted_together_by_every_web_process(web: httpx.Client) -> None:
    body = {"username": "alice", "password": PASSWORD, "name": "Alice"}
    assert web.post("/api/v1/auth/register/", json=body).status_code == 201
    wrong = {"username": "alice", "password": "wrong horse battery"}

    first = [web.post("/api/v1/auth/token/", json=wrong).status_code for _ in range(5)]
    after = [web.post("/api/v1/auth/token/", json=wrong).status_code for _ in range(6)]
    right = web.post("/api/v1/auth/token/", json={"username": "alice", "password": PASSWORD})

    assert first == [401] * 5
    assert after == [429] * 6
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0
