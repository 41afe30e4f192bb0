"""Vouchers (优惠券) issued from the survey and redeemed at the service desk.

A survey that says a voucher was offered (``voucher_offered``) issues it when it is closed: a
code and an expiry, the store's default value; nobody types it again. The service desk looks it
up by its code and marks it redeemed with the repair order; an expired or already redeemed
voucher is refused, saying why. The redeemed value is a cost of the campaign
(``incentives.redeemed_voucher_cost``, the evaluation's figure)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import ServiceVisit
from winback.cycles.models import Target
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.plans import incentives
from winback.plans.models import Voucher
from winback.surveys.models import SurveyTask

# No 0/O, 1/I/L: a code read out over the counter or the phone is not mistaken.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_DESK = (Role.advisor, Role.supervisor, Role.manager, Role.admin)


def new_code(session: Session) -> str:
    while True:
        code = "WB" + "".join(secrets.choice(_ALPHABET) for _ in range(8))
        if session.scalar(select(Voucher.id).where(Voucher.code == code)) is None:
            return code


def voucher_of_task(*, session: Session, task_id: int) -> Voucher | None:
    return session.scalar(select(Voucher).where(Voucher.task_id == task_id))


def issue_from_survey(*, session: Session, task: SurveyTask, actor_staff: Staff) -> Voucher | None:
    """The voucher a closed survey offered (one per task), with its code and expiry."""
    if not task.voucher_offered or voucher_of_task(session=session, task_id=task.id) is not None:
        return None
    rules = effective_settings(session.get(Store, task.store_id))
    voucher = incentives.offer_voucher(
        session=session,
        target_id=task.target_id,
        actor_staff=actor_staff,
        amount=Decimal(str(rules.voucher_default_yuan)),
        expires_on=clock.today() + timedelta(days=rules.voucher_valid_days),
        task_id=task.id,
        code=new_code(session),
    )
    return voucher


def status_of(voucher: Voucher) -> str:
    """open (可使用), redeemed (已核销) or expired (已过期), on the business day."""
    if voucher.redeemed_on is not None:
        return "redeemed"
    if voucher.expires_on is not None and voucher.expires_on < clock.today():
        return "expired"
    return "open"


def find(*, session: Session, code: str, viewer: Staff) -> Voucher:
    """The voucher with this code in one of the viewer's stores (letters in any case)."""
    code = (code or "").strip().upper()
    if not code:
        raise InvalidInput("type the voucher's code", field="code")
    voucher = session.scalar(
        select(Voucher).where(Voucher.code == code, Voucher.store_id.in_(viewer.all_store_ids))
    )
    if voucher is None:
        raise NotFound("no voucher with the code {voucher}", voucher=code)
    return voucher


def redeem(*, session: Session, code: str, ro_number: str, actor_staff: Staff) -> Voucher:
    """The service desk redeems the voucher with the repair order it pays towards."""
    if not actor_staff.has_role(*_DESK):
        raise Forbidden("vouchers are redeemed at the service desk")
    voucher = find(session=session, code=code, viewer=actor_staff)
    ro_number = (ro_number or "").strip()
    if not ro_number:
        raise InvalidInput("give the repair order the voucher is redeemed with", field="ro_number")
    state = status_of(voucher)
    if state == "redeemed":
        raise Conflict(
            "voucher {voucher} was already redeemed on {day} (repair order {ro})",
            voucher=voucher.code,
            day=voucher.redeemed_on.isoformat(),
            ro=voucher.redeemed_ro or "",
            code="redeemed",
        )
    if state == "expired":
        raise Conflict(
            "voucher {voucher} expired on {day} and can no longer be redeemed",
            voucher=voucher.code,
            day=voucher.expires_on.isoformat(),
            code="expired",
        )
    vehicle_id = session.scalar(select(Target.vehicle_id).where(Target.id == voucher.target_id))
    visit = session.scalar(
        select(ServiceVisit).where(
            ServiceVisit.store_id == voucher.store_id, ServiceVisit.ro_number == ro_number
        )
    )
    if visit is not None and visit.vehicle_id != vehicle_id:
        raise InvalidInput(
            "repair order {ro} is of another car than the voucher's", ro=ro_number, field="ro_number"
        )
    voucher.redeemed_on, voucher.redeemed_at = clock.today(), clock.now()
    voucher.redeemed_by_id, voucher.redeemed_ro = actor_staff.id, ro_number
    voucher.redeemed_visit_id = visit.id if visit is not None else None
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="voucher.redeemed",
        entity_type="customer",
        entity_id=voucher.customer_id,
        store_id=voucher.store_id,
        cycle_id=voucher.cycle_id,
        customer_id=voucher.customer_id,
        changes={
            "voucher_id": voucher.id,
            "code": voucher.code,
            "ro_number": ro_number,
            "amount": voucher.amount,
        },
    )
    return voucher
