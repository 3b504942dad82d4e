"""A webhook receiver for tests: examples/webhook_receiver.py's verification, with scripted
answers (fail n times, 410, 503 + Retry-After, 302, stall) and a log of every arrival."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from examples.webhook_receiver import Inbox


@dataclass(frozen=True)
class Answer:
    """What the receiver answers one request: a status, headers, after `stall` seconds."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0


@dataclass(frozen=True)
class Arrival:
    """One request as it arrived."""

    at: float
    msg_id: str
    type: str
    application: str | None
    event: dict[str, Any]
    valid: bool
    concurrent: int  # sends of this id in flight at once, this one included
    answered: int
    body: bytes = b""  # as it came, to verify against other secrets too
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """An HTTP server on 127.0.0.1 (a free port) that verifies with `secrets` and logs."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.arrivals: list[Arrival] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._inflight: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"

    def script(self, *answers: Answer) -> None:
        """Answer the next requests so, in order; then 204 again."""
        with self._lock:
            self._script.extend(answers)

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def delivered(self) -> list[Arrival]:
        """The arrivals answered 2xx, in arrival order."""
        with self._lock:
            return [a for a in self.arrivals if 200 <= a.answered < 300]

    def wait_for(self, done: Callable[[Receiver], bool], timeout: float = 30.0) -> None:
        """Wait until `done(self)` holds; fail with what arrived otherwise."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                seen = [(a.type, a.answered) for a in self.arrivals]
                raise AssertionError(f"receiver still waiting after {timeout} s; saw {seen}")
            time.sleep(0.02)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                msg_id = self.headers.get("webhook-id", "")
                with receiver._lock:
                    receiver._inflight[msg_id] += 1
                    concurrent = receiver._inflight[msg_id]
                    answer = receiver._script.popleft() if receiver._script else Answer()
                valid = Inbox(list(receiver.secrets), lambda _: None).verify(body, headers)
                event = json.loads(body)
                app = ((event.get("data") or {}).get("application") or {}).get("id")
                arrival = Arrival(
                    time.monotonic(),
                    msg_id,
                    event.get("type", ""),
                    app,
                    event,
                    valid is not None,
                    concurrent,
                    answer.status,
                    body,
                    headers,
                )
                with receiver._lock:
                    receiver.arrivals.append(arrival)
                try:
                    time.sleep(answer.stall)
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout) or died
                finally:
                    with receiver._lock:
                        receiver._inflight[msg_id] -= 1

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler
