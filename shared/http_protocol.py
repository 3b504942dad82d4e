"""The HTTP/1.1 protocol our servers run: uvicorn's httptools protocol, reading UTF-8 URLs.

curl sends a URL as typed: `curl '…/v1/scoring/rankings?district=高港区'` puts the UTF-8
bytes of 高港区 on the request line unencoded. RFC 9112 allows only ASCII there, and both
of uvicorn's parsers (httptools and h11) answer such a line with a plain-text
`400 Invalid HTTP request received.` before any ASGI app sees the request. Every district
name is Chinese, so `Utf8UrlProtocol` percent-encodes the bytes outside ASCII of each request
line before the parser reads it — what the client should have done (RFC 3986 §2.1) — and the
app sees `district=高港区` exactly as if `%E9%AB%98%E6%B8%AF%E5%8C%BA` had been sent. A
request the parser still cannot read is answered with a `400 bad-request` problem+json that
says how to encode a URL, never plain text.

Only request lines are touched: the protocol knows where one starts (the connection's first
byte, and the first byte after a message the parser completed) and ends (its LF). Headers
and bodies pass through as they came.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.errors import PROBLEM_MEDIA_TYPE
from shared.problems import Problem, problem_response

HTTP_PROTOCOL = "shared.http_protocol:Utf8UrlProtocol"
"""uvicorn's `http=` (or `--http`) for `Utf8UrlProtocol`."""

UNREADABLE_REQUEST = (
    "The request could not be read as HTTP/1.1 (RFC 9112): a malformed request line or "
    "header, or a request line and headers over the server's size limit (about 80 KiB). "
    "A URL must also be ASCII: percent-encode other characters (RFC 3986 §2.1), e.g. "
    "?district=%E9%AB%98%E6%B8%AF%E5%8C%BA for 高港区 — `curl --get --data-urlencode "
    "'district=高港区' URL` does it for you"
)


def percent_encode_non_ascii(line: bytes) -> bytes:
    """`line` with every byte outside ASCII written as `%XX` (upper-case hex)."""
    if line.isascii():
        return line
    return b"".join(b"%%%02X" % byte if byte > 0x7F else bytes((byte,)) for byte in line)


class Utf8UrlProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with UTF-8 in request lines read as percent-encoded and
    unreadable requests answered as problem+json (use as `uvicorn.run(..., http=...)`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_request_line = True  # the next byte belongs to a request line
        self._between_messages = True  # the parser completed a message and began no other

    def data_received(self, data: bytes) -> None:
        """Encode what belongs to a request line, then parse as uvicorn does."""
        if self._in_request_line:
            data = self._encode_request_line(data)
        super().data_received(data)
        if self._between_messages:
            self._in_request_line = True

    def _encode_request_line(self, data: bytes) -> bytes:
        start = len(data) - len(data.lstrip(b"\r\n"))  # empty lines before a request line
        end = data.find(b"\n", start)
        if end < 0:  # the line goes on in the next packet
            return data[:start] + percent_encode_non_ascii(data[start:])
        self._in_request_line = False
        return data[:start] + percent_encode_non_ascii(data[start:end]) + data[end:]

    def on_message_begin(self) -> None:
        """The parser started a message."""
        self._between_messages = False
        super().on_message_begin()

    def on_message_complete(self) -> None:
        """The parser read a whole message: the next byte after it starts a request line."""
        self._between_messages = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """Answer a request the parser cannot read as `400 bad-request` problem+json."""
        problem = Problem.about("bad-request", UNREADABLE_REQUEST)
        body = problem_response(problem, instance=None, request_id=None).body
        defaults = self.server_state.default_headers  # date, server
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in defaults]
        head += [
            b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
