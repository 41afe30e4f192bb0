"""Month after month (issue 17 point 4), on SQLite and PostgreSQL: two cycles in a row with
left-over tasks (carried over, never two open tasks per customer, the history on the new
task), the month window, a cancelled cycle (service, page, API) and a stalled cycle completed by
"no action"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.pages import login
from winback import clock
from winback.accounts.models import Store
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.cycles import profiles, screening
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.errors import Conflict, InvalidInput
from winback.evaluation import service as evaluation
from winback.plans import service as plans
from winback.plans.models import PlanStatus
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, Disposition, SurveyStatus, SurveyTask


def _customers_with_two_open_tasks(session) -> list[int]:
    stmt = (
        select(SurveyTask.customer_id)
        .where(SurveyTask.status == SurveyStatus.open)
        .group_by(SurveyTask.customer_id)
        .having(func.count() > 1)
    )
    return list(session.scalars(stmt))


def _run_to_surveys(session, store_id: int, month: str, actor: Actor) -> MonthlyCycle:
    store = session.get(Store, store_id)
    cycle, created = cycles.start_cycle(session=session, store=store, month=month, actor=actor)
    assert created
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    profiles.analyze_profiles(session=session, cycle_id=cycle.id, actor=actor)
    surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)
    session.commit()
    return cycle


def _attempt(session, task: SurveyTask, outcome: str, note: str | None = None) -> None:
    surveys.record_attempt(
        session=session,
        task_id=task.id,
        method=ContactMethod.phone,
        outcome=outcome,
        note=note,
        actor_staff=task.assignee,
    )


def test_two_months_in_a_row_carry_left_over_tasks(session, surveying_cycle, staff, client):
    """November is evaluated with tasks open: they close as carried over. December screens the
    same customers again: each gets one open task that points back at November's, whose
    attempts show on the new task's page."""
    admin = Actor.person(staff("admin"))
    nov = session.get(MonthlyCycle, surveying_cycle)
    tasks = list(
        session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == nov.id).order_by(SurveyTask.id))
    )
    done, tried_some = tasks[1], [tasks[0], *tasks[2:6]]
    for t in tried_some:
        _attempt(session, t, "no_answer", note=f"周末再打 {t.id}")
    _attempt(session, done, "reached")
    surveys.close_task(
        session=session, task_id=done.id, reason_codes_=["high_price"], actor_staff=done.assignee
    )
    session.commit()
    open_before = session.scalar(
        select(func.count()).where(SurveyTask.cycle_id == nov.id, SurveyTask.status == SurveyStatus.open)
    )
    assert open_before == len(tasks) - 1

    clock.set_now("2026-12-05T09:00")
    evaluation.evaluate_cycle(session=session, cycle_id=nov.id, actor=admin)
    session.commit()
    statuses = dict(
        session.execute(
            select(SurveyTask.status, func.count())
            .where(SurveyTask.cycle_id == nov.id)
            .group_by(SurveyTask.status)
        ).all()
    )
    assert statuses == {SurveyStatus.carried_over: open_before, SurveyStatus.done: 1}
    carried_events = session.scalar(select(func.count()).where(AuditEvent.action == "task.carried_over"))
    assert carried_events == open_before

    dec = _run_to_surveys(session, nov.store_id, "2026-12", admin)
    assert _customers_with_two_open_tasks(session) == []
    # (December draws its own holdout: take a tried customer who got a December task.)
    by_customer = {t.customer_id: t for t in tried_some}
    new = session.scalar(
        select(SurveyTask)
        .where(SurveyTask.cycle_id == dec.id, SurveyTask.customer_id.in_(list(by_customer)))
        .order_by(SurveyTask.id)
    )
    assert new is not None and new.status == SurveyStatus.open
    tried = by_customer[new.customer_id]
    assert new.carried_from_id == tried.id
    # A customer whose November survey was done starts afresh (nothing carried).
    again = session.scalar(
        select(SurveyTask).where(SurveyTask.cycle_id == dec.id, SurveyTask.customer_id == done.customer_id)
    )
    assert again is None or again.carried_from_id is None
    # The history is on the new task's page, for the advisor who has it now.
    assert [t.id for t in surveys.carried_history(session=session, task=new)] == [tried.id]
    login(client, new.assignee.username)
    page = client.get(f"/tasks/{new.id}")
    assert page.status_code == 200
    assert 'id="carried-history"' in page.text and "从以往周期结转" in page.text
    assert f"周末再打 {tried.id}" in page.text and "无人接听" in page.text
    assert client.get(f"/api/tasks/{new.id}").json()["carried_from_id"] == tried.id
    # The old task says in words what happened to it.
    login(client, tried.assignee.username)
    old_page = client.get(f"/tasks/{tried.id}")
    assert old_page.status_code == 200 and "已结转" in old_page.text and 'id="carried-over"' in old_page.text


def test_month_window_cancel_and_reopen(session, demo_store, staff, client):
    """The month is this one, one ahead (a setting) or a past one within the evaluation window;
    a cycle is cancelled before its surveys start (audited), by page and API, and can be
    started again."""
    store = session.get(Store, demo_store)
    admin = Actor.person(staff("admin"))
    for month in ("2099-01", "2027-01", "2026-07"):  # years ahead, two ahead, four back
        with pytest.raises(InvalidInput) as err:
            cycles.start_cycle(session=session, store=store, month=month, actor=admin)
        assert err.value.field == "month"
        assert "2026-08" in err.value.message.translate("zh") and "2026-12" in err.value.message.translate(
            "zh"
        )
        assert "只能为" in err.value.message.translate("zh")
    assert session.scalar(select(func.count()).select_from(MonthlyCycle)) == 0
    aug, created = cycles.start_cycle(session=session, store=store, month="2026-08", actor=admin)
    assert created  # a missed month within the evaluation window may be caught up
    dec, _ = cycles.start_cycle(session=session, store=store, month="2026-12", actor=admin)
    screening.screen_targets(session=session, cycle_id=dec.id, actor=admin)
    session.commit()
    screened = session.scalar(select(func.count()).where(Target.cycle_id == dec.id))
    assert screened > 0

    # The page: without the ticked confirmation nothing happens; with it the cycle is cancelled.
    login(client, "admin")
    page = client.get(f"/cycles/{dec.id}")
    assert 'id="cancel-cycle"' in page.text and "取消本周期" in page.text
    r = client.post(f"/cycles/{dec.id}/cancel", data={"reason": "月份选错了"})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(MonthlyCycle, dec.id).stage == CycleStage.screened
    assert "请勾选确认框" in client.get(f"/cycles/{dec.id}").text
    r = client.post(f"/cycles/{dec.id}/cancel", data={"reason": "月份选错了", "confirm": "yes"})
    assert r.status_code == 303
    session.expire_all()
    cancelled = session.get(MonthlyCycle, dec.id)
    assert cancelled.stage == CycleStage.cancelled and cancelled.cancel_reason == "月份选错了"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "cycle.cancelled"))
    assert event.entity_id == dec.id and event.changes["reason"] == "月份选错了"
    page = client.get(f"/cycles/{dec.id}").text
    assert "本周期已于" in page and "月份选错了" in page and 'id="cancel-cycle"' not in page
    # A cancelled cycle holds nobody: November screens the customers December had.
    nov, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=admin)
    screening.screen_targets(session=session, cycle_id=nov.id, actor=admin)
    assert session.scalar(select(func.count()).where(Target.cycle_id == nov.id)) == screened
    session.commit()
    # No stage flow moves a cancelled cycle, and it cannot be cancelled twice.
    assert cycles.advance(session=session, cycle=cancelled, to=CycleStage.profiled, actor=admin) is False
    with pytest.raises(Conflict):
        cycles.cancel_cycle(session=session, cycle_id=dec.id, reason="again", actor=admin)
    session.rollback()

    # The API: an advisor may not, a reason is required, the admin may (before surveys only).
    login(client, "advisor1")
    assert client.post(f"/api/cycles/{aug.id}/cancel", json={"reason": "x"}).status_code == 403
    login(client, "admin")
    assert client.post(f"/api/cycles/{aug.id}/cancel", json={"reason": ""}).status_code == 422
    r = client.post(f"/api/cycles/{aug.id}/cancel", json={"reason": "补做的月份不需要"})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "cancelled" and r.json()["cancel_reason"] == "补做的月份不需要"

    # Started again, the cancelled month is screened afresh from today.
    session.expire_all()
    again, created = cycles.start_cycle(session=session, store=store, month="2026-12", actor=admin)
    assert created and again.id == dec.id and again.stage == CycleStage.started
    assert again.cancelled_at is None
    assert session.scalar(select(func.count()).where(Target.cycle_id == dec.id)) == 0
    session.commit()


def test_a_cycle_whose_surveys_started_cannot_be_cancelled(session, surveying_cycle, staff, client):
    admin = Actor.person(staff("admin"))
    with pytest.raises(Conflict) as err:
        cycles.cancel_cycle(session=session, cycle_id=surveying_cycle, reason="太晚了", actor=admin)
    assert "不能再取消" in err.value.message.translate("zh")
    session.rollback()
    login(client, "admin")
    assert 'id="cancel-cycle"' not in client.get(f"/cycles/{surveying_cycle}").text
    r = client.post(f"/api/cycles/{surveying_cycle}/cancel", json={"reason": "太晚了"})
    assert r.status_code == 409
    session.expire_all()
    assert session.get(MonthlyCycle, surveying_cycle).stage == CycleStage.surveying


def test_a_stalled_cycle_is_completed_by_no_action(session, surveying_cycle, staff, client):
    """No survey completed: the drafted plan has no measures and cannot be submitted. The
    manager records "no action" with a reason: the cycle moves on, its customers are screened
    by the next cycle at once, and their still-open tasks are carried over, not duplicated."""
    admin, manager = Actor.person(staff("admin")), staff("manager")
    cycle = session.get(MonthlyCycle, surveying_cycle)
    tried = list(
        session.scalars(
            select(SurveyTask).where(SurveyTask.cycle_id == cycle.id).order_by(SurveyTask.id).limit(5)
        )
    )
    for t in tried:
        _attempt(session, t, "busy")
    clock.set_now(clock.now() + timedelta(days=8))
    surveys.tally_reasons(session=session, cycle_id=cycle.id, actor=admin)
    plan = plans.draft_plan(session=session, cycle_id=cycle.id, actor=admin)
    session.commit()
    assert plan.measures == []
    with pytest.raises(InvalidInput):
        plans.submit_plan(session=session, plan_id=plan.id, actor_staff=manager)
    session.rollback()

    login(client, "manager")
    page = client.get(f"/cycles/{cycle.id}")
    assert 'id="no-action"' in page.text and "无需整改" in page.text
    r = client.post(f"/cycles/{cycle.id}/no-action", data={"reason": "  "})
    assert r.status_code == 303
    assert "请说明无需整改的原因" in client.get(f"/cycles/{cycle.id}").text
    login(client, "advisor1")
    assert client.post(f"/api/cycles/{cycle.id}/no-action", json={"reason": "x"}).status_code == 403
    login(client, "manager")
    r = client.post(f"/cycles/{cycle.id}/no-action", data={"reason": "本月无人完成调查，下月继续回访"})
    assert r.status_code == 303
    session.expire_all()
    cycle = session.get(MonthlyCycle, cycle.id)
    assert cycle.stage == CycleStage.executing and cycle.no_action_reason == "本月无人完成调查，下月继续回访"
    assert cycle.evaluation_due_at is not None
    plan = session.get(type(plan), plan.id)
    assert plan.status == PlanStatus.approved and plan.decision_comment == cycle.no_action_reason
    assert session.scalar(select(func.count()).where(AuditEvent.action == "cycle.no_action")) == 1
    assert "无需整改（记录于" in client.get(f"/cycles/{cycle.id}").text
    with pytest.raises(Conflict):  # recorded once
        plans.record_no_action(session=session, cycle_id=cycle.id, reason="再来一次", actor_staff=manager)
    session.rollback()

    # December (one month ahead of the clock) screens November's customers again: their open
    # tasks are carried over when the new ones are made, never duplicated.
    open_nov = session.scalar(
        select(func.count()).where(SurveyTask.cycle_id == cycle.id, SurveyTask.status == SurveyStatus.open)
    )
    assert open_nov > 0
    dec = _run_to_surveys(session, cycle.store_id, "2026-12", admin)
    assert _customers_with_two_open_tasks(session) == []
    by_customer = {t.customer_id: t for t in tried}
    new = session.scalar(
        select(SurveyTask)
        .where(SurveyTask.cycle_id == dec.id, SurveyTask.customer_id.in_(list(by_customer)))
        .order_by(SurveyTask.id)
    )
    first = by_customer[new.customer_id]
    assert new.carried_from_id == first.id
    session.expire_all()
    assert session.get(SurveyTask, first.id).status == SurveyStatus.carried_over
    history = surveys.carried_history(session=session, task=new)
    assert [a.outcome for a in history[0].attempts] == [Disposition.busy.value]
