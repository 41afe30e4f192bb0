"""Plan versions and approval, measure execution and reminders, vouchers, the holdout, and the
three-month evaluation on a hand-checked fixture (services on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from winback import clock
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.customers import service as customers
from winback.cycles import holdout
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.errors import Conflict, InvalidInput
from winback.evaluation import service as evaluation
from winback.evaluation.stats import newcombe_diff, wilson
from winback.notifications.models import Notification
from winback.plans import seeding
from winback.plans import service as plans
from winback.plans.models import MeasureStatus, PlanStatus
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, SurveyTask

# ---- pure parts: the holdout draw and the interval -------------------------------------


def _rows(n_per: dict[tuple[str, str], int]) -> list[dict]:
    rows, vid = [], 0
    for (band, grade), n in n_per.items():
        for _ in range(n):
            vid += 1
            rows.append({"vehicle_id": vid, "band": band, "profile": {"grade": grade}})
    return rows


def test_holdout_is_stratified_reproducible_and_may_be_zero():
    rows = _rows(
        {
            ("lost", "luxury"): 40,
            ("lost", "economy"): 30,
            ("at_risk", "luxury"): 20,
            ("at_risk", "economy"): 10,
        }
    )
    drawn = holdout.draw(rows, share_pct=10, seed="1:2026-11")
    assert len(drawn) == 10
    by_stratum = Counter(holdout.stratum(r, "grade") for r in rows if r["vehicle_id"] in drawn)
    assert by_stratum == {
        ("lost", "luxury"): 4,
        ("lost", "economy"): 3,
        ("at_risk", "luxury"): 2,
        ("at_risk", "economy"): 1,
    }
    assert holdout.draw(list(reversed(rows)), share_pct=10, seed="1:2026-11") == drawn  # reproducible
    assert holdout.draw(rows, share_pct=10, seed="1:2026-12") != drawn  # another month, another draw
    assert holdout.draw(rows, share_pct=0, seed="x") == set()
    # Small strata still add up to the overall share (largest remainder).
    small = _rows({("lost", g): 3 for g in "abcdefg"})
    assert len(holdout.draw(small, share_pct=10, seed="s")) == round(21 * 0.10)


def test_newcombe_interval_matches_the_published_example():
    d, low, high = newcombe_diff(56, 70, 48, 80)
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)
    assert tuple(round(x, 4) for x in wilson(0, 10)) == (0.0, 0.2775)
    assert newcombe_diff(1, 10, 0, 0) is None


# ---- the store's measure library drives the draft -------------------------------------------


def test_draft_follows_the_stores_edited_measure_library(session, surveying_cycle, staff):
    manager = staff("manager")
    library = plans.measure_library_page(
        session=session, store_id=manager.store_id, page_size=None, active_only=True
    ).items
    assert library  # seeded with the store (plans/seeding.py); seeding again adds nothing
    assert seeding.seed_measure_library(session=session, store_id=manager.store_id) == 0
    library = {
        t.reason_code: t
        for t in plans.measure_library_page(
            session=session, store_id=manager.store_id, page_size=None, active_only=True
        ).items
    }
    assert library["high_price"].expected_value == Decimal("30")
    with pytest.raises(InvalidInput):
        plans.save_template(session=session, actor_staff=manager, reason_code="nope", title="x")
    # this store drops the price measure and adds a second one against distance
    plans.save_template(
        session=session,
        actor_staff=manager,
        template_id=library["high_price"].id,
        reason_code="high_price",
        title=library["high_price"].title,
        active=False,
    )
    plans.save_template(
        session=session,
        actor_staff=manager,
        reason_code="too_far",
        title="周末流动服务车进社区",
        expected_value=Decimal("8"),
        expected_unit="台回厂",
        estimated_cost=Decimal("1200"),
    )
    tasks = list(
        session.scalars(
            select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle).order_by(SurveyTask.id)
        )
    )
    for t, code in zip(tasks, ["too_far", "too_far", "high_price"]):
        surveys.close_task(
            contact_outcome="reached",
            session=session,
            task_id=t.id,
            method=ContactMethod.phone,
            reason_codes_=[code],
            serviced_elsewhere=False,
            actor_staff=t.assignee,
        )
    actor = Actor.person(staff("admin"))
    surveys.tally_reasons(session=session, cycle_id=surveying_cycle, actor=actor)
    plan = plans.draft_plan(session=session, cycle_id=surveying_cycle, actor=actor)
    assert [(m.reason_code.code, m.title) for m in plan.measures] == [
        ("too_far", library["too_far"].title),
        ("too_far", "周末流动服务车进社区"),
    ]
    assert plan.measures[1].estimated_cost == Decimal("1200") and plan.measures[1].expected_unit == "台回厂"
    events = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("measure_template.%"))
    ).all()
    assert sorted(events) == ["measure_template.added", "measure_template.updated"]


# ---- plan: versions, approval loop, audit ------------------------------------------------


def _approve(session, plan_id, manager, comment="同意"):
    plans.submit_plan(session=session, plan_id=plan_id, actor_staff=manager)
    return plans.decide_plan(
        session=session, plan_id=plan_id, approve=True, comment=comment, actor_staff=manager
    )


def test_reject_amend_approve_keeps_every_version_in_the_audit_trail(session, planning_cycle, staff):
    manager = staff("manager")
    v1 = plans.current_plan(session=session, cycle_id=planning_cycle)
    assert v1.status == PlanStatus.draft and v1.version == 1
    assert sorted(m.reason_code.code for m in v1.measures) == ["high_price", "too_far"]
    price = next(m for m in v1.measures if m.reason_code.code == "high_price")
    assert price.expected_value == Decimal("30") and price.expected_unit == "台回厂"

    plans.submit_plan(session=session, plan_id=v1.id, actor_staff=manager)
    with pytest.raises(InvalidInput):
        plans.decide_plan(session=session, plan_id=v1.id, approve=False, comment=" ", actor_staff=manager)
    plans.decide_plan(session=session, plan_id=v1.id, approve=False, comment="成本太高", actor_staff=manager)
    assert v1.status == PlanStatus.rejected and v1.decision_comment == "成本太高"
    # back to the drafter: editable again, the comment stays visible
    plans.update_measure(
        session=session,
        measure_id=price.id,
        actor_staff=manager,
        estimated_cost=Decimal("2000"),
        reasons=["high_price", "promise_broken"],
    )
    _approve(session, v1.id, manager)
    assert plans.execute_plan(session=session, cycle_id=planning_cycle, actor=Actor.system())["notified"] == 2
    assert (
        v1.status == PlanStatus.approved and v1.decided_by_id == manager.id and v1.decided_at == clock.now()
    )
    with pytest.raises(Conflict):  # approved = locked
        plans.update_measure(session=session, measure_id=price.id, actor_staff=manager, title="x")

    # amend: a new version; the approved one stays in force, unchanged, until v2 is approved
    v2 = plans.amend_plan(session=session, plan_id=v1.id, actor_staff=manager, reason="加一项措施")
    with pytest.raises(Conflict):
        plans.amend_plan(session=session, plan_id=v1.id, actor_staff=manager)
    assert (v2.version, v2.status, v2.amends_id) == (2, PlanStatus.draft, v1.id)
    assert plans.plan_in_force(session=session, cycle_id=planning_cycle).id == v1.id
    price2 = next(m for m in v2.measures if m.lineage_id == price.id)
    plans.update_measure(
        session=session, measure_id=price2.id, actor_staff=manager, estimated_cost=Decimal("1500")
    )
    added = plans.add_measure(
        session=session,
        plan_id=v2.id,
        actor_staff=manager,
        title="经理回访投诉客户",
        area=price.area,
        owner_id=staff("supervisor").id,
        due_date=clock.today() + timedelta(days=10),
        reason_code="promise_broken",
    )
    diff = plans.compare_versions(session=session, old_id=v1.id, new_id=v2.id)
    assert [(c["lineage_id"], list(c["changes"])) for c in diff["changed"]] == [
        (price.id, ["estimated_cost"])
    ]
    assert diff["changed"][0]["changes"]["estimated_cost"] == {"before": "2000.00", "after": "1500.00"}
    assert [a["title"] for a in diff["added"]] == ["经理回访投诉客户"] and diff["removed"] == []
    assert price.estimated_cost == Decimal("2000")  # v1 untouched
    plans.update_measure(
        session=session, measure_id=price2.id, actor_staff=manager, owner_id=staff("advisor1").id
    )
    _approve(session, v2.id, manager, comment="修订版同意")
    session.commit()
    # on the amendment's approval only the new measure's and the new owner's are told
    assert plans.execute_plan(session=session, cycle_id=planning_cycle, actor=Actor.system())["notified"] == 2
    assert plans.execute_plan(session=session, cycle_id=planning_cycle, actor=Actor.system())["notified"] == 0
    assert v1.status == PlanStatus.superseded and v2.status == PlanStatus.approved
    assert plans.plan_in_force(session=session, cycle_id=planning_cycle).id == v2.id
    assert added.reason_ids and len(plans.plan_versions(session=session, cycle_id=planning_cycle)) == 2

    trail = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "plan", AuditEvent.cycle_id == planning_cycle)
            .order_by(AuditEvent.id)
        )
    )
    decisions = [(e.action, e.entity_id, e.actor_label) for e in trail if e.action.startswith("plan.")]
    assert [a for a, _, _ in decisions] == [
        "plan.drafted",
        "plan.submitted",
        "plan.rejected",
        "plan.submitted",
        "plan.approved",
        "plan.amended",
        "plan.submitted",
        "plan.approved",
    ]
    assert [i for _, i, _ in decisions] == [v1.id] * 5 + [v2.id] * 3
    assert {label for _, _, label in decisions[1:]} == {"manager"}
    rejected = next(e for e in trail if e.action == "plan.rejected")
    assert rejected.changes["comment"] == "成本太高"
    assert (
        next(e for e in trail if e.action == "plan.approved" and e.entity_id == v2.id).changes["supersedes"]
        == v1.id
    )
    reasons_change = next(e for e in trail if e.action == "measure.updated" and "reasons" in e.changes)
    assert reasons_change.changes["reasons"]["after"] == ["high_price", "promise_broken"]


def test_measures_are_reminded_then_escalated_once(session, planning_cycle, staff):
    manager = staff("manager")
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    owner = staff("supervisor")
    for m in plan.measures:
        plans.update_measure(
            session=session,
            measure_id=m.id,
            actor_staff=manager,
            owner_id=owner.id,
            due_date=clock.today() + timedelta(days=10),
        )
    _approve(session, plan.id, manager)
    actor = Actor.system()
    assert plans.execute_plan(session=session, cycle_id=planning_cycle, actor=actor) == {
        "notified": 2,
        "started": 1,
    }
    first, second = plan.measures
    with pytest.raises(InvalidInput):  # done needs evidence
        plans.set_measure_status(
            session=session, measure_id=first.id, status=MeasureStatus.done, evidence="", actor_staff=owner
        )
    plans.set_measure_status(
        session=session,
        measure_id=first.id,
        status=MeasureStatus.done,
        evidence=None,
        actor_staff=owner,
        attachment=("签到表.jpg", b"\xff\xd8jpeg"),
    )
    assert plans.attachments_of(session=session, measure_id=first.id)[0].size == 6
    session.commit()

    def run(days_later: int) -> dict:
        clock.set_now(clock.now() + timedelta(days=days_later))
        result = plans.remind_measures(session=session, store_id=plan.store_id, actor=actor)
        session.commit()
        return result

    assert run(2) == {"measures_reminded": 0, "measures_escalated": 0}  # 8 days left
    assert run(5) == {"measures_reminded": 1, "measures_escalated": 0}  # 3 days left: due soon
    assert run(0) == {"measures_reminded": 0, "measures_escalated": 0}  # same day: idempotent
    assert run(4) == {"measures_reminded": 1, "measures_escalated": 1}  # overdue: owner + manager
    assert second.display_status(clock.today()) == "overdue" and first.display_status(clock.today()) == "done"
    assert run(1) == {"measures_reminded": 1, "measures_escalated": 0}  # escalated once only
    kinds = Counter(session.scalars(select(Notification.kind).where(Notification.kind.like("measure%"))))
    assert kinds == {
        "measure_assigned": 2,
        "measure_due_soon": 1,
        "measure_overdue": 2,
        "measures_escalated": 1,
    }
    escalated = session.scalars(select(AuditEvent).where(AuditEvent.action == "measure.escalated")).all()
    assert [e.changes["measure_id"] for e in escalated] == [second.id]


# ---- the evaluation on a hand-checked fixture --------------------------------------------


def test_evaluation_numbers_on_a_hand_checked_fixture(session, planning_cycle, staff):
    """Targets: the demo's 57, of which 6 held out (10%) and 51 given to advisors; 12 surveys
    closed (6 high_price, 6 too_far). Back after contact: 2 high_price + 1 too_far closed
    surveys (one of them twice), 1 open task, 2 holdout targets; 1 closed survey came back
    only *before* its contact (does not count)."""
    manager, admin = staff("manager"), Actor.person(staff("admin"))
    cycle = session.get(MonthlyCycle, planning_cycle)
    plan = plans.current_plan(session=session, cycle_id=cycle.id)
    for m in plan.measures:
        plans.update_measure(
            session=session, measure_id=m.id, actor_staff=manager, estimated_cost=Decimal("1000")
        )
    _approve(session, plan.id, manager)
    plans.execute_plan(session=session, cycle_id=cycle.id, actor=admin)
    session.commit()

    targets = {t.id: t for t in session.scalars(select(Target).where(Target.cycle_id == cycle.id))}
    held = sorted(t for t, row in targets.items() if row.holdout)
    tasks = list(
        session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == cycle.id).order_by(SurveyTask.id))
    )
    assert (len(targets), len(held), len(tasks)) == (57, 6, 51)
    closed = [t for t in tasks if t.status.value == "done"]
    price = [t for t in closed if t.reasons[0].reason_code.code == "high_price"]
    far = [t for t in closed if t.reasons[0].reason_code.code == "too_far"]
    open_task = next(t for t in tasks if t.status.value == "open")

    day = clock.today()  # one week after the contacts

    def visit(target_id: int, ro: str, when: date, amount: str) -> None:
        customers.add_visit(
            session=session,
            store_id=cycle.store_id,
            vehicle_id=targets[target_id].vehicle_id,
            ro_number=ro,
            visit_date=when,
            category="保养",
            amount=Decimal(amount),
            actor=admin,
        )

    voucher = plans.offer_voucher(
        session=session, target_id=price[0].target_id, actor_staff=price[0].assignee
    )
    assert voucher.amount == Decimal("500")
    plans.offer_voucher(
        session=session, target_id=far[3].target_id, actor_staff=far[3].assignee, amount=Decimal("300")
    )  # never redeemed: no cost
    with pytest.raises(Conflict):
        plans.offer_voucher(session=session, target_id=held[0], actor_staff=manager)
    # The price measure is done two days after the contacts (a returned customer counts for it
    # only after that day); the distance measure is never done, so it is credited with nobody.
    measures = {m.reasons[0].code if m.reasons else m.reason_code.code: m for m in plan.measures}
    clock.set_now(clock.now() + timedelta(days=2))
    plans.set_measure_status(
        session=session,
        measure_id=measures["high_price"].id,
        status=MeasureStatus.done,
        evidence="工时八折已上线",
        actor_staff=manager,
    )
    clock.set_now(clock.now() - timedelta(days=2))
    visit(price[0].target_id, "E1", day + timedelta(days=10), "800.00")
    visit(price[0].target_id, "E2", day + timedelta(days=40), "200.00")
    visit(price[1].target_id, "E3", day + timedelta(days=12), "1500.50")
    visit(far[0].target_id, "E4", day + timedelta(days=20), "300.00")
    visit(far[1].target_id, "E5", date(2026, 11, 1), "999.00")  # before the contact
    visit(open_task.target_id, "E6", day + timedelta(days=15), "450.00")
    visit(held[0], "H1", day + timedelta(days=11), "600.00")
    visit(held[1], "H2", day + timedelta(days=30), "700.00")
    plans.record_callback(
        session=session,
        target_id=price[0].target_id,
        satisfaction=5,
        note="满意",
        actor_staff=price[0].assignee,
    )
    plans.record_callback(
        session=session, target_id=far[0].target_id, satisfaction=2, note=None, actor_staff=far[0].assignee
    )
    with pytest.raises(InvalidInput):
        plans.record_callback(
            session=session,
            target_id=price[1].target_id,
            satisfaction=6,
            note=None,
            actor_staff=price[1].assignee,
        )
    session.commit()

    clock.set_now(cycle.evaluation_due_at + timedelta(hours=1))
    ev = evaluation.evaluate_cycle(session=session, cycle_id=cycle.id, actor=admin)
    session.commit()
    assert (ev.targets, ev.contacted, ev.vehicles_back, ev.workshop_entries) == (57, 12, 3, 4)
    assert ev.output_value == Decimal("2800.50")
    assert ev.winback_rate_pct == 25.0  # 3 / 12
    assert ev.measure_cost == Decimal("2000") and ev.voucher_cost == Decimal("500")
    assert (ev.satisfaction_avg, ev.satisfaction_n) == (3.5, 2)
    # holdout vs everyone given to an advisor, same window: 4/51 (3 closed + 1 open) vs 2/6
    h = ev.holdout
    assert (h["treated"], h["treated_back"], h["holdout"], h["holdout_back"]) == (51, 4, 6, 2)
    assert (h["treated_rate_pct"], h["holdout_rate_pct"]) == (7.8, 33.3)
    d, low, high = newcombe_diff(4, 51, 2, 6)
    assert (h["lift_pct"], h["lift_ci_low_pct"], h["lift_ci_high_pct"]) == (
        round(100 * d, 1),
        round(100 * low, 1),
        round(100 * high, 1),
    )
    assert h["lift_pct"] == -25.5 and h["lift_ci_low_pct"] < 0 < h["lift_ci_high_pct"]
    # per advisor: contacted, came back, shortfall against 20% at 20 yuan, and the lift
    assert sum(a["assigned"] for a in ev.per_advisor) == 51
    for a in ev.per_advisor:
        mine = [t for t in closed if t.assignee_id == a["advisor_id"]]
        back_ids = {price[0].id, price[1].id, far[0].id}
        assert a["contacted"] == len(mine)
        assert a["came_back"] == sum(1 for t in mine if t.id in back_ids)
        # the shortfall counts every target assigned, closed or not (the open task's return too)
        assigned = [t for t in tasks if t.assignee_id == a["advisor_id"]]
        back_all = sum(1 for t in assigned if t.id in back_ids or t.id == open_task.id)
        assert (a["assigned"], a["assigned_back"]) == (len(assigned), back_all)
        need = -(-len(assigned) * 20 // 100)
        assert a["needed_customers"] == need
        assert a["shortfall_customers"] == max(0, need - back_all)
        assert a["shortfall_yuan"] == 20 * a["shortfall_customers"]
        assert a["lift_pct"] == round(100 * (a["assigned_back"] / a["assigned"] - 2 / 6), 1)
    # reason -> measure -> outcome: the price measure moved the two price customers, etc.
    credited = {m["reasons"][0]: m for m in ev.per_measure}
    assert credited["high_price"]["customers_back"] == 2
    assert credited["high_price"]["customer_ids"] == sorted([price[0].customer_id, price[1].customer_id])
    assert credited["high_price"]["done_on"] == (day + timedelta(days=2)).isoformat()
    # far[0] came back, but the distance measure was never done: no credit
    assert credited["too_far"]["customers_back"] == 0 and credited["too_far"]["done_on"] is None
    # the voucher was redeemed by the first repair order after the offer
    session.refresh(voucher)
    assert voucher.redeemed_on == day + timedelta(days=10)
    assert session.get(Target, price[0].target_id).came_back_on == day + timedelta(days=10)
    assert session.get(MonthlyCycle, cycle.id).stage == CycleStage.evaluated
    # KPIs are there and consistent
    k = ev.kpis
    assert 0 <= k["first_maintenance_return_pct"] <= 100 and k["active_vehicles"] > 0
    assert ev.churn_rate_pct == k["churn_rate_pct"]
    assert sum(s["vehicles"] for s in k["churn_by_segment"]["grade"].values()) == k["active_vehicles"]
    # the quarterly trend against an earlier cycle (2026-08, Q3: 10/40 treated vs 1/5 holdout back)
    from winback.evaluation.models import Evaluation

    earlier = MonthlyCycle(
        store_id=cycle.store_id,
        month="2026-08",
        stage=CycleStage.evaluated,
        settings=cycle.settings,
        as_of=date(2026, 8, 1),
        started_at=clock.now(),
    )
    session.add(earlier)
    session.flush()
    session.add(
        Evaluation(
            store_id=cycle.store_id,
            cycle_id=earlier.id,
            computed_at=clock.now(),
            targets=45,
            contacted=30,
            vehicles_back=6,
            workshop_entries=6,
            output_value=Decimal("0"),
            measure_cost=Decimal("0"),
            winback_rate_pct=20.0,
            target_pct=20.0,
            churn_rate_pct=30.0,
            holdout={"treated": 40, "treated_back": 10, "holdout": 5, "holdout_back": 1},
            per_advisor=[{"advisor": a["advisor"], "shortfall_yuan": 40.0} for a in ev.per_advisor],
            per_measure=[],
        )
    )
    session.commit()
    trend = evaluation.trend(session=session, store_id=cycle.store_id)
    assert [q["quarter"] for q in trend] == ["2026-Q3", "2026-Q4"]
    q3, q4 = trend
    assert (q3["return_rate_pct"], q3["churn_rate_pct"], q3["lift_pct"]) == (20.0, 30.0, 5.0)  # 25% - 20%
    assert q4["lift_pct"] == h["lift_pct"] and q4["return_rate_pct"] == 25.0
    assert q4["shortfall_yuan"] == {a["advisor"]: a["shortfall_yuan"] for a in ev.per_advisor}
    assert set(q3["shortfall_yuan"].values()) == {40.0}


# ---- the pages: plan versions, owners' reports, the report with its XLSX ---------------------


def test_plan_pages_and_the_evaluation_report(session, planning_cycle, staff):
    from io import BytesIO

    from fastapi.testclient import TestClient
    from openpyxl import load_workbook

    from app import create_app

    client = TestClient(create_app(), follow_redirects=False, headers={"Origin": "http://testserver"})

    def login(username: str) -> None:
        client.cookies.clear()
        assert (
            client.post("/login", data={"username": username, "password": "winback-demo"}).status_code == 303
        )

    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    measure = plan.measures[0]
    login("manager")
    # a bad number re-shows the form with the message and the user's input kept on the page
    r = client.post(
        f"/measures/{measure.id}",
        data={"plan_id": plan.id, "expected_value": "三十", "reasons": ["high_price", "too_far"]},
    )
    assert r.status_code == 200 and 'role="alert"' in r.text
    r = client.post(
        f"/measures/{measure.id}",
        data={
            "plan_id": plan.id,
            "expected_value": "25",
            "expected_unit": "台回厂",
            "reasons": ["high_price", "too_far"],
            "owner_id": str(staff("supervisor").id),
        },
    )
    assert r.status_code == 303
    session.expire_all()
    assert {r.code for r in measure.reasons} == {"high_price", "too_far"} and measure.expected_value == 25
    assert client.post(f"/plans/{plan.id}/submit").status_code == 303
    assert (
        client.post(f"/plans/{plan.id}/decide", data={"decision": "approve", "comment": "同意"}).status_code
        == 303
    )
    r = client.post(f"/plans/{plan.id}/amend", data={"reason": "增加预算"})
    assert r.status_code == 303
    v2 = plans.current_plan(session=session, cycle_id=planning_cycle)
    assert r.headers["location"] == f"/plans/{v2.id}" and v2.version == 2
    r = client.post(
        "/measure-library", data={"reason_code": "too_far", "title": "流动服务车", "estimated_cost": "很多"}
    )
    assert r.status_code == 200 and 'role="alert"' in r.text and 'value="流动服务车"' in r.text
    assert (
        client.post(
            "/measure-library",
            data={"reason_code": "too_far", "title": "流动服务车", "estimated_cost": "800"},
        ).status_code
        == 303
    )
    assert "流动服务车" in client.get("/measure-library").text
    assert "对照组（不联系）" in client.get(f"/cycles/{planning_cycle}").text  # the holdout, shown as such
    page = client.get(f"/plans/{v2.id}").text
    assert "草稿" in page and f"/plans/{plan.id}/compare/{v2.id}" in page and "针对的流失原因" in page
    assert "修改" in client.get(f"/plans/{plan.id}/compare/{v2.id}").text

    # the owner reports on v1 (in force) with a file; an empty "done" is refused with a message
    login("supervisor")
    assert "我的整改措施" in client.get("/measures").text
    r = client.post(f"/measures/{measure.id}/status", data={"status": "done", "evidence": ""})
    assert r.status_code == 200 and "完成证明" in r.text and 'role="alert"' in r.text
    r = client.post(
        f"/measures/{measure.id}/status",
        data={"status": "done", "evidence": "已培训 12 人"},
        files={"attachment": ("sign-in.pdf", b"%PDF-1.4 sheet", "application/pdf")},
    )
    assert r.status_code == 303
    session.expire_all()
    assert measure.status == MeasureStatus.done
    assert plans.attachments_of(session=session, measure_id=measure.id)[0].filename == "sign-in.pdf"

    # three months on: evaluation, report page (Chinese, print CSS, charts) and the XLSX
    cycle = session.get(MonthlyCycle, planning_cycle)
    plans.execute_plan(session=session, cycle_id=cycle.id, actor=Actor.system())
    session.commit()
    login("advisor1")
    assert client.get(f"/cycles/{cycle.id}/report").status_code == 403  # advisors do not see the report
    login("manager")
    assert client.get(f"/cycles/{cycle.id}/report").status_code == 404  # not evaluated yet
    clock.set_now(cycle.evaluation_due_at + timedelta(hours=1))
    ev = evaluation.evaluate_cycle(session=session, cycle_id=cycle.id, actor=Actor.system())
    session.commit()
    login("manager")  # three months later: a new log-in (sessions end after idle time)
    page = client.get(f"/cycles/{cycle.id}/report").text
    assert (
        "效果评估报告" in page
        and "对照组（不联系）" in page
        and "/static/report.css" in page
        and "<svg" in page
    )
    assert f"{ev.holdout['holdout_rate_pct']}%" in page
    r = client.get(f"/cycles/{cycle.id}/report.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(r.content))
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(values_only=True)}
    assert summary["调查对象"] == ev.targets == 57
    assert summary["对照组"] == 6 and summary["已回访"] == 12
    assert [row[0] for row in wb["趋势"].iter_rows(min_row=2, values_only=True)] == ["2026-Q4"]
    api = client.get(f"/api/cycles/{cycle.id}/evaluation.xlsx")
    assert api.status_code == 200 and load_workbook(BytesIO(api.content))["Advisors"].max_row == 1 + len(
        ev.per_advisor
    )
    assert client.get("/api/evaluation/trend").json()[0]["quarter"] == "2026-Q4"


def test_followup_page_records_vouchers_and_callbacks(session, planning_cycle, staff):
    from fastapi.testclient import TestClient

    from app import create_app

    task = session.scalars(
        select(SurveyTask)
        .where(SurveyTask.cycle_id == planning_cycle, SurveyTask.status == "done")
        .order_by(SurveyTask.id)
    ).first()
    advisor = task.assignee.username
    client = TestClient(create_app(), follow_redirects=False, headers={"Origin": "http://testserver"})
    client.post("/login", data={"username": advisor, "password": "winback-demo"})
    page = client.get(f"/cycles/{planning_cycle}/followup").text
    assert task.target.customer.name in page and "回厂跟进" in page
    others = session.scalars(
        select(SurveyTask).where(
            SurveyTask.cycle_id == planning_cycle, SurveyTask.assignee_id != task.assignee_id
        )
    ).all()
    assert all(o.target.customer.name not in page for o in others if o.status.value == "done")  # only mine
    r = client.post(
        f"/targets/{task.target_id}/vouchers", data={"cycle_id": planning_cycle, "amount": "五百"}
    )
    assert r.status_code == 200 and 'role="alert"' in r.text
    r = client.post(f"/targets/{task.target_id}/vouchers", data={"cycle_id": planning_cycle, "amount": "500"})
    assert r.status_code == 303
    assert (
        "callback" not in client.get(f"/cycles/{planning_cycle}/followup").text
    )  # not back yet: no callback form
    customers.add_visit(
        session=session,
        store_id=task.store_id,
        vehicle_id=task.target.vehicle_id,
        ro_number="F1",
        visit_date=clock.today() + timedelta(days=1),
        category="保养",
        amount=Decimal("100"),
        actor=Actor.system(),
    )
    session.commit()
    assert f"/targets/{task.target_id}/callback" in client.get(f"/cycles/{planning_cycle}/followup").text
    r = client.post(
        f"/targets/{task.target_id}/callback", data={"cycle_id": planning_cycle, "satisfaction": "9"}
    )
    assert r.status_code == 200 and "满意度为 1 到 5 分" in r.text
    r = client.post(
        f"/targets/{task.target_id}/callback",
        data={"cycle_id": planning_cycle, "satisfaction": "4", "note": "服务不错"},
    )
    assert r.status_code == 303
    session.expire_all()
    v = plans.vouchers_of(session=session, cycle_id=planning_cycle)
    assert [(x.target_id, x.amount) for x in v] == [(task.target_id, Decimal("500"))]
    page = client.get(f"/cycles/{planning_cycle}/followup").text
    assert "4/5" in page and "已发放" in page
