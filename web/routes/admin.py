"""The admin's staff page (create, deactivate, re-role; API tokens), everyone's password
page, and the auditor's chain check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request

from edge import users
from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from web import flash, forms, render
from web.routes.common import PAGE, list_url
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback.accounts import service as accounts
from winback.accounts import tokens as api_tokens
from winback.accounts.models import Role
from winback.actor import Actor
from winback.audit import service as audit
from winback.errors import InvalidInput
from winback.notifications import channels

router = APIRouter(include_in_schema=False)


def _staff_page(request, user, session, error=None, form=None, new_token=None, status_code=200, q="", page=1):
    return render(
        request,
        "admin/staff.html",
        user=user,
        status_code=status_code,
        error=error,
        form=form or {},
        q=q,
        list_url=list_url(request, "/admin/staff"),
        staff=accounts.staff_page(
            session=session, store_ids=store_ids(user), search=q, page=page, page_size=PAGE
        ),
        everyone=accounts.staff_of_stores(session=session, store_ids=store_ids(user)),
        tokens=api_tokens.list_api_tokens(session=session, store_ids=store_ids(user)),
        roles=list(Role),
        new_token=new_token,
        mask=channels.mask,
    )


@router.get("/admin/staff")
def staff_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    _need(user, Role.admin)
    return _staff_page(request, user, session, q=q, page=page)


def _staff_form(posted) -> dict:
    return {
        "username": str(posted.get("username", "")).strip(),
        "display_name": str(posted.get("display_name", "")).strip(),
        "roles": posted.getlist("roles"),
    }


def _staff_again(request, user, session, *, error, status, form, **_params):
    return _staff_page(request, user, session, error=error, form=_staff_form(form), status_code=status)


def _roles(values) -> list[Role]:
    try:
        return [Role(r) for r in values]
    except ValueError:
        raise forms.FormError("give at least one role") from None


@router.post("/admin/staff")
@forms.form(_staff_again)
async def staff_create(request: Request, user: CurrentUser, session: SessionDep):
    _need(user, Role.admin)
    posted = await request.form()
    data = _staff_form(posted)
    if not data["username"] or not data["display_name"]:
        raise InvalidInput("give a username and a name")
    roles = _roles(data["roles"])
    if not roles:
        raise InvalidInput("give at least one role")
    accounts.create_staff(
        session=session,
        store_id=store_ids(user)[0],
        username=data["username"],
        display_name=data["display_name"],
        password=str(posted.get("password", "")),
        roles=roles,
        actor=Actor.person(user),
    )
    flash(request, "Saved.")
    return _see_other("/admin/staff")


def _staff_list_again(request, user, session, *, error, status, form, **_params):
    return _staff_page(request, user, session, error=error, status_code=status)


@router.post("/admin/staff/{staff_id}")
@forms.form(_staff_list_again)
async def staff_update(request: Request, staff_id: int, user: CurrentUser, session: SessionDep):
    _need(user, Role.admin)
    posted = await request.form()
    accounts.set_roles(
        session=session, staff_id=staff_id, roles=_roles(posted.getlist("roles")), actor_staff=user
    )
    accounts.set_active(
        session=session, staff_id=staff_id, active=posted.get("active") == "yes", actor_staff=user
    )
    flash(request, "Saved.")
    return _see_other("/admin/staff")


@router.post("/admin/tokens")
@forms.form(_staff_list_again)
def token_create(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    staff_id: Annotated[int, Form()],
    name: Annotated[str, Form()] = "",
):
    _need(user, Role.admin)
    _row, token = api_tokens.create_api_token(session=session, staff_id=staff_id, name=name, actor_staff=user)
    return _staff_page(request, user, session, new_token=token)  # shown once, never stored


@router.post("/admin/tokens/{token_id}/revoke")
def token_revoke(request: Request, token_id: int, user: CurrentUser, session: SessionDep):
    _need(user, Role.admin)
    api_tokens.revoke_api_token(session=session, token_id=token_id, actor_staff=user)
    flash(request, "Saved.")
    return _see_other("/admin/staff")


@router.get("/account/password")
def password_form(request: Request, user: CurrentUser):
    return render(request, "account/password.html", user=user, error=None)


def _account_again(request, user, session, *, error, status, form, **_params):
    return render(request, "account/password.html", user=user, error=error, status_code=status)


@router.post("/account/language")
@forms.form(_account_again)
def language_change(
    request: Request, user: CurrentUser, session: SessionDep, locale: Annotated[str, Form()] = ""
):
    """The person's stored language; it wins over the browser's, so the session's choice is dropped."""
    accounts.set_language(session=session, staff=user, locale=locale)
    request.session.pop("lang", None)
    flash(request, "Language saved.")
    return _see_other("/account/password")


@router.post("/account/password")
@forms.form(_account_again)
def password_change(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    old_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
):
    users.change_password(request, session, user, old_password=old_password, new_password=new_password)
    flash(request, "Password changed.")
    return _see_other("/")


@router.post("/audit/verify")
def audit_verify(request: Request, user: CurrentUser, session: SessionDep):
    """Recompute the chains of the person's stores (a read: nothing is changed)."""
    _need(user, Role.auditor, Role.admin, Role.manager)
    result = audit.verify(session=session, store_ids=store_ids(user))
    if result.ok and result.waiting:
        flash(
            request,
            "The audit trail is intact: {checked} events checked; {waiting} just recorded are being chained.",
            checked=result.checked,
            waiting=result.waiting,
        )
    elif result.ok:
        flash(request, "The audit trail is intact: {checked} events checked.", checked=result.checked)
    else:
        flash(request, "The audit trail is BROKEN: {line}", "error", line=result.line())
    return _see_other("/audit")
