"""JSON API: auth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep
from api.schemas import MeOut, OkOut
from edge import users
from winback.accounts import service as accounts
from winback.i18n import N_

router = APIRouter()


class LoginIn(BaseModel):
    username: str
    password: str


@router.post("/auth/login", response_model=MeOut, tags=["auth"])
def login(body: LoginIn, request: Request, session: SessionDep) -> dict[str, Any]:
    staff = users.log_in(request, session, username=body.username, password=body.password)
    if staff is None:
        raise HTTPException(status_code=401, detail=N_("wrong username or password"))
    return me(staff)


@router.post("/auth/logout", response_model=OkOut, tags=["auth"])
def logout(request: Request, session: SessionDep) -> dict[str, bool]:
    """Ends every session of the person logged in by this cookie (all their browsers)."""
    users.log_out(request, session)
    return {"ok": True}


class PasswordChangeIn(BaseModel):
    old_password: str
    new_password: str


@router.post("/auth/password", response_model=OkOut, tags=["auth"])
def change_password(
    body: PasswordChangeIn, user: CurrentUser, session: SessionDep, request: Request
) -> dict[str, bool]:
    """Every other session of the person ends; this one goes on (a request made with an API
    token has no session to go on)."""
    users.change_password(
        request, session, user, old_password=body.old_password, new_password=body.new_password
    )
    return {"ok": True}


@router.get("/me", response_model=MeOut, tags=["auth"])
def me(user: CurrentUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.display_name,
        "store": user.store.code,
        "store_ids": user.all_store_ids,
        "roles": sorted(r.value for r in user.roles),
        "locale": user.locale,
    }


class MeIn(BaseModel):
    # zh or en; null follows Accept-Language (the pages) and the default language (messages)
    locale: str | None = None


@router.patch("/me", response_model=MeOut, tags=["auth"])
def me_update(body: MeIn, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """One's own language: pages, notifications, exports and API errors follow it."""
    accounts.set_language(session=session, staff=user, locale=body.locale)
    return me(user)
