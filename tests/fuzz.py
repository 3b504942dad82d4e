"""The fuzz suite's document, profiles and extra check (used by tests/test_fuzz.py)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import AuthContext, Case, CheckContext, Response
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.types import ASGIApp, Receive, Scope, Send

from services.runtime import build_gateway
from shared.db import make_engine
from shared.errors import PROBLEM_MEDIA_TYPE
from shared.uscc import ALPHABET, check_char
from tests.conftest import make_settings

ROLES = ("bank", "bureau", "credit_firm", "admin")
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
    "PUT /v1/admin/enterprises": ("422", "rows are checked as a file: models, industries"),
    "PUT /v1/admin/indicators/{period}": ("422", "rows are checked as a file: known USCCs"),
    "POST /v1/admin/models": ("422", "a model definition is checked as a whole"),
    "PUT /v1/admin/models/{version}": ("422", "a model definition is checked as a whole"),
    "POST /v1/admin/points/{period}/recompute": ("422", "the period needs indicator data"),
    "PUT /v1/admin/calendar/{year}": ("422", "the dates must fall in the path's year"),
    "PUT /v1/admin/products/{code}": ("422", "term, rate and tier bounds are ordered"),
    "POST /v1/loans/applications": ("422", "eligibility, the quote and the product's terms"),
    "POST /v1/loans/applications/{app_id}/decision": ("422", "approval terms, timing"),
    "GET /v1/loans/stats": ("422", "`to` is not before `from`"),
    "POST /v1/admin/consents": ("422", "expires_at is after granted_at"),
    # Reported to the guarantee service's owner: FeeRateIn.rate is a Decimal documented as
    # any number or string, but refused beyond 6 digits / 4 places (and the contract wants
    # string rates).
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


def load_schema(target: Target) -> OpenApiSchema:
    """The gateway's document, its requests sent in-process to `target`."""
    schema = schemathesis.openapi.from_dict(api_document(), config=fuzz_config())
    schema.app = target  # as schemathesis.openapi.from_asgi does

    class Bearer:
        """A bearer token on every `/v1/` case, except where a negative case drops it.

        Cases are made before the role is known (some at collection), so this sets a
        placeholder that `use_token` swaps for the role's token just before the call.
        """

        def get(self, case: Case[Any], ctx: AuthContext) -> str:
            return ROLE_TOKEN

        def set(self, case: Case[Any], data: str, ctx: AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    schema.auth(refresh_interval=None).apply_to(path_regex="^/v1/")(Bearer)
    return schema


def use_token(case: Case[Any], token: str) -> None:
    """Put the role's token where `Bearer` left its placeholder."""
    if case.headers.get("Authorization") == f"Bearer {ROLE_TOKEN}":
        case.headers["Authorization"] = f"Bearer {token}"


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
