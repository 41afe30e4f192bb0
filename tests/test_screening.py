"""Target screening (筛选调查对象), profile analysis and survey assignment, by the services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Store
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.cycles import profiles, screening
from winback.cycles import service as cycles
from winback.cycles.models import Band, CycleStage, MonthlyCycle, Target
from winback.errors import InvalidInput
from winback.notifications.models import Notification
from winback.surveys import service as surveys
from winback.surveys.models import SurveyStatus, SurveyTask

AS_OF = date(2026, 11, 2)  # the demo clock, 2026-11-02 09:00 Asia/Shanghai


def _admin(staff) -> Actor:
    return Actor.person(staff("admin"))


def _last_visits(session, store_id: int) -> dict[int, date]:
    return dict(
        session.execute(
            select(ServiceVisit.vehicle_id, func.max(ServiceVisit.visit_date))
            .where(ServiceVisit.store_id == store_id)
            .group_by(ServiceVisit.vehicle_id)
        ).all()
    )


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_screening_applies_the_red_lines(session, demo_store, staff):
    store = session.get(Store, demo_store)
    actor = _admin(staff)
    at_risk_line = AS_OF - relativedelta(months=6)
    lost_line = AS_OF - relativedelta(months=12)
    last = _last_visits(session, demo_store)
    status = dict(
        session.execute(select(Vehicle.id, Vehicle.status).where(Vehicle.store_id == demo_store)).all()
    )

    # A vehicle that qualifies is sold meanwhile: it must drop out of the screening.
    eligible = sorted(v for v, d in last.items() if d <= at_risk_line and status[v] == VehicleStatus.active)
    assert len(eligible) > 20
    sold_now = session.get(Vehicle, eligible[0])
    sold_now.status = VehicleStatus.sold
    session.flush()
    status[sold_now.id] = VehicleStatus.sold
    inactive_but_old = {v for v, d in last.items() if d <= at_risk_line and status[v] != VehicleStatus.active}
    assert sold_now.id in inactive_but_old

    cycle, created = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    assert created
    assert cycle.as_of == AS_OF
    assert cycle.stage == CycleStage.started
    assert cycle.settings["at_risk_months"] == 6 and cycle.settings["lost_months"] == 12

    result = screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    targets = list(session.scalars(select(Target).where(Target.cycle_id == cycle.id)))

    expected = {v for v, d in last.items() if d <= at_risk_line and status[v] == VehicleStatus.active}
    assert {t.vehicle_id for t in targets} == expected
    assert result["added"] == result["total"] == len(targets) == len(expected)
    assert result["at_risk"] + result["lost"] == len(targets)
    assert result["at_risk"] > 0 and result["lost"] > 0
    assert cycle.stage == CycleStage.screened

    for t in targets:
        assert t.last_visit_date == last[t.vehicle_id]
        assert t.last_visit_date <= at_risk_line, "target visited within the last 6 months"
        assert t.months_since_visit >= 6
        # 流失客户 (lost): more than 12 months without a visit; otherwise 流失风险 (at risk).
        assert (t.band == Band.lost) == (t.last_visit_date < lost_line), (t.vehicle_id, t.last_visit_date)
        assert status[t.vehicle_id] == VehicleStatus.active
        assert t.visit_count >= 1
        assert t.profile["model"] and t.profile["last_category"]
    assert not inactive_but_old & {t.vehicle_id for t in targets}, "sold/scrapped vehicles were screened"

    lost = sum(1 for t in targets if t.band == Band.lost)
    assert (result["lost"], result["at_risk"]) == (lost, len(targets) - lost)

    # Profile analysis: distributions over exactly these targets.
    profile = profiles.analyze_profiles(session=session, cycle_id=cycle.id, actor=actor)
    assert profile["targets"] == len(targets)
    assert len(profile["dimensions"]) == 12
    for dimension, rows in profile["dimensions"].items():
        assert sum(r["targets"] for r in rows) == len(targets), dimension
    assert {r["value"]: r["targets"] for r in profile["dimensions"]["band"]} == {
        k: v for k, v in (("lost", lost), ("at_risk", len(targets) - lost)) if v
    }
    assert Decimal(profile["total_spend"]) == sum((t.total_spend for t in targets), Decimal("0"))
    assert cycle.stage == CycleStage.profiled
    # The demo's story: the Kicks is over-represented among the targets.
    top = max(profile["dimensions"]["model"], key=lambda r: r["index"] or 0)
    assert top["value"] == "劲客 Kicks" and top["index"] > 1.5
    assert cycle.profile == profile


def test_red_line_boundaries(session, demo_store, staff):
    """Exactly 6 months ago is at risk; exactly 12 months is still at risk; a day more is lost."""
    store = session.get(Store, demo_store)
    now = clock.now()
    cases = {
        "six_minus_day": AS_OF - relativedelta(months=6) + timedelta(days=1),  # not yet a target
        "six": AS_OF - relativedelta(months=6),  # at risk
        "twelve": AS_OF - relativedelta(months=12),  # at risk (not *more* than 12 months)
        "twelve_plus_day": AS_OF - relativedelta(months=12) - timedelta(days=1),  # lost
    }
    vehicles = {}
    for i, (name, visit) in enumerate(cases.items()):
        c = Customer(store_id=store.id, dms_code=f"EDGE{i}", name=name, phone="13800000000", created_at=now)
        session.add(c)
        session.flush()
        v = Vehicle(
            store_id=store.id, customer_id=c.id, vin=f"LGBEDGE000000000{i}", model="Edge", created_at=now
        )
        session.add(v)
        session.flush()
        session.add(
            ServiceVisit(
                store_id=store.id,
                ro_number=f"EDGE-{i}",
                vehicle_id=v.id,
                customer_id=c.id,
                visit_date=visit,
                category="保养",
                amount=Decimal("100"),
                created_at=now,
            )
        )
        vehicles[name] = v.id
    session.flush()
    actor = _admin(staff)
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    bands = dict(
        session.execute(
            select(Target.vehicle_id, Target.band).where(
                Target.cycle_id == cycle.id, Target.vehicle_id.in_(vehicles.values())
            )
        ).all()
    )
    got = {name: bands.get(vid) for name, vid in vehicles.items()}
    assert got == {
        "six_minus_day": None,
        "six": Band.at_risk,
        "twelve": Band.at_risk,
        "twelve_plus_day": Band.lost,
    }


def test_screening_and_assignment_are_idempotent(session, demo_store, staff):
    store = session.get(Store, demo_store)
    actor = _admin(staff)
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    first = screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    profiles.analyze_profiles(session=session, cycle_id=cycle.id, actor=actor)
    assigned = surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)
    session.commit()
    n_targets = _count(session, Target, Target.cycle_id == cycle.id)
    n_tasks = _count(session, SurveyTask, SurveyTask.cycle_id == cycle.id)
    n_notes = _count(session, Notification)
    n_audit = _count(session, AuditEvent)
    assert n_targets == first["total"] > 0
    n_holdout = _count(session, Target, Target.cycle_id == cycle.id, Target.holdout.is_(True))
    assert n_holdout == first["holdout"] == round(n_targets * 0.10) > 0  # 10% held out, not contacted
    contacted = n_targets - n_holdout
    assert assigned == {"assigned": contacted, "total": contacted}
    assert n_tasks == contacted
    assert cycle.stage == CycleStage.surveying

    # Starting the same month again returns the open cycle.
    again, created = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    assert (again.id, created) == (cycle.id, False)
    second = screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    reassigned = surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)
    session.commit()
    assert second["added"] == 0 and second["total"] == n_targets
    assert reassigned == {"assigned": 0, "total": n_tasks}
    assert _count(session, Target, Target.cycle_id == cycle.id) == n_targets
    assert _count(session, SurveyTask, SurveyTask.cycle_id == cycle.id) == n_tasks
    assert _count(session, Notification) == n_notes
    assert _count(session, AuditEvent) == n_audit, "a re-run recorded events for nothing"
    assert session.get(MonthlyCycle, cycle.id).stage == CycleStage.surveying

    # Every target has exactly one task; they went to active advisors only.
    tasks = list(session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == cycle.id)))
    assert len({t.target_id for t in tasks}) == n_tasks
    held = set(
        session.scalars(select(Target.id).where(Target.cycle_id == cycle.id, Target.holdout.is_(True)))
    )
    assert not held & {t.target_id for t in tasks}, "a holdout target got a task"
    active_advisors = {staff(u).id for u in ("advisor1", "advisor2", "advisor3")}
    assert {t.assignee_id for t in tasks} == active_advisors
    assert all(t.status == SurveyStatus.open for t in tasks)
    # One "tasks assigned" message per advisor who got tasks.
    assert _count(session, Notification, Notification.kind == "tasks_assigned") == 3


def test_due_date_is_one_week_after_assignment(surveying_cycle, session):
    tasks = list(session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle)))
    cycle = session.get(MonthlyCycle, surveying_cycle)
    assert len(tasks) > 0
    assert cycle.settings["survey_deadline_days"] == 7
    for t in tasks:
        assert t.assigned_at == clock.now()
        assert t.due_at - t.assigned_at == timedelta(days=7)
    assert cycle.survey_deadline_at == clock.now() + timedelta(days=7)


def test_store_setting_changes_the_deadline_of_new_cycles(session, demo_store, staff):
    store = session.get(Store, demo_store)
    actor = _admin(staff)
    accounts.set_store_setting(
        session=session, store=store, key="survey_deadline_days", value=10, actor=actor
    )
    session.commit()
    assert accounts.effective_settings(store).survey_deadline_days == 10

    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    result = surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)
    session.commit()
    assert cycle.settings["survey_deadline_days"] == 10
    tasks = list(session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == cycle.id)))
    assert len(tasks) == result["total"] > 0
    assert {t.due_at - t.assigned_at for t in tasks} == {timedelta(days=10)}

    # A change after the cycle started does not move its deadline (the cycle keeps its snapshot).
    accounts.set_store_setting(session=session, store=store, key="survey_deadline_days", value=3, actor=actor)
    session.commit()
    assert session.get(MonthlyCycle, cycle.id).settings["survey_deadline_days"] == 10


@pytest.mark.parametrize(
    "key, value",
    [
        ("survey_deadline_days", 0),
        ("survey_deadline_days", "a week"),
        ("lost_months", 1),
        ("winback_target_pct", 120),
        ("no_such_setting", 1),
    ],
)
def test_invalid_store_setting_is_refused(session, demo_store, staff, key, value):
    store = session.get(Store, demo_store)
    before = dict(store.settings or {})
    with pytest.raises(InvalidInput):
        accounts.set_store_setting(session=session, store=store, key=key, value=value, actor=_admin(staff))
    assert (store.settings or {}) == before
    assert accounts.effective_settings(store).survey_deadline_days == 7


def test_invalid_month_is_refused(session, demo_store, staff):
    store = session.get(Store, demo_store)
    for month in ("2026-13", "2026-1", "November", ""):
        with pytest.raises(InvalidInput):
            cycles.start_cycle(session=session, store=store, month=month, actor=_admin(staff))
    assert _count(session, MonthlyCycle) == 0
