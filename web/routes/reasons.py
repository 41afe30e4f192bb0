"""The store's churn reasons in both languages: the administration and the manager edit
the Chinese and English labels, the area and whether a reason is offered; everyone who
reads the cycle's tally sees the list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from edge.session import SessionDep
from edge.users import CurrentUser
from web import flash, render
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback.accounts.models import Role
from winback.errors import InvalidInput, NotFound
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


@router.post("/reason-codes")
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
    form = {"code": code, "label_zh": label_zh, "label_en": label_en, "area": area}
    try:
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
    except (InvalidInput, NotFound) as exc:
        session.rollback()
        return _page(request, user, session, error=exc.message, form=form, status_code=exc.status)
    flash(request, "Saved.")
    return _see_other("/reason-codes")
