"""Contact attempts on a task: recording one and what its disposition means, and where the
task stands against the attempt policy (N failed attempts on M different days: unreachable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers import service as customers
from winback.errors import Forbidden, InvalidInput
from winback.i18n import Message
from winback.surveys.guards import check_open, check_version, cycle_rules, flush_or_conflict
from winback.surveys.lists import get_task
from winback.surveys.models import (
    ContactAttempt,
    ContactMethod,
    Disposition,
    SurveyStatus,
    SurveyTask,
)

# The survey's answers kept on the task (the result form's fields). An unreachable close
# clears them but the notes: nobody answered, so a draft's answers are not the customer's.
RESULT_FIELDS = (
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
    call_back_at = _checked_call_back(outcome, call_back_at, now)
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
    task.follow_up_at = call_back_at
    actor = Actor.person(actor_staff)
    closed = _apply_disposition(session, task, outcome, note, actor_staff, now)
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
    if not closed:
        _close_if_unreachable(session, task, method, actor_staff, now)
    return attempt


def _checked_call_back(outcome: Disposition, call_back_at: datetime | None, now: datetime) -> datetime | None:
    """The call-back time a ``call_back`` needs (in the future); any other outcome keeps none."""
    if outcome != Disposition.call_back:
        return None
    if call_back_at is None:
        raise InvalidInput("say when to call back", field="call_back_at")
    if call_back_at <= now:
        raise InvalidInput("the call-back time must lie in the future", field="call_back_at")
    return call_back_at


def _apply_disposition(
    session: Session,
    task: SurveyTask,
    outcome: Disposition,
    note: str | None,
    actor_staff: Staff,
    now: datetime,
) -> bool:
    """Flag the customer as the outcome says; whether it closed the task (``do_not_call``)."""
    actor = Actor.person(actor_staff)
    if outcome == Disposition.wrong_number:
        customers.report_wrong_number(session=session, customer_id=task.customer_id, actor=actor, note=note)
    if outcome != Disposition.do_not_call:
        return False
    customers.set_do_not_call(session=session, customer_id=task.customer_id, actor=actor, note=note)
    task.status = SurveyStatus.excluded
    task.excluded_reason = "do_not_call"
    task.closed_at, task.closed_by_id = now, actor_staff.id
    return True


def _close_if_unreachable(
    session: Session, task: SurveyTask, method: ContactMethod, actor_staff: Staff, now: datetime
) -> None:
    """Close the task as unreachable once its failed attempts meet the cycle's policy."""
    policy = unreachable_policy(session, task)
    if not policy.met:
        return
    task.status = SurveyStatus.unreachable
    task.method = method
    task.follow_up_at = None
    # Nobody answered: a draft's answers are not the customer's (the notes stay).
    for key in RESULT_FIELDS:
        if key not in ("method", "notes"):
            setattr(task, key, None)
    task.reasons = []
    task.closed_at, task.closed_by_id = now, actor_staff.id
    flush_or_conflict(session, task.id)
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
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

    def outlook(self) -> Message | None:
        """What it takes, said plainly, before the task is marked unreachable ("再打 1 天未接通将
        标记无法联系"); the outcome once it is; None when a call reached the customer."""
        if self.reached:
            return None
        if self.met:
            return Message(
                "{failed} attempts without reaching the customer: marked unreachable.", failed=self.failed
            )
        calls, days = max(0, self.limit - self.failed), max(0, self.min_days - self.days)
        if calls and days:
            return Message(
                "{calls} more unanswered calls, on {days} more days, and the task is marked unreachable.",
                calls=calls,
                days=days,
            )
        if calls:
            return Message("{calls} more unanswered calls and the task is marked unreachable.", calls=calls)
        return Message(
            "Calls on {days} more days without an answer and the task is marked unreachable.", days=days
        )


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


def reaching_attempt(task: SurveyTask) -> ContactAttempt | None:
    """The first attempt that reached the customer (a survey is closed as done only after one)."""
    return next(
        (
            a
            for a in task.attempts
            if a.outcome in Disposition._value2member_map_ and Disposition(a.outcome).reached_customer
        ),
        None,
    )
