"""The `innocredit` command run in this process (Typer's CliRunner): the same app and code as
the installed command, without a new interpreter's two seconds of imports per call. The
entry point itself (`innocredit` as a process) is tested in tests/test_processes.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from typer.testing import CliRunner

from services.cli import app
from shared.settings import get_settings


@dataclass(frozen=True, slots=True)
class Ran:
    """What a command did: its exit status and its two streams."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(args: list[str], env: Mapping[str, str | None], stdin: str = "") -> Ran:
    """Run `innocredit ARGS` with `env` set (a None value unsets a variable) and `stdin`."""
    get_settings.cache_clear()  # the command reads its settings from `env`
    try:
        result = CliRunner().invoke(app, args, env=dict(env), input=stdin, catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    return Ran(result.exit_code, result.stdout, result.stderr)
