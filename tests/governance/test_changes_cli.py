"""`innocredit changes list|show|approve|reject` and the governed `models publish`, `points
recompute`, `calendar load`: maker and checker are admin clients proven by their secret."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.models import AuditEvent
from services.scoring.models import PointsModel
from tests.cli_runner import Ran, run_cli
from tests.factories import DEFAULT_MODEL, Creds, Factory

_CHANGE = re.compile(r"proposed change ([0-9a-f-]{36})")


def _run(args: list[str], database_url: str, secret: str | None = None) -> Ran:
    env = {
        "DATABASE_URL": database_url,
        "INNOCREDIT_FOUR_EYES": None,  # four eyes: the default
        "INNOCREDIT_CLIENT_SECRET": secret,
    }
    return run_cli(args, env)


def _proposed(done: Ran) -> str:
    assert done.returncode == 0, done.stderr
    found = _CHANGE.search(done.stdout)
    assert found, done.stdout
    return found.group(1)


def test_a_model_published_from_the_command_line_waits_for_a_second_operator(
    tmp_path: Path,
    database_url: str,
    make_client: Callable[..., Creds],
    db: sessionmaker[Session],
) -> None:
    maker, checker = (
        make_client("admin", name="cli maker"),
        make_client("admin", name="cli checker"),
    )
    version = "CLIG-" + uuid.uuid4().hex[:8]
    model = tmp_path / "model.yaml"
    model.write_text(
        f"version: {version}\nname: governed CLI model\nindicators:\n"
        "  - indicator: invention_patents\n    label: 发明专利\n    group: technology\n"
        "    transform: {type: linear, per_unit: '10', cap: '60'}\n",
        encoding="utf-8",
    )
    refused = _run(["models", "publish", str(model)], database_url)
    assert refused.returncode == 2
    assert "--client-id" in refused.stderr  # nothing written: the draft's transaction rolled back
    wrong = _run(
        ["models", "publish", str(model), "--client-id", maker.client_id], database_url, "nope"
    )
    assert wrong.returncode == 1
    assert "not an enabled admin client" in wrong.stderr
    change = _proposed(
        _run(
            ["models", "publish", str(model), "--client-id", maker.client_id],
            database_url,
            maker.client_secret,
        )
    )
    with db() as session:
        assert session.get(PointsModel, version).status == "draft"  # type: ignore[union-attr]

    listed = _run(
        ["changes", "list", "--status", "pending", "--kind", "model-publish"], database_url
    )
    assert change in listed.stdout
    shown = _run(["changes", "show", change], database_url)
    assert f"model:{version}" in shown.stdout

    own = _run(
        ["changes", "approve", change, "--client-id", maker.client_id],
        database_url,
        maker.client_secret,
    )
    assert own.returncode == 1
    assert "another admin client approves it" in own.stderr
    done = _run(
        ["changes", "approve", change, "--client-id", checker.client_id],
        database_url,
        checker.client_secret,
    )
    assert done.returncode == 0, done.stderr
    with db() as session:
        assert session.get(PointsModel, version).status == "published"  # type: ignore[union-attr]
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "change-approved", AuditEvent.detail["change"].astext == change
            )
        ).one()
    assert (event.method, event.path) == ("CLI", f"innocredit changes approve {change}")
    assert (event.detail["maker"], event.detail["checker"]) == (maker.client_id, checker.client_id)


def test_a_bank_client_cannot_check_and_a_reject_keeps_its_reason(
    database_url: str, make_client: Callable[..., Creds], factory: Factory, period: int
) -> None:
    maker = make_client("admin", name="cli maker 2")
    bureau = make_client("bureau", name="cli bureau")
    factory.ranked(period, [{}])
    change = _proposed(
        _run(
            [
                "points",
                "recompute",
                "--period",
                str(period),
                "--model",
                DEFAULT_MODEL,
                "--client-id",
                maker.client_id,
            ],
            database_url,
            maker.client_secret,
        )
    )
    not_admin = _run(
        ["changes", "approve", change, "--client-id", bureau.client_id],
        database_url,
        bureau.client_secret,
    )
    assert not_admin.returncode == 1
    assert "not an enabled admin client" in not_admin.stderr
    rejected = _run(
        ["changes", "reject", change, "--reason", "wrong period", "--client-id", maker.client_id],
        database_url,
        maker.client_secret,
    )
    assert rejected.returncode == 0, rejected.stderr
    shown = _run(["changes", "show", change, "--json"], database_url)
    assert '"status":"rejected"' in shown.stdout
    assert '"reason":"wrong period"' in shown.stdout


def test_a_calendar_loaded_from_the_command_line_is_proposed(
    tmp_path: Path, database_url: str, make_client: Callable[..., Creds]
) -> None:
    maker = make_client("admin", name="cli maker 3")
    schedule = tmp_path / "2033.csv"
    schedule.write_text("date,kind\n2033-01-03,holiday\n", encoding="utf-8")
    change = _proposed(
        _run(
            ["calendar", "load", str(schedule), "--client-id", maker.client_id],
            database_url,
            maker.client_secret,
        )
    )
    shown = _run(["changes", "show", change, "--json"], database_url)
    assert '"target":"calendar:2033"' in shown.stdout
    assert '"media_type":"text/csv"' in shown.stdout
