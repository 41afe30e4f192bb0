"""Complaints heard in the surveys (the auditor's list), each with the measures that answer it.

Lives with the plans because a complaint's follow-up is the plan's measures addressing its
reasons; it reads the surveys and the archive below."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.customers.models import Customer
from winback.paging import PAGE_SIZE, Page, matches, paginate, words
from winback.plans.models import Measure, RectificationPlan
from winback.surveys.models import SurveyTask


def _complaints_query(*, store_ids: list[int], search: str | None = None, by_phone: bool = True):
    stmt = (
        select(SurveyTask)
        .where(
            SurveyTask.store_id.in_(store_ids), SurveyTask.complaint.is_not(None), SurveyTask.complaint != ""
        )
        .order_by(SurveyTask.closed_at.desc(), SurveyTask.id.desc())
    )
    if words(search):
        stmt = stmt.join(Customer, Customer.id == SurveyTask.customer_id).where(
            matches(search, Customer.name, SurveyTask.complaint, *([Customer.phone] if by_phone else []))
        )
    return stmt


def _with_measures(session: Session, tasks: list) -> list[dict[str, Any]]:
    """Each complaint's task, its reasons, and the measures of its cycle that address them."""
    cycle_ids = {t.cycle_id for t in tasks}
    measures: dict[int, list[Measure]] = {}
    if cycle_ids:
        for m in session.scalars(
            select(Measure)
            .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
            .where(RectificationPlan.cycle_id.in_(cycle_ids))
            .order_by(RectificationPlan.version, Measure.id)
        ):
            measures.setdefault(m.plan.cycle_id, []).append(m)
    out = []
    for t in tasks:
        codes = {r.reason_code_id for r in t.reasons}
        out.append(
            {
                "task": t,
                "reasons": [r.reason_code.code for r in t.reasons],
                "measures": [m for m in measures.get(t.cycle_id, []) if m.reason_code_id in codes],
            }
        )
    return out


def complaints_page(
    *,
    session: Session,
    store_ids: list[int],
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
    by_phone: bool = True,
) -> Page[dict[str, Any]]:
    """Complaints recorded in surveys, newest first, a page at a time, with what happened to
    each: the task's outcome, and the measures of the cycle's current plan that address the
    complaint's reasons. ``search`` matches the customer's name, the complaint or (when
    ``by_phone``: the reader sees numbers unmasked) the phone."""
    result = paginate(
        session,
        _complaints_query(store_ids=store_ids, search=search, by_phone=by_phone),
        page=page,
        page_size=page_size,
        filtered=bool(words(search)),
    )
    return Page(
        _with_measures(session, result.items), result.total, result.page, result.page_size, result.filtered
    )
