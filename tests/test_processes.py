"""`innocredit serve` as real processes: one process on embedded PostgreSQL, and split."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from services.runtime import build_gateway
from shared.db import make_engine
from tests.conftest import make_settings
from tests.factories import Creds, bearer
from tests.processes import INNOCREDIT, free_port_block, innocredit, stop, wait_ready

pytestmark = pytest.mark.slow


def _token(base: str, creds: Creds) -> str:
    response = httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _printed_credentials(log: Path) -> Creds | None:
    text = log.read_text()
    ids = re.findall(r"client_id:\s+(\S+)", text)
    secrets = re.findall(r"client_secret:\s+(\S+)", text)
    return Creds(ids[0], secrets[0]) if ids and secrets else None


def test_serve_without_database_url_uses_embedded_postgres_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    port = free_port_block(1)
    base = f"http://127.0.0.1:{port}"
    env = {
        "INNOCREDIT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "",
        "INNOCREDIT_LOG_FORMAT": "text",
    }
    first_log = tmp_path / "first.log"
    with innocredit(["serve", "--port", str(port)], env=env, log=first_log) as proc:
        wait_ready(f"{base}/readyz", proc=proc, log=first_log)
        creds = _printed_credentials(first_log)
        assert creds is not None, first_log.read_text()
        assert "WARNING: INNOCREDIT_KEY_ENCRYPTION_KEY is not set" in first_log.read_text()
        token = _token(base, creds)
        me = httpx.get(f"{base}/v1/guarantee/whoami", headers=bearer(token))
        assert me.json()["role"] == "admin"
        stop(proc)
    assert (tmp_path / "data" / "pg18" / "PG_VERSION").exists()

    second_log = tmp_path / "second.log"
    with innocredit(["serve", "--port", str(port)], env=env, log=second_log) as proc:
        wait_ready(f"{base}/readyz", proc=proc, log=second_log)
        assert _printed_credentials(second_log) is None  # the admin exists: nothing printed
        _token(base, creds)  # the data survived the restart


def test_cli_clients_create_json_and_keys_rotate(tmp_path: Path, database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [
            *INNOCREDIT,
            "clients",
            "create",
            "--name",
            "江苏银行",
            "--role",
            "bank",
            "--bank-code",
            "JSB",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(json.loads(out.stdout)) == {"client_id", "client_secret"}
    bad = subprocess.run(
        [*INNOCREDIT, "clients", "create", "--name", "x", "--role", "bank"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    assert "bank_code" in bad.stderr
    rotated = subprocess.run(
        [*INNOCREDIT, "keys", "rotate"], env=env, capture_output=True, text=True
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "new signing key" in rotated.stdout


def test_split_mode_proxies_and_forwards_the_request_id(
    tmp_path: Path, database_url: str, make_client: Callable[..., Creds]
) -> None:
    port = free_port_block(4)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "split.log"
    env = {
        "DATABASE_URL": database_url,
        "INNOCREDIT_LOG_FORMAT": "text",
        "INNOCREDIT_UNKNOWN_KID_COOLDOWN_SECONDS": "0",
    }
    with innocredit(["serve", "--split", "--port", str(port)], env=env, log=log) as proc:
        wait_ready(f"{base}/readyz", proc=proc, log=log)
        for offset in (1, 2, 3):
            wait_ready(f"http://127.0.0.1:{port + offset}/readyz", proc=proc, log=log)
        token = _token(base, make_client("bank", name="泰州银行", bank_code="TZB"))

        me = httpx.get(
            f"{base}/v1/scoring/whoami", headers={**bearer(token), "X-Request-ID": "split-req-1"}
        )
        assert me.status_code == 200
        assert me.json()["bank_code"] == "TZB"
        assert me.headers["x-request-id"] == "split-req-1"

        # A problem made by the service itself carries the id the service received.
        missing = httpx.get(
            f"{base}/v1/loans/no-such-thing",
            headers={**bearer(token), "X-Request-ID": "split-req-2"},
        )
        assert missing.status_code == 404
        assert missing.json()["request_id"] == "split-req-2"
        generated = httpx.get(f"{base}/v1/guarantee/no-such-thing", headers=bearer(token))
        assert generated.json()["request_id"] == generated.headers["x-request-id"]

        # Each service verifies tokens on its own too (against the gateway's JWKS).
        direct = f"http://127.0.0.1:{port + 1}/v1/scoring/whoami"
        assert httpx.get(direct, headers=bearer(token)).status_code == 200
        assert httpx.get(direct).status_code == 401
        assert httpx.get(direct, headers=bearer(token[:-3] + "abc")).status_code == 401

        # Gateway checks still apply in front of proxied services.
        assert httpx.get(f"{base}/v1/scoring/whoami").status_code == 401
        scope = httpx.post(
            f"{base}/v1/admin/clients", headers=bearer(token), json={"name": "x", "role": "bureau"}
        )
        assert scope.status_code == 403


def test_split_gateway_answers_503_when_a_service_is_down(
    database_url: str, make_client: Callable[..., Creds]
) -> None:
    port = free_port_block(1)  # nothing listens there
    settings = make_settings(
        database_url,
        scoring_url=f"http://127.0.0.1:{port}",
        loans_url=f"http://127.0.0.1:{port}",
        guarantee_url=f"http://127.0.0.1:{port}",
    )
    engine = make_engine(database_url)
    with TestClient(build_gateway(settings, engine)) as api:
        creds = make_client("admin")
        token = api.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": creds.basic()},
        ).json()["access_token"]
        response = api.get("/v1/scoring/whoami", headers=bearer(token))
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "2"
        assert response.json()["type"].endswith("/problems/service-unavailable")
    engine.dispose()


def test_serve_demo_loads_the_demo_once(tmp_path: Path) -> None:
    port = free_port_block(1)
    base = f"http://127.0.0.1:{port}"
    env = {
        "INNOCREDIT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "",
        "INNOCREDIT_LOG_FORMAT": "text",
    }
    log = tmp_path / "demo.log"
    with innocredit(["serve", "--demo", "--port", str(port)], env=env, log=log) as proc:
        wait_ready(f"{base}/readyz", proc=proc, log=log, timeout=180)
        text = log.read_text()
        bureau = re.search(r"bureau\s+.+?\s+(ic_\w+)\s+(\S+)", text)
        assert bureau is not None, text
        token = _token(base, Creds(bureau.group(1), bureau.group(2)))
        stats = httpx.get(
            f"{base}/v1/loans/stats",
            headers=bearer(token),
            params={"from": "2026-01-01", "to": "2026-06-30"},
            timeout=30,
        ).json()
        assert stats["total"]["disbursed_count"] == 662
        assert stats["total"]["disbursed_amount"] == "4112000000.00"
        stop(proc)
    again = tmp_path / "again.log"
    with innocredit(["serve", "--demo", "--port", str(port)], env=env, log=again) as proc:
        wait_ready(f"{base}/readyz", proc=proc, log=again)
        assert "demo not loaded" in again.read_text()
