"""Win-back incentives: vouchers (回厂工时券) offered and redeemed, the satisfaction callback
after a returned customer's visit, and the follow-up list."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import Customer, ServiceVisit
from winback.cycles.models import MonthlyCycle, Target
from winback.errors import Conflict, InvalidInput, NotFound
from winback.paging import PAGE_SIZE, Page, paginate_list, text_matches, words
from winback.plans.models import (
    Measure,
    ReturnCallback,
    Voucher,
)
from winback.surveys.lists import require_customer_access
from winback.surveys.models import SurveyStatus, SurveyTask


def offer_voucher(
    *,
    session: Session,
    target_id: int,
    actor_staff: Staff,
    amount: Decimal | None = None,
    kind: str = "工时券",
    measure_id: int | None = None,
    expires_on: date | None = None,
    task_id: int | None = None,
    code: str | None = None,
) -> Voucher:
    """Record a voucher offered to a target's customer (e.g. 500 yuan of labour); a survey's
    voucher carries its task and the code redeemed at the desk (``winback.cases.vouchers``)."""
    target = session.get(Target, target_id)
    if target is None or target.store_id not in actor_staff.all_store_ids:
        raise NotFound("no target {target_id}", target_id=target_id)
    if target.holdout:
        raise Conflict("this customer is in the holdout and is not contacted", code="holdout")
    # the customer's own advisor, the supervisor or a manager; never an auditor
    require_customer_access(session=session, viewer=actor_staff, customer_id=target.customer_id, write=True)
    cycle = session.get(MonthlyCycle, target.cycle_id)
    if amount is None:
        amount = Decimal(str(cycle.rules.voucher_default_yuan))
    if amount <= 0:
        raise InvalidInput("the voucher's amount must be positive", field="amount")
    if measure_id is not None:
        m = session.get(Measure, measure_id)
        if m is None or m.plan.cycle_id != target.cycle_id:
            raise InvalidInput("the measure belongs to another cycle", field="measure_id")
    voucher = Voucher(
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        target_id=target.id,
        customer_id=target.customer_id,
        measure_id=measure_id,
        kind=(kind or "工时券").strip()[:60],
        amount=amount,
        offered_at=clock.now(),
        offered_by_id=actor_staff.id,
        expires_on=expires_on,
        task_id=task_id,
        code=code,
    )
    session.add(voucher)
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="voucher.offered",
        entity_type="customer",
        entity_id=target.customer_id,
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        customer_id=target.customer_id,
        changes={
            "voucher_id": voucher.id,
            "kind": voucher.kind,
            "amount": amount,
            **({"code": code, "task_id": task_id} if code else {}),
        },
    )
    return voucher


def redeem_vouchers(*, session: Session, cycle_id: int, actor: Actor) -> int:
    """Match open vouchers to the first repair order of the vehicle after the offer (before expiry)."""
    count = 0
    open_vouchers = session.execute(
        select(Voucher, Target.vehicle_id)
        .join(Target, Target.id == Voucher.target_id)
        .where(
            Voucher.cycle_id == cycle_id,
            Voucher.redeemed_on.is_(None),
            # a coded voucher (issued from a survey) is redeemed at the desk when shown, not guessed
            Voucher.code.is_(None),
        )
    ).all()
    for voucher, vehicle_id in open_vouchers:
        offered_day = clock.local(voucher.offered_at).date()
        stmt = select(ServiceVisit).where(
            ServiceVisit.vehicle_id == vehicle_id, ServiceVisit.visit_date >= offered_day
        )
        if voucher.expires_on:
            stmt = stmt.where(ServiceVisit.visit_date <= voucher.expires_on)
        visit = session.scalars(stmt.order_by(ServiceVisit.visit_date, ServiceVisit.id)).first()
        if visit is None:
            continue
        voucher.redeemed_visit_id = visit.id
        voucher.redeemed_on = visit.visit_date
        audit_service.record(
            session=session,
            actor=actor,
            action="voucher.redeemed",
            entity_type="customer",
            entity_id=voucher.customer_id,
            store_id=voucher.store_id,
            cycle_id=voucher.cycle_id,
            customer_id=voucher.customer_id,
            changes={"voucher_id": voucher.id, "ro_number": visit.ro_number, "amount": voucher.amount},
        )
        count += 1
    session.flush()
    return count


def redeemed_voucher_cost(*, session: Session, cycle_id: int) -> Decimal:
    """The value of a cycle's redeemed vouchers (matched to a repair order by the evaluation or
    redeemed at the service desk): the campaign's voucher cost, the one figure of it."""
    total = session.scalar(
        select(func.coalesce(func.sum(Voucher.amount), 0)).where(
            Voucher.cycle_id == cycle_id, Voucher.redeemed_on.is_not(None)
        )
    )
    return Decimal(total or 0)


def vouchers_of(*, session: Session, cycle_id: int) -> list[Voucher]:
    return list(session.scalars(select(Voucher).where(Voucher.cycle_id == cycle_id).order_by(Voucher.id)))


def record_callback(
    *, session: Session, target_id: int, satisfaction: int, note: str | None, actor_staff: Staff
) -> ReturnCallback:
    """The follow-up call after a returned customer's visit: satisfaction 1 (poor) to 5 (very good)."""
    target = session.get(Target, target_id)
    if target is None or target.store_id not in actor_staff.all_store_ids:
        raise NotFound("no target {target_id}", target_id=target_id)
    # the customer's own advisor, the supervisor or a manager; never an auditor
    require_customer_access(session=session, viewer=actor_staff, customer_id=target.customer_id, write=True)
    if not 1 <= int(satisfaction) <= 5:
        raise InvalidInput("satisfaction is a score from 1 to 5", field="satisfaction")
    existing = session.scalar(select(ReturnCallback).where(ReturnCallback.target_id == target.id))
    if existing is not None:
        raise Conflict("this customer's callback is already recorded", code="callback_recorded")
    cb = ReturnCallback(
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        target_id=target.id,
        satisfaction=int(satisfaction),
        note=(note or "").strip() or None,
        at=clock.now(),
        by_id=actor_staff.id,
    )
    session.add(cb)
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="callback.recorded",
        entity_type="customer",
        entity_id=target.customer_id,
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        customer_id=target.customer_id,
        changes={"satisfaction": cb.satisfaction, "note": cb.note},
    )
    return cb


def _followups(*, session: Session, cycle_id: int, assignee_id: int | None = None) -> list[dict]:
    """The surveyed customers of a cycle with what happened since: the first repair order after
    the survey, vouchers offered/redeemed, the satisfaction callback (one page for advisors)."""
    stmt = (
        select(
            SurveyTask.target_id,
            SurveyTask.assignee_id,
            SurveyTask.closed_at,
            Target.vehicle_id,
            Customer.name,
            Customer.phone,
        )
        .join(Target, Target.id == SurveyTask.target_id)
        .join(Customer, Customer.id == Target.customer_id)
        .where(SurveyTask.cycle_id == cycle_id, SurveyTask.status == SurveyStatus.done)
        .order_by(SurveyTask.closed_at, SurveyTask.id)
    )
    if assignee_id is not None:
        stmt = stmt.where(SurveyTask.assignee_id == assignee_id)
    rows = session.execute(stmt).all()
    vehicle_ids = [r.vehicle_id for r in rows]
    visits: dict[int, list] = {}
    if vehicle_ids:
        for vid, d in session.execute(
            select(ServiceVisit.vehicle_id, ServiceVisit.visit_date)
            .where(ServiceVisit.vehicle_id.in_(vehicle_ids))
            .order_by(ServiceVisit.visit_date)
        ):
            visits.setdefault(vid, []).append(d)
    vouchers: dict[int, list[Voucher]] = {}
    for v in vouchers_of(session=session, cycle_id=cycle_id):
        vouchers.setdefault(v.target_id, []).append(v)
    callbacks = {
        cb.target_id: cb
        for cb in session.scalars(select(ReturnCallback).where(ReturnCallback.cycle_id == cycle_id))
    }
    names = dict(session.execute(select(Staff.id, Staff.display_name)).all())
    out = []
    for r in rows:
        contact_day = clock.local(r.closed_at).date() if r.closed_at else None
        back = next((d for d in visits.get(r.vehicle_id, []) if contact_day and d > contact_day), None)
        out.append(
            {
                "target_id": r.target_id,
                "customer": r.name,
                "phone": r.phone,
                "advisor_id": r.assignee_id,
                "advisor": names.get(r.assignee_id),
                "contacted_on": contact_day,
                "back_on": back,
                "vouchers": vouchers.get(r.target_id, []),
                "callback": callbacks.get(r.target_id),
            }
        )
    return out


def followups_page(
    *,
    session: Session,
    cycle_id: int,
    assignee_id: int | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
    by_phone: bool = True,
) -> Page[dict]:
    """The surveyed customers of a cycle with what happened since, a page at a time, searched
    by customer name or advisor, and by phone when ``by_phone`` (a reader who sees numbers
    masked: searching digits would unmask them)."""
    rows = [
        r
        for r in _followups(session=session, cycle_id=cycle_id, assignee_id=assignee_id)
        if text_matches(search, r["customer"], r["phone"] if by_phone else None, r["advisor"])
    ]
    return paginate_list(rows, page=page, page_size=page_size, filtered=bool(words(search)))
