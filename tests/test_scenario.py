"""One whole monthly cycle on the demo data, through the HTTP API, with the clock moved.

screen → assign → advisors close all tasks but one → a week later the watcher escalates the
open one, tallies and drafts the plan → the manager rejects once, then approves → measures
go to their owners → three months later the evaluation counts the customers who came back.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from winback import clock
from winback.accounts.models import Staff
from winback.notifications.models import Notification, NotificationStatus

pytestmark = pytest.mark.flow

REASONS = ["high_price", "too_far", "poor_attitude"]


def login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = client.post("/api/auth/login", json={"username": username, "password": "winback-demo"})
    assert r.status_code == 200, r.text


def kinds(webhook) -> Counter:
    return Counter(m["title"] for m in webhook.delivered)


def test_whole_cycle(db_url, demo_store, session, prefect_harness, webhook, monkeypatch):
    from app import create_app

    monkeypatch.setenv("WINBACK_INLINE_FLOWS", "1")  # launches finish before the request returns
    session.execute(update(Staff).values(apprise_url=webhook.url))
    session.commit()
    client = TestClient(create_app(), headers={"Origin": "http://testserver"})

    # -- the admin starts the month; screening and assignment run as Prefect flows --------
    login(client, "admin")
    r = client.post("/api/cycles", json={"month": "2026-11"})
    assert r.status_code == 202, r.text
    assert r.json()["flow_run"]["prefect_flow_run_id"]
    cycles = client.get("/api/cycles").json()
    assert len(cycles) == 1
    cycle_id = cycles[0]["id"]
    cycle = client.get(f"/api/cycles/{cycle_id}").json()
    assert cycle["stage"] == "surveying"
    targets = client.get(f"/api/cycles/{cycle_id}/targets", params={"limit": 500}).json()
    tasks = client.get(f"/api/cycles/{cycle_id}/tasks", params={"limit": 500}).json()
    held = [t for t in targets["items"] if t["holdout"]]
    assert held and targets["total"] - len(held) == tasks["total"] > 10  # the holdout gets no task
    assert not {t["id"] for t in held} & {t["target_id"] for t in tasks["items"]}
    assert all(t["months_since_visit"] >= 6 for t in targets["items"])
    assert {t["band"] for t in targets["items"]} == {"at_risk", "lost"}
    completed = {run["flow"] for run in cycle["flow_runs"] if run["state"] == "completed"}
    assert {"archive_cleanup", "screen_targets", "analyze_profiles", "assign_surveys"} <= completed
    due = {t["due_at"] for t in tasks["items"]}
    assert len(due) == 1  # one deadline for the month's list: assigned + 7 days
    # every advisor with tasks got one "new tasks" message, delivered for real
    assignees = Counter(t["assignee"] for t in tasks["items"])
    assert kinds(webhook)["新的回访任务"] == len(assignees)
    assert "zhaolei" not in assignees  # the advisor who left gets nothing

    # -- advisors close all but one task through the API ---------------------------------
    left_open = None
    closed: dict[int, str] = {}
    for advisor in sorted(assignees):
        login(client, advisor)
        mine = client.get("/api/tasks/mine").json()
        assert len(mine) == assignees[advisor]
        for i, task in enumerate(mine):
            if left_open is None:
                left_open = task["id"]
                continue
            reason = REASONS[len(closed) % len(REASONS)]
            r = client.post(
                f"/api/tasks/{task['id']}/close",
                json={
                    "method": "phone",
                    "contact_outcome": "reached",
                    "reasons": [reason],
                    "serviced_elsewhere": reason == "high_price",
                    "elsewhere_where": "路边快修店" if reason == "high_price" else None,
                },
            )
            assert r.status_code == 200, r.text
            closed[task["id"]] = reason
        # closing someone else's task is refused
        other = next(t for t in tasks["items"] if t["assignee"] != advisor)
        r = client.post(f"/api/tasks/{other['id']}/close", json={"reasons": ["other"]})
        assert r.status_code in (403, 409)
    assert len(closed) == tasks["total"] - 1
    # a second close of the same task: the first one won
    r = client.post(f"/api/tasks/{next(iter(closed))}/close", json={"reasons": ["other"]})
    assert r.status_code in (403, 409)

    # -- a week later the watcher escalates the open task and the cycle goes on ----------
    clock.set_now(clock.now() + timedelta(days=8))
    login(client, "admin")
    webhook.clear()
    assert client.post("/api/watch").status_code == 202
    cycle = client.get(f"/api/cycles/{cycle_id}").json()
    assert cycle["stage"] == "planning"
    tally = cycle["tally"]
    assert tally["done"] == len(closed) and tally["open_at_tally"] == 1
    assert tally["reasons"] == dict(Counter(closed.values()))
    assert tally["serviced_elsewhere"] == sum(1 for r in closed.values() if r == "high_price")
    assert kinds(webhook)["逾期回访任务上报"] == 1  # the supervisor's digest
    assert kinds(webhook)["回访任务已逾期"] == 1  # the advisor's own reminder
    open_task = client.get(f"/api/tasks/{left_open}").json()
    assert open_task["status"] == "open"

    # -- the plan: drafted from the tally, rejected once, then approved ------------------
    login(client, "manager")
    plan = client.get(f"/api/cycles/{cycle_id}/plan").json()
    assert plan["status"] == "draft"
    assert sorted(m["reason"] for m in plan["measures"]) == sorted(set(closed.values()))
    staff = {s.username: s.id for s in session.scalars(select(Staff))}
    first = plan["measures"][0]
    r = client.patch(
        f"/api/measures/{first['id']}",
        json={
            "owner_id": staff["supervisor"],
            "due_date": "2026-12-31",
            "expected_effect": "回厂 10 台",
            "estimated_cost": "5000",
        },
    )
    assert r.status_code == 200 and r.json()["owner"] == "supervisor"
    r = client.patch(f"/api/measures/{first['id']}", json={"due_date": "2020-01-01"})
    assert r.status_code == 422 and r.json()["field"] == "due_date"
    assert client.post(f"/api/plans/{plan['id']}/submit").json()["status"] == "submitted"
    r = client.post(f"/api/plans/{plan['id']}/reject", json={"comment": ""})
    assert r.status_code == 422  # a rejection says why
    r = client.post(f"/api/plans/{plan['id']}/reject", json={"comment": "价格措施成本太高，请重算"})
    assert r.json()["status"] == "rejected" and r.json()["decision_comment"].startswith("价格")
    r = client.patch(f"/api/measures/{first['id']}", json={"estimated_cost": "3000"})
    assert r.status_code == 200
    assert client.post(f"/api/plans/{plan['id']}/submit").json()["status"] == "submitted"
    webhook.clear()
    r = client.post(f"/api/plans/{plan['id']}/approve", json={"comment": "同意"})
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_by"] == "manager"
    r = client.patch(f"/api/measures/{first['id']}", json={"estimated_cost": "1"})
    assert r.status_code == 409  # an approved plan is locked
    cycle = client.get(f"/api/cycles/{cycle_id}").json()
    assert cycle["stage"] == "executing"
    assert cycle["evaluation_due_at"] is not None
    owners = Counter(m["owner"] for m in plan["measures"][1:]) + Counter(["supervisor"])
    assert kinds(webhook)["整改措施责任分配"] == sum(owners.values())

    # -- customers come back: the DMS pushes their repair orders -------------------------
    login(client, "admin")
    returned = [t for t in tasks["items"] if t["id"] in closed][:3]
    amounts = [Decimal("880.00"), Decimal("1500.50"), Decimal("320.00")]
    for i, (task, amount) in enumerate(zip(returned, amounts)):
        r = client.post(
            "/api/visits",
            json={
                "vin": task["vehicle"]["vin"],
                "ro_number": f"RO-BACK-{i}",
                "visit_date": "2026-12-05",
                "category": "保养",
                "amount": str(amount),
            },
        )
        assert r.status_code == 201, r.text
    # a 500-yuan labour voucher was offered to the first before the visit; the holdout gets none
    login(client, returned[0]["assignee"])
    r = client.post(f"/api/targets/{returned[0]['target_id']}/vouchers", json={"amount": "500"})
    assert r.status_code == 201, r.text
    assert client.post(f"/api/targets/{held[0]['id']}/vouchers", json={}).status_code == 409
    login(client, "admin")
    # the same repair order twice is one visit
    r = client.post(
        "/api/visits",
        json={
            "vin": returned[0]["vehicle"]["vin"],
            "ro_number": "RO-BACK-0",
            "visit_date": "2026-12-05",
            "category": "保养",
            "amount": "880",
        },
    )
    assert r.status_code == 201

    # -- not yet three months: the watcher leaves the cycle alone -----------------------
    clock.set_now(clock.now() + timedelta(days=30))
    login(client, "admin")  # a month later: yesterday's session has ended (idle timeout)
    client.post("/api/watch")
    assert client.get(f"/api/cycles/{cycle_id}").json()["stage"] == "executing"
    assert client.get(f"/api/cycles/{cycle_id}/evaluation").status_code == 404

    # -- three months after execution started: the evaluation ----------------------------
    clock.set_now(clock.now() + timedelta(days=65))
    login(client, "admin")
    webhook.clear()
    client.post("/api/watch")
    # the measures' due dates passed: owners reminded, the manager gets one escalation digest
    assert kinds(webhook)["逾期整改措施上报"] == 1
    assert kinds(webhook)["整改措施已逾期"] == len(plan["measures"])
    login(client, "manager")
    cycle = client.get(f"/api/cycles/{cycle_id}").json()
    assert cycle["stage"] == "evaluated"
    ev = client.get(f"/api/cycles/{cycle_id}/evaluation").json()
    assert ev["targets"] == targets["total"]
    assert ev["contacted"] == len(closed)
    assert ev["vehicles_back"] == 3
    assert ev["workshop_entries"] == 3
    assert Decimal(ev["output_value"]) == sum(amounts)
    assert ev["winback_rate_pct"] == round(100 * 3 / len(closed), 1)
    assert Decimal(ev["measure_cost"]) == Decimal("3000")
    assert Decimal(ev["voucher_cost"]) == Decimal("500")  # redeemed by RO-BACK-0
    assert ev["holdout"]["holdout"] == len(held) and ev["holdout"]["treated"] == tasks["total"]
    assert ev["holdout"]["treated_back"] == 3 and ev["holdout"]["lift_pct"] is not None
    by_advisor = {a["advisor_id"]: a for a in ev["per_advisor"]}
    assert sum(a["contacted"] for a in by_advisor.values()) == len(closed)
    assert sum(a["came_back"] for a in by_advisor.values()) == 3
    assert sum(a["assigned"] for a in by_advisor.values()) == tasks["total"]
    for a in by_advisor.values():
        # the shortfall counts every target assigned, closed or not (issue 17)
        needed = -(-a["assigned"] * 20 // 100)  # ceil(20%)
        assert a["shortfall_customers"] == max(0, needed - a["assigned_back"])
        assert a["shortfall_yuan"] == a["shortfall_customers"] * 20
    # every measure went overdue, none was reported done: none is credited with a return
    assert {m["status"] for m in ev["per_measure"]} == {"overdue"}
    assert sum(m["customers_back"] for m in ev["per_measure"]) == 0

    # -- the trail: every step is there, with flow run ids for what flows did ------------
    login(client, "auditor")
    events = client.get(f"/api/audit/cycle/{cycle_id}").json()
    actions = [e["action"] for e in events]
    for action in ("cycle.started", "surveys.assigned", "surveys.escalated", "cycle.evaluated"):
        assert action in actions
    assert all(e["flow_run_id"] for e in events if e["actor"].startswith("flow:"))
    plan_events = [e["action"] for e in client.get(f"/api/audit/plan/{plan['id']}").json()]
    assert plan_events.count("plan.submitted") == 2
    assert plan_events.index("plan.rejected") < plan_events.index("plan.approved")
    task_events = client.get(f"/api/audit/task/{next(iter(closed))}").json()
    # the call that reached the customer (given with the close), then the close
    assert [e["action"] for e in task_events] == ["task.contact_attempt", "task.closed"]
    # nothing failed to send
    failed = session.scalar(select(Notification.id).where(Notification.status == NotificationStatus.failed))
    assert failed is None
