"""The governed gateway the tests of tests/governance/ drive (the `gov` fixture): four eyes on,
a maker and a checker, and how a change is proposed and approved through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Creds, bearer, get_token


@dataclass
class Governed:
    """The governed gateway: in-process (`api`) and on a real server (`url`), with a maker's
    and a checker's credentials and headers."""

    api: TestClient
    url: str
    maker: Creds
    checker: Creds
    make_client: Callable[..., Creds]

    def headers(self, creds: Creds) -> dict[str, str]:
        """An admin's bearer header."""
        return bearer(get_token(self.api, creds))

    @property
    def m(self) -> dict[str, str]:
        """The maker's headers."""
        return self.headers(self.maker)

    @property
    def c(self) -> dict[str, str]:
        """The checker's headers."""
        return self.headers(self.checker)

    def propose(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send a governed write as the maker; assert 202 with its `Location`; the change."""
        headers = {**self.m, **kwargs.pop("headers", {})}
        response = self.api.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 202, response.text
        change: dict[str, Any] = response.json()
        assert response.headers["location"] == f"/v1/admin/changes/{change['id']}"
        assert change["status"] == "pending"
        assert change["maker"] == self.maker.client_id
        return change

    def approve(self, change: dict[str, Any], creds: Creds | None = None) -> Any:
        """Approve `change` (as the checker unless `creds` says who)."""
        return self.api.post(
            f"/v1/admin/changes/{change['id']}/approve",
            headers=self.headers(creds or self.checker),
        )
