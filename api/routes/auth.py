"""JSON API: auth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep
from web.routes.common import client_address
from winback.accounts import service as accounts
from winback.i18n import N_

router = APIRouter()


class LoginIn(BaseModel):
    username: str
    password: str


@router.post("/auth/login", tags=["auth"])
def login(body: LoginIn, request: Request, session: SessionDep) -> dict[str, Any]:
    staff = accounts.log_in(
        session=session, username=body.username, password=body.password, address=client_address(request)
    )
    if staff is None:
        session.commit()  # the failed attempt counts towards the rate limit
        raise HTTPException(status_code=401, detail=N_("wrong username or password"))
    request.session.clear()
    request.session["staff_id"] = staff.id
    return me(staff)


@router.post("/auth/logout", tags=["auth"])
def logout(request: Request) -> dict[str, bool]:
    request.session.clear()
    return {"ok": True}


class PasswordChangeIn(BaseModel):
    old_password: str
    new_password: str


@router.post("/auth/password", tags=["auth"])
def change_password(body: PasswordChangeIn, user: CurrentUser, session: SessionDep) -> dict[str, bool]:
    accounts.change_password(
        session=session, staff=user, old_password=body.old_password, new_password=body.new_password
    )
    return {"ok": True}


@router.get("/me", tags=["auth"])
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


@router.patch("/me", tags=["auth"])
def me_update(body: MeIn, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """One's own language: pages, notifications, exports and API errors follow it."""
    accounts.set_language(session=session, staff=user, locale=body.locale)
    return me(user)
