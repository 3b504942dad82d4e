"""What a governed action is (`ChangeKind`), what proposing one yields (`Proposal`) and who
decides it (`Decision`). The names live here so that settings validate
`INNOCREDIT_FOUR_EYES` without importing a service."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from sqlalchemy.orm import Session
from typing_extensions import TypeAliasType

from shared.changes.errors import TargetMoved

ChangeKindName = TypeAliasType(
    "ChangeKindName",
    Literal[
        "model-publish",
        "points-recompute",
        "calendar-load",
        "bank",
        "product",
        "fee-rate",
        "admin-client",
    ],
)
KIND_NAMES: tuple[str, ...] = get_args(ChangeKindName.__value__)
"""Every governed kind, as `INNOCREDIT_FOUR_EYES` names them."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """What a change would do, worked out when it is proposed: its `target` (one pending change
    per target), a one-line `summary`, the target's `expected` state (compared at approval), a
    readable `diff` against the current state, and `links` (a model's impact report)."""

    target: str
    summary: str
    expected: Mapping[str, Any]
    diff: Any
    links: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """Who approves: the maker (the domain's "who" fields name it), the checker and the
    checker's request."""

    change_id: uuid.UUID
    maker: str
    checker: str
    request_id: str | None


Describe = Callable[[Session, Mapping[str, Any]], Proposal]
Apply = Callable[[Session, Mapping[str, Any], Mapping[str, Any], Decision], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ChangeKind:
    """A governed action. `describe(session, params)` validates as the direct call would (the
    same problems) and returns the `Proposal`; `apply(session, params, expected, decision)`
    locks the target, raises `TargetMoved` unless it is as `expected`, runs the action and
    returns what the direct call would have answered. `secret` names fields of that answer
    shown once to the checker and never stored (a new client's secret)."""

    name: str
    service: str
    describe: Describe
    apply: Apply
    secret: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.name not in KIND_NAMES:
            raise ValueError(f"{self.name!r} is not one of {', '.join(KIND_NAMES)}")


def require_unmoved(expected: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Raise `TargetMoved` (409, with both states) unless the target is as it was proposed."""
    if dict(expected) != dict(current):
        raise TargetMoved(
            "The target changed since the change was proposed; reject it and propose again",
            extra={"expected": dict(expected), "current": dict(current)},
        )
