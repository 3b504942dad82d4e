"""Build test data through the public API: banks, products, ranked enterprises, clients, and
loan applications in any state. Tests use these instead of each other's conftest modules.

Everything goes through the gateway as a real client would (an admin for the set-up, the
bank's own token for its applications), so a factory-made object is exactly what the API
makes — never rows written around the domain rules.

    f = factory                       # the fixture (tests/conftest.py)
    bank = f.bank()                   # a fresh bank code
    code = f.product(bank, min_points=80)
    uscc, = f.ranked(period, [A_INDICATORS])
    app = f.application(bank, code, uscc, state="disbursed")
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from shared.uscc import ALPHABET, check_char

_rng = random.Random()

DEFAULT_MODEL = "TZ-2025.1"  # the seeded model; other tests publish newer versions


# ---------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Creds:
    """An API client's credentials (the secret is shown once, at creation)."""

    client_id: str
    client_secret: str

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def get_token(api: TestClient, creds: Creds, scope: str | None = None) -> str:
    """A client-credentials access token for `creds`."""
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    response = api.post("/oauth/token", data=form, headers={"Authorization": creds.basic()})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return "key-" + uuid.uuid4().hex


# ---------------------------------------------------------------- request bodies


def new_uscc() -> str:
    """A fresh, valid 统一社会信用代码 (Taizhou prefix)."""
    body = "913212" + "".join(_rng.choice(ALPHABET) for _ in range(11))
    return body + check_char(body)


def enterprise(uscc: str | None = None, **overrides: Any) -> dict[str, Any]:
    """An enterprise row for `PUT /v1/admin/enterprises`."""
    row: dict[str, Any] = {
        "uscc": uscc or new_uscc(),
        "name": "测试企业",
        "district": "海陵区",
        "industry": "health",
        "stage": "growth",
        "categories": ["tech_sme"],
        "founded_on": "2015-06-01",
    }
    row.update(overrides)
    return row


def indicators(uscc: str, **overrides: Any) -> dict[str, Any]:
    """An indicator row for `PUT /v1/admin/indicators/{period}` (all zero unless given)."""
    row: dict[str, Any] = {
        "uscc": uscc,
        "invention_patents": 0,
        "utility_models": 0,
        "software_copyrights": 0,
        "rd_expense": "0.00",
        "revenue": "0.00",
        "rd_staff": 0,
        "total_staff": 10,
        "equity_financing": "0.00",
        "awards_provincial": 0,
        "awards_national": 0,
        "jbgs_funds_paid": "0.00",
    }
    row.update(overrides)
    return row


# Worked example (also in the README): growth stage, 高新技术企业 + 科技型中小企业.
A_INDICATORS = {
    "invention_patents": 3,  # 3 × 10 = 30
    "utility_models": 4,  # 4 × 2 = 8
    "software_copyrights": 7,  # 7 × 2 = 14, capped at 10
    "rd_expense": "10000000.00",  # 8 × log10(1e7 / 1e5) = 16
    "revenue": "100000000.00",  # 10 × log10(1e8 / 1e6) = 20; R&D intensity 0.10 → 30
    "rd_staff": 25,
    "total_staff": 100,  # R&D staff ratio 0.25 → 10
    "equity_financing": "10000000.00",  # 5 × log10(1e7 / 1e6) = 5
    "awards_provincial": 1,  # 5
    "awards_national": 0,  # 0
}
A_PREVIOUS_REVENUE = "80000000.00"  # growth 25% → 15
A_POINTS = 30 + 8 + 10 + 16 + 30 + 10 + 20 + 15 + 5 + 5 + 0 + 5 + 20  # bonuses 5 + 20 → 174

# Start-up stage, no previous period: stage weights 1.2 on patents and R&D intensity, 0.8 on
# revenue; revenue growth cannot be derived (0 points, and the breakdown says why).
B_INDICATORS = {
    "invention_patents": 2,  # 2 × 10 × 1.2 = 24
    "rd_expense": "1000000.00",  # 8 × log10(10) = 8; intensity 0.10 → 30 × 1.2 = 36
    "revenue": "10000000.00",  # 10 × log10(10) × 0.8 = 8
    "rd_staff": 5,
    "total_staff": 50,  # 0.10 → 5
}
B_POINTS = 24 + 8 + 36 + 5 + 8 + 5  # tech_sme bonus → 86


def product_body(bank: str, *, min_points: int = 80, **overrides: Any) -> dict[str, Any]:
    """A product for `PUT /v1/admin/products/{code}`: tiers of 1, 3 and 5 million yuan from
    `min_points`, 150 and 200 points, 6-36 months, 3-6 %, 泰信保 applies."""
    body: dict[str, Any] = {
        "bank_code": bank,
        "name": "鑫e高企",
        "min_points": min_points,
        "eligible_categories": [],
        "limit_tiers": [
            {"min_points": min_points, "max_amount": "1000000.00"},
            {"min_points": 150, "max_amount": "3000000.00"},
            {"min_points": 200, "max_amount": "5000000.00"},
        ],
        "term_min_months": 6,
        "term_max_months": 36,
        "rate_min": "0.0300",
        "rate_max": "0.0600",
        "guarantee": True,
        "active_from": "2000-01-01",
    }
    body.update(overrides)
    return body


# ---------------------------------------------------------------- the factory

# How to reach each application state from `submitted`: the writes, in order.
APPLICATION_STATES = (
    "submitted",
    "approved",
    "rejected",
    "withdrawn",
    "disbursed",
    "overdue",
    "repaid",
    "defaulted",
)


@dataclass(frozen=True)
class Application:
    """An application as the bank that made it sees it."""

    id: str
    bank: str
    token: str
    body: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.body["status"])

    @property
    def etag(self) -> str:
        return f'"{self.id}-{self.body["version"]}"'


class Factory:
    """Makes objects through the API with an operator's token; banks act with their own."""

    def __init__(
        self, api: TestClient, admin_token: str, make_client: Callable[..., Creds]
    ) -> None:
        self.api = api
        self.admin = bearer(admin_token)
        self._make_client = make_client
        self._bank_tokens: dict[str, str] = {}

    def _ok(self, response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    def bank(self, code: str | None = None, name: str = "测试银行") -> str:
        """A bank (fresh code unless given)."""
        code = code or f"TB{uuid.uuid4().hex[:10].upper()}"
        self._ok(self.api.put(f"/v1/admin/banks/{code}", headers=self.admin, json={"name": name}))
        return code

    def product(self, bank: str, code: str | None = None, **overrides: Any) -> str:
        """A product of `bank` (see `product_body` for the defaults)."""
        code = code or f"TP-{uuid.uuid4().hex[:10].upper()}"
        body = product_body(bank, **overrides)
        self._ok(self.api.put(f"/v1/admin/products/{code}", headers=self.admin, json=body))
        return code

    def bank_token(self, bank: str) -> str:
        """A token of a client of `bank` (one client per bank and factory)."""
        if bank not in self._bank_tokens:
            creds = self._make_client("bank", name=f"{bank} loan system", bank_code=bank)
            self._bank_tokens[bank] = get_token(self.api, creds)
        return self._bank_tokens[bank]

    def token(self, role: str, **kwargs: Any) -> str:
        """A token of a new client of `role` (`firm_code=` for credit firms)."""
        return get_token(self.api, self._make_client(role, name=f"test {role}", **kwargs))

    def enterprises(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Upsert enterprise rows; return their USCCs."""
        self._ok(self.api.put("/v1/admin/enterprises", headers=self.admin, json=list(rows)))
        return [str(r["uscc"]) for r in rows]

    def indicators(self, period: int, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert a period's indicator rows."""
        url = f"/v1/admin/indicators/{period}"
        self._ok(self.api.put(url, headers=self.admin, json=list(rows)))

    def recompute(self, period: int, model_version: str = DEFAULT_MODEL) -> dict[str, Any]:
        """Recompute a period's points and ranking."""
        url = f"/v1/admin/points/{period}/recompute"
        return self._ok(
            self.api.post(url, headers=self.admin, json={"model_version": model_version})
        )

    def ranked(
        self,
        period: int,
        facts: Sequence[dict[str, Any]],
        *,
        enterprise_overrides: Sequence[dict[str, Any]] | None = None,
        model_version: str = DEFAULT_MODEL,
    ) -> list[str]:
        """Fresh enterprises with the given indicator values, ranked in `period`; their USCCs
        in the order of `facts`."""
        usccs = [new_uscc() for _ in facts]
        extra = enterprise_overrides or [{} for _ in facts]
        self.enterprises([enterprise(u, **e) for u, e in zip(usccs, extra, strict=True)])
        self.indicators(period, [indicators(u, **f) for u, f in zip(usccs, facts, strict=True)])
        self.recompute(period, model_version)
        return usccs

    def application(
        self,
        bank: str,
        product: str,
        uscc: str,
        *,
        state: str = "submitted",
        amount: str = "1000000.00",
        term_months: int = 12,
        submitted_at: datetime | None = None,
    ) -> Application:
        """An application of `bank` brought to `state` by the bank's own writes."""
        if state not in APPLICATION_STATES:
            raise ValueError(f"unknown state {state!r}; one of {APPLICATION_STATES}")
        token = self.bank_token(bank)
        submitted = submitted_at or datetime.now(UTC) - timedelta(days=6)
        body = self._write(
            token,
            "/v1/loans/applications",
            {
                "uscc": uscc,
                "product_code": product,
                "amount": amount,
                "term_months": term_months,
                "submitted_at": submitted.isoformat(),
            },
            201,
        )
        app_id = str(body["id"])
        at = f"/v1/loans/applications/{app_id}"
        decided = (submitted + timedelta(days=1)).isoformat()
        if state == "withdrawn":
            body = self._ok(self.api.post(f"{at}/withdraw", headers=bearer(token)))
        elif state == "rejected":
            decision = {"outcome": "rejected", "reason_codes": ["risk"], "decided_at": decided}
            body = self._write(token, f"{at}/decision", decision)
        elif state != "submitted":
            decision = {
                "outcome": "approved",
                "approved_amount": amount,
                "annual_rate": "0.0400",
                "reason_codes": ["points"],
                "decided_at": decided,
            }
            body = self._write(token, f"{at}/decision", decision)
        if state in ("disbursed", "overdue", "repaid", "defaulted"):
            paid = {
                "amount": amount,
                "disbursed_at": (submitted + timedelta(days=2)).isoformat(),
                "reference": f"F-{app_id[:8]}",
            }
            body = self._write(token, f"{at}/disbursements", paid)
        as_of = (submitted + timedelta(days=3)).date().isoformat()
        if state in ("overdue", "defaulted"):
            report = {"status": "overdue", "outstanding_principal": amount, "as_of": as_of}
            body = self._write(token, f"{at}/repayment-status", report)
        if state == "defaulted":
            report = {"status": "defaulted", "outstanding_principal": amount, "as_of": as_of}
            body = self._write(token, f"{at}/repayment-status", report)
        if state == "repaid":
            report = {"status": "repaid", "outstanding_principal": "0.00", "as_of": as_of}
            body = self._write(token, f"{at}/repayment-status", report)
        assert body["status"] == state, body
        return Application(app_id, bank, token, body)

    def _write(
        self, token: str, path: str, body: dict[str, Any], status: int = 200
    ) -> dict[str, Any]:
        headers = {**bearer(token), "Idempotency-Key": new_key()}
        return self._ok(self.api.post(path, headers=headers, json=body), status)
