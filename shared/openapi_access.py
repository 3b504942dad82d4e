"""Every operation of the OpenAPI document says who may call it: the `x-access` extension.

It is read from the route's dependencies when the document is built, never typed per route,
so it states what the dependencies enforce (the gates of `shared.auth.deps`):

    "x-access": {
      "public": false,                         # true: no bearer token is asked for
      "scopes": ["loans:read"],                # every one is required (require_scopes)
      "roles": ["bank", "bureau", "admin"],    # the roles that pass every gate
      "tenant": "bank",                        # "bank" | "firm" | null: whose rows it reads
      "owner": "bank"                          # "bank" | "firm" | null: whose object the id names
    }

- `roles`: each role whose scopes (`shared.auth.principal.ROLE_SCOPES`) hold `scopes` and
  that every tenant gate (`BanksVisible`, `ActingBank`, `FirmsVisible`, `ActingFirm`,
  `ProgrammeWide`) admits; a public operation lists every role.
- `tenant`: the gates' tenant: a bank's (firm's) client reads and writes its own bank's
  (firm's) rows only, the bureau and operators every tenant's.
- `owner`: a path that takes an id and is restricted to the `tenant` a tenant's client may
  call names that tenant's object: another tenant's id answers 404, as an unknown one does.

The BOLA sweep, the role × operation sweep and the fuzz world read it (tests/test_bola.py,
tests/test_authorization.py, tests/fuzz.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from shared.auth.deps import Gate, Tenant, gate_of, get_principal
from shared.auth.principal import ROLE_SCOPES, ROLES

ACCESS = "x-access"

# The role a tenant's own client has: the role whose rows are the tenant's.
TENANT_ROLE: dict[Tenant, str] = {"bank": "bank", "firm": "credit_firm"}


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def route_access(route: APIRoute | RouteContext) -> dict[str, Any]:
    """The `x-access` of `route`, from the gates among its dependencies (at any depth; those
    of the routers it is included through too)."""
    dependant: Dependant = route.dependant
    calls = [d.call for d in _dependencies(dependant) if d.call is not None]
    if get_principal not in calls:
        return {"public": True, "scopes": [], "roles": list(ROLES), "tenant": None, "owner": None}
    gates: list[Gate] = [g for g in map(gate_of, calls) if g is not None]
    scopes = frozenset().union(*(g.scopes for g in gates))
    roles = [r for r in ROLES if scopes <= ROLE_SCOPES[r]]
    for gate in gates:
        if gate.roles is not None:
            roles = [r for r in roles if r in gate.roles]
    tenants = {g.tenant for g in gates if g.tenant is not None}
    if len(tenants) > 1:
        raise ValueError(f"{route.path} restricts its caller to both {sorted(tenants)}")
    tenant = next(iter(tenants), None)
    takes_an_id = bool(dependant.path_params)
    owned = tenant is not None and takes_an_id and TENANT_ROLE[tenant] in roles
    return {
        "public": False,
        "scopes": sorted(scopes),
        "roles": roles,
        "tenant": tenant,
        "owner": tenant if owned else None,
    }


def declare_access(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Give every operation of `document` (built from `app`) its `x-access` (in place)."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        item = document.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                operation[ACCESS] = route_access(route)
    return document
