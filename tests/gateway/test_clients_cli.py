"""`innocredit clients …` and `innocredit keys rotate` as an operator runs them, against the tests'
database (in this process: tests/cli_runner.py; the entry point as a process is
tests/test_processes.py's)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.cli_runner import run_cli
from tests.factories import Creds, Factory, get_token


def test_cli_clients_create_list_rotate_and_keys_rotate(
    database_url: str, factory: Factory, api: TestClient
) -> None:
    env = {"DATABASE_URL": database_url}
    bank = factory.bank(name="江苏银行")
    create = ["clients", "create", "--name", "江苏银行", "--role", "bank"]
    out = run_cli([*create, "--bank-code", bank, "--json"], env)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert set(made) == {"client_id", "client_secret"}
    unknown = run_cli([*create, "--bank-code", "NOSUCHBANK"], env)
    assert unknown.returncode == 1
    assert "bank_code: no partner bank has the code 'NOSUCHBANK'" in unknown.stderr
    listed = run_cli(["clients", "list"], env)
    assert listed.returncode == 0, listed.stderr
    row = next(ln for ln in listed.stdout.splitlines() if ln.startswith(made["client_id"]))
    assert row.split()[1:4] == ["bank", bank, "enabled"]
    assert made["client_secret"] not in listed.stdout
    rotated_secret = run_cli(["clients", "rotate-secret", made["client_id"], "--json"], env)
    assert rotated_secret.returncode == 0, rotated_secret.stderr
    new = json.loads(rotated_secret.stdout)
    assert new["client_id"] == made["client_id"]
    get_token(api, Creds(new["client_id"], new["client_secret"]))
    old = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": Creds(made["client_id"], made["client_secret"]).basic()},
    )
    assert old.status_code == 401
    bad = run_cli(["clients", "create", "--name", "x", "--role", "bank"], env)
    assert bad.returncode != 0
    assert "bank_code" in bad.stderr
    rotated = run_cli(["keys", "rotate"], env)
    assert rotated.returncode == 0, rotated.stderr
    assert "new signing key" in rotated.stdout
