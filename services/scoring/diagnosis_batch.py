"""A whole period's 诊断书 from one read: `PeriodBook.read` takes the ranking, every firm's
points, attributes and indicators in one snapshot, and `book.diagnosis(uscc)` builds the
same `Diagnosis` the API builds for that firm (`diagnosis.assemble` on the same inputs),
with no database — so the batch render (`innocredit diagnosis render`) can fork workers
that share the book.

What the API reads by SQL, the book computes in Python the same way: a percentile is
`round(100 × (below + ½ equal) / n, 2)` over the peers' values compared as numbers (the
stored strings as `Decimal`s, as `::numeric` compares them), and a rank in a district or an
industry is one plus the firms there ahead in the ranking's order (points, exact total,
USCC). The tests compare the two for every firm of a period.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.scoring import pointsmodel
from services.scoring.diagnosis import MIN_INDUSTRY_PEERS, DiagnosisInputs, assemble
from services.scoring.model_versions import get_model
from services.scoring.models import Enterprise, IndicatorRow, Industry, Points, Ranking
from services.scoring.paths_read import RunOrder, diagnosis_paths, firm_of
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.ranking import ranking_of, versions_of
from services.scoring.schemas import Diagnosis
from shared import vocab
from shared.as_of import Versions
from shared.auth.tenancy import AllBanks
from shared.eligibility import ProductLadder, ProductLadders

Group = tuple[str, str | None]  # (stage, industry or None for the whole stage)


@dataclass(frozen=True, slots=True)
class Firm:
    """One ranked firm as the book holds it."""

    uscc: str
    name: str
    district: str
    industry: str
    stage: str
    categories: tuple[str, ...]
    points: int
    total_exact: Decimal
    rank: int
    rank_total: int
    breakdown: Sequence[Mapping[str, Any]]
    values: Mapping[str, Decimal | None]
    row: tuple[Any, ...] | None  # the indicators as the paths read them (`paths_read.firm_of`)
    points_row: Points  # transient copies: they outlive the session


def _numeric(breakdown: Sequence[Mapping[str, Any]]) -> dict[str, Decimal]:
    return {
        item["indicator"]: Decimal(item["value"])
        for item in breakdown
        if item.get("value") is not None
    }


@dataclass
class PeriodBook:
    """Everything the diagnoses of a period's ranking are made of (read once)."""

    period: int
    versions: Versions
    model: ModelDefinition
    ranking: Ranking
    firms: dict[str, Firm]
    industry_names: dict[str, str]
    ladders: dict[frozenset[str], list[ProductLadder]]
    order: RunOrder
    sorted_values: dict[tuple[Group, str], list[Decimal]]
    group_sizes: dict[Group, int]
    district_ranks: dict[str, tuple[int, int]]
    industry_ranks: dict[str, tuple[int, int]]

    @classmethod
    def read(cls, session: Session, period: int, ladders: ProductLadders, on: date) -> PeriodBook:
        """Read the period's current ranking (`PointsNotFound` without one) and every bank's
        product ladders on `on` for each set of categories: call it in one REPEATABLE READ
        transaction, so every part is of the same instant."""
        stored = ranking_of(session, period)
        ranking = Ranking(
            period=stored.period,
            model_version=stored.model_version,
            run_id=stored.run_id,
            published_at=stored.published_at,
        )
        model = ModelDefinition.model_validate(get_model(session, ranking.model_version).definition)
        enterprises = {e.uscc: e for e in session.scalars(select(Enterprise))}
        rows: dict[tuple[str, int], IndicatorRow] = {
            (r.uscc, r.period): r
            for r in session.scalars(
                select(IndicatorRow).where(IndicatorRow.period.in_((period, period - 1)))
            )
        }
        firms: dict[str, Firm] = {}
        stmt = select(Points).where(Points.run_id == ranking.run_id).order_by(Points.rank)
        for p in session.scalars(stmt):
            e = enterprises[p.uscc]
            current, previous = rows.get((p.uscc, period)), rows.get((p.uscc, period - 1))
            raw: dict[str, Decimal | None] = {
                name: None if current is None else Decimal(getattr(current, name))
                for name in vocab.RAW_INDICATORS
            }
            previous_revenue = None if previous is None else previous.revenue
            values, _ = pointsmodel.derive(raw, previous_revenue)
            row = (
                None
                if current is None
                else (
                    p.uscc,
                    None,
                    None,
                    None,
                    *(getattr(current, n) for n in vocab.RAW_INDICATORS),
                    previous_revenue,
                )
            )
            copy = Points(**{c.key: getattr(p, c.key) for c in Points.__table__.columns})
            firms[p.uscc] = Firm(
                uscc=p.uscc,
                name=e.name,
                district=e.district,
                industry=e.industry_code,
                stage=e.stage,
                categories=tuple(e.categories),
                points=p.points,
                total_exact=p.total_exact,
                rank=p.rank,
                rank_total=p.rank_total,
                breakdown=p.breakdown,
                values=values,
                row=row,
                points_row=copy,
            )
        names = {i.code: i.name for i in session.scalars(select(Industry))}
        sets = {frozenset(f.categories) for f in firms.values()}
        by_set = {s: ladders(session, AllBanks(), sorted(s), on) for s in sets}
        return cls.of(ranking, model, firms, names, by_set)

    @classmethod
    def of(
        cls,
        ranking: Ranking,
        model: ModelDefinition,
        firms: dict[str, Firm],
        industry_names: dict[str, str],
        ladders: dict[frozenset[str], list[ProductLadder]],
    ) -> PeriodBook:
        """The book of `firms`: their peers' sorted values and their ranks, computed now
        (before a fork, so workers share them)."""
        values: dict[tuple[Group, str], list[Decimal]] = defaultdict(list)
        sizes: dict[Group, int] = defaultdict(int)
        for firm in firms.values():
            for group in ((firm.stage, None), (firm.stage, firm.industry)):
                sizes[group] += 1
                for name, value in _numeric(firm.breakdown).items():
                    values[(group, name)].append(value)
        for column in values.values():
            column.sort()
        order = sorted(firms.values(), key=lambda f: (-f.points, -f.total_exact, f.uscc))
        district_ranks, industry_ranks = {}, {}
        by_district: dict[str, int] = defaultdict(int)
        by_industry: dict[str, int] = defaultdict(int)
        for firm in order:
            by_district[firm.district] += 1
            by_industry[firm.industry] += 1
            district_ranks[firm.uscc] = by_district[firm.district]
            industry_ranks[firm.uscc] = by_industry[firm.industry]
        return cls(
            period=ranking.period,
            versions=versions_of(ranking),
            model=model,
            ranking=ranking,
            firms=firms,
            industry_names=industry_names,
            ladders=ladders,
            order=RunOrder.of([(f.points, f.total_exact, f.uscc) for f in firms.values()]),
            sorted_values=dict(values),
            group_sizes=dict(sizes),
            district_ranks={
                u: (r, by_district[firms[u].district]) for u, r in district_ranks.items()
            },
            industry_ranks={
                u: (r, by_industry[firms[u].industry]) for u, r in industry_ranks.items()
            },
        )

    def usccs(self, district: str | None = None) -> list[str]:
        """The ranked firms (of `district`), in rank order."""
        return [u for u, f in self.firms.items() if district is None or f.district == district]

    def inputs(self, uscc: str) -> DiagnosisInputs:
        """What `assemble` makes the firm's diagnosis of (as `diagnosis_read.diagnose` reads
        it)."""
        firm = self.firms[uscc]
        searched = firm_of(
            firm.row,
            firm.points_row,
            self.ranking,
            self.model,
            firm.stage,
            firm.industry,
            firm.categories,
            self.order,
        )
        # The firm's order answers every rank the paths ask, so no statement runs on this
        # session: it has no connection (the batch's workers have no database).
        paths, paths_note = diagnosis_paths(
            Session(), searched, self.ladders[frozenset(firm.categories)]
        )
        by_industry = self.group_sizes[(firm.stage, firm.industry)] >= MIN_INDUSTRY_PEERS
        group: Group = (firm.stage, firm.industry if by_industry else None)
        percentiles: dict[str, float] = {}
        for name, value in _numeric(firm.breakdown).items():
            column = self.sorted_values[(group, name)]
            below, upto = bisect_left(column, value), bisect_right(column, value)
            percentiles[name] = round(100.0 * (below + 0.5 * (upto - below)) / len(column), 2)
        return DiagnosisInputs(
            uscc=uscc,
            name=firm.name,
            district=firm.district,
            industry=firm.industry,
            industry_name=self.industry_names.get(firm.industry, firm.industry),
            stage=firm.stage,
            categories=firm.categories,
            period=self.period,
            versions=self.versions,
            model=self.model,
            points=firm.points,
            total_exact=firm.total_exact,
            rank=firm.rank,
            rank_total=firm.rank_total,
            breakdown=firm.breakdown,
            percentiles=percentiles,
            by_industry=by_industry,
            peers=self.group_sizes[group],
            district_rank=self.district_ranks[uscc],
            industry_rank=self.industry_ranks[uscc],
            values=firm.values,
            paths=paths,
            paths_note=paths_note,
        )

    def diagnosis(self, uscc: str) -> Diagnosis:
        """The firm's 诊断书, as the API answers it."""
        return assemble(self.inputs(uscc))
