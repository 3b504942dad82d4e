"""The token endpoint as an integrator's OAuth library sees it: requests-oauthlib, unmodified,
over a real HTTP connection, finding the endpoint through the RFC 8414 metadata."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient, InvalidClientError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from tests.factories import Creds


@pytest.fixture(autouse=True)
def _plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib insists on https; the test server speaks plain http on 127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _token_endpoint(live_url: str) -> str:
    metadata = requests.get(f"{live_url}/.well-known/oauth-authorization-server", timeout=10)
    assert metadata.status_code == 200, metadata.text
    endpoint = metadata.json()["token_endpoint"]
    assert endpoint == f"{live_url}/oauth/token"
    return str(endpoint)


@pytest.mark.parametrize(
    "how",
    ["basic", "basic with client_id in the form", "form (client_secret_post)"],
)
def test_requests_oauthlib_gets_a_token_and_calls_the_api(
    live_url: str, make_client: Callable[..., Creds], how: str
) -> None:
    creds = make_client("bank", name="泰州银行 loan system", bank_code="TZBANK")
    session = OAuth2Session(client=BackendApplicationClient(client_id=creds.client_id))
    options: dict[str, object]
    if how == "basic":
        options = {"auth": HTTPBasicAuth(creds.client_id, creds.client_secret)}
    elif how == "basic with client_id in the form":
        options = {
            "auth": HTTPBasicAuth(creds.client_id, creds.client_secret),
            "include_client_id": True,
        }
    else:
        options = {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "include_client_id": True,
        }
    token = session.fetch_token(token_url=_token_endpoint(live_url), timeout=10, **options)
    assert token["token_type"] == "Bearer"
    assert "loans:write" in token["scope"]
    me = session.get(f"{live_url}/v1/loans/whoami", timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["bank_code"] == "TZBANK"


def test_requests_oauthlib_reads_our_errors(
    live_url: str, make_client: Callable[..., Creds]
) -> None:
    creds = make_client("bureau")
    session = OAuth2Session(client=BackendApplicationClient(client_id=creds.client_id))
    with pytest.raises(InvalidClientError) as refused:
        session.fetch_token(
            token_url=_token_endpoint(live_url),
            auth=HTTPBasicAuth(creds.client_id, "wrong secret"),
            timeout=10,
        )
    assert refused.value.status_code == 401
