"""The 诊断书 of one firm, read from the database: its points and ranks, its peers'
percentiles (by SQL), its indicators as loaded now; then `diagnosis.assemble`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.scoring import pointsmodel
from services.scoring.diagnosis import MIN_INDUSTRY_PEERS, DiagnosisInputs, assemble
from services.scoring.model_versions import get_model
from services.scoring.models import Enterprise, EnterpriseVersion, IndicatorRow, Industry, Points
from services.scoring.paths_read import diagnosis_paths, load_firm
from services.scoring.pointsmodel import ModelDefinition
from services.scoring.ranking import enterprises_at, points_of, versions_of
from services.scoring.registry import enterprise_at, get_enterprise
from services.scoring.schemas import Diagnosis
from shared import clock, vocab
from shared.auth.tenancy import AllBanks
from shared.eligibility import ProductLadders

_PEER_SQL = """
    WITH me AS (
        SELECT elem->>'indicator' AS indicator, (elem->>'value')::numeric AS v
        FROM sc_points, jsonb_array_elements(breakdown) AS elem
        WHERE run_id = :run AND uscc = :uscc AND elem->>'value' IS NOT NULL
    )
    SELECT me.indicator,
           count(*) FILTER (WHERE (b.elem->>'value')::numeric < me.v) AS below,
           count(*) FILTER (WHERE (b.elem->>'value')::numeric = me.v) AS equal,
           count(*) FILTER (WHERE b.elem->>'value' IS NOT NULL) AS n
    FROM sc_points p
    {enterprises}
    CROSS JOIN LATERAL jsonb_array_elements(p.breakdown) AS b(elem)
    JOIN me ON me.indicator = b.elem->>'indicator'
    WHERE p.run_id = :run AND e.stage = :stage {industry}
    GROUP BY me.indicator
"""
_PEERS_SQL = """
    SELECT count(*) FROM sc_points p {enterprises}
    WHERE p.run_id = :run AND e.stage = :stage {industry}
"""
# The firm's rank in its district and in its industry: the firms there ahead of it in the
# ranking's order (points DESC, total_exact DESC, uscc), plus one.
_RANKS_SQL = """
    SELECT count(*) FILTER (WHERE e.district = :district AND ahead) + 1 AS district_rank,
           count(*) FILTER (WHERE e.district = :district) AS district_of,
           count(*) FILTER (WHERE e.industry_code = :industry AND ahead) + 1 AS industry_rank,
           count(*) FILTER (WHERE e.industry_code = :industry) AS industry_of
    FROM (
        SELECT p.uscc, e.district, e.industry_code,
               (p.points, p.total_exact) > (:points, :total)
               OR ((p.points, p.total_exact) = (:points, :total) AND p.uscc < :uscc) AS ahead
        FROM sc_points p {enterprises}
        WHERE p.run_id = :run AND (e.district = :district OR e.industry_code = :industry)
    ) e
"""


def ranks_in(
    session: Session,
    points: Points,
    district: str,
    industry: str,
    at: datetime | None,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The firm's (rank, of) in its district and in its industry, in the filtered ranking's
    order, with the firms' attributes as they were at `at` (None: now)."""
    params: dict[str, Any] = {
        "run": points.run_id,
        "uscc": points.uscc,
        "points": points.points,
        "total": points.total_exact,
        "district": district,
        "industry": industry,
    }
    if at is not None:
        params["at"] = at
    row = session.execute(text(_RANKS_SQL.format(enterprises=enterprises_at(at))), params).one()
    return (row.district_rank, row.district_of), (row.industry_rank, row.industry_of)


def indicator_values(session: Session, uscc: str, period: int) -> dict[str, Decimal | None]:
    """A firm's indicators of a period as loaded now, raw and derived (all None without
    data)."""
    current = session.get(IndicatorRow, (uscc, period))
    previous = session.get(IndicatorRow, (uscc, period - 1))
    raw: dict[str, Decimal | None] = {
        name: (None if current is None else Decimal(getattr(current, name)))
        for name in vocab.RAW_INDICATORS
    }
    values, _ = pointsmodel.derive(raw, None if previous is None else previous.revenue)
    return values


def diagnose(
    session: Session,
    uscc: str,
    period: int | None,
    ladders: ProductLadders,
    at: datetime | None = None,
) -> Diagnosis:
    """Build the 诊断书 of an enterprise for a period's ranking, now or as it was at `at` (the
    ranking run, and the enterprise's and its peers' attributes, then; the indicators the
    rules test and the paths start from are those loaded now). The next tier is over every
    bank's products (`ladders`), so every caller gets the same document."""
    enterprise: Enterprise | EnterpriseVersion = get_enterprise(session, uscc)[0]
    points, ranking = points_of(session, uscc, period, at)
    if at is not None:
        enterprise = enterprise_at(session, uscc, at) or enterprise
    industry_row = session.get(Industry, enterprise.industry_code)
    model = ModelDefinition.model_validate(get_model(session, ranking.model_version).definition)
    params: dict[str, Any] = {
        "run": ranking.run_id,
        "uscc": uscc,
        "stage": enterprise.stage,
        "industry": enterprise.industry_code,
    }
    if at is not None:
        params["at"] = at
    joined = enterprises_at(at)
    # Only fixed fragments are formatted in; every value is a bound parameter.
    by_industry_sql = "AND e.industry_code = :industry"
    industry_peers = session.execute(
        text(_PEERS_SQL.format(enterprises=joined, industry=by_industry_sql)), params
    ).scalar_one()
    by_industry = industry_peers >= MIN_INDUSTRY_PEERS
    percentiles = {
        row.indicator: round(100.0 * (row.below + 0.5 * row.equal) / row.n, 2)
        for row in session.execute(
            text(
                _PEER_SQL.format(
                    enterprises=joined, industry=by_industry_sql if by_industry else ""
                )
            ),
            params,
        )
    }
    peers = (
        industry_peers
        if by_industry
        else session.execute(
            text(_PEERS_SQL.format(enterprises=joined, industry="")), params
        ).scalar_one()
    )
    district_rank, industry_rank = ranks_in(
        session, points, enterprise.district, enterprise.industry_code, at
    )
    firm = load_firm(
        session,
        points,
        ranking,
        model,
        enterprise.stage,
        enterprise.industry_code,
        enterprise.categories,
    )
    on = clock.today() if at is None else clock.local_date(at)
    paths, paths_note = diagnosis_paths(
        session, firm, ladders(session, AllBanks(), enterprise.categories, on)
    )
    return assemble(
        DiagnosisInputs(
            uscc=uscc,
            name=enterprise.name,
            district=enterprise.district,
            industry=enterprise.industry_code,
            industry_name=(enterprise.industry_code if industry_row is None else industry_row.name),
            stage=enterprise.stage,
            categories=tuple(enterprise.categories),
            period=ranking.period,
            versions=versions_of(ranking),
            model=model,
            points=points.points,
            total_exact=points.total_exact,
            rank=points.rank,
            rank_total=points.rank_total,
            breakdown=points.breakdown,
            percentiles=percentiles,
            by_industry=by_industry,
            peers=peers,
            district_rank=district_rank,
            industry_rank=industry_rank,
            values=indicator_values(session, uscc, ranking.period),
            paths=paths,
            paths_note=paths_note,
        )
    )
