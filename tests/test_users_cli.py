"""`innocredit users …` as an operator runs it, against the tests' database; a password never in
its output. The first command runs as a process of its own without a terminal (the password is
read from a pipe); the rest run in this process (tests/cli_runner.py), the same code without an
interpreter's start-up per call."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.gateway.models import User
from tests.cli_runner import Ran, run_cli
from tests.users import browser, sign_in

COMMAND = [sys.executable, "-c", "from services.cli import main; main()"]


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "INNOCREDIT_DATA_DIR": str(data_dir)}


def run_process(
    database_url: str, data_dir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`innocredit users ARGS` as a process of its own, with no controlling terminal."""
    return subprocess.run(
        [*COMMAND, "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **_env(database_url, data_dir)},
        start_new_session=True,
        timeout=120,
        check=False,
    )


def run(database_url: str, data_dir: Path, *args: str, stdin: str = "") -> Ran:
    """`innocredit users ARGS` in this process."""
    return run_cli(["users", *args], _env(database_url, data_dir), stdin)


def _user(db: sessionmaker[Session], name: str) -> User | None:
    with db() as session:
        return session.query(User).filter_by(name=name).one_or_none()


def test_create_with_a_password_from_stdin_then_list_disable_unlock_and_reset(
    database_url: str, tmp_path: Path, db: sessionmaker[Session], gateway_app: Any
) -> None:
    name = f"wang.fang-{uuid.uuid4().hex[:6]}"
    password = "plum blossom in winter"
    done = run_process(
        database_url, tmp_path, "create", "--name", name, "--role", "bureau", stdin=password + "\n"
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    client = browser(gateway_app)
    assert sign_in(client, name, password).headers["location"] == "/dashboard/"

    listed = run(database_url, tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    (line,) = [row for row in listed.stdout.splitlines() if row.endswith(name)]
    assert " bureau " in line
    assert " enabled " in line

    for _ in range(5):
        sign_in(client, name, "wrong password")
    assert _user(db, name).locked_until is not None  # type: ignore[union-attr]
    assert run(database_url, tmp_path, "unlock", name).returncode == 0
    assert _user(db, name).locked_until is None  # type: ignore[union-attr]

    new = "summer rain on the river"
    reset = run(database_url, tmp_path, "set-password", name, stdin=new + "\n")
    assert reset.returncode == 0, reset.stderr
    assert new not in reset.stdout + reset.stderr
    assert sign_in(client, name, password).headers["location"].endswith("failed=1")
    assert sign_in(client, name, new).headers["location"] == "/dashboard/"

    assert run(database_url, tmp_path, "disable", name).returncode == 0
    assert _user(db, name).disabled  # type: ignore[union-attr]
    assert sign_in(client, name, new).headers["location"].endswith("failed=1")


def test_a_generated_password_goes_to_the_private_file_only(
    database_url: str, tmp_path: Path, factory: Any, gateway_app: Any
) -> None:
    bank = factory.bank()
    name = f"bank-staff-{uuid.uuid4().hex[:6]}"
    done = run(
        database_url,
        tmp_path,
        "create",
        "--name",
        name,
        "--role",
        "bank",
        "--bank-code",
        bank,
        "--generate-password",
    )
    assert done.returncode == 0, done.stderr
    path = tmp_path / "credentials.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in done.stderr
    shown = subprocess.run(
        ["bash", "-c", f'source "{path}"; echo "${bank}_USER_NAME"; echo "${bank}_USER_PASSWORD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    got_name, got_password = shown.stdout.splitlines()
    assert got_name == name
    assert len(got_password) == 32
    assert got_password not in done.stdout + done.stderr
    assert sign_in(browser(gateway_app), name, got_password).headers["location"] == "/dashboard/"


def test_refusals_exit_non_zero_and_create_nothing(
    database_url: str, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    name = f"nobody-{uuid.uuid4().hex[:6]}"
    weak = run(
        database_url, tmp_path, "create", "--name", name, "--role", "bureau", stdin="short\n"
    )
    assert weak.returncode == 2
    assert "12 to 128 characters" in weak.stderr
    unknown_bank = run(
        database_url,
        tmp_path,
        "create",
        "--name",
        name,
        "--role",
        "bank",
        "--bank-code",
        "NOSUCHBANK",
        stdin="a long enough password\n",
    )
    assert unknown_bank.returncode == 1
    assert "NOSUCHBANK" in unknown_bank.stderr
    as_argument = run(
        database_url, tmp_path, "create", "--name", name, "--role", "bureau", "--password", "x"
    )
    assert as_argument.returncode == 2  # there is no such option
    assert _user(db, name) is None
    assert run(database_url, tmp_path, "disable", name).returncode == 1
