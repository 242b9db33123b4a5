"""A webhook receiver on 127.0.0.1: it records what the service POSTs, for tests in process and against the processes.

The service sends there only with WEBHOOK_ALLOW_PRIVATE_ADDRESSES (a
setting in process; CliRelay's `webhooks_to_private_addresses` for the processes).
What arrived is checked with the Standard Webhooks reference library, as a
receiver would check it.
"""

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict:
        """The event, once the reference library has checked its signature and timestamp (raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    """A webhook receiver on 127.0.0.1: records every POST, answers the statuses queued in `answers`, then 200.

    `with` runs it in a thread of its own.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: deque[int] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.answers.popleft() if receiver.answers else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, secret: str) -> list[dict]:
        """Every event received so far, each verified with `secret`."""
        return [request.verified(secret) for request in self.requests]
