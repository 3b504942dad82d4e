"""Outbound HTTP: fetching the gateway's JWKS for services running on their own."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx


def jwks_loader(
    url: str, *, timeout_seconds: float = 5.0
) -> Callable[[], Sequence[Mapping[str, Any]]]:
    """Return a `KeySet` loader that GETs a JWKS document (one pooled client, short timeout)."""
    client = httpx.Client(timeout=timeout_seconds)

    def load() -> Sequence[Mapping[str, Any]]:
        response = client.get(url)
        response.raise_for_status()
        keys = response.json().get("keys", [])
        return [k for k in keys if isinstance(k, dict)]

    return load
