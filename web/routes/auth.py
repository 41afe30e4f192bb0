"""Log-in, log-out and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from edge import users
from edge.session import SessionDep
from web import render
from web.routes.common import safe_back
from web.routes.common import see_other as _see_other
from winback.accounts import authentication
from winback.accounts.models import Role
from winback.i18n import N_

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, session: SessionDep):
    user = users.optional_user(request, session)
    if user is None:
        return _see_other("/login")
    if user.has_role(Role.advisor) and not user.has_role(Role.admin, Role.supervisor, Role.manager):
        return _see_other("/tasks")
    if user.has_role(Role.auditor) and len(user.roles) == 1:
        return _see_other("/audit")
    return _see_other("/cycles")


@router.get("/login")
def login_form(request: Request, next: str = "/"):
    return render(request, "login.html", next=next, username="", error=None)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
):
    try:
        staff = users.log_in(request, session, username=username.strip(), password=password)
    except authentication.TooManyAttempts as exc:
        return render(request, "login.html", status_code=429, next=next, username=username, error=exc.message)
    if staff is None:
        return render(
            request,
            "login.html",
            status_code=401,
            next=next,
            username=username,
            error=N_("Wrong username or password."),
        )
    return _see_other(safe_back(next, "/"))


@router.post("/logout")
def logout(request: Request, session: SessionDep):
    users.log_out(request, session)  # every browser of this person
    return _see_other("/login")
