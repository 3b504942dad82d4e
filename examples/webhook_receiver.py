"""A bank's webhook receiver for InnoCredit's events, to copy: verify, deduplicate, handle.

    WEBHOOK_SECRET=whsec_… .venv/bin/python examples/webhook_receiver.py --port 9000

It listens on 127.0.0.1 (put it behind your TLS-terminating proxy: InnoCredit sends only to
https URLs outside development), checks every request with the `standardwebhooks` library
(the `webhook-signature` over `webhook-id.webhook-timestamp.body`, the timestamp within
5 minutes), answers 400 to anything that does not verify, and 204 to everything that does —
at once, before the work, so a slow handler never turns into InnoCredit's timeout and retry.
Delivery is at least once: the same event may arrive again (same `webhook-id`), so the
receiver remembers the ids of the last 24 hours and hands each event to `handle` once.
Events of one application arrive in order; `handle` here prints one JSON line per event.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

REMEMBER_SECONDS = 24 * 3600
MAX_BODY = 1_048_576


class Inbox:
    """Verifies each request against the secrets (during a rotation the old and the new),
    drops what it has seen, and passes each new event to `handle`."""

    def __init__(
        self,
        secrets: list[str],
        handle: Callable[[dict[str, Any]], None],
        *,
        remember_seconds: float = REMEMBER_SECONDS,
    ) -> None:
        self.secrets = secrets
        self._handle = handle
        self._remember = remember_seconds
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
        """The event if one of the secrets verifies the request, else `None`."""
        plain = {k.lower(): v for k, v in headers.items()}
        for secret in self.secrets:
            try:
                event: dict[str, Any] = Webhook(secret).verify(body, plain)
            except WebhookVerificationError:
                continue
            return event
        return None

    def receive(self, body: bytes, headers: Mapping[str, str]) -> int:
        """The status to answer: 400 if it does not verify, else 204 (a repeat is not handled
        twice)."""
        event = self.verify(body, headers)
        if event is None:
            return 400
        msg_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        now = time.monotonic()
        with self._lock:
            self._seen = {k: t for k, t in self._seen.items() if now - t < self._remember}
            repeat = msg_id in self._seen
            self._seen[msg_id] = now
        if not repeat:
            self._handle(event)
        return 204


def handler_for(inbox: Inbox) -> type[BaseHTTPRequestHandler]:
    """A request handler class answering POSTs through `inbox`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            self.send_response(inbox.receive(body, dict(self.headers.items())))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: `handle` reports what matters."""

    return Handler


def print_event(event: dict[str, Any]) -> None:
    """Print one line per event: its id, type, and the application or enterprise it is about."""
    data = event.get("data") or {}
    application = (data.get("application") or {}).get("id")
    waiver = (data.get("waiver") or {}).get("uscc")
    line = {"id": event["id"], "type": event["type"], "about": application or waiver}
    print(json.dumps(line, ensure_ascii=False), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run the receiver until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--secret",
        action="append",
        help="a whsec_ secret (repeat during a rotation); default: $WEBHOOK_SECRET",
    )
    args = parser.parse_args(argv)
    secrets = args.secret or [s for s in os.environ.get("WEBHOOK_SECRET", "").split() if s]
    if not secrets:
        parser.error("give --secret or set WEBHOOK_SECRET (the secret the PUT answered)")
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Inbox(secrets, print_event)))
    print(f"receiving on http://{args.host}:{server.server_port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
