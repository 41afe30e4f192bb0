"""The reason survey (流失原因调查): closing tasks, concurrency, reassignment, reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

import db.session
from winback import clock
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.errors import Conflict, Forbidden, InvalidInput
from winback.notifications.models import Notification
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, SurveyStatus, SurveyTask, SurveyTaskReason


def _tasks(session, cycle_id: int, **where) -> list[SurveyTask]:
    stmt = select(SurveyTask).where(SurveyTask.cycle_id == cycle_id).order_by(SurveyTask.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(SurveyTask, key) == value)
    return list(session.scalars(stmt))


def _notes(session, kind: str) -> list[Notification]:
    return list(
        session.scalars(select(Notification).where(Notification.kind == kind).order_by(Notification.id))
    )


def _first_task_of(session, cycle_id: int, staff, username: str) -> SurveyTask:
    return _tasks(session, cycle_id, assignee_id=staff(username).id)[0]


def _close(session, task_id, who, reasons=("high_price",), **kw):
    return surveys.close_task(
        session=session,
        task_id=task_id,
        method=kw.pop("method", ContactMethod.phone),
        reason_codes_=list(reasons),
        serviced_elsewhere=kw.pop("serviced_elsewhere", False),
        contact_outcome=kw.pop("contact_outcome", None if kw.get("unreachable") else "reached"),
        actor_staff=who,
        **kw,
    )


def test_close_task_records_the_survey(session, surveying_cycle, staff):
    advisor = staff("advisor1")
    task = _first_task_of(session, surveying_cycle, staff, "advisor1")
    _close(
        session,
        task.id,
        advisor,
        reasons=["high_price", "too_far", "high_price"],
        serviced_elsewhere=True,
        elsewhere_where="路边修理厂",
        elsewhere_what="保养",
        complaint="上次保养等了三个小时",
    )
    session.commit()
    session.expire_all()
    task = session.get(SurveyTask, task.id)
    assert task.status == SurveyStatus.done
    assert task.closed_by_id == advisor.id and task.closed_at == clock.now()
    assert task.version == 2
    assert sorted(r.reason_code.code for r in task.reasons) == ["high_price", "too_far"]
    assert task.complaint == "上次保养等了三个小时"
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "task.closed", AuditEvent.entity_id == task.id)
    ).one()
    assert event.actor_id == advisor.id
    assert event.changes["reasons"] == ["high_price", "too_far"]
    # Closed is closed: a second attempt is a conflict, not a second result.
    with pytest.raises(Conflict):
        _close(session, task.id, advisor, reasons=["other"])


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(reasons=[]), "reasons"),
        (dict(reasons=["no_such_reason"]), "reasons"),
        (dict(reasons=["high_price", "nonsense"]), "reasons"),
        (
            dict(reasons=["insurance_referral"], serviced_elsewhere=True, elsewhere_where="  "),
            "elsewhere_where",
        ),
    ],
    ids=["no_reason", "unknown_code", "one_unknown_code", "elsewhere_without_where"],
)
def test_close_task_validates_input(session, surveying_cycle, staff, kwargs, field):
    task = _first_task_of(session, surveying_cycle, staff, "advisor1")
    with pytest.raises(InvalidInput) as err:
        _close(session, task.id, staff("advisor1"), **kwargs)
    assert err.value.field == field
    session.rollback()
    session.expire_all()
    assert session.get(SurveyTask, task.id).status == SurveyStatus.open
    assert session.scalar(select(func.count()).select_from(SurveyTaskReason)) == 0


def test_unreachable_is_not_a_shortcut(session, surveying_cycle, staff):
    """ "Could not be reached" with no attempt behind it is refused (the attempt policy, in
    tests/test_honest_numbers.py): the task stays open."""
    task = _first_task_of(session, surveying_cycle, staff, "advisor2")
    with pytest.raises(InvalidInput) as err:
        _close(session, task.id, staff("advisor2"), reasons=[], unreachable=True)
    assert err.value.field == "unreachable"
    session.rollback()
    assert session.get(SurveyTask, task.id).status == SurveyStatus.open


def test_advisor_cannot_close_or_see_another_advisors_task(session, surveying_cycle, staff):
    task = _first_task_of(session, surveying_cycle, staff, "advisor1")
    with pytest.raises(Forbidden):
        _close(session, task.id, staff("advisor2"))
    with pytest.raises(Forbidden):
        surveys.record_attempt(
            session=session,
            task_id=task.id,
            method=ContactMethod.phone,
            outcome="reached",
            note=None,
            actor_staff=staff("advisor2"),
        )
    session.rollback()
    assert session.get(SurveyTask, task.id).status == SurveyStatus.open
    # The supervisor may close it on the advisor's behalf.
    _close(session, task.id, staff("supervisor"))
    session.commit()
    assert session.get(SurveyTask, task.id).closed_by_id == staff("supervisor").id


def test_two_people_closing_the_same_task_first_wins(surveying_cycle, staff, session):
    task_id = _first_task_of(session, surveying_cycle, staff, "advisor1").id
    session.close()
    first = db.session.new_session()
    second = db.session.new_session()
    try:
        # Both load the open task (and who they are) before either writes.
        t1 = surveys.get_task(session=first, task_id=task_id)
        t2 = surveys.get_task(session=second, task_id=task_id)
        assert t1.status == t2.status == SurveyStatus.open
        advisor_1 = staff("advisor1", first)
        supervisor_2 = staff("supervisor", second)

        _close(first, task_id, advisor_1, reasons=["poor_attitude"])
        first.commit()
        with pytest.raises(Conflict):
            _close(second, task_id, supervisor_2, reasons=["too_far"])
        second.rollback()
    finally:
        first.close()
        second.close()

    check = db.session.new_session()
    try:
        task = check.get(SurveyTask, task_id)
        assert task.status == SurveyStatus.done
        assert task.closed_by_id == staff("advisor1", check).id
        assert task.version == 2
        assert [r.reason_code.code for r in task.reasons] == ["poor_attitude"]
        closed_events = check.scalar(
            select(func.count()).where(AuditEvent.action == "task.closed", AuditEvent.entity_id == task_id)
        )
        assert closed_events == 1
    finally:
        check.close()


def test_supervisor_reassigns_and_both_advisors_are_told(session, surveying_cycle, staff):
    task = _first_task_of(session, surveying_cycle, staff, "advisor1")
    before = _notes(session, "task_reassigned")
    assert before == []
    with pytest.raises(Forbidden):
        surveys.reassign(
            session=session, task_id=task.id, to_staff_id=staff("advisor2").id, actor_staff=staff("advisor1")
        )
    with pytest.raises(Forbidden):
        surveys.reassign(
            session=session, task_id=task.id, to_staff_id=staff("advisor2").id, actor_staff=staff("manager")
        )
    assert session.get(SurveyTask, task.id).assignee_id == staff("advisor1").id
    # Only an active advisor of the store can take it (赵磊 has left).
    with pytest.raises(InvalidInput):
        surveys.reassign(
            session=session, task_id=task.id, to_staff_id=staff("zhaolei").id, actor_staff=staff("supervisor")
        )
    with pytest.raises(InvalidInput):  # nor one who is not an advisor
        surveys.reassign(
            session=session, task_id=task.id, to_staff_id=staff("manager").id, actor_staff=staff("supervisor")
        )

    surveys.reassign(
        session=session, task_id=task.id, to_staff_id=staff("advisor2").id, actor_staff=staff("supervisor")
    )
    session.commit()
    session.expire_all()
    assert session.get(SurveyTask, task.id).assignee_id == staff("advisor2").id
    notes = _notes(session, "task_reassigned")
    assert sorted(n.recipient_id for n in notes) == sorted([staff("advisor1").id, staff("advisor2").id])
    assert all(f"#{task.id}" in n.body for n in notes)
    assert all(n.status.value == "pending" for n in notes)
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "task.reassigned")))
    assert len(events) == 1
    assert events[0].changes["assignee"] == {"before": "advisor1", "after": "advisor2"}
    assert events[0].actor_id == staff("supervisor").id

    # The new advisor may now close it; the former one may not.
    with pytest.raises(Forbidden):
        _close(session, task.id, staff("advisor1"))
    _close(session, task.id, staff("advisor2"))
    session.commit()
    with pytest.raises(Conflict):
        surveys.reassign(
            session=session,
            task_id=task.id,
            to_staff_id=staff("advisor3").id,
            actor_staff=staff("supervisor"),
        )


def test_reminders_and_escalation_are_one_digest_each_and_idempotent(session, surveying_cycle, staff):
    system = Actor.system(label="test")
    store_id = staff("admin").store_id
    tasks = _tasks(session, surveying_cycle)
    due = tasks[0].due_at
    assert {t.due_at for t in tasks} == {due}
    # Close one task of advisor3: closed work raises no reminder.
    closed = _first_task_of(session, surveying_cycle, staff, "advisor3")
    _close(session, closed.id, staff("advisor3"))
    session.commit()
    open_tasks = [t for t in tasks if t.id != closed.id]
    per_advisor = {}
    for t in open_tasks:
        per_advisor[t.assignee_id] = per_advisor.get(t.assignee_id, 0) + 1
    assert len(per_advisor) == 3

    # Three days before the deadline: outside the two-day reminder window, nothing happens.
    clock.set_now(due - timedelta(days=3))
    assert surveys.remind_due_soon(session=session, store_id=store_id, actor=system) == 0
    assert surveys.escalate_overdue(session=session, store_id=store_id, actor=system) == 0

    # Two days before: one reminder per advisor, covering all their open tasks.
    clock.set_now(due - timedelta(days=2))
    assert surveys.remind_due_soon(session=session, store_id=store_id, actor=system) == len(open_tasks)
    session.commit()
    reminders = _notes(session, "tasks_due_soon")
    assert sorted(n.recipient_id for n in reminders) == sorted(per_advisor)
    for n in reminders:
        assert f"{per_advisor[n.recipient_id]} 个回访任务" in n.body
    assert surveys.remind_due_soon(session=session, store_id=store_id, actor=system) == 0
    session.commit()
    assert len(_notes(session, "tasks_due_soon")) == len(per_advisor)
    session.expire_all()
    assert session.get(SurveyTask, closed.id).reminded_at is None
    assert all(session.get(SurveyTask, t.id).reminded_at == clock.now() for t in open_tasks)

    # Not yet due: no escalation.
    assert surveys.escalate_overdue(session=session, store_id=store_id, actor=system) == 0

    # An hour past the deadline: each advisor told once, each supervisor one digest a day
    # listing the overdue tasks.
    clock.set_now(due + timedelta(hours=1))
    assert surveys.escalate_overdue(session=session, store_id=store_id, actor=system) == len(open_tasks)
    session.commit()
    overdue = _notes(session, "tasks_overdue")
    escalated = _notes(session, "tasks_escalated")
    assert sorted(n.recipient_id for n in overdue) == sorted(per_advisor)
    assert [n.recipient_id for n in escalated] == [staff("supervisor").id]
    assert f"{len(open_tasks)} 个回访任务已逾期" in escalated[0].body
    # The digest lists the tasks (the first 50, then how many more).
    listed = sorted(t.id for t in open_tasks)[:50]
    assert all(f"#{i} " in escalated[0].body for i in listed)
    if len(open_tasks) > 50:
        assert f"… +{len(open_tasks) - 50}" in escalated[0].body
    else:
        assert "… +" not in escalated[0].body
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "surveys.escalated")))
    assert len(events) == 1 and len(events[0].changes["tasks"]) == len(open_tasks)

    # Again the same day, and again the next day: nothing new.
    assert surveys.escalate_overdue(session=session, store_id=store_id, actor=system) == 0
    clock.set_now(due + timedelta(days=1))
    assert surveys.escalate_overdue(session=session, store_id=store_id, actor=system) == 0
    assert surveys.remind_due_soon(session=session, store_id=store_id, actor=system) == 0
    session.commit()
    assert len(_notes(session, "tasks_overdue")) == len(per_advisor)
    assert len(_notes(session, "tasks_escalated")) == 1
    assert session.scalar(select(func.count()).where(AuditEvent.action == "surveys.escalated")) == 1
    # The deadline has passed: the survey window is closed and the cycle may be tallied.
    from winback.cycles.models import MonthlyCycle

    assert surveys.survey_window_closed(session=session, cycle=session.get(MonthlyCycle, surveying_cycle))


def test_progress_board_counts_per_advisor(session, surveying_cycle, staff):
    task = _first_task_of(session, surveying_cycle, staff, "advisor1")
    _close(session, task.id, staff("advisor1"))
    session.commit()
    # contact rate: the closed task, and an open one whose customer answered (twice: counted
    # once); an open task with only a failed attempt does not count.
    second, third = _tasks(session, surveying_cycle, assignee_id=staff("advisor1").id)[1:3]
    for t, outcome in ((second, "reached"), (second, "not_interested"), (third, "no_answer")):
        surveys.record_attempt(
            session=session,
            task_id=t.id,
            method=ContactMethod.phone,
            outcome=outcome,
            note=None,
            actor_staff=staff("advisor1"),
        )
    session.commit()
    board = {row["advisor_id"]: row for row in surveys.progress(session=session, cycle_id=surveying_cycle)}
    total = len(_tasks(session, surveying_cycle))
    assert sum(r["open"] + r["done"] + r["unreachable"] for r in board.values()) == total
    mine = board[staff("advisor1").id]
    assert mine["done"] == 1 and mine["reached"] == 2 and mine["advisor"] == staff("advisor1").display_name
    assert mine["contact_rate_pct"] == round(100 * 2 / (mine["open"] + mine["done"] + mine["unreachable"]), 1)
    assert all(r["reached"] == 0 for a, r in board.items() if a != staff("advisor1").id)
    assert sum(r["overdue"] for r in board.values()) == 0
    clock.set_now(task.due_at + timedelta(minutes=1))
    board = surveys.progress(session=session, cycle_id=surveying_cycle)
    assert sum(r["overdue"] for r in board) == total - 1


def test_a_month_without_targets_does_not_wait_for_ever(session, surveying_cycle, staff):
    """December, with November's targets still open: nobody to survey, so the survey stage is over."""
    from winback.accounts.models import Store
    from winback.actor import Actor
    from winback.cycles import screening
    from winback.cycles import service as cycles
    from winback.cycles.models import CycleStage
    from winback.surveys import service as surveys

    actor = Actor.person(staff("admin"))
    november = cycles.get_cycle(session=session, cycle_id=surveying_cycle)
    december, _ = cycles.start_cycle(
        session=session, store=session.get(Store, november.store_id), month="2026-12", actor=actor
    )
    assert screening.screen_targets(session=session, cycle_id=december.id, actor=actor)["total"] == 0
    assert surveys.assign_surveys(session=session, cycle_id=december.id, actor=actor) == {
        "assigned": 0,
        "total": 0,
    }
    assert december.stage == CycleStage.surveying
    assert surveys.survey_window_closed(session=session, cycle=december)
    assert not surveys.survey_window_closed(session=session, cycle=november)


def test_a_retired_reason_or_another_stores_is_not_recorded(session, surveying_cycle, staff):
    """A close records only reasons the task's store still offers: a retired one, or one only
    another store has, is refused by name and nothing is written."""
    from winback.accounts import service as accounts
    from winback.surveys.models import ReasonCode

    task = _first_task_of(session, surveying_cycle, staff, "advisor1")
    price = session.scalar(
        select(ReasonCode).where(ReasonCode.store_id == task.store_id, ReasonCode.code == "high_price")
    )
    surveys.save_reason_code(
        session=session,
        actor_staff=staff("admin"),
        reason_id=price.id,
        label_zh=price.label_zh,
        label_en=price.label_en,
        active=False,
    )
    other = accounts.create_store(session=session, code="S88", name="another store", actor=Actor.system())
    session.add(
        ReasonCode(
            store_id=other.id, code="their_own", label_zh="别店原因", label_en="theirs", area=price.area
        )
    )
    session.flush()
    for reasons in (["high_price"], ["too_far", "their_own"]):
        with pytest.raises(InvalidInput) as err:
            _close(session, task.id, staff("advisor1"), reasons=reasons)
        assert err.value.field == "reasons" and reasons[-1] in err.value.message.params["unknown"], (
            err.value.message.params
        )
    session.rollback()
    session.expire_all()
    assert session.get(SurveyTask, task.id).status == SurveyStatus.open
    assert _close(session, task.id, staff("advisor1"), reasons=["too_far"]).status == SurveyStatus.done


def test_a_flood_of_reason_codes_is_refused_in_words(session, surveying_cycle, staff):
    """A client that sends tens of thousands of codes gets the same refusal as for one unknown
    code, its first few named (not a database error: more values than a statement may bind)."""
    task = _first_task_of(session, surveying_cycle, staff, "advisor1")
    flood = ["high_price"] + [f"x{i}" for i in range(70_000)]
    with pytest.raises(InvalidInput) as err:
        _close(session, task.id, staff("advisor1"), reasons=flood)
    named = err.value.message.params["unknown"]
    assert err.value.field == "reasons" and named.startswith("x0, x1, ") and len(named) < 200
    session.rollback()
    session.expire_all()
    assert session.get(SurveyTask, task.id).status == SurveyStatus.open
