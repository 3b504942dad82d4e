"""Reading the PDFs the service writes with poppler (`pdftotext`, `pdfinfo`, `pdftoppm`):
the text a reader's tools get out of a 诊断书, its page count, and page images.

poppler needs `poppler-data` to map the CID font's Adobe-GB1 characters back to Unicode
(without it `pdftotext` fails: "Missing language pack for 'Adobe-GB1' mapping"). Both are
Debian packages `.ci/run` installs: missing here, the tests that read PDFs are skipped;
missing under CI, they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CMAPS = Path("/usr/share/poppler/cMap/Adobe-GB1")


def require_poppler() -> None:
    """Skip (fail under CI) unless poppler-utils and poppler-data are installed."""
    if shutil.which("pdftotext") is None or not CMAPS.is_dir():
        message = "poppler is not installed (apt-get install poppler-utils poppler-data)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _run(*args: str, stdin: bytes) -> bytes:
    done = subprocess.run(args, input=stdin, capture_output=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Error" not in done.stderr, done.stderr.decode(errors="replace")
    return done.stdout


def text_of(pdf: bytes) -> str:
    """The text of `pdf` as `pdftotext` extracts it, with all whitespace removed (line and
    cell breaks then do not matter when a value is looked for)."""
    require_poppler()
    return re.sub(r"\s+", "", _run("pdftotext", "-enc", "UTF-8", "-", "-", stdin=pdf).decode())


def pages_of(pdf: bytes) -> int:
    """The number of pages `pdfinfo` reads."""
    require_poppler()
    info = _run("pdfinfo", "-", stdin=pdf).decode()
    match = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert match is not None, info
    return int(match[1])


def page_png(pdf: bytes, page: int, path: Path, dpi: int = 80) -> Path:
    """Render page `page` of `pdf` to the PNG `path` (asserting poppler reports no error)."""
    require_poppler()
    stem = path.with_suffix("")
    _run("pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page),
         "-singlefile", "-", str(stem), stdin=pdf)  # fmt: skip
    assert path.stat().st_size > 0
    return path
