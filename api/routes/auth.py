"""JSON API: auth."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep
from winback.accounts import service as accounts

router = APIRouter()



class LoginIn(BaseModel):
    username: str
    password: str


@router.post("/auth/login", tags=["auth"])
def login(body: LoginIn, request: Request, session: SessionDep) -> dict[str, Any]:
    staff = accounts.authenticate(session=session, username=body.username, password=body.password)
    if staff is None:
        from fastapi import HTTPException

        raise HTTPException(status_code=401, detail="wrong username or password")
    request.session.clear()
    request.session["staff_id"] = staff.id
    return me(staff)


@router.post("/auth/logout", tags=["auth"])
def logout(request: Request) -> dict[str, bool]:
    request.session.clear()
    return {"ok": True}


@router.get("/me", tags=["auth"])
def me(user: CurrentUser) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "name": user.display_name,
            "store": user.store.code, "roles": sorted(r.value for r in user.roles)}
