"""Tenancy by construction, checked: in services/loans, every function that touches an
application's rows takes the caller's tenant.

A bank must only ever reach its own bank's applications, events and disbursements. The
domain makes that a type: such a function takes a `BankVisibility` (reads) or a `OneBank`
(a bank's writes) — in handlers the `BanksVisible` / `ActingBank` dependencies that give
them — and applies it. This test parses every module of the service and fails on a function
that references the `Application`, `ApplicationEvent` or `Disbursement` model, or the
`loan_application` / `loan_disbursement` tables (directly or through a module constant such
as the statistics SQL), without a parameter of one of those types. A signature that merely
receives a row (`app: Application`) does not count as touching: whoever fetched the row had
to pass the tenant. In the spirit of polar's scripts/linters/org_scope.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOANS = ROOT / "services" / "loans"

TENANT_OWNED_MODELS = frozenset({"Application", "ApplicationEvent", "Disbursement"})
TENANT_OWNED_TABLES = ("loan_application", "loan_disbursement")  # the event table included
TENANT_TYPES = frozenset({"BankVisibility", "OneBank", "BanksVisible", "ActingBank"})

# Functions that touch applications across banks on purpose — each with its reason.
ALLOWED = {
    "services/loans/schedule.py::load_calendar": (
        "an operator's calendar load recomputes the provisional deadline of every bank's open "
        "applications: the schedule is the programme's, not a bank's"
    ),
    "services/loans/changes.py::_describe_calendar": (
        "a proposed calendar load counts whose provisional deadlines would move, over every "
        "bank's open applications, as the load itself would recompute them"
    ),
    "services/loans/webhooks/timers.py::_due": (
        "the webhook worker's timer scan finds every subscribed bank's undecided applications "
        "by deadline; each event it emits takes its row's own bank"
    ),
    "services/loans/webhooks/waivers.py::_emit": (
        "a ranking run changes the waivers of firms with open applications at any bank; the "
        "events are grouped by each row's own bank, one bank's applications to an event"
    ),
    "services/loans/webhooks/housekeeping.py::tidy": (
        "deletes the timer marks of every bank's decided applications past the retention; "
        "it reads no application's content"
    ),
    "services/loans/applications.py::record_event": (
        "appends to the history of an application its caller already holds — fetched through "
        "the caller's visibility, or by the calendar load above"
    ),
}

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


def _has_tenant(function: Function) -> bool:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return any(
        a is not None and a.annotation is not None and TENANT_TYPES & set(_names(a.annotation))
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


def _touches(nodes: Iterator[ast.AST], tainted: set[str]) -> bool:
    for node in nodes:
        if isinstance(node, ast.Name) and (node.id in TENANT_OWNED_MODELS or node.id in tainted):
            return True
        if isinstance(node, ast.Attribute) and node.attr in TENANT_OWNED_MODELS:
            return True
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and any(table in node.value for table in TENANT_OWNED_TABLES)
        ):
            return True
    return False


def _tainted_constants(tree: ast.Module) -> set[str]:
    """Module-level names whose values reference the rows (e.g. SQL text), to a fixpoint."""
    tainted: set[str] = set()
    while True:
        before = len(tainted)
        for statement in tree.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
                value = statement.value
                if _touches(iter([value, *_code(value)]), tainted):
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


def unscoped(source: str) -> list[str]:
    """The functions of a module that touch applications' rows without taking the tenant."""
    tree = ast.parse(source)
    tainted = _tainted_constants(tree)
    return [
        name
        for name, function in _functions(tree)
        if not _has_tenant(function) and _touches(_code(function), tainted)
    ]


def _modules() -> Iterator[tuple[str, str]]:
    for path in sorted(LOANS.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def _everything() -> dict[str, Function]:
    return {
        f"{module}::{name}": function
        for module, source in _modules()
        for name, function in _functions(ast.parse(source))
    }


def test_every_loans_function_that_touches_applications_takes_the_tenant() -> None:
    found = [
        f"{module}::{name}"
        for module, source in _modules()
        for name in unscoped(source)
        if f"{module}::{name}" not in ALLOWED
    ]
    assert not found, (
        "These functions touch applications, events or disbursements without a "
        "BankVisibility / OneBank parameter (take one, or allow-list it with a reason): "
        + ", ".join(found)
    )


@pytest.mark.parametrize("qualified", sorted(ALLOWED))
def test_every_allow_listed_function_exists_and_still_needs_it(qualified: str) -> None:
    module, _, name = qualified.partition("::")
    assert qualified in _everything(), f"{qualified} no longer exists: drop it from ALLOWED"
    source = (ROOT / module).read_text(encoding="utf-8")
    assert name in unscoped(source), f"{qualified} takes the tenant now: drop it from ALLOWED"


def test_the_lint_sees_the_service() -> None:
    # A lint that finds no module checks nothing: it must see the functions it guards.
    everything = _everything()
    assert "services/loans/lifecycle.py::decide" in everything
    assert "services/loans/stats.py::stats" in everything


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
