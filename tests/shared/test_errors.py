"""Every error path of a service app renders RFC 9457 problem+json, never a traceback."""

from __future__ import annotations

import importlib
import typing
from collections.abc import Iterator
from typing import Annotated, Any, cast

import psycopg
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.app import database_key_set, make_verifier
from shared.app import ServiceSpec, create_service_app
from shared.db import DbSession, make_engine
from shared.errors import Conflict, InsufficientScope
from shared.middleware import edge_middleware, wrapped
from shared.money import PositiveMoney
from shared.problems import problem_for
from shared.settings import CoreSettings
from shared.uscc import Uscc
from tests.servers import make_settings

router = APIRouter()
SPEC = ServiceSpec(name="t", title="t", description="t", routers=(router,))


class Application(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uscc: Uscc
    amount: PositiveMoney


@router.get("/v1/test/enterprises/{uscc}")
def enterprise(uscc: Uscc) -> dict[str, str]:
    return {"uscc": uscc}


@router.post("/v1/test/applications")
def apply(body: Application) -> dict[str, str]:
    return {"uscc": body.uscc, "amount": f"{body.amount}"}


@router.get("/v1/test/pair")
def pair_get() -> None:
    return None


@router.post("/v1/test/pair")
def pair_post() -> None:
    return None


@router.post("/v1/test/conflict")
def conflict() -> None:
    raise Conflict("already decided")


@router.get("/v1/test/boom")
def boom() -> None:
    raise RuntimeError("secret internals at /srv/innocredit/app.py: SELECT * FROM gw_client")


@router.post("/v1/test/half-write")
def half_write(session: DbSession) -> None:
    session.execute(
        text(
            "INSERT INTO gw_audit_event (method, path, status, action) "
            "VALUES ('X', '/half', 0, 'half-write')"
        )
    )
    raise RuntimeError("fails after writing")


def _raw(session: Session) -> psycopg.Connection[Any]:
    return cast(psycopg.Connection[Any], session.connection().connection.dbapi_connection)


@router.post("/v1/test/raw-copy-timeout")
def raw_copy_timeout(session: DbSession) -> None:
    """A statement timeout inside a COPY on the raw driver connection (as recompute does)."""
    session.execute(text("SET LOCAL statement_timeout = 50"))
    _raw(session).execute("SELECT pg_sleep(1)")


@router.post("/v1/test/raw-connection-lost")
def raw_connection_lost(session: DbSession) -> None:
    """The server ends the connection under a raw driver call (a PostgreSQL restart)."""
    _raw(session).execute("SELECT pg_terminate_backend(pg_backend_pid())")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


@router.post("/v1/test/note")
def note(body: Note, session: DbSession) -> None:
    write = text("INSERT INTO gw_audit_event (method, path, status, action) VALUES (:m, :p, 0, :a)")
    session.execute(write, {"m": "X", "p": "/note", "a": "note-first"})
    session.execute(write, {"m": "X", "p": "/note", "a": body.text})


@pytest.fixture(scope="module")
def app_client(settings: CoreSettings, engine: Engine) -> Iterator[TestClient]:
    verifier = make_verifier(settings, database_key_set(settings, engine))
    app = create_service_app(SPEC, settings, engine=engine, verifier=verifier)
    with TestClient(app) as client:
        yield client


def _problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


def test_bad_uscc_in_path_is_invalid_uscc(app_client: TestClient) -> None:
    body = _problem(app_client.get("/v1/test/enterprises/91321200MA1N2X3Y47"), 422, "invalid-uscc")
    assert body["errors"][0]["loc"] == ["path", "uscc"]
    ok = app_client.get("/v1/test/enterprises/91321200ma1n2x3y46")
    assert ok.json() == {"uscc": "91321200MA1N2X3Y46"}


def test_bad_uscc_in_body_is_invalid_uscc(app_client: TestClient) -> None:
    body = _problem(
        app_client.post("/v1/test/applications", json={"uscc": "123", "amount": "10.00"}),
        422,
        "invalid-uscc",
    )
    assert body["errors"][0]["loc"] == ["body", "uscc"]


def test_money_errors_are_validation_problems(app_client: TestClient) -> None:
    for amount in (10.5, "10.001", "-1.00", "1" * 20):
        _problem(
            app_client.post(
                "/v1/test/applications", json={"uscc": "91321200MA1N2X3Y46", "amount": amount}
            ),
            422,
            "validation-error",
        )


def test_a_body_that_is_not_utf8_is_malformed_json(app_client: TestClient) -> None:
    # Found by the fuzzer: FastAPI answered a non-UTF-8 JSON body with a bare 400.
    for raw in (b'{"uscc": "\xff"}', b"\x8c\xa4V\xab0"):
        body = _problem(
            app_client.post(
                "/v1/test/applications",
                content=raw,
                headers={"Content-Type": "application/json"},
            ),
            422,
            "malformed-json",
        )
        assert body["errors"] == [
            {"loc": ["body"], "msg": "not valid UTF-8", "type": "json_invalid"}
        ]


def test_405_allows_every_method_of_the_path(app_client: TestClient) -> None:
    # Found by the fuzzer: with GET and POST as two routes, the 405 said `Allow: POST`.
    for method in ("OPTIONS", "DELETE", "TRACE"):
        response = app_client.request(method, "/v1/test/pair")
        _problem(response, 405, "method-not-allowed")
        assert response.headers["allow"] == "GET, HEAD, POST"


def test_domain_error(app_client: TestClient) -> None:
    body = _problem(app_client.post("/v1/test/conflict"), 409, "conflict")
    assert body["detail"] == "already decided"
    assert body["instance"] == "/v1/test/conflict"


def test_unexpected_error_is_a_500_problem_without_internals(app_client: TestClient) -> None:
    body = _problem(app_client.get("/v1/test/boom"), 500, "internal-error")
    assert "secret" not in str(body)
    assert "/srv" not in str(body)
    assert "SELECT" not in str(body)


def test_a_failing_request_leaves_nothing_half_written(
    app_client: TestClient, engine: Engine
) -> None:
    _problem(app_client.post("/v1/test/half-write"), 500, "internal-error")
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM gw_audit_event WHERE action = 'half-write'")
        ).scalar_one()
    assert count == 0


def test_nul_in_text_is_422_and_writes_nothing(app_client: TestClient, engine: Engine) -> None:
    # Found by the fuzzer: PUT /v1/admin/industries/{code} {"name": "a\u0000b"} was a 500
    # (PostgreSQL text cannot hold U+0000); every text column of every service had it.
    body = _problem(
        app_client.post("/v1/test/note", json={"text": "a\u0000b"}), 422, "validation-error"
    )
    assert body["errors"][0]["type"] == "string_nul"
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM gw_audit_event WHERE action = 'note-first'")
        ).scalar_one()
    assert count == 0


def test_unreachable_database_is_503(settings: CoreSettings) -> None:
    dead = make_settings("postgresql://nobody@127.0.0.1:1/none")
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    verifier = make_verifier(dead, database_key_set(dead, engine))
    app = create_service_app(SPEC, dead, engine=engine, verifier=verifier)
    with TestClient(app) as client:
        body = _problem(client.post("/v1/test/half-write"), 503, "database-unavailable")
        assert "127.0.0.1" not in str(body)
        ready = client.get("/readyz")
        assert ready.status_code == 503
    engine.dispose()


def test_docs_can_be_switched_off(settings: CoreSettings, engine: Engine) -> None:
    verifier = make_verifier(settings, database_key_set(settings, engine))
    off = settings.model_copy(update={"docs_enabled": False})
    app: FastAPI = create_service_app(SPEC, off, engine=engine, verifier=verifier)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404


def test_raw_driver_errors_are_database_problems_not_500(app_client: TestClient) -> None:
    """Found in review: errors raised by psycopg itself (the COPY blocks of recompute and of
    the export feed) bypassed the mapping and answered 500."""
    _problem(app_client.post("/v1/test/raw-copy-timeout"), 504, "database-timeout")
    lost = app_client.post("/v1/test/raw-connection-lost")
    _problem(lost, 503, "database-unavailable")
    assert app_client.post("/v1/test/raw-copy-timeout").status_code == 504  # the pool recovers


def _escaping(error: Exception) -> ASGIApp:
    """An ASGI app (no FastAPI handlers) from which `error` escapes to the edge."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise error

    return app


def test_the_edge_answers_an_escaped_error_as_the_app_would(
    app_client: TestClient, settings: CoreSettings
) -> None:
    """One decision (`problem_for`) for FastAPI's handlers and the edge's catch-all."""
    by_app = _problem(app_client.post("/v1/test/conflict"), 409, "conflict")
    edge = wrapped(_escaping(Conflict("already decided")), edge_middleware(settings))
    by_edge = _problem(TestClient(edge).post("/v1/test/conflict"), 409, "conflict")
    assert {**by_edge, "request_id": None} == {**by_app, "request_id": None}


@pytest.mark.parametrize(
    ("error", "status", "slug", "headers"),
    [
        (
            InsufficientScope(["admin"]),
            403,
            "insufficient-scope",
            {"www-authenticate": 'Bearer error="insufficient_scope", scope="admin"'},
        ),
        (PoolTimeoutError("pool exhausted"), 503, "database-busy", {"retry-after": "1"}),
        (
            DataError("INSERT", {}, psycopg.DataError("cannot contain NUL (0x00) characters")),
            422,
            "validation-error",
            {},
        ),
        (KeyError("internals"), 500, "internal-error", {}),
    ],
)
def test_the_edge_catch_all_answers_every_kind_of_error(
    settings: CoreSettings, error: Exception, status: int, slug: str, headers: dict[str, str]
) -> None:
    edge = wrapped(_escaping(error), edge_middleware(settings))
    response = TestClient(edge).get("/v1/anything")
    body = _problem(response, status, slug)
    assert body["instance"] == "/v1/anything"
    assert "internals" not in response.text
    for name, value in headers.items():
        assert response.headers[name] == value
    if isinstance(error, InsufficientScope):
        assert body["required_scopes"] == ["admin"]  # extension members too, not only the title


# ---------------------------------------------------------------- what a JSON body must be


def test_malformed_json_says_where_parsing_stopped(app_client: TestClient) -> None:
    body = _problem(
        app_client.post(
            "/v1/test/applications",
            content=b'{\n  "uscc": "91321200MA1N2X3Y46",\n  "amount": 10.00,,\n}',
            headers={"Content-Type": "application/json"},
        ),
        422,
        "malformed-json",
    )
    assert body["title"] == "Malformed JSON body"
    assert body["detail"] == (
        "The body is not valid JSON: Expecting property name enclosed in double quotes "
        "at line 3, column 19 (character 52)"
    )


@pytest.mark.parametrize("content", [b'{"uscc": "91321200MA1N2X3Y46", "amount": "1.00"}', b""])
def test_a_json_endpoint_without_a_content_type_says_what_to_send(
    app_client: TestClient, content: bytes
) -> None:
    body = _problem(
        app_client.post("/v1/test/applications", content=content), 415, "unsupported-media-type"
    )
    assert body["detail"] == (
        "This endpoint takes a JSON body: send it with Content-Type: application/json"
    )


def _request_models() -> list[type[BaseModel]]:
    """Every request model of the services: their schemas' models that forbid unknown fields."""
    models: list[type[BaseModel]] = []
    for name in ("gateway", "scoring", "loans", "guarantee"):
        module = importlib.import_module(f"services.{name}.schemas")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and value.model_config.get("extra") == "forbid"
            ):
                models.append(value)
    return models


def _mentions_int(annotation: object) -> bool:
    if annotation is int:
        return True
    return any(_mentions_int(arg) for arg in typing.get_args(annotation))


def test_every_integer_of_a_request_body_is_strict() -> None:
    checked = []
    for model in _request_models():
        for name, info in model.model_fields.items():
            if not _mentions_int(info.annotation):
                continue
            annotated = (
                Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            )
            adapter: TypeAdapter[object] = TypeAdapter(annotated)  # type: ignore[arg-type]
            with pytest.raises(ValidationError) as refused:
                adapter.validate_python("1")
            assert "int_type" in {e["type"] for e in refused.value.errors()}, (model, name)
            checked.append(f"{model.__name__}.{name}")
    assert "ApplicationIn.term_months" in checked
    assert "DecisionIn.term_months" in checked
    assert "IndicatorIn.invention_patents" in checked
    assert len(checked) >= 15, checked


def _keys(schema: object) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield key
            yield from _keys(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _keys(value)


def test_request_integer_bounds_are_in_the_document() -> None:
    # Bounds given after a validator leak into JSON Schema as pydantic's `ge`/`le` (which no
    # JSON Schema reader knows) instead of `minimum`/`maximum`.
    for model in _request_models():
        leaked = {"ge", "le", "gt", "lt"} & set(_keys(model.model_json_schema()))
        assert not leaked, (model, leaked)


def test_a_connection_attempt_that_timed_out_is_503() -> None:
    """Found by bench/cluster.py during a failover: psycopg's ConnectionTimeout (an
    OperationalError without a SQLSTATE) answered 500."""
    timed_out = psycopg.errors.ConnectionTimeout("connection timeout expired")
    problem = problem_for(OperationalError("SELECT 1", {}, timed_out), path="/v1/x")
    assert (problem.status, problem.slug) == (503, "database-unavailable")
    assert problem.headers["Retry-After"] == "2"
