"""The split gateway's proxy (services/gateway/proxy.py) between two real uvicorn servers: what
the upstream service receives — the method, path, query, headers and body as sent, no
hop-by-hop headers, and a request without a body forwarded without one (not as an empty chunked
stream) — and what the client gets back."""

from __future__ import annotations

import json
import socket

import httpx
from starlette.types import Message, Receive, Scope, Send

from services.gateway.proxy import ServiceProxy
from tests.servers import serve_app


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """An upstream that answers with what it received."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message: Message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode(),
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
        "body": body.decode(),
    }
    payload = json.dumps(seen).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-upstream", b"echo")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def test_requests_reach_the_service_as_sent_and_bodiless_ones_without_a_body() -> None:
    with serve_app(echo) as upstream:
        proxy = ServiceProxy("scoring", upstream, timeout_seconds=5)
        with serve_app(proxy) as front, httpx.Client(base_url=front, timeout=10) as client:
            got = client.get(
                "/v1/scoring/x?a=1&b=%E6%B3%B0", headers={"X-Request-ID": "r1", "TE": "trailers"}
            )
            assert got.status_code == 200
            assert got.headers["x-upstream"] == "echo"
            seen = got.json()
            assert (seen["method"], seen["path"], seen["query"]) == (
                "GET",
                "/v1/scoring/x",
                "a=1&b=%E6%B3%B0",
            )
            assert seen["headers"]["x-request-id"] == "r1"
            assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
            assert "te" not in seen["headers"]
            assert "transfer-encoding" not in seen["headers"]
            assert seen["headers"].get("content-length", "0") == "0"
            assert seen["body"] == ""

            posted = client.post("/v1/loans/y", json={"amount": "1.00"}).json()
            assert posted["method"] == "POST"
            assert json.loads(posted["body"]) == {"amount": "1.00"}

            def chunks() -> list[bytes]:
                return [b'{"a":', b"1}"]

            streamed = client.post("/v1/loans/z", content=iter(chunks())).json()
            assert streamed["body"] == '{"a":1}'


def test_an_encoded_path_and_a_streamed_download_pass_through_unchanged() -> None:
    """The path bytes go upstream as the client sent them (no re-quoting: an encoded `/` stays
    encoded; our servers percent-encode raw UTF-8 before this point), and a response body
    sent in several messages arrives whole, in order, with its headers."""

    async def chunked(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = scope["raw_path"]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-ndjson"), (b"x-raw-path", raw)],
            }
        )
        for i in range(50):
            await send({"type": "http.response.body", "body": b"%d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with serve_app(chunked) as upstream:
        proxy = ServiceProxy("guarantee", upstream, timeout_seconds=5)
        with serve_app(proxy) as front:
            host, port = front.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(
                    b"GET /v1/guarantee/%E6%B3%B0%2F?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close"
                    b"\r\n\r\n"
                )
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"x-raw-path: /v1/guarantee/%E6%B3%B0%2F" in head
    assert b"transfer-encoding: chunked" in head.lower()
    decoded = b"".join(body.split(b"\r\n")[1::2])  # the chunks' data, without their sizes
    assert decoded == b"".join(b"%d\n" % i for i in range(50))


def test_an_unreachable_service_is_a_503_problem_with_retry_after() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proxy = ServiceProxy("loans", closed, timeout_seconds=5)
    with serve_app(proxy) as front:
        r = httpx.get(f"{front}/v1/loans/products", timeout=10)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "2"
    assert "loans service is not reachable" in r.json()["detail"]
