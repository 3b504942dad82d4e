"""The gateway's HTTP/1.1 server reads a URL with raw UTF-8 (curl sends 高港区 as typed) as if
it were percent-encoded, and answers a request it cannot read as problem+json — over a raw
socket, against `innocredit serve` as a real process."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shared.http_protocol import percent_encode_non_ascii
from tests.factories import A_INDICATORS, B_INDICATORS, Creds, Factory
from tests.periods import PeriodPool
from tests.processes import free_port_block, innocredit, wait_ready

pytestmark = pytest.mark.slow


def test_only_bytes_outside_ascii_are_encoded() -> None:
    assert percent_encode_non_ascii(b"GET /a?b=c%20d HTTP/1.1") == b"GET /a?b=c%20d HTTP/1.1"
    assert percent_encode_non_ascii("?district=高港区".encode()) == (
        b"?district=%E9%AB%98%E6%B8%AF%E5%8C%BA"
    )
    assert percent_encode_non_ascii(b"\xff") == b"%FF"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[int]:
    port = free_port_block(1)
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {"DATABASE_URL": database_url, "INNOCREDIT_LOG_FORMAT": "text"}
    with innocredit(["serve", "--port", str(port)], env=env, log=log) as proc:
        wait_ready(f"http://127.0.0.1:{port}/readyz", proc=proc, log=log)
        yield port


def _response(reader: Any) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (with Content-Length) from a socket's file."""
    status = int(reader.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers.get("content-length", "0")))


def _get(target: str, token: str, *, close: bool = False) -> bytes:
    """A GET as curl writes it: the target's characters as UTF-8 bytes, unencoded."""
    return (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    ).encode()


def test_a_district_in_raw_utf8_gets_the_right_answer(
    server: int, factory: Factory, periods: PeriodPool, make_client: Callable[..., Creds]
) -> None:
    period = periods.fresh()
    gaogang = factory.ranked(
        period,
        [A_INDICATORS, B_INDICATORS, A_INDICATORS],
        enterprise_overrides=[
            {"district": "高港区"},
            {"district": "高港区"},
            {"district": "海陵区"},
        ],
    )[:2]
    creds = make_client("bureau")
    token = httpx.post(
        f"http://127.0.0.1:{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    ).json()["access_token"]
    target = f"/v1/scoring/rankings?period={period}&district=高港区"

    with socket.create_connection(("127.0.0.1", server), timeout=30) as sock:
        reader = sock.makefile("rb")
        # two requests on one connection: each request line is read afresh
        for _ in range(2):
            sock.sendall(_get(target, token))
            status, _, body = _response(reader)
            assert status == 200, body
            ranking = json.loads(body)
            assert sorted(e["uscc"] for e in ranking["items"]) == sorted(gaogang)
            assert {e["district"] for e in ranking["items"]} == {"高港区"}
        # a request line that arrives in two packets, split inside 港
        raw = _get(target, token, close=True)
        cut = raw.index("港".encode()) + 1
        sock.sendall(raw[:cut])
        time.sleep(0.2)
        sock.sendall(raw[cut:])
        status, _, body = _response(reader)
        assert status == 200, body
        assert len(json.loads(body)["items"]) == 2


def test_an_unreadable_request_is_a_problem_not_plain_text(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
        status, headers, body = _response(sock.makefile("rb"))
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"] == "/problems/bad-request"
    assert problem["title"] == "Bad request"
    assert "percent-encode" in problem["detail"]
    assert "%E9%AB%98%E6%B8%AF%E5%8C%BA" in problem["detail"]
