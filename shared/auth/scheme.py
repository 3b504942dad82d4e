"""How a caller authenticates, as the OpenAPI document says it: OAuth 2.0 client credentials.

`bearer_scheme` is the dependency that reads the bearer token; being an `OAuth2` scheme with a
`clientCredentials` flow, it puts the token URL (the gateway's `/oauth/token`) and every
scope (`shared.auth.principal.SCOPES`) into the document, so Swagger UI's Authorize button
gets a token from a client id and secret. `shared.openapi_security` gives each operation the
scopes it requires.
"""

from __future__ import annotations

from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from shared.auth.principal import SCOPES

SCHEME = "OAuth2"
"""The scheme's name in the document's `components.securitySchemes`."""
TOKEN_URL = "/oauth/token"  # noqa: S105 - a path, not a secret

bearer_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=dict(SCOPES))
    ),
    scheme_name=SCHEME,
    description="OAuth 2.0 client credentials (RFC 6749 §4.4): a client id and secret, sent "
    "to `/oauth/token` with HTTP Basic or as form fields, give a bearer token",
    auto_error=False,
)
"""The dependency that reads the `Authorization` header (None without one); the token itself
is verified by `shared.auth.deps.get_principal`."""
