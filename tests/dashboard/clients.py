"""The API as one of the demo's API clients sees it, over HTTP on the demo's server (what the
dashboard's tests compare the page with)."""

from __future__ import annotations

import httpx

from tests.demo_db import DemoDatabase


def api_as(site: str, demo: DemoDatabase, client_name: str) -> httpx.Client:
    """The API as one of the demo's API clients sees it (to compare the page with)."""
    creds = demo.clients[client_name]
    token = httpx.post(
        f"{site}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    ).json()["access_token"]
    return httpx.Client(base_url=site, headers={"Authorization": f"Bearer {token}"})
