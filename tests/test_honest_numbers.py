"""Honest numbers (issue 17 point 5), on SQLite and PostgreSQL: the attempt policy ("unreachable"
after N attempts on M days, said plainly), closing as reached only after a reaching attempt, an
appointment never in the past, no pre-answered survey and no default answers stored, and the
report's headline (lift, intention to treat, reached) and shortfall against a hand count."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.pages import login
from winback import clock
from winback.actor import Actor
from winback.customers import service as customers
from winback.cycles.models import MonthlyCycle, Target
from winback.errors import InvalidInput
from winback.evaluation import service as evaluation
from winback.evaluation.stats import newcombe_diff
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, SurveyStatus, SurveyTask
from winback.surveys.schemas import SurveyResultIn


def _tasks(session, cycle_id: int, advisor=None) -> list[SurveyTask]:
    stmt = select(SurveyTask).where(SurveyTask.cycle_id == cycle_id).order_by(SurveyTask.id)
    if advisor is not None:
        stmt = stmt.where(SurveyTask.assignee_id == advisor.id)
    return list(session.scalars(stmt))


def _attempt(session, task, outcome, method=ContactMethod.phone):
    return surveys.record_attempt(
        session=session, task_id=task.id, method=method, outcome=outcome, note=None, actor_staff=task.assignee
    )


def test_unreachable_needs_attempts_on_different_days(session, surveying_cycle, staff, client):
    advisor = staff("advisor1")
    task = _tasks(session, surveying_cycle, advisor)[0]
    # A draft with an answer typed in: nobody is reached in the end, so it must not stay.
    surveys.save_draft(
        session=session, task_id=task.id, reason_codes_=[], actor_staff=advisor, serviced_elsewhere=False
    )
    for outcome in ("no_answer", "busy", "no_answer"):  # three quick calls, one minute apart
        _attempt(session, task, outcome)
        clock.set_now(clock.now() + timedelta(minutes=1))
    session.commit()
    assert session.get(SurveyTask, task.id).status == SurveyStatus.open
    policy = surveys.unreachable_policy(session, task)
    assert (policy.failed, policy.days, policy.limit, policy.min_days, policy.met) == (3, 1, 3, 2, False)
    with pytest.raises(InvalidInput) as err:
        surveys.close_task(
            session=session, task_id=task.id, reason_codes_=[], unreachable=True, actor_staff=advisor
        )
    assert err.value.field == "unreachable"
    assert "至少 2 个不同日期" in err.value.message.translate("zh") and "目前 3 次，1 天" in (
        err.value.message.translate("zh")
    )
    session.rollback()

    # The next day, one more call from the page: the rule is met and said plainly.
    clock.set_now(clock.now() + timedelta(days=1))
    login(client, "advisor1")
    r = client.post(f"/tasks/{task.id}/attempts", data={"method": "phone", "outcome": "no_answer"})
    assert r.status_code == 303
    page = client.get(f"/tasks/{task.id}").text
    assert "4 次未接通，已标记无法联系" in page
    session.expire_all()
    task = session.get(SurveyTask, task.id)
    assert task.status == SurveyStatus.unreachable
    assert task.serviced_elsewhere is None and task.would_return is None and task.reasons == []

    # A failed call that does not yet meet the rule says how far it is.
    other = _tasks(session, surveying_cycle, advisor)[1]
    r = client.post(f"/tasks/{other.id}/attempts", data={"method": "phone", "outcome": "busy"})
    assert r.status_code == 303
    assert "未接通：已联系 1 次（需 3 次），分布在 1 天" in client.get(f"/tasks/{other.id}").text
    # An attempt without an outcome is refused (the form offers none pre-selected).
    r = client.post(f"/tasks/{other.id}/attempts", data={"method": "phone", "outcome": ""})
    assert r.status_code == 422 and "请选择本次联系的结果" in r.text


def test_closing_as_reached_needs_a_reaching_attempt(session, surveying_cycle, staff, client):
    advisor = staff("advisor2")
    first, second, third = _tasks(session, surveying_cycle, advisor)[:3]
    with pytest.raises(InvalidInput) as err:
        surveys.close_task(
            session=session, task_id=first.id, reason_codes_=["high_price"], actor_staff=advisor
        )
    assert err.value.field == "contact_outcome"
    session.rollback()
    _attempt(session, first, "no_answer")
    with pytest.raises(InvalidInput):  # a failed call does not count, nor as the close's outcome
        surveys.close_task(
            session=session,
            task_id=first.id,
            reason_codes_=["high_price"],
            contact_outcome="no_answer",
            actor_staff=advisor,
        )
    session.rollback()
    _attempt(session, first, "reached", method=ContactMethod.home_visit)
    surveys.close_task(session=session, task_id=first.id, reason_codes_=["high_price"], actor_staff=advisor)
    session.commit()
    closed = session.get(SurveyTask, first.id)
    assert closed.status == SurveyStatus.done and closed.method == ContactMethod.home_visit

    # The API: refused without a contact; with the call's outcome the attempt is recorded too.
    login(client, "advisor2")
    r = client.post(f"/api/tasks/{second.id}/close", json={"reasons": ["too_far"]})
    assert r.status_code == 422
    r = client.post(
        f"/api/tasks/{second.id}/close", json={"reasons": ["too_far"], "contact_outcome": "reached"}
    )
    assert r.status_code == 200, r.text
    session.expire_all()
    second = session.get(SurveyTask, second.id)
    assert [a.outcome for a in second.attempts] == ["reached"] and second.method == ContactMethod.phone
    # The page: the same rule, in Chinese.
    r = client.post(f"/tasks/{third.id}/close", data={"reasons": ["too_far"], "action": "close"})
    assert r.status_code == 422 and "请先记录接通客户的联系" in r.text


def test_an_appointment_lies_in_the_future(session, surveying_cycle, staff, client):
    advisor = staff("advisor1")
    task = _tasks(session, surveying_cycle, advisor)[0]
    _attempt(session, task, "appointment_booked")
    session.commit()
    for past in (date(2019, 5, 1), clock.today() - timedelta(days=1)):
        with pytest.raises(InvalidInput) as err:
            surveys.close_task(
                session=session,
                task_id=task.id,
                reason_codes_=["high_price"],
                appointment_on=past,
                actor_staff=advisor,
            )
        assert err.value.field == "appointment_on"
        session.rollback()
    login(client, "advisor1")
    r = client.post(
        f"/tasks/{task.id}/close",
        data={"reasons": ["high_price"], "appointment_on": "2019-05-01", "action": "save"},
    )
    assert r.status_code == 422 and "预约日期 2019-05-01 已经过去" in r.text
    session.expire_all()
    assert session.get(SurveyTask, task.id).appointment_on is None
    tomorrow = clock.today() + timedelta(days=1)
    r = client.post(
        f"/tasks/{task.id}/close", data={"reasons": ["high_price"], "appointment_on": tomorrow.isoformat()}
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.get(SurveyTask, task.id).appointment_on == tomorrow


def test_the_survey_form_is_not_pre_answered_and_stores_no_defaults(session, surveying_cycle, staff, client):
    assert SurveyResultIn().model_dump(exclude={"reasons"}) == {
        k: (False if k == "unreachable" else None) for k in SurveyResultIn.model_fields if k != "reasons"
    }
    advisor = staff("advisor1")
    task = _tasks(session, surveying_cycle, advisor)[0]
    login(client, "advisor1")
    page = client.get(f"/tasks/{task.id}").text
    form = re.search(r'<form method="post" action="/tasks/\d+/close".*?</form>', page, re.S).group(0)
    assert " checked" not in form and "selected" not in form
    attempts = re.search(r'<form method="post" action="/tasks/\d+/attempts".*?</form>', page, re.S).group(0)
    # one button per outcome, none pre-chosen
    assert 'name="outcome" value="reached"' in attempts and 'name="outcome" value="no_answer"' in attempts
    assert "selected" not in attempts
    # Closed with only what was asked: the rest stays unanswered.
    r = client.post(f"/tasks/{task.id}/close", data={"reasons": ["high_price"], "contact_outcome": "reached"})
    assert r.status_code == 303, r.text
    session.expire_all()
    task = session.get(SurveyTask, task.id)
    assert task.status == SurveyStatus.done and task.method == ContactMethod.phone
    assert (task.serviced_elsewhere, task.would_return, task.voucher_offered, task.elsewhere_kind) == (
        None,
        None,
        None,
        None,
    )


def test_report_headline_against_a_hand_count(session, surveying_cycle, staff, client):
    """4 surveys closed (2 of them back after the contact, 1 back only before it), 1 open task
    back, 1 holdout target back. The headline leads with the lift and its interval, then the
    returns among every target given to advisors, then among those reached."""
    admin = Actor.person(staff("admin"))
    cycle = session.get(MonthlyCycle, surveying_cycle)
    tasks = _tasks(session, cycle.id)
    targets = {t.id: t for t in session.scalars(select(Target).where(Target.cycle_id == cycle.id))}
    held = sorted(t for t, row in targets.items() if row.holdout)
    # One advisor works; the others leave their tasks untouched.
    worked = _tasks(session, cycle.id, staff("advisor1"))
    closed, still_open = worked[:4], worked[4]
    for t in closed:
        surveys.close_task(
            session=session,
            task_id=t.id,
            reason_codes_=["high_price"],
            contact_outcome="reached",
            actor_staff=t.assignee,
        )
    day = clock.today()

    def visit(target_id: int, ro: str, when: date) -> None:
        customers.add_visit(
            session=session,
            store_id=cycle.store_id,
            vehicle_id=targets[target_id].vehicle_id,
            ro_number=ro,
            visit_date=when,
            category="保养",
            amount=Decimal("500"),
            actor=admin,
        )

    visit(closed[0].target_id, "R1", day + timedelta(days=10))
    visit(closed[1].target_id, "R2", day + timedelta(days=20))
    visit(closed[2].target_id, "R3", day - timedelta(days=1))  # before the contact: not a return
    visit(still_open.target_id, "R4", day + timedelta(days=12))
    visit(held[0], "R5", day + timedelta(days=15))
    session.commit()
    clock.set_now("2027-02-10T09:00")
    ev = evaluation.evaluate_cycle(session=session, cycle_id=cycle.id, actor=admin)
    session.commit()

    treated, holdout = len(tasks), len(held)
    assert treated + holdout == len(targets)
    h = ev.holdout
    assert (h["treated"], h["treated_back"], h["holdout"], h["holdout_back"]) == (treated, 3, holdout, 1)
    d, low, high = newcombe_diff(3, treated, 1, holdout)
    lift = (round(100 * d, 1), round(100 * low, 1), round(100 * high, 1))
    assert (h["lift_pct"], h["lift_ci_low_pct"], h["lift_ci_high_pct"]) == lift
    assert (ev.contacted, ev.vehicles_back, ev.winback_rate_pct) == (4, 2, 50.0)
    # Every advisor's shortfall counts every target assigned, untouched ones included.
    back_tasks = {closed[0].id, closed[1].id, still_open.id}
    for a in ev.per_advisor:
        mine = [t for t in tasks if t.assignee_id == a["advisor_id"]]
        back = sum(1 for t in mine if t.id in back_tasks)
        need = math.ceil(len(mine) * 20 / 100)
        assert (a["assigned"], a["assigned_back"], a["needed_customers"]) == (len(mine), back, need)
        assert a["shortfall_customers"] == max(0, need - back)
        assert a["shortfall_yuan"] == 20 * a["shortfall_customers"]
    idle = [a for a in ev.per_advisor if a["contacted"] == 0]
    assert idle and all(a["shortfall_yuan"] > 0 for a in idle)  # untouched tasks are not free
    # The tasks left open were closed as carried over by the evaluation.
    session.expire_all()
    assert session.get(SurveyTask, still_open.id).status == SurveyStatus.carried_over

    login(client, "manager")
    page = client.get(f"/cycles/{cycle.id}/report")
    assert page.status_code == 200
    text = page.text
    positions = [text.index(f'id="headline-{k}"') for k in ("lift", "itt", "reached")]
    assert positions == sorted(positions)
    assert f"相对对照组提升 {lift[0]} 个百分点（95% 区间 {lift[1]} 至 {lift[2]}）" in text
    assert f"{treated} 个对象中有 3 个回厂" in text
    assert "完成调查的 4 位客户中有 2 位回厂（50.0%，目标 20.0%）" in text
    # The cycle page says the same in the same order.
    cycle_page = client.get(f"/cycles/{cycle.id}").text
    assert cycle_page.index("相对对照组的提升") < cycle_page.index("分配给顾问的全部对象中的回厂")
    assert cycle_page.index("分配给顾问的全部对象中的回厂") < cycle_page.index("已联系上的客户中的回厂")
