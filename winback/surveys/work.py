"""The advisor's work on a task: contact attempts, the draft, closing with the survey's result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers import service as customers
from winback.errors import Forbidden, InvalidInput
from winback.i18n import N_
from winback.notifications import service as notifications
from winback.surveys.guards import check_open, check_version, cycle_rules, flush_or_conflict
from winback.surveys.lists import get_task
from winback.surveys.models import (
    ContactAttempt,
    ContactMethod,
    Disposition,
    ShopKind,
    SurveyStatus,
    SurveyTask,
    SurveyTaskReason,
)
from winback.surveys.reason_codes import OTHER_REASON, reason_codes


def record_attempt(
    *,
    session: Session,
    task_id: int,
    method: ContactMethod,
    outcome: Disposition | str,
    note: str | None,
    actor_staff: Staff,
    call_back_at: datetime | None = None,
    expected_version: int | None = None,
) -> ContactAttempt:
    """Record one contact attempt with its disposition and apply what it means:

    * ``call_back``: the task sleeps until ``call_back_at`` (a snooze) and then resurfaces;
    * ``wrong_number``: the archive's phone is flagged invalid for the cleanup;
    * ``do_not_call``: the customer is flagged and the task is taken off the list;
    * failed attempts (no answer, busy, message, wrong number) without the customer ever
      reached close the task as unreachable once there are ``unreachable_after_attempts`` of
      them on at least ``unreachable_min_days`` different business days (``unreachable_policy``).
    """
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.assignee_id != actor_staff.id:
        raise Forbidden("only the assigned advisor records contacts")
    check_open(task)
    check_version(task, expected_version)
    try:
        outcome = Disposition(outcome)
    except ValueError:
        raise InvalidInput("unknown outcome: {outcome}", outcome=outcome, field="outcome") from None
    now = clock.now()
    if outcome == Disposition.call_back:
        if call_back_at is None:
            raise InvalidInput("say when to call back", field="call_back_at")
        if call_back_at <= now:
            raise InvalidInput("the call-back time must lie in the future", field="call_back_at")
    else:
        call_back_at = None
    attempt = ContactAttempt(
        store_id=task.store_id,
        task_id=task.id,
        at=now,
        by_id=actor_staff.id,
        method=method,
        outcome=outcome.value,
        note=note,
        call_back_at=call_back_at,
    )
    task.attempts.append(attempt)
    actor = Actor.person(actor_staff)
    task.follow_up_at = call_back_at
    closed_as = None
    if outcome == Disposition.wrong_number:
        customers.report_wrong_number(session=session, customer_id=task.customer_id, actor=actor, note=note)
    if outcome == Disposition.do_not_call:
        customers.set_do_not_call(session=session, customer_id=task.customer_id, actor=actor, note=note)
        task.status = SurveyStatus.excluded
        task.excluded_reason = "do_not_call"
        task.closed_at, task.closed_by_id = now, actor_staff.id
        closed_as = task.status
    flush_or_conflict(session, task.id)
    audit_service.record(
        session=session,
        actor=actor,
        action="task.contact_attempt",
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
        changes={"method": method, "outcome": outcome.value, "note": note, "call_back_at": call_back_at},
    )
    if closed_as is None:
        policy = unreachable_policy(session, task)
        if policy.met:
            task.status = SurveyStatus.unreachable
            task.method = method
            task.follow_up_at = None
            # Nobody answered: a draft's answers are not the customer's (the notes stay).
            for key in _RESULT_FIELDS:
                if key not in ("method", "notes"):
                    setattr(task, key, None)
            task.reasons = []
            task.closed_at, task.closed_by_id = now, actor_staff.id
            flush_or_conflict(session, task.id)
            audit_service.record(
                session=session,
                actor=actor,
                action="task.closed",
                entity_type="task",
                entity_id=task.id,
                store_id=task.store_id,
                customer_id=task.customer_id,
                cycle_id=task.cycle_id,
                changes={
                    "status": task.status,
                    "failed_attempts": policy.failed,
                    "days": policy.days,
                    "limit": policy.limit,
                    "min_days": policy.min_days,
                },
            )
    return attempt


@dataclass(frozen=True)
class UnreachablePolicy:
    """Where a task stands against the attempt policy: N failed attempts on M different days."""

    failed: int  # attempts that did not reach the customer
    days: int  # different business days they were made on
    limit: int  # unreachable_after_attempts
    min_days: int  # unreachable_min_days
    reached: bool  # some attempt reached the customer: never unreachable

    @property
    def met(self) -> bool:
        return not self.reached and self.failed >= self.limit and self.days >= self.min_days


def unreachable_policy(session: Session, task: SurveyTask) -> UnreachablePolicy:
    """The task's failed attempts and their days against its cycle's attempt policy."""
    rules = cycle_rules(session, task.cycle_id)
    outcomes = [
        (Disposition(a.outcome), a.at) for a in task.attempts if a.outcome in Disposition._value2member_map_
    ]
    failed = [at for o, at in outcomes if o.failed or o == Disposition.wrong_number]
    return UnreachablePolicy(
        failed=len(failed),
        days=len({clock.local(at).date() for at in failed}),
        limit=rules.unreachable_after_attempts,
        min_days=rules.unreachable_min_days,
        reached=any(o.reached_customer for o, _at in outcomes),
    )


def _reaching_attempt(task: SurveyTask) -> ContactAttempt | None:
    """The first attempt that reached the customer (a survey is closed as done only after one)."""
    return next(
        (
            a
            for a in task.attempts
            if a.outcome in Disposition._value2member_map_ and Disposition(a.outcome).reached_customer
        ),
        None,
    )


_RESULT_FIELDS = (
    "method",
    "serviced_elsewhere",
    "elsewhere_kind",
    "elsewhere_what",
    "elsewhere_where",
    "elsewhere_why",
    "reason_other",
    "would_return",
    "appointment_on",
    "voucher_offered",
    "notes",
)


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
    if task.assignee_id != actor_staff.id and not actor_staff.has_role(Role.supervisor):
        raise Forbidden("only the assigned advisor (or a supervisor) closes this task")
    check_open(task)
    check_version(task, expected_version)
    codes = list(dict.fromkeys(codes))
    values = {k: (v.strip() or None) if type(v) is str and k != "method" else v for k, v in values.items()}
    if values.get("method") is not None:
        values["method"] = ContactMethod(values["method"])
    appointment = values.get("appointment_on")
    if appointment is not None and not unreachable and appointment < clock.today():
        raise InvalidInput(
            "the appointment date {day} lies in the past; give the day the customer will come",
            day=appointment.isoformat(),
            field="appointment_on",
        )
    if closing and unreachable:
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
        # Nobody answered: no answer is stored for them (only the notes).
        values = {k: (v if k == "notes" else None) for k, v in values.items()}
        codes = []
    known = {rc.code: rc for rc in reason_codes(session=session, store_id=task.store_id)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidInput("unknown reason code(s): {unknown}", unknown=", ".join(unknown), field="reasons")
    if closing:
        missing = _missing_for_close(values, codes, unreachable)
        if missing:
            problems = "; ".join(m for _, m in missing)  # each part a catalog text
            raise InvalidInput(problems, field=missing[0][0])
        if not unreachable:
            _reached_before_close(session, task, actor_staff, contact_outcome, values)
    # A complaint once recorded stays: it may be answered, never edited or removed.
    complaint = (complaint or "").strip() or None
    new_complaint = False
    if task.complaint:
        if complaint and complaint != task.complaint:
            raise InvalidInput(
                "a recorded complaint cannot be changed or removed; it can only be answered",
                field="complaint",
            )
    elif complaint:
        task.complaint = complaint
        new_complaint = True
    for key in _RESULT_FIELDS:
        if key in values:
            setattr(task, key, values[key])
    if values.get("elsewhere_kind") is not None:
        task.elsewhere_kind = ShopKind(values["elsewhere_kind"])
    # Keep the rows of reasons still chosen (a re-insert would collide with the unique key).
    wanted = [known[c].id for c in codes]
    kept = {r.reason_code_id: r for r in task.reasons if r.reason_code_id in wanted}
    task.reasons = [kept.get(i) or SurveyTaskReason(store_id=task.store_id, reason_code_id=i) for i in wanted]
    now = clock.now()
    if closing:
        task.status = SurveyStatus.unreachable if unreachable else SurveyStatus.done
        task.closed_at, task.closed_by_id = now, actor_staff.id
        task.follow_up_at = None
    else:
        # Always a write (the version moves), so a racing close of the same task is detected.
        task.draft_saved_at = now
    flush_or_conflict(session, task.id)
    actor = Actor.person(actor_staff)
    common = dict(
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
    )
    changes = {k: values.get(k) for k in _RESULT_FIELDS if values.get(k) is not None}
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
            changes={"complaint": complaint},
            **common,
        )
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
    reaching = _reaching_attempt(task)
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
    unknown = set(values) - set(_RESULT_FIELDS)
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
