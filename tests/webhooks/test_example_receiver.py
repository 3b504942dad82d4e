"""examples/webhook_receiver.py as a bank runs it: verifies, dedupes, refuses forgeries."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.loans.webhooks.signing import secret_bytes, signature_header
from tests.processes import free_port_block

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port_block(1)
    out = tmp_path_factory.mktemp("receiver") / "out.log"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--port", str(port), "--secret", SECRET],
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url, out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(url: str, msg_id: str, body: bytes, secret: str = SECRET) -> int:
    at = datetime.now(UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(secret_bytes(secret), None, msg_id, at, body),
        "content-type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=5).status_code


def test_the_example_handles_each_event_once_and_refuses_forgeries(
    receiver: tuple[str, Path],
) -> None:
    url, out = receiver
    app = "0b5c3f1e-0000-4000-8000-000000000001"
    event = {"id": "evt_1", "type": "application.decided", "data": {"application": {"id": app}}}
    body = json.dumps(event, separators=(",", ":")).encode()
    assert _post(url, "evt_1", body) == 204
    assert _post(url, "evt_1", body) == 204  # a redelivery: answered, not handled again
    forged = "whsec_" + "B" * 43 + "="
    assert _post(url, "evt_2", body.replace(b"evt_1", b"evt_2"), forged) == 400
    assert httpx.post(url, content=body, timeout=5).status_code == 400  # no headers at all
    time.sleep(0.2)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [{"id": "evt_1", "type": "application.decided", "about": app}]
