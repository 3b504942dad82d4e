"""Admission at the edge (`shared.admission`), with real concurrency against a real server.

An app that holds every request until the test lets it go stands behind the real edge stack
on a real uvicorn server; clients are real threads and sockets. So what is in flight and what
waits is known exactly: a burst beyond the in-flight limit but within the queue is all served,
in arrival order; a full queue and a wait past the maximum are `503 overloaded` with
`Retry-After`; a client that disconnects while queued leaves the line; and whatever happens,
the gate ends with nothing in flight and nobody waiting. The same bursts against the real
gateway and database are in `tests/loans/test_faults.py`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from shared.admission import Admission, AdmissionGate
from shared.middleware import edge_middleware, wrapped
from shared.settings import CoreSettings
from tests.servers import serve_app

PROBLEM = "application/problem+json"


class HeldApp:
    """Answers `200 <path>` once `released` is set (`/healthz` at once); records the order
    requests began in."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.released = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"]
                await send({"type": f"{kind}.complete"})
                if kind == "lifespan.shutdown":
                    return
        if scope["path"] != "/healthz":
            self.entered.append(scope["path"])
        while not self.released.is_set() and scope["path"] != "/healthz":
            await asyncio.sleep(0.005)
        if scope["path"] == "/boom":
            raise RuntimeError("escaped")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})


@contextmanager
def gated(
    limit: int, *, queued: int, wait: float = 30.0
) -> Iterator[tuple[str, AdmissionGate, HeldApp]]:
    """A held app behind the edge with this gate, on a real server: (URL, gate, app).

    On the way out the app is released and the gate must be empty: nothing in flight,
    nobody waiting (no slot leaked, whatever the test did)."""
    gate = AdmissionGate(limit, max_queued=queued, max_wait=wait)
    app = HeldApp()
    settings = CoreSettings.model_validate({"log_format": "text"})
    with serve_app(wrapped(app, edge_middleware(settings, admission=gate))) as url:
        try:
            yield url, gate, app
        finally:
            app.released.set()
            until(lambda: gate.in_flight == 0 and gate.queued == 0)


def until(condition: Callable[[], bool], *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


def is_overloaded(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("/overloaded")
    assert response.headers["retry-after"] == "1"


def test_a_burst_beyond_the_limit_but_within_the_queue_is_all_served() -> None:
    with gated(4, queued=26) as (url, gate, app), ThreadPoolExecutor(30) as pool:
        burst = [pool.submit(get, f"{url}/r{i}") for i in range(30)]
        until(lambda: gate.in_flight == 4 and gate.queued == 26)
        assert len(app.entered) == 4  # the others wait at the gate, not in the app
        app.released.set()
        assert [f.result().status_code for f in burst] == [200] * 30
        assert sorted(app.entered) == sorted(f"/r{i}" for i in range(30))
        until(lambda: gate.in_flight == 0 and gate.queued == 0)


def test_waiting_requests_are_admitted_first_come_first_served() -> None:
    with gated(1, queued=10) as (url, gate, app), ThreadPoolExecutor(8) as pool:
        answers: list[Future[httpx.Response]] = []
        for i in range(8):  # one at a time, so the order of arrival is known
            answers.append(pool.submit(get, f"{url}/r{i}"))
            until(lambda: len(app.entered) == 1 and gate.queued == len(answers) - 1)
        app.released.set()
        assert [f.result().status_code for f in answers] == [200] * 8
        assert app.entered == [f"/r{i}" for i in range(8)]


def test_a_full_queue_sheds_at_once_with_retry_after_and_health_is_never_shed() -> None:
    with gated(1, queued=2) as (url, gate, app), ThreadPoolExecutor(3) as pool:
        held = [pool.submit(get, f"{url}/r{i}") for i in range(3)]
        until(lambda: gate.in_flight == 1 and gate.queued == 2)
        started = time.monotonic()
        shed = get(f"{url}/one-too-many")
        assert time.monotonic() - started < 0.5
        is_overloaded(shed)
        assert "2 waiting" in shed.json()["detail"]
        assert "/one-too-many" not in app.entered
        assert get(f"{url}/healthz").status_code == 200  # probes pass a full gate
        app.released.set()
        assert [f.result().status_code for f in held] == [200] * 3


def test_a_request_that_waited_past_the_maximum_is_shed() -> None:
    with gated(1, queued=5, wait=0.4) as (url, gate, app), ThreadPoolExecutor(1) as pool:
        first = pool.submit(get, f"{url}/first")
        until(lambda: gate.in_flight == 1)
        started = time.monotonic()
        late = get(f"{url}/late")
        waited = time.monotonic() - started
        is_overloaded(late)
        assert 0.4 <= waited < 0.4 + 1.0, waited
        assert "waited 0.4 s" in late.json()["detail"]
        assert gate.queued == 0
        app.released.set()
        assert first.result().status_code == 200
        assert app.entered == ["/first"]  # the shed request never reached the app


def test_a_client_that_disconnects_while_queued_leaves_the_line() -> None:
    with gated(1, queued=1) as (url, gate, app), ThreadPoolExecutor(2) as pool:
        port = int(url.rsplit(":", 1)[1])
        first = pool.submit(get, f"{url}/first")
        until(lambda: gate.in_flight == 1)
        quitter = socket.create_connection(("127.0.0.1", port))
        quitter.sendall(b"GET /quitter HTTP/1.1\r\nHost: x\r\n\r\n")
        until(lambda: gate.queued == 1)
        quitter.close()
        until(lambda: gate.queued == 0)  # its place is free again...
        patient = pool.submit(get, f"{url}/patient")
        until(lambda: gate.queued == 1)  # ...so the next one queues instead of being shed
        app.released.set()
        assert first.result().status_code == 200
        assert patient.result().status_code == 200
        assert app.entered == ["/first", "/patient"]  # the quitter was never served


def test_slots_come_back_after_errors_and_clients_that_leave_mid_request() -> None:
    with gated(2, queued=4) as (url, gate, app), ThreadPoolExecutor(4) as pool:
        port = int(url.rsplit(":", 1)[1])
        boom = pool.submit(get, f"{url}/boom")
        leaving = socket.create_connection(("127.0.0.1", port))
        leaving.sendall(b"GET /leaving HTTP/1.1\r\nHost: x\r\n\r\n")
        until(lambda: gate.in_flight == 2)
        waiting = [pool.submit(get, f"{url}/w{i}") for i in range(2)]
        until(lambda: gate.queued == 2)
        leaving.close()  # gone mid-request: the app still finishes, then gives its slot back
        app.released.set()
        assert boom.result().status_code == 500  # the catch-all answered while it held a slot
        assert [f.result().status_code for f in waiting] == [200, 200]
        until(lambda: gate.in_flight == 0 and gate.queued == 0)


def test_a_queue_of_zero_sheds_at_once_as_before() -> None:
    with gated(1, queued=0) as (url, gate, app), ThreadPoolExecutor(1) as pool:
        held = pool.submit(get, f"{url}/held")
        until(lambda: gate.in_flight == 1)
        is_overloaded(get(f"{url}/shed"))
        app.released.set()
        assert held.result().status_code == 200


@pytest.mark.parametrize("race", ["cancelled", "timed out"])
def test_a_slot_handed_to_a_waiter_that_is_leaving_passes_on(race: str) -> None:
    """The hand-off races: the waiter given the slot is cancelled (server shutdown) or its
    wait runs out before it resumes. Either way the slot is neither lost nor doubled."""

    async def scenario() -> None:
        gate = AdmissionGate(1, max_queued=2, max_wait=0.05 if race == "timed out" else 30)
        assert gate.try_enter()
        first = asyncio.ensure_future(gate.enter())
        second = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0)
        assert gate.queued == 2
        if race == "timed out":
            time.sleep(0.1)  # both waits run out while the loop is busy...
        gate.leave()  # ...and the slot goes to the first in line
        if race == "cancelled":
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            assert await second is Admission.ADMITTED  # the slot passed on
        else:
            assert await first is Admission.ADMITTED  # handed over: it keeps it
            assert await second is Admission.WAITED_TOO_LONG
        assert (gate.in_flight, gate.queued) == (1, 0)
        gate.leave()
        assert (gate.in_flight, gate.queued) == (0, 0)

    asyncio.run(scenario())


def test_a_split_gateway_admits_and_queues_for_every_service_it_fronts() -> None:
    settings = CoreSettings.model_validate({"max_in_flight": 5, "max_queued": 7})
    gate = AdmissionGate.for_settings(settings, services=3)
    assert (gate.limit, gate.max_queued, gate.max_wait) == (15, 21, 2.0)
