"""An application's status and the one table of the moves between statuses.

A bank decides a submitted application (approve or reject) or withdraws it, pays out an
approved one (once or in parts), and reports on a disbursed loan's repayment. Every change of
status goes through `after`, so what is allowed from where is written down once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from services.loans.errors import WrongTransition


class Status(StrEnum):
    """Where an application stands (the strings the database and the API use)."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    DISBURSED = "disbursed"
    REPAID = "repaid"
    OVERDUE = "overdue"
    DEFAULTED = "defaulted"


class Move(StrEnum):
    """What a bank does to an application; a repayment report is named by what it reports."""

    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    DISBURSE = "disburse"
    REPORT_CURRENT = "current"
    REPORT_OVERDUE = "overdue"
    REPORT_REPAID = "repaid"
    REPORT_DEFAULTED = "defaulted"

    @property
    def attempt(self) -> str:
        """How a refusal names the move: "Cannot {attempt} an application that is …"."""
        match self:
            case Move.APPROVE | Move.REJECT:
                return "decide"
            case Move.WITHDRAW | Move.DISBURSE:
                return self.value
            case _:
                return f"report {self.value} on"


TRANSITIONS: Final[Mapping[Status, Mapping[Move, Status]]] = {
    Status.SUBMITTED: {
        Move.APPROVE: Status.APPROVED,
        Move.REJECT: Status.REJECTED,
        Move.WITHDRAW: Status.WITHDRAWN,
    },
    Status.APPROVED: {Move.DISBURSE: Status.DISBURSED},
    # A loan paid out in parts stays disbursed; `current` confirms it is being repaid.
    Status.DISBURSED: {
        Move.DISBURSE: Status.DISBURSED,
        Move.REPORT_CURRENT: Status.DISBURSED,
        Move.REPORT_OVERDUE: Status.OVERDUE,
        Move.REPORT_REPAID: Status.REPAID,
    },
    Status.OVERDUE: {
        Move.REPORT_OVERDUE: Status.OVERDUE,
        Move.REPORT_REPAID: Status.REPAID,
        Move.REPORT_DEFAULTED: Status.DEFAULTED,
    },
}
"""From each status, the moves allowed and the status each leads to; the rest are final."""


def after(status: str, move: Move) -> Status:
    """The status `move` leads to from `status`, or 409 invalid-transition."""
    target = TRANSITIONS.get(Status(status), {}).get(move)
    if target is None:
        raise WrongTransition(f"Cannot {move.attempt} an application that is {status}")
    return target
