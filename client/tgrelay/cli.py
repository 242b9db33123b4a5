"""`tgrelay`: send messages, files and questions to Telegram through tg-relay.

Exit codes: 0 done (for `ask`, the first button was pressed), 1 `ask` got another
answer, 2 `ask` had no answer in time, 3 a usage or configuration problem, 4 the
server refused or could not be reached, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from typing import NoReturn, TextIO

from tgrelay import __version__
from tgrelay.client import ApiError, Client, Format, TgRelayError
from tgrelay.config import ConfigError, load

OK, OTHER_ANSWER, NO_ANSWER, USAGE, REFUSED, INTERRUPTED = 0, 1, 2, 3, 4, 130

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

EPILOG = """\
configuration: the server's address and an API token come from --url and --token, else
TGRELAY_URL and TGRELAY_TOKEN, else the file $XDG_CONFIG_HOME/tgrelay/config.toml
(~/.config/tgrelay/config.toml) with the keys url and token.

exit codes: 0 done, 3 usage or configuration, 4 the server refused (its reason is printed)
or could not be reached; `ask` also exits 1 for an answer other than the first button and
2 when no answer came in time.
"""


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as exit code 3 (2 is `ask`'s timeout)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: {message}\n")


def duration(value: str) -> float:
    """Seconds in `30s`, `10m`, `1h`, `1h30m` or a bare number of seconds."""
    text = value.strip()
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match[1]) * _UNITS[match[2].lower()]
        position = match.end()
    if not text or position != len(text):
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration such as 30s, 10m, 1h or 1h30m")
    return seconds


def spoken(seconds: float) -> str:
    """A duration as `duration` reads it: 1h5m, 10m, 30s."""
    whole = max(0, math.ceil(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{number}{unit}" for number, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if number]
    return "".join(parts) or "0s"


def button(value: str) -> tuple[str, str]:
    """`answer:Label`, or `answer` alone as its own label."""
    answer, _, label = value.partition(":")
    answer, label = answer.strip(), label.strip()
    if not answer:
        raise argparse.ArgumentTypeError(f"{value!r}: a button is answer:Label, e.g. yes:Ship")
    return answer, label or answer


def build_parser() -> Parser:
    common = Parser(add_help=False)
    server = common.add_argument_group("server")
    server.add_argument("--url", default=argparse.SUPPRESS, help="tg-relay's address, e.g. https://relay.example")
    server.add_argument("--token", default=argparse.SUPPRESS, help="an API token (better kept in TGRELAY_TOKEN)")

    parser = Parser(
        prog="tgrelay",
        description="Send messages, files and questions to Telegram through tg-relay.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"tgrelay {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    send = commands.add_parser(
        "send",
        help="send a message or a file",
        description="Send a message (or a file) to one of your destinations; prints the message's id.",
        epilog='examples:\n  tgrelay send "Backup done"\n  make 2>&1 | tgrelay send - --title "Build log"\n'
        '  tgrelay send --to alerts --title Backup --markdown "**failed** on web-1"\n'
        '  tgrelay send --file report.pdf "Today\'s report"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    send.add_argument("text", nargs="?", help="the message, or - to read it from standard input")
    _destination_options(send)
    send.add_argument("--file", metavar="PATH", help="send this file; the text, if any, is its caption")
    formats = send.add_mutually_exclusive_group()
    formats.add_argument(
        "--markdown", dest="format", action="store_const", const="markdown", help="the text is Markdown"
    )
    formats.add_argument(
        "--html", dest="format", action="store_const", const="html", help="the text is Telegram's HTML"
    )
    send.add_argument(
        "--silent",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="without a notification sound (--no-silent: with one); the destination's setting if left out",
    )

    ask = commands.add_parser(
        "ask",
        help="ask a question with buttons and wait for the answer",
        description="Send a question with answer buttons, wait for a button or a written reply, and print "
        "the answer. Exits 0 when the first button was pressed, 1 for any other answer, 2 when no answer "
        "came within --timeout.",
        epilog='example:\n  tgrelay ask "Ship v2.3?" --button yes:Ship --button no:Stop --timeout 10m && ./deploy',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    ask.add_argument("text", help="the question, or - to read it from standard input")
    ask.add_argument(
        "--button",
        dest="buttons",
        metavar="ANSWER:LABEL",
        type=button,
        action="append",
        required=True,
        help="a button: the answer it gives and its label (repeat for more; the first one exits 0)",
    )
    ask.add_argument(
        "--timeout",
        type=duration,
        default=duration("10m"),
        metavar="DURATION",
        help="how long to wait for an answer: 30s, 10m, 1h (default 10m)",
    )
    _destination_options(ask)
    return parser


def _destination_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", metavar="LABEL", help="the destination's label (or id); the default one if left out")
    parser.add_argument("--title", help="a bold first line above the text")


def main(argv: Sequence[str] | None = None) -> int:
    """The `tgrelay` command; returns its exit code."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("\ntgrelay: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # Whoever read the output went away; Python would complain again at exit.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return OK
    except Exception as exc:
        # Words rather than a traceback; TGRELAY_DEBUG=1 shows it.
        if os.environ.get("TGRELAY_DEBUG"):
            raise
        return _fail(REFUSED, f"unexpected {type(exc).__name__}: {exc} (TGRELAY_DEBUG=1 shows where)")


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load(url=getattr(args, "url", None), token=getattr(args, "token", None))
        client = Client(settings.url, settings.token, timeout=60)
    except (ConfigError, ValueError, UsageError) as exc:
        return _fail(USAGE, str(exc))
    try:
        with client:
            return _send(client, args) if args.command == "send" else _ask(client, args)
    except UsageError as exc:
        return _fail(USAGE, str(exc))
    except ApiError as exc:
        return _fail(REFUSED, f"the server refused ({exc.status_code}): {exc.detail}")
    except TgRelayError as exc:  # unreachable, or the message failed
        return _fail(REFUSED, str(exc))


def _fail(code: int, words: str) -> int:
    print(f"tgrelay: {words}", file=sys.stderr)
    return code


def _text(value: str | None) -> str | None:
    if value != "-":
        return value
    if sys.stdin is None:
        raise UsageError("- reads standard input, and there is none")
    data = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    if not data.strip():
        raise UsageError("nothing to send: standard input was empty")
    return data


def _send(client: Client, args: argparse.Namespace) -> int:
    text = _text(args.text)
    if args.file:
        if args.format:
            raise UsageError("--markdown and --html are for text messages, not with --file")
        try:
            message = client.send_file(args.file, text=text, to=args.to, title=args.title, silent=bool(args.silent))
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    else:
        if text is None:
            raise UsageError("nothing to send: give the text, - to read it from standard input, or --file PATH")
        format: Format = args.format or "text"
        # One key per run: a request repeated by the network is taken once.
        message = client.send(
            text,
            to=args.to,
            title=args.title,
            format=format,
            silent=args.silent,
            idempotency_key=f"tgrelay-{uuid.uuid4()}",
        )
    print(message.id)
    return OK


def _ask(client: Client, args: argparse.Namespace) -> int:
    text = _text(args.text)
    assert text is not None
    question = client.send_question(text, args.buttons, to=args.to, title=args.title)
    with Progress(sys.stderr, question.id, args.timeout):
        answer = client.wait_for_answer(question, args.timeout)
    if answer is None:
        return _fail(NO_ANSWER, f"no answer within {spoken(args.timeout)}")
    print(answer.value)
    first = args.buttons[0][0]
    return OK if answer.kind == "button" and answer.value == first else OTHER_ANSWER


class Progress:
    """A line on a terminal's stderr saying how long is left; nothing when stderr is not a terminal."""

    def __init__(self, stream: TextIO, message_id: int, timeout: float) -> None:
        self.stream, self.message_id = stream, message_id
        self.deadline = time.monotonic() + timeout
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._show, daemon=True)
        self.shown = stream.isatty()

    def __enter__(self) -> Progress:
        if self.shown:
            self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.shown:
            self.done.set()
            self.thread.join()
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _show(self) -> None:
        while not self.done.is_set():
            left = spoken(self.deadline - time.monotonic())
            self.stream.write(f"\r\x1b[KWaiting for an answer to message {self.message_id}… {left} left")
            self.stream.flush()
            self.done.wait(1)


if __name__ == "__main__":
    sys.exit(main())
