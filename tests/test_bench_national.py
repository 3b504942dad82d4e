"""`bench/national.py` in a tiny form (issue 14 §4): the national-scale bench builds its
database, measures recompute, stats, rankings, the export and lookups, and its checks (counts,
pages, figures equal to the floor's, HTTP answers) all pass."""

from __future__ import annotations

from bench import national


def test_national_bench_runs_in_a_tiny_form() -> None:
    argv = ["--enterprises", "2000", "--applications", "20000", "--consents", "500",
            "--stats-runs", "1", "--ranking-runs", "1", "--export-rounds", "1",
            "--rate", "50", "--duration", "1"]  # fmt: skip
    assert national.main(argv) == 0
