"""Profile analysis (分析调研对象) page and XLSX export per cycle; the churn dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from edge.locale import page_locale
from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from edge.xlsx import xlsx_response
from web import render
from web.i18n import translator
from web.routes.common import PAGE
from web.routes.common import need as _need
from winback.accounts.models import Role
from winback.analytics import alarm, reports
from winback.analytics import service as analytics
from winback.cycles import profiles
from winback.cycles import service as cycles
from winback.surveys import service as surveys

router = APIRouter(include_in_schema=False)

_VIEWERS = (Role.admin, Role.supervisor, Role.manager, Role.auditor)


@router.get("/cycles/{cycle_id}/profile")
def profile_page(request: Request, cycle_id: int, user: CurrentUser, session: SessionDep):
    _need(user, *_VIEWERS)
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    report = profiles.profile_analysis(session=session, cycle_id=cycle.id)
    return render(
        request,
        "analytics/profile.html",
        user=user,
        cycle=cycle,
        report=report,
        tally=reports.tally_report(tally=cycle.tally),
        reason_by_code=surveys.reasons_by_code(session=session, store_ids=[cycle.store_id]),
    )


@router.get("/cycles/{cycle_id}/profile.xlsx")
def profile_xlsx(request: Request, cycle_id: int, user: CurrentUser, session: SessionDep):
    _need(user, *_VIEWERS)
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    report = profiles.profile_analysis(session=session, cycle_id=cycle.id)
    locale = page_locale(request, user)
    base, by_code = translator(locale), surveys.reasons_by_code(session=session, store_ids=[cycle.store_id])

    def translate(text: str) -> str:  # the store's reason labels, then the catalog
        return by_code[text].label(locale) if text in by_code else base(text)

    body = reports.profile_workbook(
        report=report, tally=reports.tally_report(tally=cycle.tally), translate=translate
    )
    return xlsx_response(body, f"profile-{cycle.store.code}-{cycle.month}.xlsx")


@router.get("/analytics")
def dashboard(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    """Churn seen before the red line: segment alarms and the likely-lost callbacks (paged, searchable)."""
    _need(user, *_VIEWERS)
    alarms = alarm.churn_alarm(session=session, store_id=user.store_id)
    outlook = analytics.store_outlook(
        session=session, store_id=user.store_id, search=q, page=page, page_size=PAGE
    )
    return render(request, "analytics/dashboard.html", user=user, alarms=alarms, outlook=outlook, q=q)
