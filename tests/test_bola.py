"""Object-level authorization (BOLA) for every operation of the OpenAPI document.

The operations come from the gateway's `/openapi.json`, not a hand list, and so does whose
object an id names: each operation's `x-access` (shared/openapi_access.py), which the
service derives from the route's gates. Every operation with a `{parameter}` is classified
from it, or `test_every_path_parameter_is_classified` fails:

- owned by a bank (`owner: "bank"`): the id names a bank's object, and the parameter says
  which — `application`, a loan application (`{app_id}`), owned by the bank that submitted
  it; `product`, a credit product (`{code}`), owned by its bank: the contract gives a bank
  "its own bank's products and applications only". An owned id this module cannot make an
  object for (a new parameter, a firm's object) fails the classification until `OWNED` says
  how.

  For both, bank A creates the object through the API, then bank B calls every method of the
  path (documented ones with a valid body, fresh `Idempotency-Key`, with and without
  `If-Match` — the real ETag, `*` and a stale one — and with the id spelt differently). Each
  answer must be a 404 problem that is indistinguishable from the answer for an id that does
  not exist (never 403, 409 or 412: those leak existence), and bank A's view of the object —
  body, ETag, events — must be unchanged, with no idempotency key stored for bank B. Bank B
  replaying bank A's own `Idempotency-Key`s gets 404s too, never bank A's stored responses.
  Each operation is then shown to work for bank A with the same request (so the 404 is the
  tenant check, not a bad request).

- `operator` (`roles: ["admin"]`) — the `/v1/admin/*` writes: admin only, whatever the id.
  Some ids name tenant things (a bank's code, its product, a client, a firm's consent), so
  bank and credit-firm callers are checked to get the same 403 for a real id as for a
  made-up one (`test_authorization.py` sweeps the role table itself).
- `public` (no owner, not operators only) — enterprise, points, diagnosis and waiver reads
  by `{uscc}`, models by `{version}`, the calendar and the waiver list by `{year}`: not
  tenant-owned. Every bank gets the same answer (asserted below), the bureau-only ones
  refuse every bank alike.

Bank B's dashboard user (a page token minted for its signed-in session, read scopes only)
is swept too: the owned objects (reads the same 404 as a made-up id, writes the same 403),
the lists and the statistics, and the operator paths.

Lists: every parameterless GET of the document, called by bank B (with each list filter, and
bank A's cursor), holds none of bank A's applications, products, bank or client ids; the
loans lists and the statistics (every `group_by` of the document, JSON and CSV) count bank B's
own rows only.

Credit firms: isolation of the incremental export (another firm's consent, revocation,
expiry, cursors bound to their firm) is covered by
`tests/guarantee/test_guarantee.py::test_export_full_incremental_tombstones_isolation_and_replay`
and `::test_export_csv_paging_and_roles`; this module adds the full pull from no cursor and
the attempts to name another firm (`firm_code` query parameter, `X-Firm-Code` header).

The tenant comes only from the token: `bank_code` / `firm_code` / `X-Bank-Code`-style headers
and query parameters never act as another tenant, the same fields in a request body are 422
(request models forbid extras), and extra fields in a token request do not change the token's
bank.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.loans.models import IdempotencyKey
from tests.factories import (
    A_INDICATORS,
    Creds,
    bearer,
    enterprise,
    get_token,
    indicators,
    new_uscc,
    product_body,
)
from tests.periods import PeriodPool
from tests.users import browser, make_user, page_token, sign_in

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

APPLICATION, PRODUCT, PUBLIC, OPERATOR = "application", "product", "public", "operator"
WEBHOOK = "webhook"  # a bank's webhook endpoint and its deliveries: swept on their own below
TENANT_OWNED = (APPLICATION, PRODUCT)

# An owner (the document's `x-access`) and the id's parameter → the kind of object, i.e.
# how bank A makes one here (`test_another_banks_objects_are_404_on_every_operation`).
OWNED: dict[tuple[str, str], str] = {
    ("bank", "app_id"): APPLICATION,
    ("bank", "code"): PRODUCT,
    ("bank", "name"): WEBHOOK,
    ("bank", "delivery_id"): WEBHOOK,
}

# Request-body fields of tenant-callable operations that name another object.
BODY_REFERENCES = {"product_code": PRODUCT}

NOW = datetime.now(UTC)
SUBMITTED_AT = (NOW - timedelta(days=6)).isoformat()
DECIDED_AT = (NOW - timedelta(days=5)).isoformat()
DISBURSED_AT = (NOW - timedelta(days=4)).isoformat()
AS_OF = (NOW - timedelta(days=1)).date().isoformat()

# Valid bodies of the tenant-callable writes, keyed by the document's operationId. Each is a
# request the owning bank can make with success in the operation's HOME_STATE.
BODIES: dict[str, Callable[[Tenants], dict[str, Any]]] = {}
HOME_STATE = {
    "decide_application": "submitted",
    "record_disbursement": "approved",
    "report_repayment_status": "disbursed",
    "withdraw_application": "submitted",
}
STATES = ("submitted", "approved", "disbursed", "withdrawn")


# ---------------------------------------------------------------- the document


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec["operationId"])

    @property
    def access(self) -> dict[str, Any] | None:
        access: dict[str, Any] | None = self.spec.get("x-access")
        return access

    @property
    def kind(self) -> str | None:
        """Whose object the path's id names, from `x-access`; None: no id, or unclassified."""
        names, access = path_params(self.path), self.access
        if not names or access is None:
            return None
        if access["owner"] is not None:
            return OWNED.get((access["owner"], names[-1]))
        return OPERATOR if access["roles"] == ["admin"] else PUBLIC

    def params(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    def header(self, name: str) -> bool:
        return any(p["name"].lower() == name.lower() for p in self.params("header"))

    @property
    def json_body(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        schema: dict[str, Any] | None = content.get("application/json", {}).get("schema")
        return schema

    @property
    def has_body(self) -> bool:
        return "requestBody" in self.spec


def operations(spec: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method.upper() in METHODS
    ]


def path_params(path: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", path)


def unclassified(spec: dict[str, Any]) -> set[str]:
    """The operations with an id that declare no access, or an owner `OWNED` cannot make."""
    return {
        f"{op.method} {op.path}" for op in operations(spec) if path_params(op.path) and not op.kind
    }


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[-1]
    resolved: dict[str, Any] = spec["components"]["schemas"][name]
    return resolved


@pytest.fixture(scope="module")
def spec(api: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = api.get("/openapi.json").json()
    return document


# ---------------------------------------------------------------- two banks, two firms


@dataclass(frozen=True)
class Tenants:
    bank_a: str
    bank_b: str
    product_a: str
    product_b: str
    uscc: str  # ranked, eligible for both products
    client_a: Creds
    client_b: Creds
    token_a: str
    token_b: str
    firm_a: str
    firm_b: str
    firm_token_a: str
    firm_token_b: str
    admin: str
    period: int  # ranked here; its waivers are for period + 1
    user_b: TestClient  # a browser signed in as bank B's dashboard user (tests/users.py)
    user_b_id: int
    spare: list[str] = field(default_factory=list)  # ranked enterprises for the export test


@pytest.fixture(scope="module")
def tenants(
    api: TestClient,
    admin_token: str,
    make_client: Callable[..., Creds],
    periods: PeriodPool,
    db: sessionmaker[Session],
) -> Tenants:
    admin = bearer(admin_token)
    period = periods.fresh(following=True)
    suffix = uuid.uuid4().hex[:8].upper()
    bank_a, bank_b = f"BA{suffix}", f"BB{suffix}"
    product_a, product_b = f"PA-{suffix}", f"PB-{suffix}"
    for code in (bank_a, bank_b):
        r = api.put(f"/v1/admin/banks/{code}", headers=admin, json={"name": f"银行 {code}"})
        assert r.status_code == 200, r.text
    for code, bank in ((product_a, bank_a), (product_b, bank_b)):
        body = product_body(bank, min_points=80, eligible_categories=[])
        r = api.put(f"/v1/admin/products/{code}", headers=admin, json=body)
        assert r.status_code == 200, r.text
    strong = new_uscc()
    spare = [new_uscc() for _ in range(5)]
    rows = [enterprise(strong, categories=["high_tech", "tech_sme"])]
    rows += [enterprise(u, name=f"企业{i}") for i, u in enumerate(spare)]
    assert api.put("/v1/admin/enterprises", headers=admin, json=rows).status_code == 200
    facts = [indicators(strong, **A_INDICATORS)]
    facts += [indicators(u, invention_patents=i + 1) for i, u in enumerate(spare)]
    r = api.put(f"/v1/admin/indicators/{period}", headers=admin, json=facts)
    assert r.status_code == 200, r.text
    r = api.post(
        f"/v1/admin/points/{period}/recompute", headers=admin, json={"model_version": "TZ-2025.1"}
    )
    assert r.status_code == 200, r.text
    client_a = make_client("bank", name="甲银行", bank_code=bank_a)
    client_b = make_client("bank", name="乙银行", bank_code=bank_b)
    firm_a, firm_b = f"FA{suffix}", f"FB{suffix}"
    user_b = make_user(db, "bank", bank_code=bank_b)
    user_browser = browser(api.app)
    assert sign_in(user_browser, user_b.name, user_b.password).status_code == 303
    return Tenants(
        bank_a=bank_a,
        bank_b=bank_b,
        product_a=product_a,
        product_b=product_b,
        uscc=strong,
        client_a=client_a,
        client_b=client_b,
        token_a=get_token(api, client_a),
        token_b=get_token(api, client_b),
        firm_a=firm_a,
        firm_b=firm_b,
        firm_token_a=get_token(api, make_client("credit_firm", name="甲征信", firm_code=firm_a)),
        firm_token_b=get_token(api, make_client("credit_firm", name="乙征信", firm_code=firm_b)),
        admin=admin_token,
        period=period,
        user_b=user_browser,
        user_b_id=user_b.id,
        spare=spare,
    )


def b_tokens(t: Tenants) -> dict[str, str]:
    """Bank B's tokens: its API client's, and its dashboard user's page token (minted now:
    page tokens live five minutes)."""
    return {"client": t.token_b, "user": page_token(t.user_b)}


def _submit_body(
    t: Tenants, product_code: str | None = None, submitted_at: str = SUBMITTED_AT
) -> dict[str, Any]:
    return {
        "uscc": t.uscc,
        "product_code": product_code or t.product_a,
        "amount": "1000000.00",
        "term_months": 12,
        "submitted_at": submitted_at,
    }


BODIES.update(
    {
        "put_webhook": lambda t: {
            "url": "https://b.example/hook",
            "events": ["application.decided"],
        },
        "rotate_secret": lambda t: {"overlap_seconds": 0},
        "submit_application": _submit_body,
        "decide_application": lambda t: {
            "outcome": "approved",
            "approved_amount": "1000000.00",
            "annual_rate": "0.0400",
            "reason_codes": ["points"],
            "decided_at": DECIDED_AT,
        },
        "record_disbursement": lambda t: {
            "amount": "1.00",
            "disbursed_at": DISBURSED_AT,
            "reference": "BOLA-1",
        },
        "report_repayment_status": lambda t: {
            "status": "current",
            "outstanding_principal": "1.00",
            "as_of": AS_OF,
        },
        "quote_guarantee_fee": lambda t: {
            "uscc": t.uscc,
            "amount": "1000000.00",
            "term_months": 12,
        },
    }
)


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class Write:
    """A write as bank A sent it (for replaying its Idempotency-Key as bank B)."""

    method: str
    path: str
    key: str | None
    body: dict[str, Any] | None


@dataclass
class Made:
    id: str
    state: str
    writes: list[Write] = field(default_factory=list)


def send(
    api: TestClient,
    token: str,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    response: httpx.Response = api.request(
        method, path, headers={**bearer(token), **(headers or {})}, json=body, params=params
    )
    return response


def key() -> str:
    return "bola-" + uuid.uuid4().hex


def a_write(
    api: TestClient, t: Tenants, made: Made, path: str, body: dict[str, Any] | None, *, idem: bool
) -> httpx.Response:
    k = key() if idem else None
    r = send(api, t.token_a, "POST", path, body=body, headers={"Idempotency-Key": k} if k else None)
    assert r.status_code in (200, 201), r.text
    made.writes.append(Write("POST", path, k, body))
    return r


def a_application(
    api: TestClient, t: Tenants, state: str, submitted_at: str = SUBMITTED_AT
) -> Made:
    """Bank A's application, brought to `state` through the API."""
    made = Made("", state)
    body = _submit_body(t, submitted_at=submitted_at)
    r = a_write(api, t, made, "/v1/loans/applications", body, idem=True)
    made.id = r.json()["id"]
    url = f"/v1/loans/applications/{made.id}"
    if state == "withdrawn":
        a_write(api, t, made, f"{url}/withdraw", None, idem=False)
    if state in ("approved", "disbursed"):
        decision = BODIES["decide_application"](t)
        a_write(api, t, made, f"{url}/decision", decision, idem=True)
    if state == "disbursed":
        money = {"amount": "500000.00", "disbursed_at": DISBURSED_AT, "reference": "BOLA-0"}
        a_write(api, t, made, f"{url}/disbursements", money, idem=True)
    got = send(api, t.token_a, "GET", url).json()
    assert got["status"] == state, got
    return made


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def normalised(response: httpx.Response, *ids: str) -> tuple[int, str, list[str], str]:
    """What a caller can tell from a response, with the object's id(s) blanked out."""
    text = response.text
    try:
        data = response.json()
    except ValueError:
        pass
    else:
        if isinstance(data, dict):
            data.pop("request_id", None)
            data.pop("instance", None)
        text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    for ident in sorted(ids, key=len, reverse=True):
        text = re.sub(re.escape(ident), "{id}", text, flags=re.IGNORECASE)
    ignored = {"x-request-id", "content-length", "date"}
    names = sorted(h for h in response.headers if h.lower() not in ignored)
    return response.status_code, response.headers.get("content-type", ""), names, text


def is_not_found_problem(response: httpx.Response) -> bool:
    return (
        response.status_code == 404
        and response.headers.get("content-type", "").startswith("application/problem+json")
        and response.json().get("status") == 404
        and "etag" not in response.headers
        and "idempotent-replayed" not in response.headers
    )


def snapshot(api: TestClient, t: Tenants, app_id: str) -> tuple[Any, str, Any]:
    """Bank A's view of its application: body, ETag, history."""
    url = f"/v1/loans/applications/{app_id}"
    got = send(api, t.token_a, "GET", url)
    assert got.status_code == 200, got.text
    events = send(api, t.token_a, "GET", f"{url}/events")
    assert events.status_code == 200, events.text
    return got.json(), got.headers["etag"], events.json()["items"]


def idempotency_keys(db: sessionmaker[Session], client_id: str) -> int:
    with db() as session:
        count = session.scalar(select(func.count()).where(IdempotencyKey.client_id == client_id))
        return count or 0


def id_forms(kind: str, ident: str) -> list[str]:
    """Spellings of one id that the API may accept."""
    if kind == APPLICATION:
        return [ident, ident.upper(), uuid.UUID(ident).hex]
    return [ident, ident.lower()]


# ---------------------------------------------------------------- classification


def test_every_path_parameter_is_classified(spec: dict[str, Any]) -> None:
    missing = unclassified(spec)
    assert not missing, f"no x-access, or an owned id OWNED cannot make: {sorted(missing)}"
    kinds = {op.kind for op in operations(spec)}
    assert {APPLICATION, PRODUCT, PUBLIC, OPERATOR} <= kinds
    for op in operations(spec):
        if op.kind in TENANT_OWNED:
            assert len(path_params(op.path)) == 1, op.path
            assert not op.path.startswith("/v1/admin/"), op.path
        if op.kind == OPERATOR:
            assert op.path.startswith("/v1/admin/"), op.path


def test_another_banks_webhooks_are_404_on_every_operation(
    api: TestClient, spec: dict[str, Any], tenants: Tenants
) -> None:
    """Bank A's endpoint and its delivery, named by bank B on every webhook operation: the
    same 404 as a name or delivery B never saw, and A's endpoint unchanged. A `PUT` of the
    same name makes B's own endpoint (names are per bank), and B's endpoint does not reach
    A's delivery either."""
    t = tenants
    name = "bola-" + uuid.uuid4().hex[:8]
    hook = {"url": "https://a.example/hook", "events": ["application.decided"]}
    assert send(api, t.token_a, "PUT", f"/v1/loans/webhooks/{name}", body=hook).status_code == 201
    ping = send(api, t.token_a, "POST", f"/v1/loans/webhooks/{name}/test").json()
    real = {"name": name, "delivery_id": str(ping["delivery"])}
    ghost = {"name": "bola-" + uuid.uuid4().hex[:8], "delivery_id": "999999999"}

    def view() -> tuple[Any, Any]:
        one = send(api, t.token_a, "GET", f"/v1/loans/webhooks/{name}").json()
        sent = send(api, t.token_a, "GET", f"/v1/loans/webhooks/{name}/deliveries").json()
        return one, sent

    before = view()
    swept = [op for op in operations(spec) if op.kind == WEBHOOK and op.method != "PUT"]
    assert len(swept) == 6
    failures = []
    for op in swept:
        body = {"overlap_seconds": 0} if op.path.endswith("/rotate-secret") else None
        foreign = send(api, t.token_b, op.method, fill(op.path, real), body=body)
        made_up = send(api, t.token_b, op.method, fill(op.path, ghost), body=body)
        ids = [real["name"], ghost["name"], real["delivery_id"], ghost["delivery_id"]]
        if not is_not_found_problem(foreign) or normalised(foreign, *ids) != normalised(
            made_up, *ids
        ):
            failures.append(f"{op.method} {op.path}: {foreign.status_code} {foreign.text[:200]}")
    assert not failures, report(failures)
    assert view() == before
    own = {"url": "https://b.example/hook", "events": ["application.decided"]}
    assert send(api, t.token_b, "PUT", f"/v1/loans/webhooks/{name}", body=own).status_code == 201
    redeliver = fill("/v1/loans/webhooks/{name}/deliveries/{delivery_id}/redeliver", real)
    again = send(api, t.token_b, "POST", redeliver)
    assert (again.status_code, again.json()["type"]) == (404, "/problems/delivery-not-found")
    assert view() == before
    assert send(api, t.token_a, "POST", redeliver).status_code == 202


def test_a_new_id_path_is_classified_or_fails(spec: dict[str, Any]) -> None:
    """A new path of an application is swept with no edit here; an object this module cannot
    make, or a path without `x-access`, fails the classification."""
    grown = json.loads(json.dumps(spec))
    owned = spec["paths"]["/v1/loans/applications/{app_id}"]["get"]["x-access"]
    assert owned["owner"] == "bank"
    grown["paths"]["/v1/loans/applications/{app_id}/documents"] = {"get": {"x-access": owned}}
    grown["paths"]["/v1/loans/offers/{offer_id}"] = {"get": {"x-access": owned}}
    grown["paths"]["/v1/loans/notes/{note_id}"] = {"get": {}}
    assert unclassified(grown) == {
        "GET /v1/loans/offers/{offer_id}",
        "GET /v1/loans/notes/{note_id}",
    }
    documents = [op for op in operations(grown) if op.path.endswith("/documents")]
    assert [op.kind for op in documents] == [APPLICATION]


def test_tenant_writes_have_bodies_and_forbid_extra_fields(spec: dict[str, Any]) -> None:
    """Every write a bank can call has a valid body here, and its model refuses extras."""
    for op in operations(spec):
        assert op.access is not None, (op.method, op.path)
        if op.method == "GET" or not op.has_body or op.access["public"]:
            continue
        if "bank" not in op.access["roles"]:
            continue
        assert op.operation_id in BODIES, f"add a valid body for {op.operation_id} to BODIES"
        schema = op.json_body
        assert schema is not None, op.operation_id
        assert resolve(spec, schema).get("additionalProperties") is False, op.operation_id
        names = resolve(spec, schema).get("properties", {})
        for name in names:
            if re.search(r"(^id|_id|_code)$", name):
                assert name in BODY_REFERENCES, f"{op.operation_id}: classify body field {name}"


# ---------------------------------------------------------------- the sweep


def _query(op: Operation | None, t: Tenants) -> dict[str, Any] | None:
    if op is None:
        return None
    values = {"uscc": t.uscc}
    return {p["name"]: values[p["name"]] for p in op.params("query") if p.get("required")}


def _request_parts(
    op: Operation | None, method: str, t: Tenants
) -> tuple[dict[str, Any] | None, bool]:
    """(body, needs an Idempotency-Key) for `method` on a path; `op` None: undocumented."""
    if op is None:
        return ({} if method in ("POST", "PUT", "PATCH") else None), False
    body = BODIES[op.operation_id](t) if op.has_body else None
    return body, op.header("Idempotency-Key")


@dataclass(frozen=True)
class Probe:
    """Bank B calls `method` on `path` naming a real object of bank A by its `form`-th
    spelling, with `headers`; the same call naming a made-up id is the yardstick."""

    method: str
    path: str
    op: Operation | None  # None: a method the document does not give the path
    kind: str
    ident: str
    form: int
    headers: dict[str, str]

    def call(
        self, api: TestClient, t: Tenants, ident: str, token: str | None = None
    ) -> httpx.Response:
        body, idem = _request_parts(self.op, self.method, t)
        headers = {**self.headers, **({"Idempotency-Key": key()} if idem else {})}
        (name,) = path_params(self.path)
        value = id_forms(self.kind, ident)[self.form]
        return send(
            api,
            token or t.token_b,
            self.method,
            fill(self.path, {name: value}),
            body=body,
            headers=headers,
            params=_query(self.op, t),
        )

    def failures(self, foreign: httpx.Response, made_up: httpx.Response, ghost: str) -> list[str]:
        where = f"{self.method} {self.path} ({self.ident} form {self.form}, {self.headers})"
        found = []
        if self.op is not None and not is_not_found_problem(foreign):
            found.append(f"{where}: {foreign.status_code} {foreign.text[:200]}")
        if 200 <= foreign.status_code < 300:
            found.append(f"{where}: {foreign.status_code} for bank B")
        ids = [*id_forms(self.kind, self.ident), *id_forms(self.kind, ghost)]
        if normalised(foreign, *ids) != normalised(made_up, *ids):
            found.append(
                f"{where}: tells bank A's object from a made-up id: "
                f"{foreign.status_code} {foreign.text[:200]} vs "
                f"{made_up.status_code} {made_up.text[:200]}"
            )
        return found


def probes(
    spec: dict[str, Any], objects: dict[str, list[str]], etags: dict[str, str]
) -> Iterator[Probe]:
    """Every method of every tenant-owned path, on every object; documented operations also
    with each spelling of the id and each `If-Match` they take."""
    documented = {(op.method, op.path): op for op in operations(spec) if op.kind in TENANT_OWNED}
    for path in sorted({path for _, path in documented}):
        kinds = {op.kind for (_, p), op in documented.items() if p == path}
        assert len(kinds) == 1, (path, kinds)
        (kind,) = kinds
        assert kind is not None
        for method in METHODS:
            op = documented.get((method, path))
            for ident in objects[kind]:
                if op is None:
                    yield Probe(method, path, None, kind, ident, 0, {})
                    continue
                for form in range(len(id_forms(kind, ident))):
                    yield Probe(method, path, op, kind, ident, form, {})
                if op.header("If-Match"):
                    for tag in (etags[ident], "*", '"stale"'):
                        yield Probe(method, path, op, kind, ident, 0, {"If-Match": tag})


def report(failures: list[str]) -> str:
    return "\n".join(failures[:40]) + f"\n({len(failures)} failures)"


def test_another_banks_objects_are_404_on_every_operation(
    api: TestClient, spec: dict[str, Any], tenants: Tenants, db: sessionmaker[Session]
) -> None:
    t = tenants
    apps = {state: a_application(api, t, state) for state in STATES}
    objects = {APPLICATION: [m.id for m in apps.values()], PRODUCT: [t.product_a]}
    ghosts = {APPLICATION: str(uuid.uuid4()), PRODUCT: "PZ-" + uuid.uuid4().hex[:8].upper()}
    before = {m.id: snapshot(api, t, m.id) for m in apps.values()}
    product_url = f"/v1/loans/products/{t.product_a}"
    product_before = send(api, t.token_a, "GET", product_url).json()
    keys_before = idempotency_keys(db, t.client_b.client_id)

    failures: list[str] = []
    swept = list(probes(spec, objects, {ident: snap[1] for ident, snap in before.items()}))
    assert {p.kind for p in swept} == set(TENANT_OWNED)
    for probe in swept:
        ghost = ghosts[probe.kind]
        foreign, made_up = probe.call(api, t, probe.ident), probe.call(api, t, ghost)
        failures += probe.failures(foreign, made_up, ghost)

    # Bank B replays bank A's own Idempotency-Keys with bank A's requests.
    for made in apps.values():
        for w in made.writes:
            headers = {"Idempotency-Key": w.key} if w.key else {}
            r = send(api, t.token_b, w.method, w.path, body=w.body, headers=headers)
            if not is_not_found_problem(r):
                failures.append(f"B replays A's {w.method} {w.path}: {r.status_code} {r.text}")

    assert not failures, report(failures)
    assert len(swept) > 100
    after = {m.id: snapshot(api, t, m.id) for m in apps.values()}
    assert after == before, "bank B's calls changed bank A's applications"
    assert send(api, t.token_a, "GET", product_url).json() == product_before
    assert idempotency_keys(db, t.client_b.client_id) == keys_before
    # Bank A itself gets the same 404 for a made-up id.
    assert is_not_found_problem(
        send(api, t.token_a, "GET", f"/v1/loans/applications/{ghosts[APPLICATION]}")
    )

    # The same requests work for the owner: the 404s above are the tenant check.
    for op in operations(spec):
        if op.kind not in TENANT_OWNED:
            continue
        if op.kind == PRODUCT:
            target = t.product_a
        else:
            target = a_application(api, t, HOME_STATE.get(op.operation_id, "submitted")).id
        body, idem = _request_parts(op, op.method, t)
        (name,) = path_params(op.path)
        path = fill(op.path, {name: target})
        answers = [
            send(
                api,
                token,
                op.method,
                path,
                body=body,
                headers={"Idempotency-Key": key()} if idem else None,
                params=_query(op, t),
            )
            for token in (t.token_b, t.token_a)
        ]
        assert is_not_found_problem(answers[0]), (op.operation_id, answers[0].text)
        assert 200 <= answers[1].status_code < 300, (op.operation_id, answers[1].text)


def test_a_bank_users_page_token_cannot_tell_bank_as_objects_from_none(
    api: TestClient, spec: dict[str, Any], tenants: Tenants
) -> None:
    """The same sweep with bank B's dashboard user's token: reads are the same 404 as for a
    made-up id, and writes the same 403 (the page token has no write scope) — never bank A's
    object, never a hint that it exists."""
    t = tenants
    apps = {state: a_application(api, t, state) for state in STATES}
    objects = {APPLICATION: [m.id for m in apps.values()], PRODUCT: [t.product_a]}
    ghosts = {APPLICATION: str(uuid.uuid4()), PRODUCT: "PZ-" + uuid.uuid4().hex[:8].upper()}
    before = {m.id: snapshot(api, t, m.id) for m in apps.values()}
    token = page_token(t.user_b)
    failures: list[str] = []
    swept = list(probes(spec, objects, {ident: snap[1] for ident, snap in before.items()}))
    for probe in swept:
        foreign = probe.call(api, t, probe.ident, token)
        made_up = probe.call(api, t, ghosts[probe.kind], token)
        where = f"user: {probe.method} {probe.path} ({probe.ident} form {probe.form})"
        if probe.op is not None and probe.method == "GET" and not is_not_found_problem(foreign):
            failures.append(f"{where}: {foreign.status_code} {foreign.text[:200]}")
        if probe.op is not None and probe.method != "GET" and foreign.status_code != 403:
            failures.append(f"{where}: {foreign.status_code} {foreign.text[:200]}")
        ids = [*id_forms(probe.kind, probe.ident), *id_forms(probe.kind, ghosts[probe.kind])]
        if normalised(foreign, *ids) != normalised(made_up, *ids):
            failures.append(f"{where}: tells bank A's object from a made-up id")
    assert not failures, report(failures)
    assert len(swept) > 100
    after = {m.id: snapshot(api, t, m.id) for m in apps.values()}
    assert after == before


def test_objects_named_in_a_body_are_404_for_another_bank(
    api: TestClient, spec: dict[str, Any], tenants: Tenants
) -> None:
    """A write that names bank A's product acts as if the product did not exist."""
    t = tenants
    owned = {PRODUCT: (t.product_a, "PZ-" + uuid.uuid4().hex[:8].upper())}
    checked = 0
    for op in operations(spec):
        if op.operation_id not in BODIES or op.json_body is None:
            continue
        props = resolve(spec, op.json_body).get("properties", {})
        for name, kind in BODY_REFERENCES.items():
            if name not in props or path_params(op.path):
                continue
            real, ghost = owned[kind]
            answers = []
            for value in (real, ghost):
                body = {**BODIES[op.operation_id](t), name: value}
                headers = {"Idempotency-Key": key()} if op.header("Idempotency-Key") else None
                answers.append(send(api, t.token_b, op.method, op.path, body=body, headers=headers))
            foreign, made_up = answers
            assert is_not_found_problem(foreign), (op.operation_id, foreign.text)
            assert normalised(foreign, real, ghost) == normalised(made_up, real, ghost)
            checked += 1
    assert checked >= 1
    listed = send(api, t.token_b, "GET", "/v1/loans/applications", params={"limit": 500})
    assert all(item["product_code"] != t.product_a for item in listed.json()["items"])


# ---------------------------------------------------------------- lists and statistics


def _markers(t: Tenants, apps: list[Made]) -> list[str]:
    """Strings that only bank A's data contains."""
    return [t.bank_a, t.product_a, t.client_a.client_id, *(m.id for m in apps)]


def _pages(
    api: TestClient, token: str, path: str, params: dict[str, Any], **headers: str
) -> Iterator[httpx.Response]:
    """Every page of a loans list; other lists: the first page only."""
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = send(api, token, "GET", path, params=query, headers=headers)
        yield page
        if page.status_code != 200 or not path.startswith("/v1/loans/"):
            return
        if "application/json" not in page.headers.get("content-type", ""):
            return
        body = page.json()
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if not cursor:
            return


LIST_QUERY: dict[str, Callable[[Tenants], list[Any]]] = {
    "status": lambda t: [*STATES, "rejected", "repaid", "overdue", "defaulted"],
    "product_code": lambda t: [t.product_a, t.product_b],
    "updated_since": lambda t: ["2000-01-01T00:00:00+00:00"],
    "decision_due": lambda t: ["overdue", "today", "tomorrow"],
    "limit": lambda t: [1, 500],
}  # and every `group_by` of the document's enum
REQUIRED_QUERY: dict[str, Any] = {
    "submitted_at": SUBMITTED_AT,
    "from": "2000-01-01",
    "to": "2100-12-31",
    "since": "2000-01-01T00:00:00+00:00",
}


def test_lists_never_hold_another_banks_rows(
    api: TestClient, spec: dict[str, Any], tenants: Tenants
) -> None:
    t = tenants
    apps = [a_application(api, t, state) for state in STATES]
    own = send(
        api,
        t.token_b,
        "POST",
        "/v1/loans/applications",
        body=_submit_body(t, t.product_b),
        headers={"Idempotency-Key": key()},
    )
    assert own.status_code == 201, own.text
    markers = _markers(t, apps)
    failures: list[str] = []

    lists = [
        op
        for op in operations(spec)
        if op.method == "GET" and not path_params(op.path) and op.path.startswith("/v1/")
    ]
    assert len(lists) > 10
    for op in lists:
        base = {
            p["name"]: REQUIRED_QUERY[p["name"]] for p in op.params("query") if p.get("required")
        }
        variants = [base]
        for p in op.params("query"):
            values = LIST_QUERY[p["name"]](t) if p["name"] in LIST_QUERY else []
            if p["name"] == "group_by":
                values = resolve(spec, p["schema"]).get("anyOf", [{}])[0].get("enum", [])
            variants += [{**base, p["name"]: v} for v in values]
        offered = op.spec["responses"]["200"].get("content", {})
        accepts = [a for a in ("application/json", "text/csv") if a in offered]
        for (who, token), params in product(b_tokens(t).items(), variants):
            for accept in accepts:
                for page in _pages(api, token, op.path, params, Accept=accept):
                    where = f"{who}: GET {op.path} {params} {accept}"
                    if page.status_code >= 500 or page.status_code in (401, 404):
                        failures.append(f"{where}: {page.status_code} {page.text[:200]}")
                    if op.path.startswith("/v1/loans/") and page.status_code != 200:
                        failures.append(f"{where}: {page.status_code} {page.text[:200]}")
                    leaked = [m for m in markers if m in page.text]
                    if leaked:
                        failures.append(f"{where}: holds bank A's {leaked}")
    assert not failures, report(failures)

    # What bank B does see is its own.
    everything = [
        item
        for page in _pages(api, t.token_b, "/v1/loans/applications", {"limit": 2})
        for item in page.json()["items"]
    ]
    assert own.json()["id"] in {i["id"] for i in everything}
    assert {i["bank_code"] for i in everything} == {t.bank_b}
    banks = send(api, t.token_b, "GET", "/v1/loans/banks").json()["items"]
    assert [b["code"] for b in banks] == [t.bank_b]
    products = send(api, t.token_b, "GET", "/v1/loans/products").json()["items"]
    assert [p["code"] for p in products] == [t.product_b]

    # Bank A's cursor is no good to bank B.
    first = send(api, t.token_a, "GET", "/v1/loans/applications", params={"limit": 1}).json()
    assert first["next_cursor"]
    r = send(
        api,
        t.token_b,
        "GET",
        "/v1/loans/applications",
        params={"limit": 1, "cursor": first["next_cursor"]},
    )
    assert r.status_code == 400
    assert r.json()["type"].endswith("/problems/invalid-cursor")


def test_stats_count_only_the_banks_own_rows(
    api: TestClient, spec: dict[str, Any], tenants: Tenants
) -> None:
    t = tenants
    day = NOW - timedelta(days=20)  # no other test of this module submits around then
    for state in STATES:
        a_application(api, t, state, submitted_at=day.isoformat())
    r = send(
        api,
        t.token_b,
        "POST",
        "/v1/loans/applications",
        body=_submit_body(t, t.product_b, submitted_at=day.isoformat()),
        headers={"Idempotency-Key": key()},
    )
    assert r.status_code == 201, r.text
    param = next(
        p for p in spec["paths"]["/v1/loans/stats"]["get"]["parameters"] if p["name"] == "group_by"
    )
    named = resolve(spec, param["schema"]).get("anyOf", [{}])[0]  # StatsGroupBy, by $ref
    groupings = [None, *resolve(spec, named)["enum"]]
    assert "bank" in groupings
    window = {
        "from": (day - timedelta(days=1)).date().isoformat(),
        "to": (day + timedelta(days=1)).date().isoformat(),
    }
    for (_, token), group_by in product(b_tokens(t).items(), groupings):
        params = {**window, **({"group_by": group_by} if group_by else {})}
        stats = send(api, token, "GET", "/v1/loans/stats", params=params).json()
        assert stats["bank_code"] == t.bank_b
        assert stats["total"]["applications"] == 1, (group_by, stats)
        assert sum(g["applications"] for g in stats["groups"]) == (1 if group_by else 0)
        if group_by == "bank":
            assert [g["group"] for g in stats["groups"]] == [t.bank_b]
        if group_by == "product":
            assert [g["group"] for g in stats["groups"]] == [t.product_b]
        table = send(
            api, token, "GET", "/v1/loans/stats", params=params, headers={"Accept": "text/csv"}
        )
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert rows[-1]["group"] == "TOTAL"
        assert rows[-1]["applications"] == "1"
        assert t.bank_a not in table.text
        assert t.product_a not in table.text
    # The bureau sees both banks: bank A's rows exist in the same window.
    everyone = send(
        api, t.admin, "GET", "/v1/loans/stats", params={**window, "group_by": "bank"}
    ).json()
    mine = {g["group"]: g["applications"] for g in everyone["groups"]}
    assert mine[t.bank_a] == len(STATES)
    assert mine[t.bank_b] == 1


# ---------------------------------------------------------------- public and operator paths

PLACEHOLDERS: dict[str, Callable[[Tenants], str]] = {
    "uscc": lambda t: t.uscc,
    "version": lambda t: "TZ-2025.1",
    "year": lambda t: str(t.period + 1),
    "period": lambda t: str(t.period),
    "slug": lambda t: "not-found",
    "change_id": lambda t: str(uuid.uuid4()),  # the bureau's and operators': banks get 403
    "code": lambda t: "7K3M-9QPT-W2HF-4XDA",  # a 诊断书's code: none issued, 404 to both
}


def test_public_reads_are_the_same_for_every_bank(
    api: TestClient, spec: dict[str, Any], tenants: Tenants
) -> None:
    t = tenants
    checked = 0
    for op in operations(spec):
        if op.kind != PUBLIC:
            continue
        assert op.method == "GET", op.path
        names = set(path_params(op.path))
        assert names <= PLACEHOLDERS.keys(), f"{op.path}: does no tenant own its {names}?"
        path = fill(op.path, {n: PLACEHOLDERS[n](t) for n in path_params(op.path)})
        a = send(api, t.token_a, "GET", path)
        b = send(api, t.token_b, "GET", path)
        assert a.status_code < 500, (path, a.text)
        assert normalised(a) == normalised(b), (path, a.text, b.text)
        checked += 1
    assert checked >= 5


def test_operator_paths_refuse_tenants_whatever_the_id(
    api: TestClient, spec: dict[str, Any], tenants: Tenants
) -> None:
    t = tenants
    firm = "FO" + uuid.uuid4().hex[:8].upper()  # a firm of its own: the export test counts rows
    consent = send(
        api,
        t.admin,
        "POST",
        "/v1/admin/consents",
        body={
            "uscc": t.uscc,
            "firm_code": firm,
            "granted_at": (NOW - timedelta(days=1)).isoformat(),
            "evidence_ref": "授权书-BOLA",
        },
    )
    assert consent.status_code == 201, consent.text
    real = {
        "client_id": t.client_a.client_id,
        "user_id": str(t.user_b_id),
        "consent_id": str(consent.json()["id"]),
        "change_id": str(uuid.uuid4()),
        "code": t.bank_a,
        "version": "TZ-2025.1",
        "period": str(t.period),
        "year": str(t.period + 1),
    }
    made_up = {
        "client_id": "ic_" + uuid.uuid4().hex[:24],
        "user_id": "987654321",
        "consent_id": str(uuid.uuid4()),
        "change_id": str(uuid.uuid4()),
        "code": "ZZ" + uuid.uuid4().hex[:8].upper(),
        "version": "NO-SUCH-9",
        "period": "2099",
        "year": "2099",
    }
    for op in operations(spec):
        if op.kind != OPERATOR:
            continue
        names = path_params(op.path)
        values = dict(real)
        if op.path.startswith("/v1/admin/products/"):
            values["code"] = t.product_a
        body: dict[str, Any] | None = {} if op.method in ("POST", "PUT", "PATCH") else None
        for token in (t.token_b, t.firm_token_b):
            answers = [
                send(
                    api,
                    token,
                    op.method,
                    fill(op.path, {n: v[n] for n in names}),
                    body=body,
                    headers={"Idempotency-Key": key()},
                )
                for v in (values, made_up)
            ]
            ids = [values[n] for n in names] + [made_up[n] for n in names]
            assert answers[0].status_code == 403, (op.method, op.path, answers[0].text)
            assert normalised(answers[0], *ids) == normalised(answers[1], *ids), op.path
    # Nothing the tenants tried took effect.
    client = send(api, t.admin, "GET", f"/v1/admin/clients/{t.client_a.client_id}").json()
    assert client["enabled"] is True
    assert get_token(api, t.client_a)
    assert page_token(t.user_b)  # bank B's user: not disabled, no new password
    listed = send(api, t.admin, "GET", "/v1/guarantee/consents", params={"firm_code": firm}).json()
    assert [c["live"] for c in listed["items"]] == [True]


# ---------------------------------------------------------------- tenant only from the token

SPOOFS = ("X-Bank-Code", "Bank-Code", "X-Bank", "X-Tenant", "X-Tenant-Id", "X-Firm-Code")


def _spoof_headers(bank: str) -> dict[str, str]:
    return dict.fromkeys(SPOOFS, bank)


def test_the_tenant_comes_only_from_the_token(
    api: TestClient, spec: dict[str, Any], tenants: Tenants, db: sessionmaker[Session]
) -> None:
    t = tenants
    target = a_application(api, t, "submitted")
    before = snapshot(api, t, target.id)
    spoof = _spoof_headers(t.bank_a)
    as_a = {"bank_code": t.bank_a, "bank": t.bank_a, "tenant": t.bank_a}
    url = f"/v1/loans/applications/{target.id}"

    # Reads and writes of bank A's application, claiming to be bank A.
    assert is_not_found_problem(send(api, t.token_b, "GET", url, headers=spoof, params=as_a))
    assert is_not_found_problem(
        send(api, t.token_b, "GET", f"{url}/events", headers=spoof, params=as_a)
    )
    r = send(
        api,
        t.token_b,
        "POST",
        f"{url}/withdraw",
        headers={**spoof, "If-Match": before[1]},
        params=as_a,
    )
    assert is_not_found_problem(r)
    r = send(
        api,
        t.token_b,
        "POST",
        "/v1/loans/applications",
        body=_submit_body(t),
        headers={**spoof, "Idempotency-Key": key()},
        params=as_a,
    )
    assert is_not_found_problem(r)  # bank A's product, whatever the headers say
    assert snapshot(api, t, target.id) == before

    # Lists and statistics, claiming to be bank A.
    listed = send(
        api,
        t.token_b,
        "GET",
        "/v1/loans/applications",
        headers=spoof,
        params={**as_a, "limit": 500},
    )
    assert {i["bank_code"] for i in listed.json()["items"]} <= {t.bank_b}
    for path in ("/v1/loans/banks", "/v1/loans/products"):
        r = send(api, t.token_b, "GET", path, headers=spoof, params=as_a)
        assert t.bank_a not in r.text, path
    stats = send(
        api,
        t.token_b,
        "GET",
        "/v1/loans/stats",
        headers=spoof,
        params={**as_a, "from": "2000-01-01", "to": "2100-12-31", "group_by": "bank"},
    ).json()
    assert stats["bank_code"] == t.bank_b
    assert t.bank_a not in json.dumps(stats)
    whoami = send(api, t.token_b, "GET", "/v1/loans/whoami", headers=spoof, params=as_a).json()
    assert whoami["bank_code"] == t.bank_b

    # A tenant field in any body a bank can send is refused (request models forbid extras),
    # here against bank B's own application so the tenant check is not what answers.
    mine = send(
        api,
        t.token_b,
        "POST",
        "/v1/loans/applications",
        body=_submit_body(t, t.product_b),
        headers={"Idempotency-Key": key()},
    )
    assert mine.status_code == 201, mine.text
    mine_url = f"/v1/loans/applications/{mine.json()['id']}"
    mine_before = send(api, t.token_b, "GET", mine_url).json()
    keys_before = idempotency_keys(db, t.client_b.client_id)
    checked = 0
    for op in operations(spec):
        if op.operation_id not in BODIES:
            continue
        names = path_params(op.path)
        path = fill(op.path, {n: mine.json()["id"] for n in names})
        for extra in ({"bank_code": t.bank_a}, {"firm_code": t.firm_a}):
            body = {**BODIES[op.operation_id](t), **extra}
            if op.operation_id.startswith("submit_"):
                body["product_code"] = t.product_b
            r = send(api, t.token_b, op.method, path, body=body, headers={"Idempotency-Key": key()})
            assert r.status_code == 422, (op.operation_id, extra, r.text)
            assert r.json()["type"].endswith("/problems/validation-error")
            assert any(next(iter(extra)) in e["loc"] for e in r.json()["errors"]), r.text
            checked += 1
    assert checked >= 8
    assert send(api, t.token_b, "GET", mine_url).json() == mine_before
    assert idempotency_keys(db, t.client_b.client_id) == keys_before

    # Extra fields in a token request are ignored (RFC 6749 §3.2): they do not choose the bank.
    form = {"grant_type": "client_credentials", "bank_code": t.bank_a, "firm_code": t.firm_a}
    issued = api.post(
        "/oauth/token", data=form, headers={"Authorization": t.client_b.basic(), **spoof}
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    assert send(api, token, "GET", "/v1/loans/whoami").json()["bank_code"] == t.bank_b
    assert is_not_found_problem(send(api, token, "GET", url))


# ---------------------------------------------------------------- credit firms


def _export(
    api: TestClient, token: str, accept: str, other_firm: str | None = None
) -> list[dict[str, Any]]:
    """A full pull (no cursor); `other_firm` named in a query parameter and the headers."""
    spoof = _spoof_headers(other_firm) if other_firm else {}
    params = {"firm_code": other_firm, "firm": other_firm} if other_firm else None
    r = send(
        api,
        token,
        "GET",
        "/v1/guarantee/features",
        headers={"Accept": accept, **spoof},
        params=params,
    )
    assert r.status_code == 200, r.text
    if accept == "text/csv":
        return [dict(row) for row in csv.DictReader(io.StringIO(r.text))]
    lines = [json.loads(line) for line in r.text.splitlines() if line]
    assert "next_cursor" in lines[-1]
    return lines[:-1]


def test_a_firms_full_export_holds_only_its_live_consents(
    api: TestClient, tenants: Tenants
) -> None:
    """From no cursor, and naming the other firm in a query parameter or header."""
    t = tenants
    e_a, e_b, e_revoked, e_expired, e_none = t.spare
    granted = (NOW - timedelta(days=2)).isoformat()

    def consent(uscc: str, firm: str, **extra: str) -> str:
        body = {"uscc": uscc, "firm_code": firm, "granted_at": granted, "evidence_ref": "授权书"}
        r = send(api, t.admin, "POST", "/v1/admin/consents", body={**body, **extra})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    consent(e_a, t.firm_a)
    consent(e_b, t.firm_b)
    revoked = consent(e_revoked, t.firm_b)
    assert send(api, t.admin, "POST", f"/v1/admin/consents/{revoked}/revoke").status_code == 200
    consent(e_expired, t.firm_b, expires_at=(NOW - timedelta(days=1)).isoformat())

    for accept in ("application/x-ndjson", "text/csv"):
        for other in (None, t.firm_a):
            rows = _export(api, t.firm_token_b, accept, other)
            assert all(r["deleted"] in (True, False, "true", "false") for r in rows), rows
            live = [r["uscc"] for r in rows if r["deleted"] in (False, "false")]
            gone = {r["uscc"] for r in rows if r["deleted"] in (True, "true")}
            assert live == [e_b], (accept, other, rows)
            assert gone <= {e_revoked, e_expired}, (accept, other, rows)
            seen = {r["uscc"] for r in rows}
            assert not seen & {e_a, e_none, t.uscc}, (accept, other, rows)
        rows_a = _export(api, t.firm_token_a, accept)
        assert [r["uscc"] for r in rows_a] == [e_a], (accept, rows_a)
