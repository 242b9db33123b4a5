"""Run the simulated Telegram in the foreground until SIGTERM or SIGINT.

python -m fakegram --host 127.0.0.1 --port 8081 [--token T] [--bot-username NAME]
"""

import argparse
import faulthandler
import os
import signal
import sys
import threading
from typing import NoReturn

from fakegram.server import FakeTelegram

# How long a stop may take before the process exits regardless; where it
# hangs is written to stderr halfway.
STOP_SECONDS = 10


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m fakegram", description="Simulated Telegram Bot API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="accept only this bot token")
    parser.add_argument("--bot-username", default="tgrelay_demo_bot")
    args = parser.parse_args(argv)

    # Taken with sigwait, not a handler: blocked before any thread starts, a
    # signal waits for the main thread instead of landing in whatever it holds.
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)

    tg = FakeTelegram(
        host=args.host,
        port=args.port,
        token=args.token,
        bot_username=args.bot_username,
    ).start()
    print(f"fakegram listening on {tg.url}", flush=True)
    signal.sigwait(signals)
    # A stop that hangs (a connection that never closes) must not keep the
    # process: whoever sent the signal waits for it.
    faulthandler.dump_traceback_later(STOP_SECONDS / 2, exit=False)
    stopping = threading.Thread(target=tg.stop, name="fakegram-stop", daemon=True)
    stopping.start()
    stopping.join(STOP_SECONDS)
    faulthandler.cancel_dump_traceback_later()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
