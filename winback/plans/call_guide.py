"""What the advisor needs on the phone besides the script: the customer's story (warranty, last
repair order's category and advisor, earlier surveys and complaints, value) and a suggested next
action from the store's measures for the reasons heard (voucher for price, pick-up for distance,
a manager's callback for a complaint)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.accounts.models import Staff, Store
from winback.accounts.service import effective_settings
from winback.customers.models import ServiceVisit
from winback.i18n import Label, Message
from winback.plans.models import MeasureTemplate, PlanStatus, RectificationPlan
from winback.surveys.lists import TASK_LOADING
from winback.surveys.models import ReasonArea, ReasonCode, SurveyStatus, SurveyTask


@dataclass(frozen=True)
class Story:
    in_warranty: bool
    warranty_end: date | None
    last_visit: date | None
    last_category: str | None
    last_advisor: str | None
    visit_count: int
    total_spend: Decimal  # the customer's value: what the car spent with the store
    earlier: list[SurveyTask]  # the customer's other surveys, closed, newest first
    complaints: list[SurveyTask]  # any of the customer's tasks with a complaint (this one too)


@dataclass(frozen=True)
class NextAction:
    kind: str  # manager_callback, voucher, pick_up, measure, ask
    text: Message
    measures: list[str] = field(default_factory=list)  # the store's measure titles behind it


def story(*, session: Session, task: SurveyTask) -> Story:
    target = task.target
    last = session.execute(
        select(ServiceVisit.visit_date, ServiceVisit.category, Staff.display_name)
        .outerjoin(Staff, Staff.id == ServiceVisit.advisor_id)
        .where(ServiceVisit.vehicle_id == target.vehicle_id)
        .order_by(ServiceVisit.visit_date.desc(), ServiceVisit.id.desc())
        .limit(1)
    ).first()
    # The customer's other tasks (most have none), with what the page shows of them; reading
    # this one again would run its loads again for nothing.
    others = list(
        session.scalars(
            select(SurveyTask)
            .where(SurveyTask.customer_id == task.customer_id, SurveyTask.id != task.id)
            .order_by(SurveyTask.assigned_at.desc(), SurveyTask.id.desc())
            .options(*TASK_LOADING)
        ).unique()
    )
    return Story(
        in_warranty=target.in_warranty,
        warranty_end=target.vehicle.warranty_end,
        last_visit=last[0] if last else target.last_visit_date,
        last_category=last[1] if last else None,
        last_advisor=last[2] if last else None,
        visit_count=target.visit_count,
        total_spend=target.total_spend,
        earlier=[t for t in others if t.status != SurveyStatus.open],
        complaints=[t for t in sorted([task, *others], key=_newest_first) if t.complaint],
    )


def _newest_first(task: SurveyTask) -> tuple:
    return (-task.assigned_at.timestamp(), -task.id)


def _store_measures(session: Session, store_id: int, reasons: list[ReasonCode]) -> dict[int, list[str]]:
    """Reason id -> the measures of the store's latest approved plan that answer it, else the
    active typical measures of the store's library for it."""
    plan = session.scalars(
        select(RectificationPlan)
        .where(RectificationPlan.store_id == store_id, RectificationPlan.status == PlanStatus.approved)
        .order_by(RectificationPlan.decided_at.desc(), RectificationPlan.id.desc())
        .limit(1)
    ).first()
    found: dict[int, list[str]] = {}
    for reason in reasons:
        titles = [m.title for m in (plan.measures if plan else []) if reason.id in m.reason_ids]
        if not titles:
            titles = list(
                session.scalars(
                    select(MeasureTemplate.title).where(
                        MeasureTemplate.store_id == store_id,
                        MeasureTemplate.reason_code == reason.code,
                        MeasureTemplate.active.is_(True),
                    )
                )
            )
        found[reason.id] = titles
    return found


def next_actions(*, session: Session, task: SurveyTask, about: Story) -> list[NextAction]:
    """The suggested next steps, the most pressing first: a complaint wants the manager's call;
    the reasons heard (on this task or an earlier survey) want the store's measures for them."""
    actions: list[NextAction] = []
    if about.complaints:
        actions.append(
            NextAction("manager_callback", Message("The customer complained: ask the manager to call back."))
        )
    reasons: dict[int, ReasonCode] = {}
    for t in [task, *about.earlier]:
        for r in t.reasons:
            reasons.setdefault(r.reason_code.id, r.reason_code)
    measures = _store_measures(session, task.store_id, list(reasons.values()))
    voucher = effective_settings(session.get(Store, task.store_id)).voucher_default_yuan
    for reason in reasons.values():
        titles = measures.get(reason.id, [])
        if reason.area == ReasonArea.price:
            text = Message("Price: offer the win-back voucher ({value} yuan).", value=Decimal(str(voucher)))
            actions.append(NextAction("voucher", text, titles))
        elif reason.area == ReasonArea.distance:
            actions.append(
                NextAction("pick_up", Message("Distance: offer to pick up and deliver the car."), titles)
            )
        elif titles:
            actions.append(
                NextAction(
                    "measure",
                    Message(
                        "{reason}: the store's measure.", reason=Label(reason.label_zh, en=reason.label_en)
                    ),
                    titles,
                )
            )
    if not actions:
        actions.append(NextAction("ask", Message("No reason heard yet: ask why they stopped coming.")))
    return actions
