"""The demo's consents for two credit-reporting firms, its API clients and its dashboard users."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.orm import Session

from services.demo.story import (
    BANKS,
    FIRMS,
)
from services.gateway import service as gateway
from services.gateway import users as gateway_users
from services.gateway.schemas import ClientCreate, UserCreate
from services.guarantee import consents
from services.guarantee.schemas import ConsentIn
from services.loans.products import bank_exists
from services.scoring.schemas import EnterpriseIn


@dataclass(frozen=True, slots=True)
class Credentials:
    """A client created for the demo (its secret is shown once)."""

    name: str
    role: str
    code: str | None  # the bank's or the credit firm's code
    client_id: str
    client_secret: str


# ---------------------------------------------------------------- consents and clients


def consents_for_firms(
    session: Session, rng: random.Random, enterprises: list[EnterpriseIn]
) -> None:
    """Consents of about 30 % and 20 % of the enterprises for the two credit firms."""
    granted = datetime(2026, 2, 1, 9, tzinfo=UTC)
    for firm, share in zip(FIRMS, (0.30, 0.20), strict=True):
        consents.grant_many(
            session,
            [
                ConsentIn(
                    uscc=e.uscc,
                    firm_code=firm,
                    granted_at=granted,
                    evidence_ref=f"授权书-{firm}-{e.uscc[-6:]}",
                )
                for e in enterprises
                if rng.random() < share or e.name.startswith("泰州榕兴")
            ],
            by="demo",
        )


CHECKER_NAME = "second operator (checker)"


def clients(session: Session) -> list[Credentials]:
    """API clients for the five banks, the bureau, the two credit firms, and a second operator:
    four eyes needs an admin client other than the first-start one to approve a change (the
    README's walk-through approves with it)."""
    wanted = [
        ClientCreate(name=f"{name} loan system", role="bank", bank_code=code)
        for code, name in BANKS.items()
    ]
    wanted.append(ClientCreate(name="泰州市科技局 dashboard", role="bureau"))
    wanted += [
        ClientCreate(name=f"{firm} credit model", role="credit_firm", firm_code=firm)
        for firm in FIRMS
    ]
    wanted.append(ClientCreate(name=CHECKER_NAME, role="admin"))
    out = []
    for data in wanted:
        client, secret = gateway.create_client(session, data)
        code = data.bank_code or data.firm_code
        out.append(Credentials(data.name, data.role, code, client.client_id, secret))
    return out


BUREAU_USER = "bureau"


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A dashboard user created for the demo (its generated password is shown once)."""

    name: str
    role: str
    bank_code: str | None
    password: str


def users(session: Session) -> list[DemoUser]:
    """Dashboard users: `bureau` (the 科技局, every bank's figures) and one per bank, named by
    its code in lower case (`tzbank` sees 泰州银行's only), with generated passwords."""
    wanted: list[tuple[str, Literal["bureau", "bank"], str | None]] = [
        (BUREAU_USER, "bureau", None)
    ]
    wanted += [(code.lower(), "bank", code) for code in BANKS]
    out = []
    for name, role, code in wanted:
        password = gateway_users.new_password(name)
        data = UserCreate(name=name, role=role, bank_code=code, password=password)
        gateway_users.create_user(session, data, bank_exists)
        out.append(DemoUser(name, role, code, password))
    return out
