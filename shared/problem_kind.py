"""One problem type of the catalogue (`shared.problem_catalogue`): its own module, so a part of
the catalogue kept elsewhere (`shared.changes.problem_types`) builds its entries without
importing the catalogue it belongs to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """A problem type: its slug, HTTP status, title, what it means and what to do."""

    slug: str
    status: int | None  # None only for `http-error`: it carries the status it answers
    title: str
    means: str
    todo: str
