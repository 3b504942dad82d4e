"""A client generated from the served OpenAPI document runs a bank's and a credit firm's flow.

openapi-python-client (pinned in codegen-requirements.txt, installed by ./test.sh into
.venv-codegen: its typer pin conflicts with the service's) generates a package from the live
`/openapi.json` with no warnings; the test imports it and runs, through the generated
functions only, against a real uvicorn server: tokens (client credentials), a bank's client
and a credit firm's made by an operator, enterprise points, a quote, a submission with an
`Idempotency-Key` and its replay (201 again, `Idempotent-Replayed: true`), a consent, and
one feature-export pull (NDJSON, read by the generated code as text).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.factories import A_INDICATORS, Creds, Factory
from tests.periods import PeriodPool

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / ".venv-codegen" / "bin" / "openapi-python-client"
PACKAGE = "innocredit_client"
# The generator cannot send a CSV or YAML body as such; an integrator maps them to raw bytes
# (README "The OpenAPI document"), so the bulk uploads become byte uploads.
CONFIG = {
    "package_name_override": PACKAGE,
    "post_hooks": [],
    "content_type_overrides": {
        "text/csv": "application/octet-stream",
        "application/yaml": "application/octet-stream",
    },
}


@pytest.fixture(scope="module")
def generated(live_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Generate the client from the live document; yield the generator's output."""
    assert GENERATOR.exists(), (
        "openapi-python-client is missing: run ./test.sh once, or "
        "python3 -m venv .venv-codegen && .venv-codegen/bin/pip install -r codegen-requirements.txt"
    )
    work = tmp_path_factory.mktemp("codegen")
    (work / "openapi.json").write_bytes(httpx.get(f"{live_url}/openapi.json").content)
    (work / "config.json").write_text(json.dumps(CONFIG))
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(work / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(work / PACKAGE),
            "--config",
            str(work / "config.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    sys.path.insert(0, str(work))
    try:
        yield output
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_document_generates_without_warnings(generated: str) -> None:
    assert "WARNING" not in generated, generated
    assert "Unsupported" not in generated, generated
    assert "Error" not in generated, generated


def test_the_operation_and_model_names_are_the_documents(generated: str) -> None:
    assert _module("api.loans.submit_application")
    assert _module("api.loans.get_loan_stats")
    assert _module("api.scoring.get_enterprise_points")
    assert _module("api.guarantee.pull_feature_export")
    assert _module("api.auth.issue_token")
    models = _module("models")
    group_by = models.StatsGroupBy
    assert {g.value for g in group_by} == {
        "bank",
        "product",
        "district",
        "industry",
        "month",
        "stage",
    }
    assert {s.value for s in models.ApplicationStatus} >= {"submitted", "approved", "disbursed"}


def _token(client_module: ModuleType, url: str, creds: Creds) -> str:
    """A token through the generated `issue_token`, the credentials as form fields."""
    issue = _module("api.auth.issue_token")
    models = _module("models")
    body = models.TokenRequest(grant_type=models.GrantType.CLIENT_CREDENTIALS)
    body.additional_properties = {
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
    }
    with client_module.Client(base_url=url) as anonymous:
        answer = issue.sync_detailed(client=anonymous, body=body)
    assert answer.status_code == 200, answer.content
    assert answer.headers["cache-control"] == "no-store"
    token: str = answer.parsed.access_token
    return token


def _client_of(client_module: ModuleType, url: str, admin: Any, **create: Any) -> Creds:
    """A new API client made by the operator through the generated `create_client`."""
    models = _module("models")
    made = _module("api.admin_clients_and_keys.create_client").sync_detailed(
        client=admin, body=models.ClientCreate(**create)
    )
    assert made.status_code == 201, made.content
    return Creds(made.parsed.client_id, made.parsed.client_secret)


def test_a_bank_and_a_credit_firm_work_through_the_generated_client(
    generated: str,
    live_url: str,
    factory: Factory,
    periods: PeriodPool,
    make_client: Callable[..., Creds],
) -> None:
    client_module = _module("client")
    models = _module("models")
    (uscc,) = factory.ranked(periods.fresh(), [A_INDICATORS])
    bank = factory.bank()
    product = factory.product(bank, min_points=80)

    admin_token = _token(client_module, live_url, make_client("admin", name="codegen operator"))
    with client_module.AuthenticatedClient(base_url=live_url, token=admin_token) as admin:
        bank_creds = _client_of(
            client_module,
            live_url,
            admin,
            name="codegen bank",
            role=models.Role.BANK,
            bank_code=bank,
        )
        firm = "CG_" + uuid.uuid4().hex[:6].upper()
        firm_creds = _client_of(
            client_module,
            live_url,
            admin,
            name="codegen credit firm",
            role=models.Role.CREDIT_FIRM,
            firm_code=firm,
        )
        consent = _module("api.admin_guarantee.create_consent").sync_detailed(
            client=admin,
            body=models.ConsentIn(
                uscc=uscc,
                firm_code=firm,
                granted_at=datetime.now(UTC) - timedelta(days=1),
                evidence_ref="授权书-codegen",
            ),
        )
        assert consent.status_code == 201, consent.content

    bank_token = _token(client_module, live_url, bank_creds)
    with client_module.AuthenticatedClient(base_url=live_url, token=bank_token) as api:
        points = _module("api.scoring.get_enterprise_points").sync(uscc, client=api)
        assert isinstance(points, models.PointsOut), points
        assert points.points > 80

        quote = _module("api.loans.get_loan_quote").sync(product, client=api, uscc=uscc)
        assert isinstance(quote, models.Quote), quote
        assert quote.eligible is True

        submit = _module("api.loans.submit_application")
        body = models.ApplicationIn(
            uscc=uscc, product_code=product, amount="1000000.00", term_months=12
        )
        key = str(uuid.uuid4())
        first = submit.sync_detailed(client=api, body=body, idempotency_key=key)
        assert first.status_code == 201, first.content
        assert isinstance(first.parsed, models.ApplicationOut)
        assert first.parsed.status == models.ApplicationStatus.SUBMITTED
        assert first.headers["location"] == f"/v1/loans/applications/{first.parsed.id}"
        assert "idempotent-replayed" not in first.headers

        replay = submit.sync_detailed(client=api, body=body, idempotency_key=key)
        assert replay.status_code == 201, replay.content
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.parsed.id == first.parsed.id
        assert replay.headers["etag"] == first.headers["etag"]

    firm_token = _token(client_module, live_url, firm_creds)
    with client_module.AuthenticatedClient(base_url=live_url, token=firm_token) as api:
        pull = _module("api.guarantee.pull_feature_export").sync_detailed(client=api)
        assert pull.status_code == 200, pull.content
        assert pull.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in pull.parsed.splitlines()]
        assert [row["uscc"] for row in lines[:-1]] == [uscc]
        assert lines[-1] == {"next_cursor": pull.headers["x-next-cursor"]}
