"""Where the dashboard's tests write screenshots: test artefacts (gitignored), and the README's
screenshot (written only with `--update-screenshots`)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "dashboard"
README_SCREENSHOT = ROOT / "docs" / "dashboard.png"
