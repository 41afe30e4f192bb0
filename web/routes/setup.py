"""The first-run page: while no one can administer the installation (no active admin), every
page leads here, to create the first store and its administrator; once done, it is gone for
good (404), and the pages work as usual."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request

from edge import users
from edge.session import SessionDep
from web import flash, forms, render
from web.routes.common import see_other
from winback import roster
from winback.accounts import service as accounts

router = APIRouter(include_in_schema=False)
PATH = "/setup"


class SetupNeeded(Exception):
    """A page was asked for before the first-run set-up: the app answers with a redirect to it."""


def gate(request: Request, session: SessionDep) -> None:
    """Dependency of every page: before the set-up, only the set-up page is reachable."""
    if request.url.path != PATH and not accounts.any_administrator(session=session):
        raise SetupNeeded()


def _form(request: Request, *, form=None, error=None, status_code: int = 200):
    fields = ("store_code", "store_name", "username", "display_name")
    values = {f: str((form or {}).get(f, "") or "") for f in fields}
    return render(request, "setup.html", status_code=status_code, form=values, error=error)


def _again(request, user, session, *, error, status, form, **_params):
    return _form(request, form=form, error=error, status_code=status)


@router.get(PATH)
def setup_form(request: Request, session: SessionDep):
    if accounts.any_administrator(session=session):
        raise HTTPException(status_code=404)
    return _form(request)


@router.post(PATH)
@forms.form(_again, passthrough=(403, 404, 409))  # 409: set up meanwhile by someone else
def setup(
    request: Request,
    session: SessionDep,
    store_code: Annotated[str, Form()] = "",
    store_name: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
):
    if accounts.any_administrator(session=session):
        raise HTTPException(status_code=404)
    _store, staff = roster.first_run(
        session=session,
        store_code=store_code,
        store_name=store_name,
        username=username,
        display_name=display_name,
        password=password,
        password_again=password_again,
    )
    session.flush()
    users.log_in(request, session, username=staff.username, password=password)
    flash(request, "winback is set up: import the staff list and the DMS exports next.")
    return see_other("/")
