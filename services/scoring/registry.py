"""The enterprise registry: the managed industry list and the enterprises, upserted by USCC,
each change of what a ranking page shows kept as a version (`sc_enterprise_version`).

Never commits: the caller's transaction (one per request or CLI command) does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.scoring.errors import EnterpriseNotFound
from services.scoring.models import Enterprise, EnterpriseVersion, Industry
from services.scoring.schemas import EnterpriseIn
from shared import clock

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
        session.execute(_NEW_VERSIONS, {"usccs": [r.uscc for r in batch], "at": clock.now()})
    return Upserted(created=created, updated=len(rows) - created)


# A version for each enterprise of the batch whose shown fields differ from its latest version
# (or that has none): re-sending the same file appends nothing.
_NEW_VERSIONS = text(
    """
    INSERT INTO sc_enterprise_version (uscc, name, district, industry_code, stage, categories,
                                       valid_from)
    SELECT e.uscc, e.name, e.district, e.industry_code, e.stage, e.categories, :at
    FROM sc_enterprise e
    LEFT JOIN LATERAL (
        SELECT v.name, v.district, v.industry_code, v.stage, v.categories
        FROM sc_enterprise_version v WHERE v.uscc = e.uscc
        ORDER BY v.valid_from DESC, v.id DESC LIMIT 1
    ) last ON true
    WHERE e.uscc = ANY(:usccs)
      AND (last.name, last.district, last.industry_code, last.stage, last.categories)
          IS DISTINCT FROM (e.name, e.district, e.industry_code, e.stage, e.categories)
    ORDER BY e.uscc
    """
)


VERSION_IN_FORCE = (
    "v.valid_from <= :at DESC, CASE WHEN v.valid_from <= :at THEN v.valid_from END DESC, "
    "v.valid_from, v.id DESC"
)
"""The ORDER BY that puts first, of an enterprise's versions `v`, the one in force at `:at` —
or its first one when `:at` is before its history (migration 0013 backfilled a version from
its creation; versions are stamped with the application clock)."""


_VERSION_AT_SQL = f"SELECT v.* FROM sc_enterprise_version v WHERE v.uscc = :uscc ORDER BY {VERSION_IN_FORCE} LIMIT 1"  # noqa: S608, E501 (a module constant)


def enterprise_at(session: Session, uscc: str, at: datetime) -> EnterpriseVersion | None:
    """The version of an enterprise in force at `at` (`VERSION_IN_FORCE`), or None when it is
    not in the points database."""
    sql = text(_VERSION_AT_SQL)
    return session.scalars(
        select(EnterpriseVersion).from_statement(sql.bindparams(uscc=uscc, at=at))
    ).first()


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
