"""Admission at the edge: at most `limit` requests in flight per process, a bounded FIFO queue
in front of them, and a fast `503 overloaded` once the queue is full or a request has waited
too long.

Why a queue and not immediate shedding: fifty bank branches at nine in the morning, or one
bank retrying in parallel with one Idempotency-Key, is a burst, not an overload; it drains in
a fraction of a second, so its requests should wait their turn rather than be refused. Why
the queue is bounded in length and in waiting time: without any limit, an overload queues
requests for worker threads and pooled connections until clients time out, and the server
still works through the requests they gave up on, so a short burst above capacity turns into
a collapse (found by `bench/load.py`). A request that waited `max_wait` seconds, or finds
`max_queued` others waiting, is refused before any work is done on it; a request whose
client disconnects while it waits leaves the queue at once.

The gate lives on the process's one event loop, so it needs no lock; a slot freed while
someone waits is handed straight to the longest-waiting request (FIFO, no barging).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import Problem, send_problem
from shared.settings import CoreSettings

log = logging.getLogger("innocredit.access")

HEALTH_PATHS = ("/healthz", "/readyz")
JWKS_PATH = "/.well-known/jwks.json"


class Admission(enum.Enum):
    """How a request's wait at the gate ended."""

    ADMITTED = "admitted"  # it holds a slot: run it, then `leave()`
    QUEUE_FULL = "queue full"
    WAITED_TOO_LONG = "waited too long"
    ABANDONED = "abandoned"  # its client went away while it waited


class AdmissionGate:
    """`limit` slots and a FIFO queue of at most `max_queued` waiting at most `max_wait` s."""

    def __init__(self, limit: int, *, max_queued: int, max_wait: float) -> None:
        self.limit = limit
        self.max_queued = max_queued
        self.max_wait = max_wait
        self.in_flight = 0
        self.most_queued = 0  # the longest the line has been: what the bursts so far needed
        self._waiting: deque[asyncio.Future[None]] = deque()

    @classmethod
    def for_settings(cls, settings: CoreSettings, *, services: int = 1) -> AdmissionGate:
        """The gate a process of `settings` runs; a split gateway fronting `services` services
        admits and queues as many as they do together."""
        return cls(
            settings.max_in_flight * services,
            max_queued=settings.max_queued * services,
            max_wait=settings.max_queue_wait_seconds,
        )

    @property
    def queued(self) -> int:
        """Requests waiting for a slot now."""
        return len(self._waiting)

    def try_enter(self) -> bool:
        """Take a free slot if there is one and nobody is waiting for it."""
        if self.in_flight < self.limit and not self._waiting:
            self.in_flight += 1
            return True
        return False

    async def enter(self, *, gone: asyncio.Future[None] | None = None) -> Admission:
        """Take a slot, waiting in line for one if need be; `gone` completes if the client
        disconnects. Only `ADMITTED` holds a slot (give it back with `leave`)."""
        if self.try_enter():
            return Admission.ADMITTED
        if len(self._waiting) >= self.max_queued:
            return Admission.QUEUE_FULL
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        self.most_queued = max(self.most_queued, len(self._waiting))
        watched = {turn} if gone is None else {turn, gone}
        try:
            await asyncio.wait(watched, timeout=self.max_wait, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled (shutdown): neither keep a slot nor a place in line
            self._withdraw(turn)
            raise
        if turn.done():  # `leave` handed it a slot, even if the wait also ran out just then
            return Admission.ADMITTED
        self._withdraw(turn)
        if gone is not None and gone.done():
            return Admission.ABANDONED
        return Admission.WAITED_TOO_LONG

    def leave(self) -> None:
        """Give a slot back: to the longest-waiting request if any, else to the pool."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot changes hands; `in_flight` stays
                return
        self.in_flight -= 1

    def _withdraw(self, turn: asyncio.Future[None]) -> None:
        """Take `turn` out of line; if a slot was already handed to it, pass the slot on."""
        if turn.done():
            self.leave()
            return
        turn.cancel()
        self._waiting.remove(turn)


class AdmissionMiddleware:
    """Admit a request through `gate` once its whole body has arrived; answer the ones the
    gate refuses `503 overloaded` with `Retry-After`.

    A request takes its place only once its body is in (bounded by the body limit outside
    this middleware, and by `body_timeout` seconds, then `408`): a client that sends slowly,
    or not at all, holds neither a slot nor a place in line. Health probes and the JWKS
    (which split services need to verify any token) are never queued or shed.
    """

    def __init__(
        self,
        app: ASGIApp,
        gate: AdmissionGate,
        *,
        body_timeout: float = 60.0,
        exempt: tuple[str, ...] = (*HEALTH_PATHS, JWKS_PATH),
    ) -> None:
        self.app = app
        self.gate = gate
        self.body_timeout = body_timeout
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.body_timeout):  # no task per request, unlike wait_for
                body = await _read_body(receive)
        except TimeoutError:
            await send_problem(scope, send, self._timed_out())
            return
        if body is None:  # the client went away before sending its body
            return
        admission = await self._admit(receive)
        if admission is Admission.ABANDONED:
            return
        if admission is not Admission.ADMITTED:
            log.warning(
                "overloaded: request shed", extra={"path": scope["path"], "reason": admission.value}
            )
            await send_problem(scope, send, self._overloaded(admission))
            return
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.gate.leave()

    async def _admit(self, receive: Receive) -> Admission:
        """Pass the gate; while waiting in line, watch for the client going away."""
        gate = self.gate
        if gate.try_enter():  # the common case: no watcher task needed
            return Admission.ADMITTED
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            admission = await gate.enter(gone=gone)
        finally:
            gone.cancel()
        if admission is Admission.ADMITTED and gone.done() and not gone.cancelled():
            gate.leave()  # admitted just as the client left: nobody to answer
            return Admission.ABANDONED
        return admission

    def _overloaded(self, admission: Admission) -> Problem:
        gate = self.gate
        if admission is Admission.QUEUE_FULL:
            detail = (
                f"{gate.limit} requests are in flight and {gate.max_queued} waiting; retry shortly"
            )
        else:
            detail = (
                f"The request waited {gate.max_wait:g} s for one of {gate.limit} slots; "
                "retry shortly"
            )
        return Problem(
            503, "overloaded", "Service unavailable", detail, headers={"Retry-After": "1"}
        )

    def _timed_out(self) -> Problem:
        return Problem(
            408,
            "request-timeout",
            "Request timeout",
            f"The request body did not arrive within {self.body_timeout:g} s",
            headers={"Connection": "close"},
        )


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (after the whole body, nothing else can arrive)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the buffered body, then the client's later messages."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
