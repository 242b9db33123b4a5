"""A webhook receiver on 127.0.0.1 for tests against the real processes: it records what the worker POSTs.

The service sends there only when its processes run with
WEBHOOK_ALLOW_PRIVATE_ADDRESSES (CliRelay's `webhooks_to_private_addresses`).
What arrived is checked with the Standard Webhooks reference library, as a
receiver would check it.
"""

import threading
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
    """Records every POST to it and answers 200; `with` runs it in a thread of its own."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
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
