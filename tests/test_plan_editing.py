"""The manager's plan page and API: the whole plan in one form (two edited cards and a submit
keep both edits), measures added, removed and reordered from the page and the API (only while
the plan is editable, each step audited), evidence files downloadable by the plan's readers,
and the current decision shown apart from the earlier ones."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from tests.pages import PASSWORD, login
from winback import clock
from winback.audit.models import AuditEvent
from winback.plans import service as plans
from winback.plans.models import PlanStatus


def _card(m, **changes) -> dict:
    """The posted fields of one measure card as the page sends them (m<id>-<field>)."""
    fields = {
        "title": m.title,
        "owner_id": str(m.owner_id),
        "due_date": m.due_date.isoformat() if m.due_date else "",
        "expected_effect": m.expected_effect or "",
        "expected_value": str(m.expected_value or ""),
        "expected_unit": m.expected_unit or "",
        "estimated_cost": str(m.estimated_cost or ""),
    } | changes
    data = {f"m{m.id}-{k}": v for k, v in fields.items()}
    data[f"m{m.id}-reasons"] = [r.code for r in m.reasons]
    return data


def _plan_form(plan, action: str, **per_measure) -> dict:
    data: dict = {"measure": [str(m.id) for m in plan.measures], "action": action}
    for m in plan.measures:
        data |= _card(m, **per_measure.get(f"m{m.id}", {}))
    return data


def _actions(session, plan_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "plan", AuditEvent.entity_id == plan_id)
            .order_by(AuditEvent.id)
        )
    )


def test_two_edited_cards_and_submit_keep_both_edits(session, planning_cycle, staff, client):
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    first, second = plan.measures[:2]
    login(client, "manager")
    page = client.get(f"/plans/{plan.id}").text
    # one form; every card's fields and every button belong to it
    assert page.count('id="plan-form"') == 1 and 'form="plan-form" name="action" value="submit"' in page
    assert f'name="m{first.id}-title" form="plan-form"' in page
    due = (clock.today() + timedelta(days=40)).isoformat()
    data = _plan_form(
        plan,
        "submit",
        **{
            f"m{first.id}": {"estimated_cost": "3000"},
            f"m{second.id}": {"title": "上门取送车", "due_date": due},
        },
    )
    r = client.post(f"/plans/{plan.id}/measures", data=data)
    assert r.status_code == 303, r.text
    session.expire_all()
    assert plan.status == PlanStatus.submitted
    assert first.estimated_cost == 3000
    assert second.title == "上门取送车" and second.due_date == date.fromisoformat(due)
    assert _actions(session, plan.id)[-3:] == ["measure.updated", "measure.updated", "plan.submitted"]
    # submitted: the page shows no editable card any more, and the API refuses edits
    page = client.get(f"/plans/{plan.id}").text
    assert 'id="plan-form"' not in page and "等待" in page


def test_a_refused_field_keeps_every_card_as_typed_and_saves_nothing(
    session,
    planning_cycle,
    staff,
    client,
):
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    first, second = plan.measures[:2]
    login(client, "manager")
    data = _plan_form(
        plan,
        "submit",
        **{f"m{first.id}": {"title": "经理回访流失客户"}, f"m{second.id}": {"estimated_cost": "很多"}},
    )
    r = client.post(f"/plans/{plan.id}/measures", data=data)
    assert r.status_code == 200 and 'role="alert"' in r.text
    assert 'value="经理回访流失客户"' in r.text and 'value="很多"' in r.text  # both cards as typed
    session.expire_all()
    assert plan.status == PlanStatus.draft and first.title != "经理回访流失客户"


def test_add_move_and_remove_a_measure_from_the_page(session, planning_cycle, staff, client):
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    before = [m.id for m in plan.measures]
    login(client, "manager")
    due = (clock.today() + timedelta(days=30)).isoformat()
    data = _plan_form(plan, "add") | {
        "new-title": "Kicks 召回活动",
        "new-area": "service",
        "new-owner_id": str(staff("supervisor").id),
        "new-due_date": due,
        "new-estimated_cost": "5000",
        "new-reason_code": "",
    }
    r = client.post(f"/plans/{plan.id}/measures", data=data)
    assert r.status_code == 303
    session.expire_all()
    added = plan.measures[-1]
    assert added.title == "Kicks 召回活动" and added.owner_id == staff("supervisor").id
    assert added.estimated_cost == 5000 and [m.id for m in plan.measures] == [*before, added.id]
    assert "Kicks 召回活动" in client.get(f"/plans/{plan.id}").text
    # a new measure without a due date is refused with a message, the title kept
    r = client.post(f"/plans/{plan.id}/measures", data=_plan_form(plan, "add") | {"new-title": "试驾日"})
    assert r.status_code == 200 and 'role="alert"' in r.text and 'value="试驾日"' in r.text
    # up one place
    r = client.post(f"/plans/{plan.id}/measures", data=_plan_form(plan, f"up:{added.id}"))
    assert r.status_code == 303 and r.headers["location"].endswith(f"#measure-{added.id}")
    session.expire_all()
    assert [m.id for m in plan.measures] == [*before[:-1], added.id, before[-1]]
    # removed: gone from the plan, the audit trail says what it was
    r = client.post(f"/plans/{plan.id}/measures", data=_plan_form(plan, f"remove:{added.id}"))
    assert r.status_code == 303
    session.expire_all()
    assert [m.id for m in plan.measures] == before
    removed = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "measure.removed", AuditEvent.entity_id == plan.id)
    )
    assert removed.changes["title"] == "Kicks 召回活动"
    # an advisor cannot
    login(client, "advisor1")
    assert client.post(f"/plans/{plan.id}/measures", data=_plan_form(plan, "add")).status_code == 403


def test_add_reorder_and_remove_a_measure_through_the_api(session, planning_cycle, staff, client):
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    before = [m.id for m in plan.measures]
    client.post("/api/auth/login", json={"username": "manager", "password": PASSWORD})
    due = (clock.today() + timedelta(days=30)).isoformat()
    body = {
        "title": "Kicks 召回活动",
        "area": "service",
        "owner_id": staff("supervisor").id,
        "due_date": due,
        "reason_code": "too_far",
        "estimated_cost": "5000",
    }
    r = client.post(f"/api/plans/{plan.id}/measures", json=body)
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["title"] == "Kicks 召回活动" and added["owner_id"] == staff("supervisor").id
    assert added["reasons"] == ["too_far"] and Decimal(added["estimated_cost"]) == 5000
    assert (
        client.post(f"/api/plans/{plan.id}/measures", json=body | {"reason_code": "nope"}).status_code == 422
    )
    assert client.post(f"/api/plans/{plan.id}/measures", json=body | {"title": ""}).status_code == 422
    order = [added["id"], *before]
    r = client.put(f"/api/plans/{plan.id}/measure-order", json={"measure_ids": order})
    assert r.status_code == 200 and [m["id"] for m in r.json()["measures"]] == order
    r = client.put(f"/api/plans/{plan.id}/measure-order", json={"measure_ids": before})
    assert r.status_code == 422  # every measure, once each
    r = client.delete(f"/api/measures/{added['id']}")
    assert r.status_code == 200 and [m["id"] for m in r.json()["measures"]] == before
    assert client.delete(f"/api/measures/{added['id']}").status_code == 404
    assert _actions(session, plan.id)[-3:] == ["measure.added", "measures.reordered", "measure.removed"]
    # once submitted, the plan is locked: no measure added or removed
    assert client.post(f"/api/plans/{plan.id}/submit").status_code == 200
    assert client.post(f"/api/plans/{plan.id}/measures", json=body).status_code == 409
    assert client.delete(f"/api/measures/{before[0]}").status_code == 409
    # the supervisor is not a manager
    client.post("/api/auth/login", json={"username": "supervisor", "password": PASSWORD})
    assert client.post(f"/api/plans/{plan.id}/measures", json=body).status_code == 403
    assert "/api/plans/{plan_id}/measures" in client.get("/openapi.json").json()["paths"]


def test_evidence_files_and_the_current_decision(session, planning_cycle, staff, client):
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    manager = staff("manager")
    login(client, "manager")
    plans.submit_plan(session=session, plan_id=plan.id, actor_staff=manager)
    plans.decide_plan(
        session=session, plan_id=plan.id, approve=False, comment="成本太高", actor_staff=manager
    )
    plans.submit_plan(session=session, plan_id=plan.id, actor_staff=manager)
    session.commit()
    page = client.get(f"/plans/{plan.id}").text
    current = page.split('class="note current">')[1].split("</p>")[0]
    assert "等待" in current and "成本太高" not in current  # the rejection is not the pending decision
    assert "成本太高" in page.split('<details class="history">')[1]  # it is history, below
    plans.decide_plan(session=session, plan_id=plan.id, approve=True, comment="同意执行", actor_staff=manager)
    session.commit()
    page = client.get(f"/plans/{plan.id}").text
    current = page.split('class="note current">')[1].split("</p>")[0]
    assert "已批准" in current and "同意执行" in current
    # the owner reports with a file; the plan's readers see it and download it
    measure = plan.measures[0]
    r = client.post(
        f"/measures/{measure.id}/status",
        data={"status": "done", "evidence": "已培训 12 人", "back": f"/plans/{plan.id}"},
        files={"attachment": ("签到表.pdf", b"%PDF-1.4 sheet", "application/pdf")},
    )
    assert r.status_code == 303
    attachment = plans.attachments_of(session=session, measure_id=measure.id)[0]
    link = f"/measures/{measure.id}/attachments/{attachment.id}"
    for reader in ("manager", "auditor", "supervisor"):
        login(client, reader)
        assert link in client.get(f"/plans/{plan.id}").text, reader
        got = client.get(link)
        assert got.status_code == 200 and got.content == b"%PDF-1.4 sheet"
        assert got.headers["content-disposition"].startswith("attachment;")
    assert client.get(f"/measures/{plan.measures[1].id}/attachments/{attachment.id}").status_code == 404
    # an amendment's page shows the evidence of the version it amends
    login(client, "manager")
    v2 = plans.amend_plan(session=session, plan_id=plan.id, actor_staff=manager, reason="加预算")
    session.commit()
    assert link in client.get(f"/plans/{v2.id}").text
