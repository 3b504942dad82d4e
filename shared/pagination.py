"""Cursor pagination: signed opaque cursors, the `limit` parameter and the page envelope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, overload

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from shared.app import settings_of
from shared.errors import InvalidCursor

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A", int, str, datetime, uuid.UUID)
B = TypeVar("B", int, str, datetime, uuid.UUID)
C = TypeVar("C", int, str, datetime, uuid.UUID)

_READ: dict[type, Callable[[Any], Any]] = {
    int: int,
    str: str,
    datetime: lambda v: datetime.fromisoformat(str(v)),
    uuid.UUID: lambda v: uuid.UUID(str(v)),
}

MAX_LIMIT = 500
DEFAULT_LIMIT = 50

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT})"),
]
CursorParam = Annotated[
    str | None, Query(max_length=1024, description="Opaque cursor from a previous page")
]


class Page(BaseModel, Generic[T]):
    """One page of a list: the items in stable order and the cursor of the next page."""

    items: list[T]
    next_cursor: str | None


def _mac(key: bytes, context: str, payload: bytes) -> bytes:
    return hmac.new(key, context.encode() + b"\x00" + payload, hashlib.sha256).digest()[:16]


def encode_cursor(values: Sequence[Any], *, key: bytes, context: str) -> str:
    """Encode sort-key `values` as an opaque cursor bound to `context` (e.g. list + tenant)."""
    payload = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    token = payload + _mac(key, context, payload)
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(cursor: str, *, key: bytes, context: str) -> list[Any]:
    """Return the sort-key values of `cursor`; a forged or foreign cursor is `InvalidCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError as exc:
        raise InvalidCursor("The cursor is not one this API issued") from exc
    payload, mac = raw[:-16], raw[-16:]
    if len(raw) <= 16 or not hmac.compare_digest(mac, _mac(key, context, payload)):
        raise InvalidCursor("The cursor is not one this API issued for this list")
    values = json.loads(payload)
    if not isinstance(values, list):
        raise InvalidCursor("The cursor is not one this API issued")
    return values


def next_cursor(
    rows: Sequence[R],
    limit: int,
    position: Callable[[R], Sequence[Any]],
    *,
    key: bytes,
    context: str,
) -> str | None:
    """The cursor after a page: `rows` were fetched as up to `limit + 1` in the list's order,
    so one more than `limit` means more follow, and the next page starts after row `limit`
    (at its `position`, the sort-key values). None on the last page."""
    if len(rows) <= limit:
        return None
    return encode_cursor(position(rows[limit - 1]), key=key, context=context)


@dataclass(frozen=True, slots=True)
class Keyset:
    """One request for a page of a keyset-ordered list: where the page starts (`after`, the
    sort-key values of the cursor, or None for the first page), how long it is, and how to
    answer it.

    `context` binds cursors to the list and to everything that shapes it (the tenant, the
    filters): a cursor is only accepted by the list that issued it.
    """

    key: bytes
    context: str
    after: list[Any] | None
    limit: int

    def first(self, kind: type[A]) -> A | None:
        """The cursor's one sort-key value as `kind`, or None on the first page."""
        values = self.values(kind)
        return None if values is None else values[0]

    @overload
    def values(self, a: type[A], /) -> tuple[A] | None: ...
    @overload
    def values(self, a: type[A], b: type[B], /) -> tuple[A, B] | None: ...
    @overload
    def values(self, a: type[A], b: type[B], c: type[C], /) -> tuple[A, B, C] | None: ...

    def values(self, *kinds: type) -> tuple[Any, ...] | None:
        """The cursor's sort-key values as `kinds` (int, str, datetime from ISO text, UUID),
        or None on the first page. A signed cursor of another shape is `InvalidCursor`."""
        if self.after is None:
            return None
        if len(self.after) != len(kinds):
            raise InvalidCursor("The cursor is not one this API issued for this list")
        try:
            return tuple(_READ[kind](value) for kind, value in zip(kinds, self.after, strict=True))
        except (TypeError, ValueError) as exc:
            raise InvalidCursor("The cursor is not one this API issued for this list") from exc

    def page(
        self,
        rows: Sequence[R],
        position: Callable[[R], Sequence[Any]],
        item: Callable[[R], T],
    ) -> Page[T]:
        """The page for `rows` fetched as up to `limit + 1` after `after`: the first `limit`
        as items, and the next page's cursor (at `position` of the last) when more follow."""
        return Page[T](
            items=[item(r) for r in rows[: self.limit]],
            next_cursor=next_cursor(rows, self.limit, position, key=self.key, context=self.context),
        )


@dataclass(frozen=True, slots=True)
class Paging:
    """What a list request asks for — `?limit=` and `?cursor=` — and the key this deployment
    signs cursors with: every list route takes it as `paging: PageParams`."""

    limit: int
    cursor: str | None
    key: bytes

    def keyset(self, context: str) -> Keyset:
        """The request's place in the list `context` names (a forged or foreign cursor is
        `InvalidCursor`)."""
        after = decode_cursor(self.cursor, key=self.key, context=context) if self.cursor else None
        return Keyset(self.key, context, after, self.limit)


async def _paging(
    request: Request, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Paging:
    """The `Paging` dependency (`async`: FastAPI would run a `def` one in a worker thread)."""
    return Paging(limit, cursor, settings_of(request).cursor_key)


PageParams = Annotated[Paging, Depends(_paging)]
"""`?limit=` (1-500, default 50) and `?cursor=` of a list route, as one `Paging`."""
