#!/usr/bin/env bash
# Install (into .venv, with the dev tools) and run every check: ruff, mypy, the import contracts
# (import-linter, [tool.importlinter] in pyproject.toml), the test suite.
# Tests use TEST_DATABASE_URL if set, else testcontainers if Docker answers, else a throwaway
# embedded PostgreSQL they start themselves. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "» creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.installed-dev ] || [ pyproject.toml -nt .venv/.installed-dev ] || [ constraints.txt -nt .venv/.installed-dev ]; then
  echo "» installing pinned dependencies and dev tools" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
  touch .venv/.installed-dev
fi
# The client generator the generated-client test runs: a tool with a venv of its own, as
# integrators run it (its typer pin conflicts with ours; codegen-requirements.txt says why).
if [ ! -f .venv-codegen/.installed ] || [ codegen-requirements.txt -nt .venv-codegen/.installed ]; then
  echo "» installing openapi-python-client into .venv-codegen" >&2
  "$PYTHON" -m venv .venv-codegen
  .venv-codegen/bin/python -m pip install --quiet --disable-pip-version-check -r codegen-requirements.txt
  touch .venv-codegen/.installed
fi
echo "» ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "» mypy" >&2
.venv/bin/mypy
echo "» import contracts" >&2
.venv/bin/lint-imports --no-cache --no-logo
echo "» pytest" >&2
# The whole suite on two workers unless told otherwise (README "The two commands"), a test
# file's tests on one worker (its module fixtures load once; test_fuzz's last test sees the
# cases before it).
if [ $# -eq 0 ]; then set -- -n 2 --dist loadfile; fi
exec .venv/bin/pytest "$@"
