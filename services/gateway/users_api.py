"""Operators' endpoints for the dashboard's users: `/v1/admin/users` (scope `admin`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from services.gateway import users
from services.gateway.deps import KnownBanks
from services.gateway.directory import ClientDirectory
from services.gateway.schemas import PasswordChange, UserCreate, UserOut
from shared.auth.deps import Admin
from shared.db import DbSession
from shared.openapi import problems
from shared.openapi_headers import with_headers
from shared.pagination import Page, PageParams

admin_users = APIRouter(prefix="/v1/admin/users", tags=["admin: users"])
UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The user's id")]


def _forget(request: Request, user_id: int) -> None:
    directory: ClientDirectory = request.app.state.client_directory
    directory.forget_user(user_id)


@admin_users.post(
    "",
    status_code=201,
    response_model=UserOut,
    responses={201: with_headers("Location"), **problems(409, 422)},
    summary="Create a dashboard user",
)
def create_user(
    body: UserCreate, session: DbSession, _: Admin, banks: KnownBanks, response: Response
) -> UserOut:
    """A person who signs in to the dashboard: the bureau's (`role` bureau) or a bank's (`role`
    bank with its `bank_code`, which must name a partner bank). The password must keep the
    rule (422 `validation-error` naming `password` otherwise); a taken name is 409."""
    user = users.create_user(session, body, banks)
    response.headers["Location"] = f"/v1/admin/users/{user.id}"
    return UserOut.model_validate(user)


@admin_users.get("", response_model=Page[UserOut], summary="List dashboard users")
def list_users(session: DbSession, _: Admin, paging: PageParams) -> Page[UserOut]:
    """Every user, ordered by id."""
    keyset = paging.keyset("users")
    after = keyset.first(int)
    rows = users.list_users(session, after=after, limit=paging.limit)
    return keyset.page(rows, lambda u: [u.id], UserOut.model_validate)


@admin_users.get(
    "/{user_id}", response_model=UserOut, responses=problems(404), summary="One dashboard user"
)
def get_user(user_id: UserId, session: DbSession, _: Admin) -> UserOut:
    """A user's facts, their lockout included (never the password or its hash)."""
    return UserOut.model_validate(users.get_user(session, user_id))


@admin_users.post(
    "/{user_id}/disable",
    response_model=UserOut,
    responses=problems(404),
    summary="Disable a dashboard user",
)
def disable_user(user_id: UserId, request: Request, session: DbSession, _: Admin) -> UserOut:
    """No more sign-ins; their sessions end now and their page tokens within
    INNOCREDIT_CLIENT_CACHE_SECONDS (at once on this gateway process)."""
    user = users.disable_user(session, user_id)
    _forget(request, user_id)
    return UserOut.model_validate(user)


@admin_users.post(
    "/{user_id}/unlock",
    response_model=UserOut,
    responses=problems(404),
    summary="Lift a dashboard user's lockout",
)
def unlock_user(user_id: UserId, session: DbSession, _: Admin) -> UserOut:
    """The failed sign-ins are forgotten and the user may sign in again at once."""
    return UserOut.model_validate(users.unlock_user(session, user_id))


@admin_users.post(
    "/{user_id}/password",
    response_model=UserOut,
    responses=problems(404, 422),
    summary="Reset a dashboard user's password",
)
def reset_password(
    user_id: UserId, body: PasswordChange, request: Request, session: DbSession, _: Admin
) -> UserOut:
    """Set a new password (the rule applies); the user's sessions end and a lockout is
    lifted."""
    user = users.set_password(session, user_id, body.password)
    _forget(request, user_id)
    return UserOut.model_validate(user)
