"""The store's churn reasons in both languages: the administration and the manager edit
the Chinese and English labels, the area and whether a reason is offered; everyone who
reads the cycle's tally sees the list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from edge.session import SessionDep
from edge.users import CurrentUser
from web import flash, forms, render
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback.accounts.models import Role
from winback.surveys import service as surveys
from winback.surveys.models import ReasonArea

router = APIRouter(include_in_schema=False)

_READERS = (Role.admin, Role.supervisor, Role.manager, Role.auditor)


def _page(request, user, session, error=None, form=None, status_code=200):
    return render(
        request,
        "admin/reasons.html",
        user=user,
        status_code=status_code,
        error=error,
        form=form or {},
        reasons=surveys.reason_codes(session=session, store_id=user.store_id, active_only=False),
        areas=list(ReasonArea),
        can_edit=user.has_role(Role.admin, Role.manager),
    )


@router.get("/reason-codes")
def reasons_page(request: Request, user: CurrentUser, session: SessionDep):
    _need(user, *_READERS)
    return _page(request, user, session)


def _reasons_again(request, user, session, *, error, status, form, **_params):
    shown = {k: form.get(k, "") for k in ("code", "label_zh", "label_en", "area")}
    return _page(request, user, session, error=error, form=shown, status_code=status)


@router.post("/reason-codes")
@forms.form(_reasons_again, passthrough=(403,))  # an unknown reason: the list again, with the message
def reason_save(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    label_zh: Annotated[str, Form()] = "",
    label_en: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    reason_id: Annotated[str, Form()] = "",
    area: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
):
    _need(user, Role.admin, Role.manager)
    surveys.save_reason_code(
        session=session,
        actor_staff=user,
        label_zh=label_zh,
        label_en=label_en,
        code=code or None,
        reason_id=int(reason_id) if reason_id.strip().isdigit() else None,
        area=ReasonArea(area) if area in ReasonArea.__members__ else None,
        active=bool(active) if reason_id else True,
    )
    flash(request, "Saved.")
    return _see_other("/reason-codes")
