"""Tenancy by construction, checked: every function of a service that touches a tenant's rows
takes the caller's tenant.

A bank must only ever reach its own bank's applications, events and disbursements; a
credit-reporting firm its own consents and export pulls. The domain makes that a type: such a
function takes a `BankVisibility` / `FirmVisibility` (reads) or a `OneBank` / `OneFirm` (a
tenant's writes) — in handlers the `BanksVisible` / `ActingBank` / `FirmsVisible` /
`ActingFirm` dependencies that give them — and applies it. This test parses every module of the
service and fails on a function that references a tenant-owned model or table (directly or
through a module constant such as the statistics SQL) without a parameter of one of its
fence's types. A signature that merely receives a row (`app: Application`) does not count as
touching: whoever fetched the row had to pass the tenant. In the spirit of polar's
scripts/linters/org_scope.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Fence:
    """One service's tenant-owned rows and the parameter types that carry its tenant."""

    package: str
    models: frozenset[str]
    tables: tuple[str, ...]
    types: frozenset[str]
    allowed: dict[str, str]  # functions that cross tenants on purpose, each with its reason

    def modules(self) -> Iterator[tuple[str, str]]:
        for path in sorted((ROOT / self.package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


BANKS = Fence(
    package="services/loans",
    models=frozenset(
        {"Application", "ApplicationEvent", "Disbursement", "StatsDay", "DecisionDays"}
    ),
    # the event table included; loan_stats_day and loan_stats_decision_days (the rollups)
    tables=("loan_application", "loan_disbursement", "loan_stats_"),
    types=frozenset({"BankVisibility", "OneBank", "BanksVisible", "ActingBank"}),
    allowed={
        "services/loans/schedule.py::load_calendar": (
            "an operator's calendar load recomputes the provisional deadline of every bank's "
            "open applications: the schedule is the programme's, not a bank's"
        ),
        "services/loans/changes.py::_describe_calendar": (
            "a proposed calendar load counts whose provisional deadlines would move, over every "
            "bank's open applications, as the load itself would recompute them"
        ),
        "services/loans/webhooks/timers.py::_due": (
            "the webhook worker's timer scan finds every subscribed bank's undecided "
            "applications by deadline; each event it emits takes its row's own bank"
        ),
        "services/loans/webhooks/waivers.py::_emit": (
            "a ranking run changes the waivers of firms with open applications at any bank; "
            "the events are grouped by each row's own bank, one bank's applications to an event"
        ),
        "services/loans/webhooks/housekeeping.py::tidy": (
            "deletes the timer marks of every bank's decided applications past the retention; "
            "it reads no application's content"
        ),
        "services/loans/applications.py::record_event": (
            "appends to the history of an application its caller already holds — fetched "
            "through the caller's visibility, or by the calendar load above"
        ),
    },
)

FIRMS = Fence(
    package="services/guarantee",
    models=frozenset({"Consent", "ExportPull"}),
    tables=("gt_consent", "gt_export_pull"),
    types=frozenset({"FirmVisibility", "OneFirm", "FirmsVisible", "ActingFirm", "ExportingFirm"}),
    allowed={
        "services/guarantee/consents.py::grant_many": (
            "an operator records consents the enterprises gave, for any firm (the `Admin` "
            "scope); each consent names its firm in the body, no firm writes one"
        ),
        "services/guarantee/consents.py::revoke": (
            "an operator revokes a consent by id for the enterprise (the `Admin` scope); no "
            "firm revokes one"
        ),
        "services/guarantee/consents.py::record_expiries": (
            "the export's housekeeping puts every firm's expired consents into the change "
            "feed, each under its own firm; it answers nobody"
        ),
    },
)

_WORKER = (
    "the delivery worker serves every owner's endpoints; the database fences what it may "
    "join (ck_loan_webhook_delivery_tenant: an event reaches only its own bank's and the "
    "bureau's endpoints)"
)
_HELD = "reads about rows its caller already fetched through the caller's WebhookOwner"

WEBHOOKS = Fence(
    package="services/loans/webhooks",
    models=frozenset({"Subscription", "Delivery", "Event", "Attempt"}),
    tables=("loan_webhook_",),
    types=frozenset({"BankVisibility", "OneBank", "WebhookOwner"}),
    allowed={
        "services/loans/webhooks/claims.py::claim": _WORKER,
        "services/loans/webhooks/claims.py::record": _WORKER,
        "services/loans/webhooks/claims.py::disable": _WORKER + "; a 410 disables the endpoint",
        "services/loans/webhooks/worker.py::_Loop.pending_left": _WORKER,
        "services/loans/webhooks/outbox.py::_endpoints": (
            "the outbox finds the endpoints that want an event of `bank`, the bank of the "
            "application row the event reports (never a caller's parameter)"
        ),
        "services/loans/webhooks/outbox.py::_write": (
            "writes the event and its deliveries to the endpoints `_endpoints` found, under "
            "the row's own bank"
        ),
        "services/loans/webhooks/timers.py::scan": (
            "the timer scan emits due-soon and overdue events for every subscribed bank, each "
            "under its application's own bank"
        ),
        "services/loans/webhooks/subscriptions.py::pending_counts": _HELD + " (endpoints)",
        "services/loans/webhooks/subscriptions.py::occurred": _HELD + " (deliveries)",
        "services/loans/webhooks/subscriptions.py::attempts_of": _HELD + " (deliveries)",
        "services/loans/webhooks/housekeeping.py::tidy": (
            "deletes every owner's delivered and dead events, deliveries and attempts past the "
            "retention; it answers nobody"
        ),
    },
)

FENCES = {"banks": BANKS, "firms": FIRMS, "webhooks": WEBHOOKS}

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _names(node: ast.AST) -> Iterator[str]:
    """The names an expression mentions, through attributes and string annotations."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            yield child.id
        elif isinstance(child, ast.Attribute):
            yield child.attr
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            try:
                parsed = ast.parse(child.value, mode="eval")
            except SyntaxError:
                continue
            if not isinstance(parsed.body, ast.Constant):
                yield from _names(parsed.body)


def _has_tenant(function: Function, fence: Fence) -> bool:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return any(
        a is not None and a.annotation is not None and fence.types & set(_names(a.annotation))
        for a in every
    )


def _code(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under `node` but annotations (receiving a row is not touching it) and bare
    strings (docstrings are not queries)."""
    for child in ast.iter_child_nodes(node):
        if child is getattr(node, "annotation", None) or child is getattr(node, "returns", None):
            continue
        if isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant):
            continue
        yield child
        yield from _code(child)


def _touches(nodes: Iterator[ast.AST], tainted: set[str], fence: Fence) -> bool:
    for node in nodes:
        if isinstance(node, ast.Name) and (node.id in fence.models or node.id in tainted):
            return True
        if isinstance(node, ast.Attribute) and node.attr in fence.models:
            return True
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and any(table in node.value for table in fence.tables)
        ):
            return True
    return False


def _tainted_constants(tree: ast.Module, fence: Fence) -> set[str]:
    """Module-level names whose values reference the rows (e.g. SQL text), to a fixpoint."""
    tainted: set[str] = set()
    while True:
        before = len(tainted)
        for statement in tree.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
                value = statement.value
                if _touches(iter([value, *_code(value)]), tainted, fence):
                    targets = (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                    )
                    tainted |= {
                        n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)
                    }
        if len(tainted) == before:
            return tainted


def _functions(tree: ast.Module) -> Iterator[tuple[str, Function]]:
    """Module functions and methods (nested functions belong to the one they are in)."""
    for node in tree.body:
        if isinstance(node, Function):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, Function):
                    yield f"{node.name}.{item.name}", item


def unscoped(source: str, fence: Fence = BANKS) -> list[str]:
    """The functions of a module that touch the fence's rows without taking the tenant."""
    tree = ast.parse(source)
    tainted = _tainted_constants(tree, fence)
    return [
        name
        for name, function in _functions(tree)
        if not _has_tenant(function, fence) and _touches(_code(function), tainted, fence)
    ]


def _everything(fence: Fence) -> dict[str, Function]:
    return {
        f"{module}::{name}": function
        for module, source in fence.modules()
        for name, function in _functions(ast.parse(source))
    }


@pytest.mark.parametrize("fence", FENCES.values(), ids=FENCES.keys())
def test_every_function_that_touches_a_tenants_rows_takes_the_tenant(fence: Fence) -> None:
    found = [
        f"{module}::{name}"
        for module, source in fence.modules()
        for name in unscoped(source, fence)
        if f"{module}::{name}" not in fence.allowed
    ]
    assert not found, (
        f"These functions touch {', '.join(sorted(fence.models))} without a parameter of type "
        f"{' / '.join(sorted(fence.types))} (take one, or allow-list it with a reason): "
        + ", ".join(found)
    )


ALLOWED = [(fence, q) for fence in FENCES.values() for q in sorted(fence.allowed)]


@pytest.mark.parametrize(("fence", "qualified"), ALLOWED, ids=[q for _, q in ALLOWED])
def test_every_allow_listed_function_exists_and_still_needs_it(
    fence: Fence, qualified: str
) -> None:
    module, _, name = qualified.partition("::")
    assert qualified in _everything(fence), f"{qualified} no longer exists: drop it from allowed"
    source = (ROOT / module).read_text(encoding="utf-8")
    assert name in unscoped(source, fence), f"{qualified} takes the tenant now: drop it"


def test_the_lint_sees_the_services() -> None:
    # A lint that finds no module checks nothing: it must see the functions it guards.
    banks, firms = _everything(BANKS), _everything(FIRMS)
    assert "services/loans/lifecycle.py::decide" in banks
    assert "services/loans/stats.py::stats" in banks
    assert "services/guarantee/consents.py::list_consents" in firms
    assert "services/guarantee/export.py::export_pulls" in firms
    assert "services/loans/webhooks/subscriptions.py::deliveries" in _everything(WEBHOOKS)


GOOD = """
from services.loans.models import Application
from shared.auth.tenancy import BankVisibility, OneBank, restrict

SQL = "SELECT count(*) FROM loan_application WHERE true {bank}"

def get(session, seen: BankVisibility, app_id):
    return session.scalars(restrict(select(Application), Application.bank_code, seen)).one()

def change(session, bank: "OneBank", app: Application) -> Application:
    return app

async def count(session, seen: Annotated[BankVisibility, Depends(x)]):
    return session.execute(text(SQL.format(bank="")))

def handler(app_id, session, seen: BanksVisible):
    return [models.Application for _ in range(1)]

def shows(app: Application) -> dict[str, object]:
    out: Application = app
    return {"id": out.id}
"""

BAD = """
from services.loans import models
from services.loans.models import Application, Disbursement

SQL = "SELECT * FROM loan_application"
QUERY = SQL + " LIMIT 1"

def peek(session, app_id):
    return session.get(Application, app_id)

def paid(session, bank_code: str | None = None):
    return session.scalars(select(Disbursement)).all()

async def raw(session):
    return session.execute(text("SELECT * FROM loan_application_event"))

def via_constant(session):
    return session.execute(text(QUERY))

def qualified(session):
    return session.scalars(select(models.ApplicationEvent)).all()

def outer(session, seen: BankVisibility):
    def inner():
        return select(Application)
    return inner

class Store:
    def all(self, session):
        return session.scalars(select(Application)).all()

def defaulted(session, app=Application):
    return app
"""


def test_the_lint_passes_scoped_functions_and_mere_row_parameters() -> None:
    assert unscoped(GOOD) == []


def test_the_lint_catches_functions_that_forget_the_tenant() -> None:
    assert unscoped(BAD) == [
        "peek",
        "paid",
        "raw",
        "via_constant",
        "qualified",
        "Store.all",
        "defaulted",
    ]


FIRM_CODE = """
from services.guarantee.models import Consent, ExportPull
from shared.auth.tenancy import FirmVisibility, OneBank, restrict

def mine(session, firms: FirmVisibility):
    return session.scalars(restrict(select(Consent), Consent.firm_code, firms)).all()

def pulls(session, firm: "OneFirm"):
    return session.scalars(select(ExportPull)).all()

def wrong_tenant(session, bank: OneBank):
    return session.scalars(select(Consent)).all()

def raw(session):
    return session.execute(text("SELECT * FROM gt_export_pull"))
"""


def test_the_firms_fence_wants_a_firms_tenant_not_a_banks() -> None:
    assert unscoped(FIRM_CODE, FIRMS) == ["wrong_tenant", "raw"]
    assert unscoped(FIRM_CODE, BANKS) == []  # no bank's rows there
