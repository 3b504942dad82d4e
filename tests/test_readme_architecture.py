"""The README's architecture section names every module of `services/` and `shared/`, so the
layout a newcomer reads is the code's (it drifted once: a whole package went unnamed)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def architecture_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Architecture\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def unnamed(section: str, files: list[Path]) -> list[str]:
    """The modules whose file name (`quotes.py`) the section never mentions."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*\.py", section))
    return [
        path.relative_to(ROOT).as_posix()
        for path in files
        if path.name != "__init__.py" and path.name not in words
    ]


def test_the_architecture_section_names_every_module() -> None:
    files = sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")])
    assert len(files) > 150
    missing = unnamed(architecture_section(), files)
    assert missing == [], f"README.md ## Architecture does not name: {missing}"


def test_a_module_left_out_is_found() -> None:
    files = [ROOT / "services" / "loans" / "quotes.py", ROOT / "shared" / "no_such_module.py"]
    assert unnamed(architecture_section(), files) == ["shared/no_such_module.py"]
