"""The fuzz suite's document, profiles, extra checks and seeded world (used by
tests/test_fuzz.py).

Who may call what is the document's `x-access` (shared/openapi_access.py): it says which
operations get a bearer token, which role the world acts as for each call, and what
`declared_access` holds every answer to."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import httpx
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import AuthContext, Case, CheckContext, HookContext, Response
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.types import ASGIApp, Receive, Scope, Send

from services.runtime import build_gateway
from shared.clock import SHANGHAI
from shared.db import make_engine
from shared.errors import PROBLEM_MEDIA_TYPE
from shared.openapi_access import TENANT_ROLE
from shared.uscc import ALPHABET, check_char
from shared.vocab import CATEGORIES, DISTRICTS, INDUSTRIES, STAGES
from tests.servers import make_settings

SEED = 20260816
ROLE_TOKEN = "role-token-placeholder"
PROFILE_VARIABLE = "INNOCREDIT_FUZZ_PROFILE"

# max_examples: examples per operation in the fuzzing phase; coverage: Schemathesis's
# coverage phase (boundary and invalid values of every parameter, many more requests).
PROFILES: dict[str, dict[str, Any]] = {
    "fast": {"max_examples": 4, "coverage": False},
    "long": {"max_examples": 200, "coverage": True},
}


def profile() -> dict[str, Any]:
    """The profile named by INNOCREDIT_FUZZ_PROFILE (default `fast`)."""
    name = os.environ.get(PROFILE_VARIABLE, "fast")
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_VARIABLE} must be one of {sorted(PROFILES)}, not {name!r}")
    return PROFILES[name]


# The document's `uscc` format: 18 characters whose last is the GB 32100-2015 check digit.
schemathesis.openapi.format(
    "uscc", st.text(ALPHABET, min_size=17, max_size=17).map(lambda s: s + check_char(s))
)


# Schemathesis's `positive_data_acceptance` expects a schema-valid request to succeed (or be
# 401/403/404/409/429). These operations refuse some schema-valid requests by a rule that
# JSON Schema cannot state; there, and only there, the check also accepts that status.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # the check's default
SEMANTIC_REJECTIONS: dict[str, tuple[str, str]] = {
    # operation: (status, the rule the document cannot state)
    "GET /v1/admin/audit": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/admin/clients": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/scoring/rankings": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/loans/applications": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/guarantee/consents": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/guarantee/features": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/scoring/industries": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/scoring/models": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/scoring/runs": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/loans/banks": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/loans/products": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/loans/applications/{app_id}/events": (
        "400",
        "a cursor is valid only if this API issued it",
    ),
    "GET /v1/guarantee/waivers/{year}": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/guarantee/fee-rates": ("400", "a cursor is valid only if this API issued it"),
    "GET /problems": ("400", "a cursor is valid only if this API issued it"),
    "PUT /v1/admin/enterprises": ("422", "rows are checked as a file: models, industries"),
    "PUT /v1/admin/indicators/{period}": ("422", "rows are checked as a file: known USCCs"),
    "POST /v1/admin/models": ("422", "a model definition is checked as a whole"),
    "PUT /v1/admin/models/{version}": ("422", "a model definition is checked as a whole"),
    "POST /v1/admin/points/{period}/recompute": ("422", "the period needs indicator data"),
    "GET /v1/scoring/models/{version}/impact": ("422", "the period needs indicator data"),
    "GET /v1/scoring/drift": ("422", "run and baseline_run go together, without periods"),
    "PUT /v1/admin/calendar/{year}": ("422", "the dates must fall in the path's year"),
    "PUT /v1/admin/products/{code}": ("422", "term, rate and tier bounds are ordered"),
    "POST /v1/loans/applications": ("422", "eligibility, the quote and the product's terms"),
    "POST /v1/loans/applications/{app_id}/decision": ("422", "approval terms, timing"),
    "GET /v1/loans/stats": ("422", "`to` is not before `from`"),
    "POST /v1/admin/consents": ("422", "expires_at is after granted_at"),
    "POST /v1/admin/clients": ("422", "a bank client's bank_code names a partner bank"),
    "GET /v1/admin/users": ("400", "a cursor is valid only if this API issued it"),
    "POST /v1/admin/users": ("422", "a bank user's bank_code names a partner bank; password rule"),
    "POST /v1/admin/users/{user_id}/password": ("422", "the password rule (length, variety)"),
    "GET /v1/loans/webhooks": ("400", "a cursor is valid only if this API issued it"),
    "GET /v1/loans/webhooks/{name}/deliveries": (
        "400",
        "a cursor is valid only if this API issued it",
    ),
    "PUT /v1/loans/webhooks/{name}": (
        "422",
        "https to a public address; the bureau subscribes to decision_overdue only",
    ),
}


def _operation_configs() -> list[dict[str, Any]]:
    return [
        {
            "include-name": name,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, status]}},
        }
        for name, (status, _) in SEMANTIC_REJECTIONS.items()
    ]


def fuzz_config() -> schemathesis.Config:
    """Every check on, a fixed seed, derandomized generation, no example database."""
    chosen = profile()
    return schemathesis.Config.from_dict(
        {
            "operations": _operation_configs(),
            "seed": SEED,
            "base-url": "http://testserver",
            "generation": {
                "max-examples": chosen["max_examples"],
                "deterministic": True,
                "database": "none",
                # PostgreSQL text cannot hold U+0000, so any string with one is 422 (a rule
                # no schema states); tests/shared/test_errors.py holds that, for every service.
                "allow-x00": False,
            },
            "phases": {"coverage": {"enabled": chosen["coverage"]}},
            "checks": {"enabled": True},
        }
    )


@cache
def api_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, built without a database (it needs none)."""
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused")
    assert settings.database_url
    engine = make_engine(settings.database_url)  # never connected
    document: dict[str, Any] = build_gateway(settings, engine).core.openapi()
    engine.dispose()
    return document


class Target:
    """The ASGI app under test, bound by a fixture after the schema was loaded at import.

    Schemathesis's pytest plugin wants the schema when the module is imported; the gateway
    needs the test database, which exists only once fixtures run.
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no app bound: use the fixture that binds the fuzz target")
        await self.app(scope, receive, send)


def load_schema(target: Target, seeded: Seeded) -> OpenApiSchema:
    """The gateway's document, its requests sent in-process to `target`, its cases given the
    ids of `seeded`'s world."""
    schema = schemathesis.openapi.from_dict(api_document(), config=fuzz_config())
    schema.app = target  # as schemathesis.openapi.from_asgi does

    class Bearer:
        """A bearer token on every case of an operation that is not public (`x-access`),
        except where a negative case drops it.

        Cases are made before the role is known (some at collection), so this sets a
        placeholder that `role_token` swaps for the role's token around the call.
        """

        def get(self, case: Case[Any], ctx: AuthContext) -> str:
            return ROLE_TOKEN

        def set(self, case: Case[Any], data: str, ctx: AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    # By path, as no path mixes public and guarded operations (asserted).
    paths = {label: label.split(" ", 1)[1] for label in operation_labels()}
    guarded = {path for label, path in paths.items() if not access(label)["public"]}
    assert not guarded & {path for label, path in paths.items() if access(label)["public"]}
    path_regex = "^(" + "|".join(re.escape(path) for path in sorted(guarded)) + ")$"
    schema.auth(refresh_interval=None).apply_to(path_regex=path_regex)(Bearer)
    use_world(schema, seeded)
    return schema


def operation_labels() -> list[str]:
    """ "METHOD /path" of every operation of the document, in its order."""
    return [f"{m.upper()} {path}" for path, item in api_document()["paths"].items() for m in item]


def access(label: str) -> dict[str, Any]:
    """The `x-access` of the document's operation `label` ("GET /v1/…")."""
    method, path = label.split(" ", 1)
    declared: dict[str, Any] = api_document()["paths"][path][method.lower()]["x-access"]
    return declared


def operation_of(method: str, url: str) -> str:
    """The label of the document's operation that `method url` calls."""
    segments = url.split("?", 1)[0].split("/")
    matches = []
    for path, item in api_document()["paths"].items():
        template = path.split("/")
        if method.lower() not in item or len(template) != len(segments):
            continue
        if all(t == s or t.startswith("{") for t, s in zip(template, segments, strict=True)):
            matches.append(path)
    if not matches:
        raise LookupError(f"the document has no operation for {method} {url}")
    return f"{method} {min(matches, key=lambda path: path.count('{'))}"  # literal first


def acting_role(declared: dict[str, Any]) -> str:
    """Who the world acts as for an operation declared `declared`: the tenant's own client
    where it is admitted (the world's bank and firm act for themselves), else an operator,
    else the first role admitted."""
    own = TENANT_ROLE.get(declared["tenant"])
    roles: list[str] = declared["roles"]
    return next((r for r in (own, "admin") if r in roles), roles[0])


@contextmanager
def role_token(case: Case[Any], token: str) -> Iterator[None]:
    """The role's token where `Bearer` left its placeholder, for one call and put back after:
    a case may run again for the next role (the explicit examples' case is one object)."""
    placeholder = f"Bearer {ROLE_TOKEN}"
    if case.headers.get("Authorization") != placeholder:
        yield
        return
    case.headers["Authorization"] = f"Bearer {token}"
    try:
        yield
    finally:
        case.headers["Authorization"] = placeholder


def problem_details(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx is `application/problem+json` whose `status` member is the HTTP status."""
    if not 400 <= response.status_code < 500:
        return None
    media_type = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    assert media_type == PROBLEM_MEDIA_TYPE, (
        f"{response.status_code} answered with {media_type or 'no content type'}, "
        f"not {PROBLEM_MEDIA_TYPE}"
    )
    body = response.json()
    assert isinstance(body, dict), "a problem document is a JSON object"
    assert body.get("status") == response.status_code, (
        f"problem status {body.get('status')!r} != HTTP status {response.status_code}"
    )
    return True


Check = Callable[[CheckContext, Response, Case[Any]], bool | None]


def declared_access(role: str) -> Check:
    """A check for `role`'s cases: a role the operation's `x-access` does not admit never
    gets a 2xx, and one it admits is never refused (403)."""

    def declared_access(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
        admitted = role in access(case.operation.label)["roles"]
        status = response.status_code
        if admitted:
            assert status != 403, f"{role} is admitted by x-access but was refused (403)"
        else:
            assert not 200 <= status < 300, f"{role} is not admitted by x-access but got {status}"
        return True

    return declared_access


# ---------------------------------------------------------------- the seeded world
#
# A fresh database holds no enterprise, product, consent or application, so every id the
# fuzzer makes up is 404 and no write under /v1/loans or /v1/guarantee gets past it. The
# world below is made through the API before the fuzz runs (`seed_world`); the
# `flatmap_case` hook that `load_schema` registers then puts its ids, codes and consistent
# bodies into two in three positive cases of the operations in `FIXES` (negative cases and
# the third keep what Schemathesis drew). Each write the fuzzer may repeat has a pool of
# its own, so a pool it uses up (decided, withdrawn, revoked, disabled) never starves
# another operation, and nothing the fuzzer writes moves the world's ranking: its
# indicator uploads go to OLD_PERIOD, its recomputes to OLD_PERIOD or to PERIOD with
# PERIOD's model and data (the same points), its enterprise uploads to USCCs of its own.

BANK_CODE = "FUZZ"  # the bank token's bank
FIRM_CODE = "FUZZ"  # the credit_firm token's firm
MODEL = "TZ-2025.1"  # the points model the migrations publish
PERIOD = 2025  # the world's ranked period (its waivers are for PERIOD + 1)
OLD_PERIOD = 2020  # where the fuzzer uploads indicators and recomputes
PRODUCT = "FUZZ-LOAN"
INDUSTRY_CODES = tuple(code for code, _ in INDUSTRIES)


@dataclass
class World:
    """What `seed_world` made: the ids and codes the fuzzer is given."""

    usccs: list[str]  # ranked in PERIOD and PERIOD - 1, eligible for PRODUCT
    model_definition: dict[str, Any]  # MODEL's, for drafts of the fuzzer's own
    drafts_to_replace: list[str]
    drafts_to_publish: list[str]
    clients: list[str]  # every client but the role tokens' (those must stay usable)
    spare_clients: list[str]  # for rotate-secret and disable
    token_client: tuple[str, str]  # id and secret for /oauth/token (never rotated)
    applications: list[str]
    to_decide: list[str]  # submitted
    to_withdraw: list[str]  # submitted
    approved: list[str]  # disbursed ones too: a payout may follow a payout
    disbursed: list[str]
    paid_out: dict[str, str]  # disbursed application → its disbursed total
    revocable: list[str]  # consents; the others stay live for the feature export
    feature_cursor: str  # a `since` the export issued
    documents: list[str]  # verification codes of issued 诊断书 (and a hash for each)
    document_hashes: list[str]

    def learn(self, operation: str, status: int, json_body: Callable[[], Any]) -> None:
        """Put what a write made into the pools of the operations that come next, so the
        fuzzer's own applications get decided, paid out and repaid (in the document's
        order: submit, decide, disburse, report). Never into the pool of the operation
        itself: Hypothesis wants the choices of a test to stay what they were."""
        if not 200 <= status < 300 or operation not in LEARNED_FROM:
            return
        body = json_body()
        made = str(body.get("id") or body.get("client_id"))
        if operation == "POST /v1/loans/applications":
            self.applications.append(made)
            shorter = min(self.to_decide, self.to_withdraw, key=len)
            shorter.append(made)
        elif operation.endswith("/decision") and body.get("status") == "approved":
            self.approved.append(made)
        elif operation.endswith("/disbursements"):
            if made not in self.paid_out:
                self.disbursed.append(made)
            self.paid_out[made] = str(body["disbursed_total"])
        elif operation == "POST /v1/admin/consents" and body.get("firm_code") == FIRM_CODE:
            self.revocable.append(made)
        elif operation == "POST /v1/admin/clients":
            self.clients.append(made)
            self.spare_clients.append(made)


LEARNED_FROM = {
    "POST /v1/loans/applications",
    "POST /v1/loans/applications/{app_id}/decision",
    "POST /v1/loans/applications/{app_id}/disbursements",
    "POST /v1/admin/consents",
    "POST /v1/admin/clients",
}


class Seeded:
    """The world, bound by a fixture once it is made (cases are drawn only after that)."""

    def __init__(self) -> None:
        self.world: World | None = None


def _uscc(rng: random.Random) -> str:
    body = "913212" + "".join(rng.choice(ALPHABET) for _ in range(11))
    return body + check_char(body)


def _indicators(uscc: str, i: int, revenue: int) -> dict[str, Any]:
    return {
        "uscc": uscc,
        "invention_patents": 1 + i,
        "utility_models": 2 * i,
        "software_copyrights": i,
        "rd_expense": f"{(i + 1) * 800_000}.00",
        "revenue": f"{revenue}.00",
        "rd_staff": 3 + 2 * i,
        "total_staff": 30 + 5 * i,
        "equity_financing": f"{i * 1_000_000}.00",
        "awards_provincial": i % 2,
        "awards_national": 0,
        "jbgs_funds_paid": "0.00",
    }


def _product(bank_code: str) -> dict[str, Any]:
    return {
        "bank_code": bank_code,
        "name": "模糊测试贷",
        "min_points": 10,
        "eligible_categories": [],
        "limit_tiers": [
            {"min_points": 10, "max_amount": "500000.00"},
            {"min_points": 120, "max_amount": "2000000.00"},
        ],
        "term_min_months": 6,
        "term_max_months": 36,
        "rate_min": "0.0300",
        "rate_max": "0.0600",
        "guarantee": True,
        "active_from": "2000-01-01",
    }


class _Api:
    """The seeding calls, each as the role `acting_role` picks, each asserting its status."""

    def __init__(self, client: TestClient, token: Callable[[str], str]) -> None:
        self._client = client
        self._token = token

    def __call__(
        self,
        method: str,
        url: str,
        status: int = 200,
        *,
        key: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        role = acting_role(access(operation_of(method, url)))
        headers = {"Authorization": f"Bearer {self._token(role)}", **kwargs.pop("headers", {})}
        if key is not None:
            headers["Idempotency-Key"] = key
        response: httpx.Response = self._client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == status, (
            role,
            method,
            url,
            response.status_code,
            response.text,
        )
        return response


def seed_world(client: TestClient, token: Callable[[str], str]) -> World:
    """Make the world through the API: the bank and firm are the role tokens' own."""
    api = _Api(client, token)
    rng = random.Random(SEED)
    usccs = [_uscc(rng) for _ in range(8)]
    enterprises = [
        {
            "uscc": uscc,
            "name": f"模糊测试企业{i}",
            "district": DISTRICTS[i % len(DISTRICTS)],
            "industry": INDUSTRY_CODES[i % len(INDUSTRY_CODES)],
            "stage": STAGES[i % len(STAGES)],
            "categories": sorted({CATEGORIES[i % len(CATEGORIES)], "tech_sme"}),
            "founded_on": f"{2010 + i}-03-01",
        }
        for i, uscc in enumerate(usccs)
    ]
    api("PUT", "/v1/admin/enterprises", json=enterprises)
    uploads = {
        PERIOD - 1: [_indicators(u, i, (i + 1) * 9_000_000) for i, u in enumerate(usccs)],
        PERIOD: [_indicators(u, i, (i + 1) * 10_000_000) for i, u in enumerate(usccs)],
        OLD_PERIOD: [_indicators(u, i, (i + 1) * 5_000_000) for i, u in enumerate(usccs[:3])],
    }
    for period, rows in uploads.items():
        api("PUT", f"/v1/admin/indicators/{period}", json=rows)
        api("POST", f"/v1/admin/points/{period}/recompute", json={"model_version": MODEL})

    definition = api("GET", f"/v1/scoring/models/{MODEL}").json()["definition"]
    drafts = [f"FUZZ-DRAFT-{n}" for n in range(1, 5)]
    for version in drafts:
        api("POST", "/v1/admin/models", 201, json={**definition, "version": version})

    credentials = [
        api("POST", "/v1/admin/clients", 201, json={"name": name, "role": "bureau"}).json()
        for name in ("fuzz token client", "fuzz spare 1", "fuzz spare 2", "fuzz spare 3")
    ]
    clients = [c["client_id"] for c in credentials]

    api("PUT", f"/v1/admin/banks/{BANK_CODE}", json={"name": "模糊测试银行"})
    api("PUT", f"/v1/admin/products/{PRODUCT}", json=_product(BANK_CODE))
    fee_rate = {"effective_year": 2000, "rate": "0.0100", "note": "fuzz world"}
    api("POST", "/v1/admin/fee-rates", 201, json=fee_rate)

    def consent(uscc: str, firm: str = FIRM_CODE, **times: str) -> str:
        body = {"uscc": uscc, "firm_code": firm, "evidence_ref": "fuzz world", **times}
        body.setdefault("granted_at", f"{PERIOD}-01-01T00:00:00+08:00")
        return str(api("POST", "/v1/admin/consents", 201, json=body).json()["id"])

    for uscc in usccs[:5]:
        consent(uscc)
    revocable = [consent(uscc) for uscc in usccs[5:7]]
    revoked = consent(usccs[7])
    api("POST", f"/v1/admin/consents/{revoked}/revoke")
    consent(
        usccs[7],
        granted_at=f"{PERIOD - 1}-01-01T00:00:00+08:00",
        expires_at=f"{PERIOD}-01-01T00:00:00+08:00",
    )
    consent(usccs[0], firm="FUZZ_OTHER")
    pulled = api("GET", "/v1/guarantee/features")
    lines = [json.loads(line) for line in pulled.text.splitlines()[:-1]]  # then the cursor
    assert sorted(line["deleted"] for line in lines) == [False] * 7 + [True], lines

    def submit(n: int) -> str:
        body = {
            "uscc": usccs[n % len(usccs)],
            "product_code": PRODUCT,
            "amount": "200000.00",
            "term_months": 12,
        }
        url = "/v1/loans/applications"
        return str(api("POST", url, 201, key=f"world-{n}", json=body).json()["id"])

    def decide(app: str, body: dict[str, Any]) -> None:
        url = f"/v1/loans/applications/{app}/decision"
        api("POST", url, key=f"decide-{app}", json=body)

    applications = [submit(n) for n in range(15)]
    to_decide, to_withdraw = applications[:4], applications[4:8]
    approved, disbursed = applications[8:11], applications[11:14]
    approval = {"outcome": "approved", "approved_amount": "200000.00", "annual_rate": "0.0450"}
    for app in approved + disbursed:
        decide(app, approval)
    decide(applications[14], {"outcome": "rejected", "reason_codes": ["fuzz"]})
    for app in disbursed:
        body = {
            "amount": "150000.00",
            "disbursed_at": datetime.now(UTC).isoformat(),
            "reference": f"FUZZ-{app[:8]}",
        }
        url = f"/v1/loans/applications/{app}/disbursements"
        api("POST", url, key=f"disburse-{app}", json=body)
    issued = [
        api("GET", f"/v1/scoring/enterprises/{u}/diagnosis", headers={"Accept": "application/pdf"})
        for u in usccs[:2]
    ]

    return World(
        usccs=usccs,
        model_definition=definition,
        drafts_to_replace=drafts[:2],
        drafts_to_publish=drafts[2:],
        clients=clients,
        spare_clients=clients[1:],
        token_client=(credentials[0]["client_id"], credentials[0]["client_secret"]),
        applications=applications,
        to_decide=to_decide,
        to_withdraw=to_withdraw,
        approved=approved + disbursed,
        disbursed=disbursed,
        paid_out=dict.fromkeys(disbursed, "150000.00"),
        revocable=revocable,
        feature_cursor=pulled.headers["X-Next-Cursor"],
        documents=[r.headers["X-Diagnosis-Document"] for r in issued],
        document_hashes=[hashlib.sha256(r.content).hexdigest() for r in issued],
    )


# ---------------------------------------------------------------- the world in the cases


class _Drop:
    """A world value that means: leave the parameter out."""


DROP = _Drop()
Parts = dict[str, Any]
Fix = Callable[[World, Case[Any]], st.SearchStrategy[Case[Any]]]


def _merged(old: Mapping[str, Any] | None, new: Parts) -> dict[str, Any]:
    merged = dict(old or {})
    for name, value in new.items():
        if value is DROP:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _edit(
    case: Case[Any],
    *,
    path: st.SearchStrategy[Parts] | None = None,
    query: st.SearchStrategy[Parts] | None = None,
    headers: st.SearchStrategy[Parts] | None = None,
    body: st.SearchStrategy[Any] | None = None,
    media_type: str = "application/json",
) -> st.SearchStrategy[Case[Any]]:
    """`case` with the drawn parts merged in (path, query, headers) or replaced (body)."""
    if body is not None and case.media_type not in (media_type, None):
        body = None  # a body in another media type (CSV, YAML) stays as drawn
    parts = {
        name: strategy
        for name, strategy in (("path", path), ("query", query), ("headers", headers))
        if strategy is not None
    }
    if body is not None:
        parts["body"] = body

    def apply(drawn: dict[str, Any]) -> Case[Any]:
        if "path" in drawn:
            case.path_parameters = _merged(case.path_parameters, drawn["path"])
        if "query" in drawn:
            case.query = _merged(case.query, drawn["query"])
        if "headers" in drawn:
            headers = case.headers.copy()
            for name, value in drawn["headers"].items():
                if value is DROP:
                    headers.pop(name, None)
                else:
                    headers[name] = value
            case.headers = headers
        if "body" in drawn:
            case.body = drawn["body"]
            case.media_type = media_type
        return case

    return st.fixed_dictionaries(parts).map(apply)


def _one(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(list(values))


def _maybe(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    """One of `values`, or the parameter left out."""
    return st.sampled_from([*values, DROP])


def _params(**values: st.SearchStrategy[Any]) -> st.SearchStrategy[Parts]:
    return st.fixed_dictionaries(values)


def _yuan(low: int, high: int, step: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n * step}.00")


def _now() -> st.SearchStrategy[str]:
    return st.builds(lambda: datetime.now(SHANGHAI).isoformat())


def _today() -> date:
    return datetime.now(SHANGHAI).date()


NO_CURSOR = _params(cursor=st.just(DROP))
IF_MATCH = st.sampled_from([DROP, "*"])
# A key of its own for each world write: the bank client's drawn keys repeat across
# operations, and a key reused for another request is refused (422) before anything else.
NEW_KEY = st.builds(lambda: f"fuzz-world-{uuid.uuid4()}")
STATE_CHANGE = _params(**{"If-Match": IF_MATCH, "Idempotency-Key": NEW_KEY})


def _path_only(name: str, pool: Callable[[World], Sequence[Any]]) -> Fix:
    return lambda w, case: _edit(case, path=_params(**{name: _one(pool(w))}))


def _scoring_fixes() -> dict[str, Fix]:
    def uscc_and_period(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        return _edit(
            case,
            path=_params(uscc=_one(w.usccs)),
            query=_params(period=_maybe([PERIOD, PERIOD - 1])),
        )

    def rankings(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        query = _params(
            period=_maybe([PERIOD]),
            district=_maybe(DISTRICTS),
            industry=_maybe(INDUSTRY_CODES),
            category=_maybe(CATEGORIES),
            cursor=st.just(DROP),
        )
        return _edit(case, query=query)

    def enterprises(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        rows: list[Any] = list(case.body) if isinstance(case.body, list) else []

        def known(codes: list[str]) -> list[Any]:  # the fuzzer's USCCs, known industries
            return [
                {**row, "industry": code} if isinstance(row, dict) else row
                for row, code in zip(rows, codes, strict=True)
            ]

        codes = st.lists(_one(INDUSTRY_CODES), min_size=len(rows), max_size=len(rows))
        return _edit(case, body=codes.map(known) if rows else None)

    def indicators(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        rows: list[Any] = list(case.body)[: len(w.usccs)] if isinstance(case.body, list) else []

        def known(usccs: list[str]) -> list[Any]:  # world USCCs, R&D staff within the staff
            out: list[Any] = []
            for row, uscc in zip(rows, usccs, strict=False):
                if isinstance(row, dict):
                    row = {**row, "uscc": uscc}
                    rd, staff = row.get("rd_staff"), row.get("total_staff")
                    if isinstance(rd, int) and isinstance(staff, int) and rd > staff:
                        row["total_staff"] = rd
                out.append(row)
            return out

        return _edit(
            case,
            path=_params(period=st.just(OLD_PERIOD)),
            body=st.permutations(w.usccs).map(known) if rows else None,
        )

    def new_model(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        drawn = case.body.get("version") if isinstance(case.body, dict) else None
        version = drawn if isinstance(drawn, str) else "FUZZ-NEW"
        return _edit(case, body=st.just({**w.model_definition, "version": version}))

    def replace_model(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        return _one(w.drafts_to_replace).flatmap(
            lambda version: _edit(
                case,
                path=_params(version=st.just(version)),
                body=st.just({**w.model_definition, "version": version}),
            )
        )

    return {
        "GET /v1/scoring/enterprises/{uscc}": _path_only("uscc", lambda w: w.usccs),
        "GET /v1/scoring/enterprises/{uscc}/points": uscc_and_period,
        "GET /v1/scoring/enterprises/{uscc}/diagnosis": uscc_and_period,
        "GET /v1/scoring/diagnosis-documents/{code}": lambda w, case: _edit(
            case,
            path=_params(code=_one(w.documents)),
            query=_params(sha256=_maybe(w.document_hashes)),
        ),
        "GET /v1/scoring/enterprises/{uscc}/paths": lambda w, case: _edit(
            case,
            path=_params(uscc=_one(w.usccs)),
            query=_params(
                period=_maybe([PERIOD, PERIOD - 1]),
                target=_one(["top-100", "rank:5", "points:150", f"product:{PRODUCT}"]),
            ),
        ),
        "GET /v1/scoring/rankings": rankings,
        "GET /v1/scoring/distribution": lambda w, case: _edit(
            case, query=_params(period=_maybe([PERIOD, PERIOD - 1]))
        ),
        "GET /v1/scoring/models/{version}": _path_only(
            "version", lambda w: [MODEL, *w.drafts_to_replace, *w.drafts_to_publish]
        ),
        "GET /v1/scoring/runs": lambda w, case: _edit(case, query=_params(period=_maybe([PERIOD]))),
        "GET /v1/scoring/models/{version}/impact": lambda w, case: _edit(
            case,
            path=_params(version=_one([MODEL, *w.drafts_to_replace])),
            query=_params(period=_maybe([PERIOD]), baseline=_maybe([MODEL])),
        ),
        "GET /v1/scoring/drift": lambda w, case: _edit(
            case,
            query=_params(
                period=_maybe([PERIOD]),
                baseline_period=_maybe([PERIOD - 1]),
                run=st.just(DROP),
                baseline_run=st.just(DROP),
            ),
        ),
        "PUT /v1/admin/enterprises": enterprises,
        "PUT /v1/admin/indicators/{period}": indicators,
        "POST /v1/admin/models": new_model,
        "PUT /v1/admin/models/{version}": replace_model,
        "POST /v1/admin/models/{version}/publish": _path_only(
            "version", lambda w: w.drafts_to_publish
        ),
        "POST /v1/admin/points/{period}/recompute": lambda w, case: _edit(
            case,
            path=_params(period=_one([OLD_PERIOD, PERIOD])),
            body=st.just({"model_version": MODEL}),
        ),
    }


def _loans_fixes() -> dict[str, Fix]:
    def application(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        body = _params(
            uscc=_one(w.usccs),
            product_code=st.just(PRODUCT),
            amount=_yuan(1, 50, 10_000),  # within the lowest tier
            term_months=st.integers(6, 36),
        )
        return _edit(case, headers=_params(**{"Idempotency-Key": NEW_KEY}), body=body)

    def decision(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        approve = _params(
            outcome=st.just("approved"),
            approved_amount=_yuan(1, 20, 10_000),  # at most what was applied for
            annual_rate=_one(["0.0300", "0.0450", "0.0600"]),
            term_months=st.integers(6, 36),
        )
        reject = _params(outcome=st.just("rejected"), reason_codes=st.just(["fuzz"]))
        return _edit(
            case,
            path=_params(app_id=_one(w.to_decide)),
            headers=STATE_CHANGE,
            body=st.one_of(approve, reject),
        )

    def disbursement(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        body = _params(  # small: the long profile's payouts stay within the approved amounts
            amount=_yuan(1, 100, 1), disbursed_at=_now(), reference=st.just("FUZZ-PAYOUT")
        )
        return _edit(
            case,
            path=_params(app_id=_one(w.approved)),
            headers=STATE_CHANGE,
            body=body,
        )

    def repayment(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        today = _today().isoformat()

        def report(app: str) -> st.SearchStrategy[Case[Any]]:
            paid_out = int(Decimal(w.paid_out[app]) * 100)  # cents
            outstanding = st.integers(0, paid_out).map(lambda c: f"{c // 100}.{c % 100:02d}")
            body = st.one_of(
                _params(
                    status=_one(["current", "overdue", "defaulted"]),
                    outstanding_principal=outstanding,  # at most what was paid out
                    as_of=st.just(today),
                ),
                st.just({"status": "repaid", "outstanding_principal": "0.00", "as_of": today}),
            )
            path = _params(app_id=st.just(app))
            return _edit(case, path=path, headers=STATE_CHANGE, body=body)

        return _one(w.disbursed).flatmap(report)

    def calendar(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        year = case.path_parameters.get("year")
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            return st.just(case)
        first_half = st.dates(date(year, 1, 1), date(year, 6, 30))
        saturdays = st.dates(date(year, 7, 1), date(year, 12, 24)).map(
            lambda d: d + timedelta(days=(5 - d.weekday()) % 7)
        )
        body = _params(
            holidays=st.lists(first_half.map(date.isoformat), max_size=5, unique=True),
            make_up_workdays=st.lists(saturdays.map(date.isoformat), max_size=3, unique=True),
        )
        return _edit(case, body=body)

    def stats(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        today = _today()
        since = st.integers(0, 400).map(lambda n: (today - timedelta(days=n)).isoformat())
        return _edit(case, query=_params(**{"from": since, "to": st.just(today.isoformat())}))

    app_path = _path_only("app_id", lambda w: w.applications)
    return {
        "GET /v1/loans/products/{code}": _path_only("code", lambda w: [PRODUCT]),
        "GET /v1/loans/products/{code}/quote": lambda w, case: _edit(
            case, path=_params(code=st.just(PRODUCT)), query=_params(uscc=_one(w.usccs))
        ),
        "POST /v1/loans/applications": application,
        "GET /v1/loans/applications": lambda w, case: _edit(
            case,
            query=_params(
                product_code=_maybe([PRODUCT]),
                status=_maybe(["submitted", "approved", "disbursed", "rejected", "withdrawn"]),
                cursor=st.just(DROP),
            ),
        ),
        "GET /v1/loans/applications/{app_id}": app_path,
        "GET /v1/loans/applications/{app_id}/events": app_path,
        "GET /v1/loans/applications/{app_id}/deadline": app_path,
        "POST /v1/loans/applications/{app_id}/decision": decision,
        "POST /v1/loans/applications/{app_id}/disbursements": disbursement,
        "POST /v1/loans/applications/{app_id}/repayment-status": repayment,
        "POST /v1/loans/applications/{app_id}/withdraw": lambda w, case: _edit(
            case,
            path=_params(app_id=_one(w.to_withdraw)),
            headers=_params(**{"If-Match": IF_MATCH}),
        ),
        "GET /v1/loans/stats": stats,
        "PUT /v1/admin/calendar/{year}": calendar,
        "PUT /v1/admin/products/{code}": lambda w, case: _edit(
            case, body=st.just(_product(BANK_CODE))
        ),
    }


def _guarantee_fixes() -> dict[str, Fix]:
    waiver_year = _maybe([PERIOD + 1])

    def consent(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        granted = st.integers(1, 1000).map(
            lambda n: (datetime.now(SHANGHAI) - timedelta(days=n)).isoformat()
        )
        body = _params(
            uscc=_one(w.usccs),
            firm_code=st.just(FIRM_CODE),
            granted_at=granted,
            evidence_ref=st.just("fuzz"),
        )
        return _edit(case, body=body)

    def quote(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        drawn = case.body if isinstance(case.body, dict) else {}
        return _edit(
            case,
            body=_params(uscc=_one(w.usccs), year=waiver_year).map(lambda fix: _merged(drawn, fix)),
        )

    return {
        "GET /v1/guarantee/enterprises/{uscc}/waiver": lambda w, case: _edit(
            case, path=_params(uscc=_one(w.usccs)), query=_params(year=waiver_year)
        ),
        "GET /v1/guarantee/waivers/{year}": lambda w, case: _edit(
            case, path=_params(year=st.just(PERIOD + 1))
        ),
        "POST /v1/guarantee/quotes": quote,
        "GET /v1/guarantee/consents": lambda w, case: _edit(
            case,
            query=_params(
                uscc=_maybe(w.usccs), firm_code=_maybe([FIRM_CODE]), cursor=st.just(DROP)
            ),
        ),
        "GET /v1/guarantee/features": lambda w, case: _edit(
            case, query=_params(since=_maybe([w.feature_cursor]))
        ),
        "POST /v1/admin/consents": consent,
        "POST /v1/admin/consents/{consent_id}/revoke": _path_only(
            "consent_id", lambda w: w.revocable
        ),
    }


def _gateway_fixes() -> dict[str, Fix]:
    def token(w: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        client_id, secret = w.token_client
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        return _edit(case, body=st.just(body), media_type="application/x-www-form-urlencoded")

    return {
        "POST /oauth/token": token,
        "GET /v1/admin/clients": lambda w, case: _edit(case, query=NO_CURSOR),
        "GET /v1/admin/clients/{client_id}": _path_only("client_id", lambda w: w.clients),
        "POST /v1/admin/clients/{client_id}/rotate-secret": _path_only(
            "client_id", lambda w: w.spare_clients
        ),
        "POST /v1/admin/clients/{client_id}/disable": _path_only(
            "client_id", lambda w: w.spare_clients
        ),
        "GET /v1/admin/audit": lambda w, case: _edit(case, query=NO_CURSOR),
    }


# Operation → how the world goes into one of its positive cases.
FIXES: dict[str, Fix] = {
    **_gateway_fixes(),
    **_scoring_fixes(),
    **_loans_fixes(),
    **_guarantee_fixes(),
}


# Two positive cases in three get the world; the third keeps what Schemathesis drew (for
# ids, mostly a 404). The first case Hypothesis draws (the simplest) gets the world.
WORLD_SHARE = st.sampled_from([True, True, False])


def use_world(schema: OpenApiSchema, seeded: Seeded) -> None:
    """Put the world into two in three positive cases of the operations in `FIXES`."""

    @schema.hook
    def flatmap_case(ctx: HookContext, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        fix = FIXES.get(ctx.operation.label) if ctx.operation is not None else None
        meta = case.meta
        if seeded.world is None or fix is None or meta is None:
            return st.just(case)
        if not meta.generation.mode.is_positive:
            return st.just(case)
        world = seeded.world
        return WORLD_SHARE.flatmap(lambda use: fix(world, case) if use else st.just(case))
