"""Each operation of the OpenAPI document that needs a token names the OAuth 2.0 scheme
(`shared.auth.scheme`) with the scopes its `x-access` says it requires
(`shared.openapi_access`): the document states what the gates enforce, never a copy of it.
"""

from __future__ import annotations

from typing import Any

from shared.auth.scheme import SCHEME
from shared.openapi_access import ACCESS


def declare_security(document: dict[str, Any]) -> dict[str, Any]:
    """Give every operation of `document` that needs a token the OAuth 2.0 scheme with the
    scopes of its `x-access` (in place); a public operation has `security: []`."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or ACCESS not in operation:
                continue
            access = operation[ACCESS]
            if access["public"]:
                operation["security"] = []  # explicitly: no token
            else:
                operation["security"] = [{SCHEME: list(access["scopes"])}]
    return document
