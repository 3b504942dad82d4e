"""The problem types of four eyes (`/v1/admin/changes`), part of `shared.problem_catalogue`."""

from __future__ import annotations

from shared.problem_kind import ProblemKind

_LIST = "List the pending changes with GET /v1/admin/changes?status=pending."

# fmt: off
GOVERNANCE = (
    ProblemKind(
        "change-not-found", 404, "Change not found",
        "No pending, approved or rejected change has this id.",
        _LIST,
    ),
    ProblemKind(
        "change-pending", 409, "A change of this target is already pending",
        "Only one change per target (a product, a bank, a calendar year, a period's ranking, "
        "a model version, the fee rate of a year, the admin clients) waits at a time; "
        "`change` names the pending one.",
        "Have it approved or rejected (POST /v1/admin/changes/{id}/approve or …/reject), "
        "then propose yours again.",
    ),
    ProblemKind(
        "change-decided", 409, "The change is already decided",
        "The change was approved or rejected before; a decision is never changed.",
        "Read it with GET /v1/admin/changes/{id}; propose a new change if one is needed.",
    ),
    ProblemKind(
        "change-in-progress", 409, "The change is being decided",
        "Another operator is approving or rejecting this change at this moment.",
        "Wait a moment and read the change (GET /v1/admin/changes/{id}).",
    ),
    ProblemKind(
        "admin-secret-foreign", 403, "Another operator's secret is not yours to replace",
        "Four eyes: whoever replaces an admin client's secret could then act as that client "
        "and approve their own changes, so through the API an operator replaces only its own "
        "admin secret.",
        "Ask the owner of that admin client, or replace it on the host with "
        "`innocredit clients rotate-secret` (the installation, like `clients create`).",
    ),
    ProblemKind(
        "change-own", 403, "The maker cannot approve its own change",
        "Four eyes: a change is approved by an admin client other than the one that proposed "
        "it. The maker may withdraw it (reject, with a reason).",
        "Ask another operator, with an admin client of their own, to approve it.",
    ),
    ProblemKind(
        "change-target-moved", 409, "The change's target changed since it was proposed",
        "What the change would alter is no longer what the checker saw (`expected` and "
        "`current` say how): applying it blindly could undo another change. Nothing was "
        "changed and the change stays pending.",
        "Reject it with a reason, and propose it again against the current state.",
    ),
)
# fmt: on
