"""Every operation of the OpenAPI document has a stable, readable `operationId`: the name of
its route function (`submit_application`, `get_loan_stats`, `pull_feature_export`).

FastAPI's default joins the function name, the path and the method
(`submit_v1_loans_applications_post`), which a client generator turns into the names of its
functions and models. The function name is what a reader of the code sees, so a route whose
function name would be a poor operation name is renamed, never given an id of its own; an
operation that several services share (`whoami`) names its service. `unique_operation_ids`
fails the build of a document in which two operations share an id.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from fastapi.routing import APIRoute

OPERATION_ID = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
"""An operation id: snake_case, as a Python client would name the function."""


def operation_id(route: APIRoute) -> str:
    """The `operationId` of `route` (FastAPI's `generate_unique_id_function`): its name."""
    if not OPERATION_ID.fullmatch(route.name):
        raise ValueError(f"{route.path}: {route.name!r} is not a snake_case operation id")
    return route.name


def operation_ids(document: dict[str, Any]) -> list[str]:
    """The `operationId` of every operation of `document`, in document order."""
    return [
        str(operation.get("operationId"))
        for item in document.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict) and "responses" in operation
    ]


def unique_operation_ids(document: dict[str, Any]) -> dict[str, Any]:
    """`document`, after checking that no two of its operations share an `operationId`."""
    repeated = sorted(i for i, n in Counter(operation_ids(document)).items() if n > 1)
    if repeated:
        raise ValueError(f"operationIds used more than once: {', '.join(repeated)}")
    return document
