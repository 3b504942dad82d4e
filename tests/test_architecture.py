"""The import contracts of pyproject.toml hold, and they do bite: a copy of the code with one
forbidden import per contract fails `lint-imports` naming exactly those contracts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}  # noqa: F401\n")


def test_the_code_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_each_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    for name in ("services", "shared"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # shared reaching into a service; loans reaching past scoring's, guarantee's and the
    # gateway's queries into their modules (no cycle: none of them reaches loans); scoring
    # importing loans, which imports scoring: a cycle.
    _append(tmp_path / "shared" / "money.py", "import services.loans.models")
    _append(tmp_path / "services" / "loans" / "models.py", "import services.scoring.models")
    _append(tmp_path / "services" / "loans" / "quotes.py", "import services.guarantee.fees")
    _append(tmp_path / "services" / "loans" / "applications.py", "import services.gateway.models")
    _append(tmp_path / "services" / "scoring" / "queries.py", "import services.loans.models")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = {line.split(" BROKEN")[0] for line in result.stdout.splitlines() if "BROKEN" in line}
    assert broken == {
        "shared imports no service",
        "scoring is read by other services only through services.scoring.queries",
        "loans is reached by no other service",
        "guarantee is read by other services only through services.guarantee.queries",
        "the gateway is read by other services only through services.gateway.queries",
        "no import cycles between service packages",
    }, result.stdout
