"""Behind the shipped nginx site (deploy/nginx/tg-relay.conf), run in a real nginx in front of the real web process.

The site file is rendered with this test's ports, a self-signed certificate
made with openssl, and a temporary static directory; nothing else in it
changes. The web process trusts 127.0.0.1 (where nginx connects from) as its
proxy; the test's clients connect from other loopback addresses, so each is
a distinct client, and a client can also talk to the web process directly.
"""

import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import PASSWORD
from tests.processes import ROOT, Processes, answers, free_port, service_env, wait_until
from tests.test_signup_burst import linked_account

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = ROOT / "deploy" / "nginx" / "tg-relay.conf"
WEBHOOK_SECRET = "proxy-test-webhook-secret"
WRONG = "wrong horse battery"


def render_site(*, http_port: int, https_port: int, web_port: int, cert: Path, key: Path, static: Path) -> str:
    """The shipped site with this test's ports and paths in place of the examples it names."""
    text = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{web_port};",
        "/etc/letsencrypt/live/relay.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/relay.example.com/privkey.pem": str(key),
        "/var/lib/tg-relay/static/": f"{static}/",
    }
    for example, value in replacements.items():
        assert text.count(example) == 1, f"the shipped site no longer has {example!r} once: update this test"
        text = text.replace(example, value)
    return text


def nginx_conf(directory: Path) -> str:
    # Started as root (as CI is), nginx's workers drop to nobody; as anyone else they stay that user.
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    temp = directory / "temp"
    return f"""
{user}
worker_processes 1;
pid {directory}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/site.conf;
}}
"""


@dataclass
class Deployment:
    https: str  # the proxy, as people reach it
    http: str  # the proxy's plain-http port, which only redirects
    direct: str  # the web process itself
    tls: ssl.SSLContext
    token: str  # an API token of an account with a linked chat
    username: str
    static: Path
    subnet: str  # 127.x.y: this run's client addresses, fresh in the shared counts

    def client(self, host: int, base: str | None = None, **options) -> httpx.Client:
        """A client connecting from 127.x.y.<host>; one connection per request."""
        transport = httpx.HTTPTransport(local_address=f"{self.subnet}.{host}", verify=self.tls)
        headers = {"Connection": "close", **options.pop("headers", {})}
        return httpx.Client(base_url=base or self.https, transport=transport, headers=headers, timeout=30, **options)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    assert Path(NGINX).exists(), "nginx is needed: apt-get install nginx-light (.ci/run installs it)"
    # Not pytest's private temporary directory: nginx's workers (nobody) read the static files.
    base = Path(tempfile.mkdtemp(prefix="tgrelay-proxy-"))
    base.chmod(0o755)
    data, proxy = base / "data", base / "nginx"
    for directory in (data, proxy, proxy / "temp"):
        directory.mkdir(mode=0o755)
    (proxy / "temp").chmod(0o777)
    cert, key = proxy / "cert.pem", proxy / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    web_port, http_port, https_port = free_port(), free_port(), free_port()
    env = service_env(
        data,
        backends=True,
        HTTPS="1",
        TRUSTED_PROXIES="127.0.0.1",
        ALLOWED_HOSTS="localhost",
        TELEGRAM_BOT_TOKEN="123456:proxy-test-token",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        TELEGRAM_BOT_USERNAME="tgrelay_proxy_bot",
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LOGIN_FAILURES_PER_ADDRESS="3",
        LOGIN_RATE="1000/min",
        PASSWORD_HASHING_SLOTS="2",
        MESSAGES_PER_MINUTE="100000",
    )
    processes = Processes(base, env)
    processes.run("manage.py", "migrate", "--noinput")
    processes.run("manage.py", "collectstatic", "--noinput")
    subprocess.run(["chmod", "-R", "a+rX", str(data / "static")], check=True)
    username = f"proxied-{secrets.token_hex(4)}"
    token = linked_account(processes, base, username, chat_id=9_000_000_000 + secrets.randbelow(10**6))
    processes.start(
        "web", "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
        "--no-control-socket",
    )  # fmt: skip
    site = render_site(
        http_port=http_port, https_port=https_port, web_port=web_port, cert=cert, key=key, static=data / "static"
    )
    (proxy / "site.conf").write_text(site)
    (proxy / "nginx.conf").write_text(nginx_conf(proxy))
    command = [NGINX, "-p", str(proxy), "-c", str(proxy / "nginx.conf"), "-e", str(proxy / "error.log")]
    subprocess.run([*command, "-t"], check=True, capture_output=True)
    nginx = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tls = ssl.create_default_context(cafile=str(cert))
    deployment = Deployment(
        https=f"https://localhost:{https_port}",
        http=f"http://localhost:{http_port}",
        direct=f"http://127.0.0.1:{web_port}",
        tls=tls,
        token=token,
        username=username,
        static=data / "static",
        subnet=f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}",
    )
    try:
        with httpx.Client(verify=tls, timeout=5) as probe:
            wait_until(lambda: processes.alive("web") and answers(probe, f"{deployment.https}/healthz"), what="nginx")
        yield deployment
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        processes.stop_all()
        print("--- web ---\n" + processes.logs("web")[-2000:])
        print("--- nginx ---\n" + (proxy / "error.log").read_text()[-2000:], file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)


def wrong_login(client: httpx.Client, number: int, forged: str | None = None) -> int:
    headers = {"X-Forwarded-For": forged} if forged else {}
    body = {"username": f"nobody-{number}", "password": WRONG}
    response = client.post("/api/v1/auth/token/", json=body, headers=headers)
    print(response.status_code, response.text[:300])
    return response.status_code


def test_a_forged_forwarded_for_does_not_change_the_address_the_limits_see(deployment: Deployment):
    with deployment.client(7) as attacker:
        # Each guess names another client; the proxy appends the real one, which is what counts.
        forged = [wrong_login(attacker, number, forged=f"198.51.100.{number}") for number in range(4)]
    assert forged == [401, 401, 401, 429]

    # Another client behind the same proxy is not locked out by that one.
    with deployment.client(8) as alice:
        body = {"username": deployment.username, "password": PASSWORD}
        assert alice.post("/api/v1/auth/token/", json=body).status_code == 200

    # Straight to the web process, a client names itself no better.
    with deployment.client(9, base=deployment.direct, headers={"Host": "localhost"}) as direct:
        assert [wrong_login(direct, number, forged=f"203.0.113.{number}") for number in range(4)] == [401] * 3 + [429]


def test_https_is_known_from_the_trusted_proxy_only(deployment: Deployment):
    bearer = {"Authorization": f"Bearer {deployment.token}"}
    with deployment.client(10, headers=bearer) as proxied:
        # The API answers through the proxy; 51 messages make a second page, whose link the service builds.
        posted = [proxied.post("/api/v1/messages/", json={"text": f"hello {n}"}).status_code for n in range(51)]
        assert posted == [202] * 51
        page = proxied.get("/api/v1/messages/")
    assert page.json()["next"].startswith(f"{deployment.https}/api/v1/messages/?cursor=")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")

    # A client at the web process itself claims https in vain.
    forged = {**bearer, "X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "Host": "localhost"}
    with deployment.client(11, base=deployment.direct, headers=forged) as direct:
        page = direct.get("/api/v1/messages/")
    assert page.status_code == 200
    assert page.json()["next"].startswith("http://localhost/api/v1/messages/?cursor=")
    assert "Strict-Transport-Security" not in page.headers


def test_the_cabinets_forms_pass_csrf_through_the_proxy(deployment: Deployment):
    origin = {"Origin": deployment.https, "Referer": f"{deployment.https}/cabinet/login/"}
    with deployment.client(12) as browser:
        form = browser.get("/cabinet/login/")
        assert "Strict-Transport-Security" in form.headers
        assert "secure" in form.headers["Set-Cookie"].lower()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        body = {"csrfmiddlewaretoken": csrf, "username": deployment.username, "password": PASSWORD}
        response = browser.post("/cabinet/login/", data=body, headers=origin)
        assert response.status_code in (302, 303), response.text[:500]
        assert response.headers["Location"] == "/cabinet/"
        dashboard = browser.get("/cabinet/")
        assert dashboard.status_code == 200
        # Signed in: the dashboard, not a redirect to the login page.
        assert "/cabinet/logout/" in dashboard.text


def test_the_webhook_answers_through_the_proxy(deployment: Deployment):
    update = {"update_id": 10**12 + secrets.randbelow(10**9)}
    with deployment.client(13) as telegram:
        signed = telegram.post(
            "/telegram/webhook/", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        )
        unsigned = telegram.post("/telegram/webhook/", json=update)
    assert (signed.status_code, signed.json()) == (200, {"ok": True})
    assert unsigned.status_code == 403


def test_the_proxy_limits_bodies_serves_static_files_and_sends_http_to_https(deployment: Deployment):
    with deployment.client(14, headers={"Authorization": f"Bearer {deployment.token}"}) as client:
        too_big = client.post(
            "/api/v1/messages/", content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "text/plain"}
        )
        css = client.get("/static/cabinet/cabinet.css")
    assert too_big.status_code == 413
    assert css.status_code == 200
    assert css.content == (deployment.static / "cabinet" / "cabinet.css").read_bytes()
    # Served by nginx from the directory, with its expiry.
    assert css.headers["Cache-Control"] == "max-age=604800"

    with deployment.client(15, base=deployment.http) as plain:
        redirect = plain.get("/cabinet/")
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == "https://localhost/cabinet/"
