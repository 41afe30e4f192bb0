"""The survey's result on a task: the draft, and closing it as done or unreachable."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.errors import Forbidden, InvalidInput
from winback.i18n import N_
from winback.notifications import service as notifications
from winback.surveys.attempts import RESULT_FIELDS, reaching_attempt, unreachable_policy
from winback.surveys.guards import check_open, check_version, flush_or_conflict
from winback.surveys.lists import get_task
from winback.surveys.models import (
    ContactAttempt,
    ContactMethod,
    Disposition,
    ReasonCode,
    ShopKind,
    SurveyStatus,
    SurveyTask,
    SurveyTaskReason,
)
from winback.surveys.reason_codes import OTHER_REASON, offered_among


def _missing_for_close(values: dict[str, Any], codes: list[str], unreachable: bool) -> list[tuple[str, str]]:
    missing = []
    if unreachable:
        return missing
    if not codes:
        missing.append(("reasons", N_("choose at least one reason")))
    if OTHER_REASON in codes and not values.get("reason_other"):
        missing.append(("reason_other", N_("describe the other reason")))
    if values.get("serviced_elsewhere") and not (
        values.get("elsewhere_where") or values.get("elsewhere_kind")
    ):
        missing.append(("elsewhere_where", N_("say where the car was serviced")))
    return missing


def _write_result(
    session: Session,
    task: SurveyTask,
    *,
    actor_staff: Staff,
    codes: list[str],
    values: dict[str, Any],
    complaint: str | None,
    closing: bool,
    unreachable: bool,
    expected_version: int | None,
    contact_outcome: Disposition | str | None = None,
) -> None:
    """Check the result, store it on the task (a draft, or the close), audit it, and tell the
    store's managers of a complaint recorded for the first time."""
    if task.assignee_id != actor_staff.id and not actor_staff.has_role(Role.supervisor):
        raise Forbidden("only the assigned advisor (or a supervisor) closes this task")
    check_open(task)
    check_version(task, expected_version)
    codes = list(dict.fromkeys(codes))
    values = _cleaned(values)
    _check_appointment(values, unreachable)
    if closing and unreachable:
        _check_unreachable_policy(session, task)
        # Nobody answered: no answer is stored for them (only the notes).
        values = {k: (v if k == "notes" else None) for k, v in values.items()}
        codes = []
    known = _known_reasons(session, task, codes)
    if closing:
        missing = _missing_for_close(values, codes, unreachable)
        if missing:
            problems = "; ".join(m for _, m in missing)  # each part a catalog text
            raise InvalidInput(problems, field=missing[0][0])
        if not unreachable:
            _reached_before_close(session, task, actor_staff, contact_outcome, values)
    new_complaint = _keep_complaint(task, complaint)
    _store_result(task, values, [known[c] for c in codes], closing, unreachable, actor_staff)
    # Audited before the flush, so the task's change and its events are written in one flush
    # (a conflict rolls both back): a second flush at the commit cost a tenth of a close.
    _audit_result(session, task, actor_staff, values, codes, closing, new_complaint)
    flush_or_conflict(session, task.id)
    if new_complaint:
        _tell_managers_of_complaint(session, task, new_complaint)


def _cleaned(values: dict[str, Any]) -> dict[str, Any]:
    """Texts stripped (an empty one is None), the method as its enum."""
    values = {k: (v.strip() or None) if type(v) is str and k != "method" else v for k, v in values.items()}
    if values.get("method") is not None:
        values["method"] = ContactMethod(values["method"])
    return values


def _check_appointment(values: dict[str, Any], unreachable: bool) -> None:
    appointment = values.get("appointment_on")
    if appointment is not None and not unreachable and appointment < clock.today():
        raise InvalidInput(
            "the appointment date {day} lies in the past; give the day the customer will come",
            day=appointment.isoformat(),
            field="appointment_on",
        )


def _check_unreachable_policy(session: Session, task: SurveyTask) -> None:
    policy = unreachable_policy(session, task)
    if not policy.met:
        raise InvalidInput(
            "a task is marked unreachable only after {limit} attempts that did not reach the "
            "customer, on at least {min_days} different days (so far {failed} on {days})",
            limit=policy.limit,
            min_days=policy.min_days,
            failed=policy.failed,
            days=policy.days,
            field="unreachable",
        )


def _known_reasons(session: Session, task: SurveyTask, codes: list[str]) -> dict[str, ReasonCode]:
    """The chosen reasons by code; refused when a chosen code is not one the store offers."""
    known = offered_among(session=session, store_id=task.store_id, codes=codes)
    unknown = [c for c in codes if c not in known]
    if unknown:
        named = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")  # a flood named in part
        raise InvalidInput("unknown reason code(s): {unknown}", unknown=named, field="reasons")
    return known


def _keep_complaint(task: SurveyTask, complaint: str | None) -> str | None:
    """Set the task's complaint if it has none; the complaint when it is new, else None."""
    # A complaint once recorded stays: it may be answered, never edited or removed.
    complaint = (complaint or "").strip() or None
    if task.complaint:
        if complaint and complaint != task.complaint:
            raise InvalidInput(
                "a recorded complaint cannot be changed or removed; it can only be answered",
                field="complaint",
            )
        return None
    if complaint:
        task.complaint = complaint
    return complaint


def _store_result(
    task: SurveyTask,
    values: dict[str, Any],
    reasons: list[ReasonCode],
    closing: bool,
    unreachable: bool,
    actor_staff: Staff,
) -> None:
    for key in RESULT_FIELDS:
        if key in values:
            setattr(task, key, values[key])
    if values.get("elsewhere_kind") is not None:
        task.elsewhere_kind = ShopKind(values["elsewhere_kind"])
    # Keep the rows of reasons still chosen (a re-insert would collide with the unique key).
    # A new row is given its reason object (already loaded), so reading the task's reasons
    # afterwards asks the database nothing.
    chosen = {rc.id for rc in reasons}
    kept = {r.reason_code_id: r for r in task.reasons if r.reason_code_id in chosen}
    task.reasons = [
        kept.get(rc.id) or SurveyTaskReason(store_id=task.store_id, reason_code_id=rc.id, reason_code=rc)
        for rc in reasons
    ]
    now = clock.now()
    if closing:
        task.status = SurveyStatus.unreachable if unreachable else SurveyStatus.done
        task.closed_at, task.closed_by_id = now, actor_staff.id
        task.follow_up_at = None
    else:
        # Always a write (the version moves), so a racing close of the same task is detected.
        task.draft_saved_at = now


def _audit_result(
    session: Session,
    task: SurveyTask,
    actor_staff: Staff,
    values: dict[str, Any],
    codes: list[str],
    closing: bool,
    new_complaint: str | None,
) -> None:
    actor = Actor.person(actor_staff)
    common = dict(
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
    )
    changes = {k: values.get(k) for k in RESULT_FIELDS if values.get(k) is not None}
    changes.update(reasons=codes, complaint=task.complaint)
    if closing:
        changes["status"] = task.status
    audit_service.record(
        session=session,
        actor=actor,
        action="task.closed" if closing else "task.draft_saved",
        changes=changes,
        **common,
    )
    if new_complaint:
        audit_service.record(
            session=session,
            actor=actor,
            action="task.complaint_recorded",
            changes={"complaint": new_complaint},
            **common,
        )


def _tell_managers_of_complaint(session: Session, task: SurveyTask, complaint: str) -> None:
    customer = task.target.customer.name
    for manager in staff_with_role(session=session, store_id=task.store_id, role=Role.manager):
        notifications.enqueue(
            session=session,
            recipient=manager,
            kind="complaint_raised",
            dedupe_key=f"complaint_raised:{task.id}:{manager.id}",
            about=("task", task.id),
            task_id=task.id,
            customer=customer,
            advisor=task.assignee.display_name,
            complaint=complaint[:200],
        )


def _reached_before_close(
    session: Session,
    task: SurveyTask,
    actor_staff: Staff,
    contact_outcome: Disposition | str | None,
    values: dict[str, Any],
) -> None:
    """A survey is closed as done only after an attempt that reached the customer: recorded
    before, or given with the close (``contact_outcome``, one tap after the call), which is
    then recorded as the attempt. The method defaults to that attempt's, never to a guess."""
    reaching = reaching_attempt(task)
    if reaching is None and contact_outcome:
        try:
            outcome = Disposition(contact_outcome)
        except ValueError:
            raise InvalidInput(
                "unknown outcome: {outcome}", outcome=contact_outcome, field="contact_outcome"
            ) from None
        if not outcome.reached_customer or outcome == Disposition.do_not_call:
            raise InvalidInput(
                "a survey is closed only after a contact that reached the customer; record this "
                "attempt in the contact attempts instead",
                field="contact_outcome",
            )
        reaching = ContactAttempt(
            store_id=task.store_id,
            task_id=task.id,
            at=clock.now(),
            by_id=actor_staff.id,
            method=values.get("method") or ContactMethod.phone,
            outcome=outcome.value,
            note=None,
        )
        task.attempts.append(reaching)
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action="task.contact_attempt",
            entity_type="task",
            entity_id=task.id,
            store_id=task.store_id,
            customer_id=task.customer_id,
            cycle_id=task.cycle_id,
            changes={"method": reaching.method, "outcome": outcome.value, "with_close": True},
        )
    if reaching is None:
        raise InvalidInput(
            "record the contact that reached the customer before closing the survey "
            "(or mark the task unreachable after the attempts the policy asks for)",
            field="contact_outcome",
        )
    if values.get("method") is None:
        values["method"] = reaching.method


def save_draft(
    *,
    session: Session,
    task_id: int,
    reason_codes_: list[str],
    actor_staff: Staff,
    complaint: str | None = None,
    unreachable: bool = False,
    expected_version: int | None = None,
    contact_outcome: Disposition | str | None = None,
    **values: Any,
) -> SurveyTask:
    """Keep a half-finished survey form on the task (it stays open); nothing is required yet.

    ``contact_outcome`` (the close's one-tap contact) is not kept by a draft."""
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    unknown = set(values) - set(RESULT_FIELDS)
    if unknown:
        raise InvalidInput("unknown field(s): {unknown}", unknown=", ".join(sorted(unknown)))
    _write_result(
        session,
        task,
        actor_staff=actor_staff,
        codes=reason_codes_,
        values=values,
        complaint=complaint,
        closing=False,
        unreachable=unreachable,
        expected_version=expected_version,
    )
    return task


def close_task(
    *,
    session: Session,
    task_id: int,
    method: ContactMethod | None = None,
    reason_codes_: list[str],
    serviced_elsewhere: bool | None = None,
    elsewhere_what: str | None = None,
    elsewhere_where: str | None = None,
    elsewhere_why: str | None = None,
    elsewhere_kind: ShopKind | str | None = None,
    reason_other: str | None = None,
    would_return: bool | None = None,
    appointment_on: date | None = None,
    voucher_offered: bool | None = None,
    complaint: str | None = None,
    notes: str | None = None,
    unreachable: bool = False,
    expected_version: int | None = None,
    contact_outcome: Disposition | str | None = None,
    actor_staff: Staff,
) -> SurveyTask:
    """Record the survey result and close the task (调查结果).

    Closed as done only after a contact attempt that reached the customer (or with
    ``contact_outcome``, the reaching call recorded with the close); as unreachable only when
    the attempt policy is met, and then no answer is stored. Unanswered questions stay None.

    Validation names everything that is missing at once. Of two people saving the same task
    at once, the first wins; the second gets Conflict (the version column), nothing of theirs
    is written. ``expected_version`` (the version the form was loaded with) catches the same
    race across a page load.
    """
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    values = dict(
        method=method,
        serviced_elsewhere=serviced_elsewhere,
        elsewhere_what=elsewhere_what,
        elsewhere_where=elsewhere_where,
        elsewhere_why=elsewhere_why,
        elsewhere_kind=elsewhere_kind,
        reason_other=reason_other,
        would_return=would_return,
        appointment_on=appointment_on,
        voucher_offered=voucher_offered,
        notes=notes,
    )
    _write_result(
        session,
        task,
        actor_staff=actor_staff,
        codes=reason_codes_,
        values=values,
        complaint=complaint,
        closing=True,
        unreachable=unreachable,
        expected_version=expected_version,
        contact_outcome=contact_outcome,
    )
    return task
