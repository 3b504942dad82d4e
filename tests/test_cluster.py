"""`bench/cluster.py` in its short form (issue 14 §3): a primary and a synchronous replica,
PgBouncer, the three services split and two gateways on loopback; mixed load through both
gateways; the primary killed and the replica promoted mid-run. Its checks are the test."""

from __future__ import annotations

from bench import cluster


def test_two_gateways_split_services_pgbouncer_and_a_failover_on_loopback() -> None:
    assert cluster.main(["--seconds", "6", "--writers", "3", "--readers", "1"]) == 0
