"""What a client learns without a token: the OAuth server's metadata and the problem types.

`GET /.well-known/oauth-authorization-server` is RFC 8414's metadata, so OAuth libraries find
the token endpoint, the keys and the supported methods by themselves. Every problem's `type`
is `/problems/<slug>`, and `GET /problems/{slug}` answers what it means and what to do — a
short page for a browser (`Accept: text/html`), the catalogue's entry as JSON otherwise;
`GET /problems` lists them. The text is `shared.problem_catalogue`'s, the one source.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from shared.app import AppSettings
from shared.auth.principal import ROLE_SCOPES
from shared.errors import NotFound, problem_type
from shared.negotiation import HTML, Negotiated, media_responses
from shared.openapi import problems
from shared.openapi_headers import with_headers
from shared.pagination import Page, PageParams
from shared.problem_catalogue import CATALOGUE
from shared.problem_kind import ProblemKind

discovery = APIRouter(tags=["discovery"])

METADATA_PATH = "/.well-known/oauth-authorization-server"


class AuthorizationServerMetadata(BaseModel):
    """RFC 8414 §2 authorization server metadata (client credentials only)."""

    issuer: str = Field(description="equals the `iss` of every token issued")
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str]
    response_types_supported: list[str] = Field(
        description="empty: no authorization endpoint, the client-credentials grant needs none"
    )
    service_documentation: str | None = None


@discovery.get(
    METADATA_PATH,
    response_model=AuthorizationServerMetadata,
    response_model_exclude_none=True,
    responses={200: with_headers("Cache-Control")},
    summary="OAuth 2.0 authorization server metadata (RFC 8414)",
)
def get_authorization_server_metadata(
    request: Request, settings: AppSettings, response: Response
) -> AuthorizationServerMetadata:
    """Where to get tokens and the keys that verify them, and how to authenticate."""
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    response.headers["Cache-Control"] = "public, max-age=300"
    return AuthorizationServerMetadata(
        issuer=settings.issuer,
        token_endpoint=f"{base}/oauth/token",
        jwks_uri=f"{base}/.well-known/jwks.json",
        grant_types_supported=["client_credentials"],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        scopes_supported=sorted(set().union(*ROLE_SCOPES.values())),
        response_types_supported=[],
        service_documentation=f"{base}/docs" if settings.docs_enabled else None,
    )


# ---------------------------------------------------------------- problem types


class ProblemTypeOut(BaseModel):
    """A problem type of the catalogue: what its problems mean and what to do about them."""

    type: str = Field(description="the `type` of its problems: `/problems/<slug>`")
    slug: str
    status: int | None = Field(description="the HTTP status of its problems (null: varies)")
    title: str = Field(description="the `title` of every problem of this type")
    means: str
    todo: str = Field(description="what to do about it")


def _out(entry: ProblemKind) -> ProblemTypeOut:
    return ProblemTypeOut(
        type=problem_type(entry.slug),
        slug=entry.slug,
        status=entry.status,
        title=entry.title,
        means=entry.means,
        todo=entry.todo,
    )


_HTML = media_responses(HTML)
VARY = {"Vary": "Accept"}  # a response the route builds itself misses the one negotiate sets


@discovery.get(
    "/problems",
    response_model=Page[ProblemTypeOut],
    responses={**_HTML, **problems(400)},
    summary="The catalogue of problem types",
)
def list_problem_types(
    media: Negotiated,
    paging: PageParams,
) -> Any:
    """Every problem type the API answers with, by slug."""
    keyset = paging.keyset("problems")
    after = keyset.first(str) or ""
    rows = [CATALOGUE[slug] for slug in sorted(CATALOGUE) if slug > after][: paging.limit + 1]
    page = keyset.page(rows, lambda e: [e.slug], _out)
    if media == HTML:
        return HTMLResponse(_index_page(page), headers=VARY)
    return page


@discovery.get(
    "/problems/{slug}",
    response_model=ProblemTypeOut,
    responses=_HTML,
    summary="What a problem type means and what to do",
)
def get_problem_type(slug: str, media: Negotiated) -> Any:
    """The page a problem's `type` URI points to."""
    entry = CATALOGUE.get(slug)
    if entry is None:
        raise NotFound(f"No problem type is called {slug!r}; GET /problems lists them")
    if media == HTML:
        return HTMLResponse(_type_page(_out(entry)), headers=VARY)
    return _out(entry)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;"
    "line-height:1.5}code{background:#f3f3f3;padding:0 .2em}td{padding:.2em .8em .2em 0}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · InnoCredit</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _type_page(entry: ProblemTypeOut) -> str:
    status = f"HTTP {entry.status}" if entry.status is not None else "HTTP status varies"
    return _page(
        entry.title,
        f"<h1>{escape(entry.title)}</h1>"
        f"<p><code>{escape(entry.type)}</code> · {status}</p>"
        f"<h2>What it means</h2><p>{escape(entry.means)}</p>"
        f"<h2>What to do</h2><p>{escape(entry.todo)}</p>"
        '<p><a href="/problems">All problem types</a></p>',
    )


def _index_page(page: Page[ProblemTypeOut]) -> str:
    rows = "".join(
        f'<tr><td><a href="{escape(e.type)}">{escape(e.slug)}</a></td>'
        f"<td>{e.status or ''}</td><td>{escape(e.title)}</td></tr>"
        for e in page.items
    )
    more = (
        f'<p><a href="/problems?cursor={escape(page.next_cursor)}">More</a></p>'
        if page.next_cursor
        else ""
    )
    return _page(
        "Problem types",
        "<h1>Problem types</h1><p>Every error is an RFC 9457 problem whose <code>type</code> "
        "is one of these.</p>"
        f"<table><tr><th>type</th><th>status</th><th>title</th></tr>{rows}</table>{more}",
    )
