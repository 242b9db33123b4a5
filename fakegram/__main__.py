"""Run the simulated Telegram in the foreground until SIGTERM or SIGINT.

python -m fakegram --host 127.0.0.1 --port 8081 [--token T] [--bot-username NAME]
"""

import argparse
import signal
import threading

from fakegram.server import FakeTelegram


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakegram", description="Simulated Telegram Bot API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="accept only this bot token")
    parser.add_argument("--bot-username", default="tgrelay_demo_bot")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    tg = FakeTelegram(
        host=args.host,
        port=args.port,
        token=args.token,
        bot_username=args.bot_username,
    ).start()
    print(f"fakegram listening on {tg.url}", flush=True)
    stop.wait()
    tg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
