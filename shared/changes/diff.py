"""A readable difference between two JSON documents: the paths whose values differ."""

from __future__ import annotations

from typing import Any


def json_diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """`[{"path", "before", "after"}, …]` for every leaf that differs, objects compared key by
    key (a missing key is `null`), lists and scalars as wholes; `[]` when equal."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            out += json_diff(before.get(key), after.get(key), sub)
        return out
    if before == after:
        return []
    return [{"path": path, "before": before, "after": after}]
