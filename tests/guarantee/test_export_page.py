"""The export's page: the same rows and cursors whether it is chosen from the change feed or
from the firm's consents, and nothing missed or repeated across pages while points change."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from services.guarantee import consents
from services.guarantee.export import (
    ENTRIES_PER_CONSENT,
    DrivenBy,
    ExportPage,
    export_page,
    page_query,
)
from services.guarantee.models import Consent
from services.guarantee.schemas import ConsentIn
from shared import changefeed as feed
from shared import clock
from shared.auth.tenancy import OneFirm
from tests.factories import Factory, bearer, enterprise

SIDES: tuple[DrivenBy, ...] = ("feed", "consents")


def _rule(session: Session, firm: OneFirm, since: int, limit: int, high: int) -> ExportPage:
    """The documented page, worked out in Python from the snapshot's feed and consents: per
    enterprise changed in (since, high] (points for all, consent events of this firm), a
    feature row at its last change when consented now, else a tombstone at this firm's last
    consent event there if any; in that order, at most `limit`, ending at the last row sent
    when more follow."""
    now = clock.now()
    entries = session.execute(
        text(
            "SELECT seq, uscc, firm_code FROM gt_feed "
            "WHERE seq > :since AND seq <= :high ORDER BY seq"
        ),
        {"since": since, "high": high},
    ).all()
    held = session.scalars(select(Consent).where(Consent.firm_code == firm.code)).all()
    live = {c.uscc for c in held if consents.live(c, now)}
    last: dict[str, int] = {}
    own: dict[str, int] = {}
    for seq, uscc, code in entries:
        if code is None or code == firm.code:
            last[uscc] = seq
            if code is not None:
                own[uscc] = seq
    placed = {u: last[u] if u in live else own[u] for u in last if u in live or u in own}
    owed = sorted((seq, uscc) for uscc, seq in placed.items())
    until = owed[limit - 1][0] if len(owed) > limit else high
    return ExportPage(since, until, [(uscc, uscc in live) for _, uscc in owed[:limit]])


def _points(db: sessionmaker[Session], usccs: list[str]) -> None:
    """What a recompute that changed these enterprises' points writes to the feed."""
    with db.begin() as session:
        feed.points_changed(session, usccs)


def _grant(
    db: sessionmaker[Session], uscc: str, firm: str, expires_at: datetime | None = None
) -> uuid.UUID:
    granted_at = clock.now() - timedelta(days=1)
    item = ConsentIn(
        uscc=uscc, firm_code=firm, granted_at=granted_at, expires_at=expires_at, evidence_ref="t"
    )
    with db.begin() as session:
        return consents.grant(session, item, by="test").id


def _revoke(db: sessionmaker[Session], consent: uuid.UUID) -> None:
    with db.begin() as session:
        consents.revoke(session, consent, by="test")


@dataclass
class Pulls:
    """A firm's pulls, each as the endpoint makes it: expiries and the high-water mark in a
    short transaction, then the page in a REPEATABLE READ snapshot of its own. Every page is
    also chosen from the other side and worked out by `_rule` in the same snapshot."""

    db: sessionmaker[Session]
    firm: OneFirm
    pages: list[ExportPage] = field(default_factory=list)
    sides: list[str] = field(default_factory=list)

    def pull(
        self,
        since: int,
        limit: int,
        *,
        before_snapshot: Callable[[], None] | None = None,
        while_streaming: Callable[[], None] | None = None,
    ) -> ExportPage:
        with self.db.begin() as marking:
            consents.record_expiries(marking)
            high = feed.high_water(marking)
        if before_snapshot:
            before_snapshot()  # commits past the mark: the next pull's
        reader = self.db()
        try:
            reader.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            page = export_page(reader, self.firm, since, limit, high=high)
            if while_streaming:
                while_streaming()
            chosen = page_query(reader, self.firm, since, limit, high=high).driven_by
            for side in SIDES:
                assert export_page(reader, self.firm, since, limit, high=high, driven_by=side) == (
                    page
                ), side
            assert page == _rule(reader, self.firm, since, limit, high)
        finally:
            reader.close()
        self.pages.append(page)
        self.sides.append(chosen)
        return page

    def walk(self, since: int, limit: int) -> int:
        """Pull page after page from `since` until a page ends at its mark; the last cursor."""
        while True:
            page = self.pull(since, limit)
            if len(page.rows) < limit:
                return page.until
            since = page.until


def test_a_page_is_the_same_from_the_feed_and_from_the_consents(
    factory: Factory, db: sessionmaker[Session]
) -> None:
    """Consents to the firm are a small share of the enterprises whose points change; the
    cases: a consent revoked (a tombstone, then nothing on later points changes), one that
    expires, two consents of one enterprise (one revoked: still live), enterprises consented
    to another firm only, and paging with every limit from one row to all."""
    suffix = uuid.uuid4().hex[:6].upper()
    firm, other = OneFirm(f"CRP_{suffix}"), f"CRQ_{suffix}"
    usccs = factory.enterprises([enterprise() for _ in range(40)])
    mine, theirs = usccs[:6], usccs[6:10]
    _points(db, usccs)
    ids = [_grant(db, uscc, firm.code) for uscc in mine]
    for uscc in theirs:
        _grant(db, uscc, other)
    _grant(db, mine[0], other)  # shared with the other firm
    _points(db, usccs[::2])
    _revoke(db, ids[1])  # a tombstone
    _grant(db, mine[2], firm.code)  # a second consent of the same enterprise…
    _revoke(db, ids[2])  # …so revoking the first leaves it live
    soon = clock.now() + timedelta(minutes=5)
    _grant(db, mine[3], firm.code, expires_at=soon)
    _revoke(db, ids[3])  # only the expiring consent is left
    with clock.frozen_at(soon + timedelta(seconds=1)):
        pulls = Pulls(db, firm)
        cursor = 0
        for limit in (1, 2, 3, 7, 1000):
            first = pulls.walk(0, limit)  # a first pull, page by page
            cursor = cursor or first
        assert pulls.sides[0] == "consents"  # a few consents beside every enterprise's change
        delivered = pulls.pages[-1].rows
        assert sorted(delivered) == sorted(
            [(mine[0], True), (mine[1], False), (mine[2], True), (mine[3], False)]
            + [(uscc, True) for uscc in mine[4:]]
        )

        # Incremental: points change for everyone, in enough recomputes that the range is
        # long beside the consents; the revoked and expired stay away.
        for _ in range(ENTRIES_PER_CONSENT // 4 + 1):
            _points(db, usccs)
        _points(db, [mine[4], theirs[0]])
        _grant(db, mine[1], firm.code)  # granted again
        incremental = len(pulls.pages)
        for limit in (1, 2, 1000):
            pulls.walk(cursor, limit)
        # From the consents while the range is long beside them, from the feed once it is short.
        assert set(pulls.sides[incremental:]) == set(SIDES)
        assert [uscc for uscc, _ in pulls.pages[-1].rows] == [
            mine[0],
            mine[2],
            mine[5],
            mine[4],
            mine[1],
        ]
        assert all(live for _, live in pulls.pages[-1].rows)


def test_pulls_across_concurrent_points_changes_miss_and_repeat_nothing(
    factory: Factory, db: sessionmaker[Session]
) -> None:
    """Pages of two rows while points change, consents are granted and revoked between a
    pull's mark and its snapshot and while it streams: every change of a consented enterprise
    reaches the firm after it, no row comes without a change since the last, and nothing of an
    enterprise never consented to the firm."""
    suffix = uuid.uuid4().hex[:6].upper()
    firm = OneFirm(f"CRC_{suffix}")
    usccs = factory.enterprises([enterprise() for _ in range(30)])
    held, others = usccs[:6], usccs[6:]
    _points(db, usccs)
    ids = {uscc: _grant(db, uscc, firm.code) for uscc in held}
    _grant(db, others[0], f"CRD_{suffix}")
    writes: dict[int, tuple[Callable[[], None] | None, Callable[[], None] | None]] = {
        0: (lambda: _points(db, [held[0], held[1], others[2]]), lambda: _points(db, held[4:])),
        1: (lambda: ids.update({others[1]: _grant(db, others[1], firm.code)}), None),
        2: (None, lambda: _revoke(db, ids[held[3]])),
        3: (None, lambda: _points(db, usccs)),
        4: (lambda: _points(db, [held[0]]), lambda: _points(db, [others[1], others[3]])),
    }
    pulls = Pulls(db, firm)
    since = 0
    for n in range(60):
        before, during = writes.get(n, (None, None))
        page = pulls.pull(since, 2, before_snapshot=before, while_streaming=during)
        since = page.until
        if n > max(writes) and not page.rows:
            break
    assert not pulls.pages[-1].rows
    assert set(pulls.sides) == set(SIDES)

    with db() as session:
        relevant = session.execute(
            text(
                "SELECT uscc, seq, kind FROM gt_feed WHERE uscc = ANY(:usccs) AND seq <= :until "
                "AND (firm_code IS NULL OR firm_code = :firm) ORDER BY seq"
            ),
            {"usccs": usccs, "until": since, "firm": firm.code},
        ).all()
    changes: dict[str, list[int]] = {}
    revoked = 0
    for uscc, seq, kind in relevant:
        changes.setdefault(uscc, []).append(seq)
        revoked = seq if kind == "consent-revoked" else revoked
    deliveries: dict[str, list[tuple[ExportPage, bool]]] = {}
    previous = 0
    for page in pulls.pages:
        assert page.since == previous  # the cursor chains the pages
        previous = page.until
        assert len({uscc for uscc, _ in page.rows}) == len(page.rows)
        for uscc, live in page.rows:
            deliveries.setdefault(uscc, []).append((page, live))

    owed = [*held, others[1]]
    assert set(deliveries) == set(owed)  # never an enterprise the firm was not consented
    for uscc, sent in deliveries.items():
        for page, _ in sent:  # each row answers a change in its page's range: none twice
            assert any(page.since < seq <= page.until for seq in changes[uscc]), uscc
        last_sent = max(page.until for page, _ in sent)
        if uscc == held[3]:  # revoked: a tombstone last, none of its later points changes
            assert revoked
            assert last_sent >= revoked
            assert sent[-1][1] is False
        else:  # its last change reached the firm, as features
            assert last_sent >= changes[uscc][-1], uscc
            assert sent[-1][1] is True, uscc


def test_a_tombstone_is_not_lost_where_a_page_ends_before_a_later_points_change(
    api: TestClient, factory: Factory, db: sessionmaker[Session], period: int
) -> None:
    """Found with the test above: a tombstone sat at the enterprise's last change, so a page
    that ended between the revocation and a later points change left it to the next pull,
    whose range no longer held the revocation — the firm kept the revoked enterprise's
    features for good."""
    firm = f"CRT_{uuid.uuid4().hex[:6].upper()}"
    token = factory.token("credit_firm", firm_code=firm)
    kept, revoked = factory.ranked(period, [{}, {}])
    _grant(db, kept, firm)
    consent = _grant(db, revoked, firm)
    rows, cursor = _api_pull(api, token, None, 1000)
    assert sorted(rows) == sorted([(kept, False), (revoked, False)])

    _revoke(db, consent)
    _points(db, [kept, revoked])  # a recompute after the revocation
    first, cursor = _api_pull(api, token, cursor, 1)
    second, cursor = _api_pull(api, token, cursor, 1)
    assert sorted(first + second) == sorted([(revoked, True), (kept, False)])
    assert _api_pull(api, token, cursor, 1)[0] == []


def _api_pull(
    api: TestClient, token: str, since: str | None, limit: int
) -> tuple[list[tuple[str, bool]], str]:
    """(uscc, deleted) of a pull's rows, and its next cursor."""
    params: dict[str, str | int] = {"limit": limit, **({"since": since} if since else {})}
    r = api.get("/v1/guarantee/features", headers=bearer(token), params=params)
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines()]
    return [(row["uscc"], row["deleted"]) for row in lines[:-1]], lines[-1]["next_cursor"]
