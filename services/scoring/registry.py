"""The enterprise registry: the managed industry list and the enterprises, upserted by USCC.

Never commits: the caller's transaction (one per request or CLI command) does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.scoring.errors import EnterpriseNotFound
from services.scoring.models import Enterprise, Industry
from services.scoring.schemas import EnterpriseIn

BATCH = 1000
"""Rows per INSERT … ON CONFLICT statement of a bulk upsert."""


@dataclass(frozen=True, slots=True)
class Upserted:
    """Rows created and updated by a bulk upsert."""

    created: int
    updated: int


RowProblems = dict[int, list[tuple[str, str]]]
"""Problems of an upload the row model cannot see: row index → (field, message) pairs."""


def industry_codes(session: Session) -> set[str]:
    """The codes of the managed industry list."""
    return set(session.scalars(select(Industry.code)))


def list_industries(
    session: Session, *, after: tuple[int, str] | None = None, limit: int | None = None
) -> Sequence[Industry]:
    """The managed industry list in display order (position, code): up to `limit + 1` after
    `after`, or all of it when `limit` is None."""
    stmt = select(Industry)
    if after is not None:
        stmt = stmt.where(tuple_(Industry.position, Industry.code) > tuple_(*after))
    stmt = stmt.order_by(Industry.position, Industry.code)
    return session.scalars(stmt if limit is None else stmt.limit(limit + 1)).all()


def put_industry(session: Session, code: str, name: str, position: int) -> Industry:
    """Add an industry to the list or rename it (codes are permanent: enterprises use them)."""
    stmt = insert(Industry).values(code=code, name=name, position=position)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Industry.code], set_={"name": name, "position": position}
        )
    )
    return session.scalars(
        select(Industry).where(Industry.code == code).execution_options(populate_existing=True)
    ).one()


def check_enterprises(session: Session, rows: Sequence[EnterpriseIn]) -> RowProblems:
    """Row problems the row model cannot see: unknown industries, duplicate codes."""
    known = industry_codes(session)
    problems: RowProblems = {}
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.industry not in known:
            problems.setdefault(index, []).append(
                (
                    "industry",
                    f"unknown industry {row.industry!r}; known: {', '.join(sorted(known))}",
                )
            )
        if row.uscc in seen:
            problems.setdefault(index, []).append(
                ("uscc", f"duplicate of row {seen[row.uscc] + 1}")
            )
        seen.setdefault(row.uscc, index)
    return problems


def upsert_enterprises(session: Session, rows: Sequence[EnterpriseIn]) -> Upserted:
    """Insert or update enterprises by USCC."""
    created = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        stmt = insert(Enterprise).values(
            [
                {
                    "uscc": r.uscc,
                    "name": r.name,
                    "district": r.district,
                    "industry_code": r.industry,
                    "stage": r.stage,
                    "categories": list(r.categories),
                    "founded_on": r.founded_on,
                }
                for r in batch
            ]
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[Enterprise.uscc],
            set_={
                "name": stmt.excluded.name,
                "district": stmt.excluded.district,
                "industry_code": stmt.excluded.industry_code,
                "stage": stmt.excluded.stage,
                "categories": stmt.excluded.categories,
                "founded_on": stmt.excluded.founded_on,
                "updated_at": func.now(),
            },
        ).returning(text("xmax = 0"))
        created += sum(1 for (inserted,) in session.execute(upsert) if inserted)
    return Upserted(created=created, updated=len(rows) - created)


def get_enterprise(session: Session, uscc: str) -> tuple[Enterprise, str]:
    """Return an enterprise and its industry's name, or raise `EnterpriseNotFound`."""
    row = session.execute(
        select(Enterprise, Industry.name)
        .join(Industry, Industry.code == Enterprise.industry_code)
        .where(Enterprise.uscc == uscc)
    ).one_or_none()
    if row is None:
        raise EnterpriseNotFound(f"No enterprise with USCC {uscc} in the points database")
    return row[0], row[1]
