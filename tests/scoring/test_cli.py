"""`innocredit enterprises|indicators load`, `models publish`, `points recompute`."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from services.scoring import queries
from tests.factories import new_uscc
from tests.processes import INNOCREDIT


def _run(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INNOCREDIT, *args],
        env={
            "DATABASE_URL": database_url,
            "PATH": "/usr/bin:/bin",
            "INNOCREDIT_FOUR_EYES": "none",  # the direct path; tests/governance/ the other
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_load_publish_recompute_from_the_command_line(
    tmp_path: Path, database_url: str, db: sessionmaker[Session], period: int
) -> None:
    a, b = new_uscc(), new_uscc()
    enterprises = tmp_path / "enterprises.csv"
    enterprises.write_text(
        "uscc,name,district,industry,stage,categories,founded_on\n"
        f"{a},泰州甲,海陵区,health,growth,high_tech|tech_sme,2012-01-01\n"
        f"{b},泰州乙,姜堰区,equipment,startup,tech_sme,\n",
        encoding="utf-8",
    )
    header = (
        "uscc,invention_patents,utility_models,software_copyrights,rd_expense,revenue,"
        "rd_staff,total_staff,equity_financing,awards_provincial,awards_national,"
        "jbgs_funds_paid\n"
    )
    indicators = tmp_path / "indicators.csv"
    indicators.write_text(
        header + f"{a},3,4,7,10000000.00,100000000.00,25,100,0,1,0,0\n"
        f"{b},1,0,0,100000.00,1000000.00,2,10,0,0,0,0\n",
        encoding="utf-8",
    )
    version = "CLI-" + uuid.uuid4().hex[:8]
    model = tmp_path / "model.yaml"
    model.write_text(
        f"version: {version}\nname: CLI test model\nindicators:\n"
        "  - indicator: invention_patents\n    label: 发明专利\n    group: technology\n"
        "    transform: {type: linear, per_unit: '10', cap: '60'}\n"
        "bonuses:\n  - key: high_tech\n    label: 高新技术企业\n"
        "    when: {category: high_tech}\n    points: '20'\n",
        encoding="utf-8",
    )

    done = _run(["enterprises", "load", str(enterprises)], database_url)
    assert done.returncode == 0, done.stderr
    assert "2 created" in done.stdout
    done = _run(["indicators", "load", str(indicators), "--period", str(period)], database_url)
    assert done.returncode == 0, done.stderr
    done = _run(["models", "publish", str(model)], database_url)
    assert done.returncode == 0, done.stderr
    done = _run(["points", "recompute", "--period", str(period), "--model", version], database_url)
    assert done.returncode == 0, done.stderr
    assert "2 enterprises" in done.stdout

    with db() as session:
        snapshot = queries.current_points(session, a, period)
        assert snapshot is not None
        assert (snapshot.points, snapshot.rank, snapshot.model_version) == (50, 1, version)
        assert [s.uscc for s in queries.top(session, period, 1)] == [a]


def test_a_bad_file_exits_non_zero_with_row_errors(
    tmp_path: Path, database_url: str, period: int
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "uscc,name,district,industry,stage\n"
        f"{new_uscc()},甲,上海市,health,growth\n"
        "91321200MA1N2X3Y47,乙,海陵区,health,growth\n",
        encoding="utf-8",
    )
    done = _run(["enterprises", "load", str(bad)], database_url)
    assert done.returncode == 1
    assert "row.1.district" in done.stderr
    assert "row.2.uscc" in done.stderr
    missing = _run(
        ["points", "recompute", "--period", str(period), "--model", "NOPE"], database_url
    )
    assert missing.returncode == 1
    assert "NOPE" in missing.stderr
