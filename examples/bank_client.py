"""How a partner bank's loan system talks to InnoCredit (httpx), end to end.

    .venv/bin/python examples/bank_client.py --base-url http://127.0.0.1:8000 \
        --client-id "$TZBANK_CLIENT_ID" --client-secret "$TZBANK_CLIENT_SECRET" \
        --uscc 91321203MA1RXYL18G --product XEGQ

(against `./run.sh --demo`, after `source ~/.local/share/innocredit/credentials.env`; the
README's "Integrating as a bank" runs it so in tests/test_readme.py)

It gets a token, reads the enterprise's points, asks for a quote, submits an application with
an Idempotency-Key (and retries it safely: the retry is a replay, not a second loan), records
the decision and a disbursement, and prints what happened.
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx


class InnoCredit:
    """A small client: OAuth2 client credentials, then bearer calls, problems raised."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=30, transport=transport)
        self._auth = (client_id, client_secret)
        self._token: str | None = None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        if self._token is None:
            response = self._http.post(
                "/oauth/token", auth=self._auth, data={"grant_type": "client_credentials"}
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}", **(extra or {})}

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Any = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Make a call; an RFC 9457 problem becomes an exception naming its type and detail."""
        headers = self._headers({"Idempotency-Key": idempotency_key} if idempotency_key else None)
        response = self._http.request(method, path, json=body, params=params, headers=headers)
        if response.status_code >= 400:
            problem = response.json()
            raise RuntimeError(
                f"{response.status_code} {problem.get('type')}: {problem.get('detail')}"
            )
        return response


def run(api: InnoCredit, uscc: str, product: str, amount: str) -> dict[str, Any]:
    """The whole flow for one loan; returns what each step said."""
    points = api.call("GET", f"/v1/scoring/enterprises/{uscc}/points").json()
    quote = api.call("GET", f"/v1/loans/products/{product}/quote", params={"uscc": uscc}).json()
    if not quote["eligible"]:
        raise RuntimeError(f"not eligible: {quote['reasons']}")
    key = f"loan-{uuid.uuid4()}"  # keep it with the loan request in your own database
    application = {"uscc": uscc, "product_code": product, "amount": amount, "term_months": 12}
    first = api.call("POST", "/v1/loans/applications", body=application, idempotency_key=key)
    # A timeout or a crash here leaves you unsure whether it went through: send it again
    # with the same key. InnoCredit replays the first answer instead of creating a second loan.
    retry = api.call("POST", "/v1/loans/applications", body=application, idempotency_key=key)
    app_id = first.json()["id"]
    assert retry.json()["id"] == app_id
    assert retry.headers["Idempotent-Replayed"] == "true"
    decision = api.call(
        "POST",
        f"/v1/loans/applications/{app_id}/decision",
        body={
            "outcome": "approved",
            "approved_amount": amount,
            "annual_rate": "0.0365",
            "reason_codes": ["points"],
        },
        idempotency_key=f"decision-{app_id}",
    ).json()
    disbursed = api.call(
        "POST",
        f"/v1/loans/applications/{app_id}/disbursements",
        body={
            "amount": amount,
            "disbursed_at": datetime.now(UTC).isoformat(),
            "reference": f"TX-{app_id[:8]}",
        },
        idempotency_key=f"disbursement-{app_id}-1",
    ).json()
    return {
        "points": points["points"],
        "rank": points["rank"],
        "max_amount": quote["max_amount"],
        "application": app_id,
        "replayed": retry.headers["Idempotent-Replayed"] == "true",
        "decision_due_at": first.json()["decision_due_at"],
        "decision_working_days": decision["decision_working_days"],
        "on_time": decision["on_time"],
        "status": disbursed["status"],
        "disbursed_total": disbursed["disbursed_total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--uscc", required=True)
    parser.add_argument("--product", default="XEGQ")
    parser.add_argument("--amount", default="2850000.00")
    args = parser.parse_args()
    api = InnoCredit(args.base_url, args.client_id, args.client_secret)
    print(json.dumps(run(api, args.uscc, args.product, args.amount), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
