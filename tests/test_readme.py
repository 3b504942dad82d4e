"""The README works verbatim on the demo: its shell blocks run as written, in order, against
`innocredit serve --demo` started as `./run.sh --demo` starts it, and show what it says they
show; that start hands the secrets over without writing them into its output, and a second
start serves the data it finds."""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.uscc import check_char
from tests.processes import free_port_block, innocredit, stop, wait_ready
from tests.readme_blocks import ANY, README, Block, blocks, expectations, pairs, run_in_order

ROOT = README.parent


def test_every_bash_block_is_run_or_says_why_not() -> None:
    found = blocks(README.read_text())
    assert sum(b.run for b in found) >= 7
    assert all(b.expected for b in found if b.run and "whoami" in b.code)


def test_a_block_without_a_mark_and_a_missing_value_are_caught() -> None:
    with pytest.raises(ValueError, match=r"README\.md:2: a bash block needs"):
        blocks("text\n```bash\necho hi\n```\n")
    marked = blocks(
        "<!-- readme-test: run -->\n```bash\ncurl …\n"
        '# {"bank_code":"TZBANK","client_id":"ic_…","status":422}\n```\n'
    )
    assert marked[0].expected == [("bank_code", "TZBANK"), ("client_id", ANY), ("status", 422)]
    printed = pairs('{"bank_code": "TZB", "client_id": "ic_1", "status": 422}')
    assert ("bank_code", '"TZBANK"') not in printed
    assert ("status", "422") in printed


def test_every_uscc_in_the_readme_and_the_examples_has_its_check_digit() -> None:
    texts = [README.read_text(), *(p.read_text() for p in (ROOT / "examples").glob("*.py"))]
    usccs = {u for text in texts for u in re.findall(r"\b9[0-9A-Z]{17}\b", text)}
    assert usccs
    assert {u for u in usccs if u[-1] != check_char(u[:17])} == set()


@pytest.mark.slow
def test_the_readme_runs_as_written_against_the_demo(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    url = new_database()
    home = tmp_path / "home"
    data_dir = home / ".local" / "share" / "innocredit"  # the default the README names
    port = free_port_block(1)
    api = f"http://127.0.0.1:{port}"
    server_env = {
        "DATABASE_URL": url,
        "HOME": str(home),
        "INNOCREDIT_DATA_DIR": str(data_dir),
        "INNOCREDIT_LOG_FORMAT": "json",  # the default a reader gets
    }
    log = tmp_path / "server.log"  # stdout and stderr, as `./run.sh > server.log 2>&1`
    with innocredit(["serve", "--demo", "--port", str(port)], env=server_env, log=log) as proc:
        wait_ready(f"{api}/readyz", proc=proc, log=log, timeout=240)
        credentials = data_dir / "credentials.env"
        _assert_secrets_kept_out_of_the_log(credentials, log.read_text())

        # A reader's second terminal: the repository's directory (its .venv and examples; the
        # blocks' files land in a scratch directory), the database and address of the server.
        workdir = tmp_path / "repo"
        workdir.mkdir()
        (workdir / ".venv").symlink_to(Path(sys.prefix))
        (workdir / "examples").symlink_to(ROOT / "examples")
        scripts = tmp_path / "blocks"
        scripts.mkdir()
        reader_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("INNOCREDIT_", "DATABASE"))
        }
        reader_env |= {"HOME": str(home), "API": api, "DATABASE_URL": url}
        to_run = [b for b in blocks(README.read_text()) if b.run]
        outcomes, done = run_in_order(
            to_run, cwd=workdir, env=reader_env, scripts=scripts, timeout=180
        )
        stop(proc)
    handed_over = (data_dir / "credentials.env").read_text()

    # A second `./run.sh --demo` serves the data it has: no second demo, no new clients.
    again = tmp_path / "again.log"
    with innocredit(["serve", "--demo", "--port", str(port)], env=server_env, log=again) as proc:
        wait_ready(f"{api}/readyz", proc=proc, log=again)
        assert "the database already has data: demo not loaded" in again.read_text()
        assert (data_dir / "credentials.env").read_text() == handed_over

    failed = (
        f"README.md:{outcomes[-1].block.line}: the block failed (exit {done.returncode})\n"
        f"--- its output\n{outcomes[-1].stdout}\n--- stderr\n{done.stderr[-3000:]}"
    )
    assert done.returncode == 0, failed
    assert len(outcomes) == len(to_run), failed
    wrong = {o.block.line: o.missing() for o in outcomes if o.missing()}
    assert wrong == {}, "\n".join(
        f"README.md:{o.block.line} printed\n{o.stdout}" for o in outcomes if o.missing()
    )
    assert (workdir / "stats.xlsx").read_bytes()[:2] == b"PK"  # a zip archive: a workbook
    assert (workdir / "ranking.csv").read_bytes()[:3] == b"\xef\xbb\xbf"  # ?bom=true


def _assert_secrets_kept_out_of_the_log(credentials: Path, log: str) -> None:
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    text = credentials.read_text()
    secrets = dict(re.findall(r"^(\w+)_CLIENT_SECRET=(\S+)$", text, flags=re.MULTILINE))
    assert set(secrets) == {
        "ADMIN",
        "TZBANK",
        "JSBANK",
        "BOCTZ",
        "ICBCTZ",
        "ABCTZ",
        "BUREAU",
        "ZXPJ",
        "XYTZ",
        "CHECKER",  # the demo's second operator (four eyes)
    }
    assert [name for name, secret in secrets.items() if secret in log] == []
    assert str(credentials) in log  # the log says where they are instead
    assert "# bank · 泰州银行 loan system · bank_code TZBANK" in text
    # The dashboard's users: passwords in the file only, the sign-in address and names logged.
    passwords = dict(re.findall(r"^(\w+)_USER_PASSWORD=(\S+)$", text, flags=re.MULTILINE))
    assert set(passwords) == {"BUREAU", "TZBANK", "JSBANK", "BOCTZ", "ICBCTZ", "ABCTZ"}
    assert [name for name, password in passwords.items() if password in log] == []
    assert re.search(r"sign in at http://[0-9.:]+/dashboard/sign-in as bureau, tzbank", log)


def test_expectations_read_multi_line_comments() -> None:
    block = Block(1, True, "", expectations('# {"a": 1,\n#  "b": "x…", "c": null}'))
    assert block.expected == [("a", 1), ("b", ANY), ("c", None)]
