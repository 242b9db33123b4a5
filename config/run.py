"""Run the whole service in the foreground: web server, delivery worker, bot poller.

Without TELEGRAM_BOT_TOKEN it also starts the simulated Telegram and points
the others at it (demo mode). Written here rather than with a Procfile
runner because demo mode decides at start which processes exist and what
environment they share; it is only process start, wait and stop.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DEMO_TOKEN = "100000:demo-token-for-the-simulated-telegram"


def main() -> int:
    env = dict(os.environ)
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    python = sys.executable
    processes: dict[str, subprocess.Popen] = {}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(_empty_metrics_dir(env))
    # The bot's replies link to the cabinet at this address.
    env.setdefault("PUBLIC_URL", f"http://{host}:{port}")

    if not env.get("TELEGRAM_BOT_TOKEN"):
        demo_port = env.get("DEMO_TELEGRAM_PORT", "8081")
        processes["telegram (simulated)"] = subprocess.Popen(
            [python, "-m", "fakegram", "--host", "127.0.0.1", "--port", demo_port]
        )
        env["TELEGRAM_BOT_TOKEN"] = DEMO_TOKEN
        env["TELEGRAM_API_URL"] = f"http://127.0.0.1:{demo_port}"
        env["TELEGRAM_DEMO"] = "1"
        _wait_for_port("127.0.0.1", int(demo_port))
        print(_demo_banner(host, port, demo_port), flush=True)

    processes["web"] = subprocess.Popen(web_command(python, host, port, env), env=env)
    processes["worker"] = subprocess.Popen([python, "manage.py", "run_huey"], env=env)
    processes["bot"] = subprocess.Popen([python, "manage.py", "runbot"], env=env)
    url = f"http://{host}:{port}/"
    print(f"tg-relay is running at {url}: the cabinet at {url}cabinet/, API docs at /docs/. Ctrl-C stops.", flush=True)

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with status {process.returncode}; stopping the rest.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
                break
        time.sleep(0.5)

    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
    return exit_code


def web_command(python: str, host: str, port: str, env: dict[str, str]) -> list[str]:
    """The web server as `make run` starts it; `make bench` measures the same command.

    WEB_WORKERS processes (default 2 x cores - 1), each running WEB_THREADS requests at a time
    (default 1) and holding up to WAIT_SLOTS more that wait for an answer (gunicorn.conf.py,
    config/turns.py). Requests are short and spend their time in Python, SQLite included, so
    requests of one process run at once mostly wait for each other at the interpreter lock: on 2
    cores, 3 processes of one request at a time answered about half again as many requests as 2
    of 4, with a lower p99 (docs/benchmarks.md). More suit webhook mode, where a request waits for
    the bot's reply to Telegram.
    """
    workers = env.get("WEB_WORKERS") or str(default_web_workers())
    return [
        python, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}",
        "--workers", workers, "--access-logfile", "-", "--no-control-socket",
    ]  # fmt: skip


def default_web_workers() -> int:
    # One core's worth is left for the delivery worker and the bot beside them.
    return max(2 * (os.cpu_count() or 1) - 1, 2)


def _empty_metrics_dir(env: dict[str, str]) -> Path:
    """The directory the processes count metrics in (as config/settings.py finds it), emptied.

    prometheus_client's multiprocess mode wants it empty at start: files of a
    previous run would add their counts to this one's.
    """
    data_dir = Path(env.get("DATA_DIR", Path(__file__).resolve().parent.parent / "var")).resolve()
    path = Path(env.get("PROMETHEUS_MULTIPROC_DIR", data_dir / "metrics")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    # Only prometheus_client's own files, whatever else the directory holds.
    for file in path.glob("*.db"):
        file.unlink(missing_ok=True)
    return path


def _wait_for_port(host: str, port: int, timeout: float = 10) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the simulated Telegram did not start on port {port}")


def _demo_banner(host: str, port: str, demo_port: str) -> str:
    fake = f"http://127.0.0.1:{demo_port}"
    return f"""
============================================================================
 DEMO MODE: no TELEGRAM_BOT_TOKEN is set, so tg-relay talks to its own
 simulated Telegram at {fake}. Nothing reaches real Telegram.

 Open http://{host}:{port}/cabinet/ in a browser: sign up, and the cabinet
 shows a simulated chat with the bot, to link it and watch messages arrive.

 Talk to the simulated bot as Telegram user 1001:
   curl -s -X POST {fake}/_control/users/1001/messages \\
        -H 'Content-Type: application/json' -d '{{"text": "/start <link code>"}}'
 Read what the bot sent to that chat:
   curl -s '{fake}/_control/sent?chat_id=1001'
 The README walks through the whole flow.
 Set TELEGRAM_BOT_TOKEN (from @BotFather) to use a real bot.
============================================================================
"""


if __name__ == "__main__":
    sys.exit(main())
