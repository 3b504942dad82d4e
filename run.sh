#!/usr/bin/env bash
# Install (once, into .venv) and run InnoCredit: gateway + scoring + loans + guarantee.
# Without DATABASE_URL an embedded PostgreSQL is started (data in ~/.local/share/innocredit).
# Arguments go to `innocredit serve`, e.g. ./run.sh --port 8080 or ./run.sh --split.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "» creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ] || [ constraints.txt -nt .venv/.installed ]; then
  echo "» installing pinned dependencies (first run takes a minute)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
  touch .venv/.installed
  # A script cannot change its caller's PATH; say where the command is instead (README).
  echo "» installed the innocredit command as .venv/bin/innocredit (not on your PATH;" \
    "'source .venv/bin/activate' to type just innocredit)" >&2
fi
exec .venv/bin/innocredit serve "$@"
