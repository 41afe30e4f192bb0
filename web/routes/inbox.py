"""Everyone's inbox and the header bell; a person's notification channel (their own on the
account page, anyone's of the store for an admin) with its test message; the admin's delivery
page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request

from edge.inbox import link_for
from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from web import flash, forms, render
from web.routes.common import PAGE, safe_back
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback.accounts.models import Role
from winback.notifications import channels, inbox, report

router = APIRouter(include_in_schema=False)


# ---- the inbox ----------------------------------------------------------------------------


@router.get("/inbox")
def inbox_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    unread: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
):
    return render(
        request,
        "inbox/list.html",
        user=user,
        messages=inbox.inbox_page(
            session=session, staff_id=user.id, unread_only=unread, page=page, page_size=PAGE
        ),
        unread_only=unread,
        link_for=link_for,
        reason_text=channels.reason_text,
    )


@router.post("/inbox/{notification_id}/read")
def inbox_read(
    request: Request,
    notification_id: int,
    user: CurrentUser,
    session: SessionDep,
    back: Annotated[str, Form()] = "",
):
    inbox.mark_read(session=session, notification_id=notification_id, staff_id=user.id)
    return _see_other(safe_back(back, "/inbox"))


@router.post("/inbox/read-all")
def inbox_read_all(request: Request, user: CurrentUser, session: SessionDep):
    marked = inbox.mark_all_read(session=session, staff_id=user.id)
    flash(request, "{count} messages marked read.", count=marked)
    return _see_other("/inbox")


# ---- a person's channel ---------------------------------------------------------------------


def _account_page(request, user, session, *, error=None, status=200, value=None, test=None):
    return render(
        request,
        "account/password.html",
        user=user,
        status_code=status,
        error=None,
        channel_error=error,
        channel_value=value,
        test=test,
        test_reason=channels.reason_text(test) if test is not None else None,
    )


def _account_again(request, user, session, *, error, status, form, **_params):
    return _account_page(
        request, user, session, error=error, status=status, value=form.get("apprise_url", "")
    )


@router.post("/account/channel")
@forms.form(_account_again)
def account_channel(
    request: Request, user: CurrentUser, session: SessionDep, apprise_url: Annotated[str, Form()] = ""
):
    channels.set_channel(session=session, staff_id=user.id, url=apprise_url, actor_staff=user)
    flash(request, "Notification channel saved.")
    return _see_other("/account/password#channel")


@router.post("/account/channel/test")
@forms.form(_account_again)
def account_channel_test(request: Request, user: CurrentUser, session: SessionDep):
    note = channels.send_test(session=session, staff_id=user.id, actor_staff=user)
    return _account_page(request, user, session, test=note)


def _channel_page(request, user, session, staff_id, *, error=None, status=200, value=None, test=None):
    person = channels.get_channel(session=session, staff_id=int(staff_id), actor_staff=user)
    return render(
        request,
        "admin/channel.html",
        user=user,
        status_code=status,
        person=person,
        channel_error=error,
        channel_value=value,
        test=test,
        test_reason=channels.reason_text(test) if test is not None else None,
    )


def _channel_again(request, user, session, *, error, status, form, staff_id, **_params):
    return _channel_page(
        request, user, session, staff_id, error=error, status=status, value=form.get("apprise_url", "")
    )


@router.get("/admin/staff/{staff_id}/channel")
def staff_channel(request: Request, staff_id: int, user: CurrentUser, session: SessionDep):
    _need(user, Role.admin)
    return _channel_page(request, user, session, staff_id)


@router.post("/admin/staff/{staff_id}/channel")
@forms.form(_channel_again)
def staff_channel_set(
    request: Request,
    staff_id: int,
    user: CurrentUser,
    session: SessionDep,
    apprise_url: Annotated[str, Form()] = "",
):
    _need(user, Role.admin)
    channels.set_channel(session=session, staff_id=staff_id, url=apprise_url, actor_staff=user)
    flash(request, "Notification channel saved.")
    return _see_other(f"/admin/staff/{staff_id}/channel")


@router.post("/admin/staff/{staff_id}/channel/test")
@forms.form(_channel_again)
def staff_channel_test(request: Request, staff_id: int, user: CurrentUser, session: SessionDep):
    _need(user, Role.admin)
    note = channels.send_test(session=session, staff_id=staff_id, actor_staff=user)
    return _channel_page(request, user, session, staff_id, test=note)


# ---- the admin's delivery page ------------------------------------------------------------------


@router.get("/admin/notifications")
def notifications_page(request: Request, user: CurrentUser, session: SessionDep):
    _need(user, Role.admin)
    ids = store_ids(user)
    return render(
        request,
        "admin/notifications.html",
        user=user,
        figures=report.channel_figures(session=session, store_ids=ids),
        without=report.without_channel(session=session, store_ids=ids),
        reason_text=channels.reason_text,
    )
