"""Delivery end to end: a real receiver on loopback verifying every request with the
standardwebhooks library; the worker in this process; retries at 1/10,000 of their delays."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.loans.webhooks.models import Subscription
from services.loans.webhooks.outbox import emit_ping
from services.loans.webhooks.secrets import new_secret, seal, shown
from services.loans.webhooks.sender import AddressRefused, GuardedResolver
from shared.crypto import KeyEncryptor
from shared.settings import CoreSettings
from tests.factories import Factory, enterprise, indicators, new_uscc
from tests.webhooks.harness import disable_all, fast_settings, rows, running, subscribe
from tests.webhooks.receiver import Answer, Receiver

CHANGES = [
    "application.submitted",
    "application.decided",
    "application.disbursed",
    "application.repayment_status_changed",
    "application.withdrawn",
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def fast(database_url: str, db: sessionmaker[Session]) -> CoreSettings:
    disable_all(db)
    return fast_settings(database_url)


def _firm(factory: Factory, period: int) -> tuple[str, str, str]:
    bank = factory.bank()
    product = factory.product(bank, min_points=0)
    uscc = new_uscc()
    factory.enterprises([enterprise(uscc)])
    factory.indicators(period, [indicators(uscc)])
    factory.recompute(period)
    return bank, product, uscc


def _attempts(db: sessionmaker[Session], sid: int) -> list[dict[str, object]]:
    return rows(
        db,
        "SELECT d.id AS delivery, d.state, a.outcome, a.status_code, a.error, a.started_at "
        "FROM loan_webhook_delivery d JOIN loan_webhook_attempt a ON a.delivery_id = d.id "
        "WHERE d.subscription_id = :sid ORDER BY a.id",
        sid=sid,
    )


def test_every_change_arrives_verified_and_in_order_per_application(
    factory: Factory,
    period: int,
    fast: CoreSettings,
    engine: Engine,
    db: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    bank, product, uscc = _firm(factory, period)
    sid, secret = subscribe(db, fast, bank, receiver.url, CHANGES)
    receiver.secrets.append(secret)
    with running(fast, engine):
        apps = [
            factory.application(bank, product, uscc, state=state)
            for state in ("repaid", "withdrawn", "disbursed")
        ]
        with db.begin() as session:
            emit_ping(session, session.get_one(Subscription, sid))
        expected = 4 + 2 + 3 + 1
        receiver.wait_for(lambda r: len(r.delivered()) >= expected)
    arrived = receiver.delivered()
    assert all(a.valid for a in arrived)
    assert len({a.msg_id for a in arrived}) == len(arrived) == expected
    by_app = {app.id: [a.type for a in arrived if a.application == app.id] for app in apps}
    assert by_app == {
        apps[0].id: [CHANGES[0], CHANGES[1], CHANGES[2], CHANGES[3]],
        apps[1].id: [CHANGES[0], CHANGES[4]],
        apps[2].id: [CHANGES[0], CHANGES[1], CHANGES[2]],
    }
    (ping,) = [a for a in arrived if a.type == "webhook.test"]
    assert ping.event["bank_code"] == bank
    last = arrived[-1].event
    assert last["id"] == arrived[-1].msg_id
    assert last["version"] == 1


def test_a_receiver_failing_five_times_gets_it_once_it_recovers_and_its_backlog_at_once(
    factory: Factory,
    period: int,
    fast: CoreSettings,
    engine: Engine,
    db: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    bank, product, uscc = _firm(factory, period)
    sid, secret = subscribe(db, fast, bank, receiver.url, CHANGES[:1])
    receiver.secrets.append(secret)
    first = factory.application(bank, product, uscc)
    second = factory.application(bank, product, uscc)
    # The second application's event waits an hour, as a long backoff would have it.
    rows(
        db,
        "UPDATE loan_webhook_delivery d SET next_attempt_at = now() + interval '1 hour' "
        "FROM loan_webhook_event e WHERE e.id = d.event_id AND d.subscription_id = :sid "
        "AND e.ordering_key = :key RETURNING d.id",
        sid=sid,
        key=f"app:{second.id}",
    )
    receiver.script(*[Answer(500)] * 5)
    with running(fast, engine):
        receiver.wait_for(lambda r: len(r.delivered()) == 2)
    arrived = receiver.arrivals
    assert [a.answered for a in arrived] == [500] * 5 + [204, 204]
    assert {a.application for a in arrived[:6]} == {first.id}
    assert len({a.msg_id for a in arrived[:6]}) == 1  # the same webhook-id every time
    assert arrived[6].application == second.id
    outcomes = [a["outcome"] for a in _attempts(db, sid)]
    assert outcomes == ["http-error"] * 5 + ["delivered", "delivered"]
    (sub,) = rows(
        db,
        "SELECT failing_since, last_success_at, enabled FROM "
        "loan_webhook_subscription WHERE id = :sid",
        sid=sid,
    )
    assert sub["failing_since"] is None
    assert sub["last_success_at"] is not None
    assert sub["enabled"]


def test_410_disables_the_endpoint_and_says_why(
    factory: Factory,
    period: int,
    fast: CoreSettings,
    engine: Engine,
    db: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    bank, product, uscc = _firm(factory, period)
    sid, secret = subscribe(db, fast, bank, receiver.url, CHANGES)
    receiver.secrets.append(secret)
    receiver.script(Answer(410))
    factory.application(bank, product, uscc, state="approved")
    with running(fast, engine):
        receiver.wait_for(lambda r: len(r.arrivals) == 1)
        deadline = time.monotonic() + 10
        while rows(db, "SELECT 1 FROM loan_webhook_subscription WHERE id = :s AND enabled", s=sid):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
    assert len(receiver.arrivals) == 1  # the decision after it was never sent
    (sub,) = rows(db, "SELECT disabled_reason FROM loan_webhook_subscription WHERE id = :s", s=sid)
    assert str(sub["disabled_reason"]).startswith("answered 410 Gone at ")
    states = [
        r["state"]
        for r in rows(
            db,
            "SELECT state FROM loan_webhook_delivery WHERE subscription_id = :s ORDER BY id",
            s=sid,
        )
    ]
    assert states == ["dead", "cancelled"]


def test_retry_after_is_honoured_and_redirects_are_not_followed(
    factory: Factory,
    period: int,
    fast: CoreSettings,
    engine: Engine,
    db: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    elsewhere = Receiver()
    try:
        bank, product, uscc = _firm(factory, period)
        sid, secret = subscribe(db, fast, bank, receiver.url, CHANGES[:1])
        receiver.secrets.append(secret)
        receiver.script(Answer(503, {"Retry-After": "2"}), Answer(302, {"Location": elsewhere.url}))
        factory.application(bank, product, uscc)
        with running(fast, engine):
            receiver.wait_for(lambda r: len(r.delivered()) == 1, timeout=20)
        first, second, third = receiver.arrivals
        assert second.at - first.at >= 2.0
        assert third.at - second.at < 2.0  # the schedule's own delay, scaled: milliseconds
        assert elsewhere.arrivals == []
        errors = [a["error"] for a in _attempts(db, sid)]
        assert errors[0] == "answered 503"
        assert f"redirects are not followed; set the URL to {elsewhere.url}" in str(errors[1])
    finally:
        elsewhere.close()


def test_a_stalled_receiver_times_out_and_a_refused_address_is_never_called(
    factory: Factory,
    period: int,
    fast: CoreSettings,
    engine: Engine,
    db: sessionmaker[Session],
    receiver: Receiver,
    database_url: str,
) -> None:
    bank, product, uscc = _firm(factory, period)
    sid, secret = subscribe(db, fast, bank, receiver.url, CHANGES[:1])
    receiver.secrets.append(secret)
    factory.application(bank, product, uscc)

    def outcomes() -> list[object]:
        return [a["outcome"] for a in _attempts(db, sid)]

    # Without the development setting, loopback is refused before anything is sent.
    strict = fast_settings(database_url, webhook_allow_loopback=False)
    with running(strict, engine):
        deadline = time.monotonic() + 10
        while "address-refused" not in outcomes():
            assert time.monotonic() < deadline, outcomes()
            time.sleep(0.05)
    assert receiver.arrivals == []
    (first,) = _attempts(db, sid)[:1]
    assert "points to a loopback address" in str(first["error"])
    receiver.script(Answer(204, stall=fast.webhook_timeout_seconds + 0.6))
    with running(fast, engine):
        receiver.wait_for(lambda r: len(r.arrivals) == 2, timeout=15)
        deadline = time.monotonic() + 10
        while "delivered" not in outcomes():
            assert time.monotonic() < deadline, outcomes()
            time.sleep(0.05)
    assert "timeout" in outcomes()
    assert receiver.arrivals[0].msg_id == receiver.arrivals[1].msg_id


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(
    factory: Factory,
    period: int,
    fast: CoreSettings,
    engine: Engine,
    db: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    bank, product, uscc = _firm(factory, period)
    sid, old = subscribe(db, fast, bank, receiver.url, CHANGES[:1])
    raw = new_secret()
    sealed = seal(KeyEncryptor(fast.key_encryption_key), raw)
    rows(
        db,
        "UPDATE loan_webhook_subscription SET previous_secret_sealed = secret_sealed, "
        "previous_valid_until = now() + interval '1 hour', secret_sealed = :new "
        "WHERE id = :sid RETURNING id",
        new=sealed,
        sid=sid,
    )
    receiver.secrets.append(old)  # a receiver not yet given the new secret
    factory.application(bank, product, uscc)
    with running(fast, engine):
        receiver.wait_for(lambda r: len(r.delivered()) == 1)
        assert receiver.arrivals[0].valid
        receiver.secrets[:] = [shown(raw)]  # and one that has it
        factory.application(bank, product, uscc)
        receiver.wait_for(lambda r: len(r.delivered()) == 2)
        assert receiver.arrivals[1].valid
        rows(
            db,
            "UPDATE loan_webhook_subscription SET previous_valid_until = now() - interval '1 s' "
            "WHERE id = :sid RETURNING id",
            sid=sid,
        )
        receiver.secrets[:] = [old]  # the overlap is over: the old secret fails
        factory.application(bank, product, uscc)
        receiver.wait_for(lambda r: len(r.delivered()) == 3)
    assert not receiver.arrivals[2].valid


class _Answers(AbstractResolver):
    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=h, port=port, family=family, proto=0, flags=0)
            for h in self.hosts
        ]

    async def close(self) -> None:
        return None


def test_the_resolver_refuses_a_host_with_any_private_address() -> None:
    async def resolve(*hosts: str, allow_loopback: bool = False) -> list[ResolveResult]:
        guard = GuardedResolver(_Answers(*hosts), allow_loopback=allow_loopback)
        return await guard.resolve("bank.example", 443)

    assert len(asyncio.run(resolve("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"))) == 2
    for hosts, what in (
        (("93.184.215.14", "10.0.0.8"), "private"),
        (("169.254.169.254",), "link-local"),
        (("::ffff:127.0.0.1",), "loopback"),
        (("127.0.0.1",), "loopback"),
    ):
        with pytest.raises(AddressRefused, match=f"bank.example resolves to a {what} address"):
            asyncio.run(resolve(*hosts))
    assert asyncio.run(resolve("127.0.0.1", allow_loopback=True))
    with pytest.raises(AddressRefused, match="private"):
        asyncio.run(resolve("127.0.0.1", "192.168.1.1", allow_loopback=True))
