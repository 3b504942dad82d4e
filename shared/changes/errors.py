"""The errors of four eyes; their problem types are in `shared.changes.problem_types`."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound


class ChangeNotFound(NotFound):
    slug = "change-not-found"


class ChangePending(Conflict):
    slug = "change-pending"


class ChangeDecided(Conflict):
    slug = "change-decided"


class ChangeInProgress(Conflict):
    slug = "change-in-progress"


class ChangeOwn(Forbidden):
    slug = "change-own"


class TargetMoved(Conflict):
    slug = "change-target-moved"


class ForeignAdminSecret(Forbidden):
    slug = "admin-secret-foreign"
