"""ORM objects to JSON-ready dicts (the API returns ids and plain values, never ORM objects)."""

from __future__ import annotations

from typing import Any

from winback import clock
from winback.audit.models import AuditEvent
from winback.customers import contact_masking, privacy
from winback.cycles.models import FlowRunRecord, MonthlyCycle
from winback.cycles.service import TargetLine
from winback.evaluation.models import Evaluation
from winback.plans.models import Measure, RectificationPlan, Voucher
from winback.surveys.models import SurveyTask
from winback.surveys.service import TaskView, view_of


def cycle(c: MonthlyCycle) -> dict[str, Any]:
    return {
        "id": c.id,
        "store": c.store.code,
        "month": c.month,
        "stage": c.stage.value,
        "as_of": c.as_of.isoformat(),
        "settings": c.settings,
        "survey_deadline_at": c.survey_deadline_at,
        "execution_started_at": c.execution_started_at,
        "evaluation_due_at": c.evaluation_due_at,
        "evaluated_at": c.evaluated_at,
        "tally": c.tally,
        "profile": c.profile,
        "cleanup": c.cleanup,
        "cancelled_at": c.cancelled_at,
        "cancel_reason": c.cancel_reason,
        "no_action_reason": c.no_action_reason,
    }


def flow_run(r: FlowRunRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "flow": r.flow_name,
        "prefect_flow_run_id": r.prefect_flow_run_id,
        "state": r.state.value,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "message": r.message,
    }


def target(t: TargetLine) -> dict[str, Any]:
    """A line of a cycle's target list (``cycles.targets_of``)."""
    return {
        "id": t.id,
        "customer_id": t.customer_id,
        "customer": t.customer,
        "vehicle_id": t.vehicle_id,
        "vin": t.vin,
        "plate": t.plate,
        "model": t.model,
        "band": t.band.value,
        "last_visit_date": t.last_visit_date.isoformat(),
        "months_since_visit": t.months_since_visit,
        "in_warranty": t.in_warranty,
        "visit_count": t.visit_count,
        "total_spend": str(t.total_spend),
        "came_back_on": t.came_back_on.isoformat() if t.came_back_on else None,
        "holdout": t.holdout,
    }


def task(t: TaskView | SurveyTask, viewer: Any = None) -> dict[str, Any]:
    """The task as ``viewer`` may see it: the phone masked unless they may see it. A task
    changed just now (an object) is shown through its view, as a task read is."""
    v = t if isinstance(t, TaskView) else view_of(t)
    return {
        "id": v.id,
        "cycle_id": v.cycle_id,
        "target_id": v.target_id,
        "status": v.status.value,
        "assignee_id": v.assignee_id,
        "assignee": v.assignee,
        "assigned_at": v.assigned_at,
        "due_at": v.due_at,
        "customer_id": v.customer_id,
        "customer": v.customer,
        "phone": privacy.phone_for(v.phone, viewer, v),
        "vehicle": {"vin": v.vin, "plate": v.plate, "model": v.model},
        "band": v.band.value,
        "method": v.method.value if v.method else None,
        "reasons": list(v.reasons),
        "serviced_elsewhere": v.serviced_elsewhere,
        "elsewhere_what": v.elsewhere_what,
        "elsewhere_where": v.elsewhere_where,
        "elsewhere_why": v.elsewhere_why,
        "elsewhere_kind": v.elsewhere_kind.value if v.elsewhere_kind else None,
        "reason_other": v.reason_other,
        "would_return": v.would_return,
        "appointment_on": v.appointment_on,
        "voucher_offered": v.voucher_offered,
        "complaint": v.complaint,
        "complaint_answer": v.complaint_answer,
        "notes": v.notes,
        "closed_at": v.closed_at,
        "follow_up_at": v.follow_up_at,
        "excluded_reason": v.excluded_reason,
        "draft_saved_at": v.draft_saved_at,
        "version": v.version,
        "carried_from_id": v.carried_from_id,
        "attempts": [
            {
                "at": a.at,
                "method": a.method.value,
                "outcome": a.outcome,
                "note": a.note,
                "call_back_at": a.call_back_at,
            }
            for a in v.attempts
        ],
    }


def task_summary(t: Any, viewer: Any = None) -> dict[str, Any]:
    """A line of a task list (``surveys.TaskSummary``); the whole task is ``task``."""
    return {
        "id": t.id,
        "cycle_id": t.cycle_id,
        "status": t.status.value,
        "band": t.band.value,
        "assignee_id": t.assignee_id,
        "due_at": t.due_at,
        "follow_up_at": t.follow_up_at,
        "draft_saved_at": t.draft_saved_at,
        "closed_at": t.closed_at,
        "version": t.version,
        "customer_id": t.customer_id,
        "customer": t.customer,
        "phone": privacy.phone_for(t.phone, viewer, t),
        "vehicle": {"vin": t.vin, "plate": t.plate, "model": t.model},
        "attempts": t.attempts,
    }


def contact_data(c: Any, history: list[Any], viewer: Any, task: Any) -> dict[str, Any]:
    """A customer's contact data after a correction from a task (numbers as ``viewer`` may see them)."""
    return {
        "customer_id": c.id,
        "phone": privacy.phone_for(c.phone, viewer, task),
        "phone_valid": c.phone_valid,
        "second_contact_name": c.second_contact_name,
        "second_contact_phone": privacy.phone_for(c.second_contact_phone, viewer, task),
        "do_not_call": c.do_not_call,
        "phone_history": [
            {
                "old_phone": privacy.phone_for(h.old_phone, viewer, task),
                "new_phone": privacy.phone_for(h.new_phone, viewer, task),
                "old_reported_wrong": h.old_reported_wrong,
                "note": h.note,
                "changed_at": h.changed_at.isoformat(),
            }
            for h in history
        ],
    }


def measure(m: Measure) -> dict[str, Any]:
    return {
        "id": m.id,
        "area": m.area.value,
        "title": m.title,
        "reason": m.reason_code.code if m.reason_code else None,
        "owner_id": m.owner_id,
        "owner": m.owner.username if m.owner else None,
        "due_date": m.due_date.isoformat() if m.due_date else None,
        "expected_effect": m.expected_effect,
        "estimated_cost": str(m.estimated_cost) if m.estimated_cost is not None else None,
        "status": m.status.value,
        "overdue": m.is_overdue(clock.today()),
        "reasons": sorted(r.code for r in m.reasons),
        "expected_value": str(m.expected_value) if m.expected_value is not None else None,
        "expected_unit": m.expected_unit,
        "lineage_id": m.lineage_id,
        "evidence": m.evidence,
        "done_at": m.done_at,
        "reminders": m.reminders,
        "escalated_at": m.escalated_at,
    }


def plan(p: RectificationPlan) -> dict[str, Any]:
    return {
        "id": p.id,
        "cycle_id": p.cycle_id,
        "version": p.version,
        "status": p.status.value,
        "amends_id": p.amends_id,
        "submitted_at": p.submitted_at,
        "decided_at": p.decided_at,
        "decided_by": p.decided_by.username if p.decided_by else None,
        "decision_comment": p.decision_comment,
        "measures": [measure(m) for m in p.measures],
    }


def evaluation(e: Evaluation) -> dict[str, Any]:
    return {
        "cycle_id": e.cycle_id,
        "computed_at": e.computed_at,
        "targets": e.targets,
        "contacted": e.contacted,
        "vehicles_back": e.vehicles_back,
        "workshop_entries": e.workshop_entries,
        "output_value": str(e.output_value),
        "measure_cost": str(e.measure_cost),
        "winback_rate_pct": e.winback_rate_pct,
        "target_pct": e.target_pct,
        "per_advisor": e.per_advisor,
        "per_measure": e.per_measure,
        "voucher_cost": str(e.voucher_cost),
        "satisfaction_avg": e.satisfaction_avg,
        "satisfaction_n": e.satisfaction_n,
        "holdout": e.holdout,
        "churn_rate_pct": e.churn_rate_pct,
        "kpis": e.kpis,
    }


def voucher(v: Voucher) -> dict[str, Any]:
    return {
        "id": v.id,
        "cycle_id": v.cycle_id,
        "target_id": v.target_id,
        "customer_id": v.customer_id,
        "measure_id": v.measure_id,
        "kind": v.kind,
        "amount": str(v.amount),
        "offered_at": v.offered_at,
        "expires_on": v.expires_on.isoformat() if v.expires_on else None,
        "redeemed_on": v.redeemed_on.isoformat() if v.redeemed_on else None,
    }


def audit_event(e: AuditEvent, viewer: Any) -> dict[str, Any]:
    """The event as ``viewer`` may read it: contact data in its changes masked unless they may
    see it (winback.customers.contact_masking)."""
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor_label,
        "action": e.action,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "changes": contact_masking.changes_for(e.changes, viewer),
        "flow_run_id": e.flow_run_id,
        "seq": e.seq,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def appointment(a) -> dict[str, Any]:
    return {
        "id": a.id,
        "task_id": a.task_id,
        "customer": a.customer.name,
        "plate": a.vehicle.plate,
        "day": a.day,
        "slot": a.slot,
        "service_type": a.service_type.value,
        "advisor_id": a.advisor_id,
        "advisor": a.advisor.display_name,
        "status": a.status.value,
        "visit_id": a.visit_id,
        "note": a.note,
    }


def complaint_case(c) -> dict[str, Any]:
    item = c.recall_item
    return {
        "id": c.id,
        "task_id": c.task_id,
        "customer": c.customer.name,
        "complaint": c.complaint,
        "status": c.status.value,
        "opened_at": c.opened_at,
        "owner_id": c.owner_id,
        "owner": c.owner.display_name if c.owner else None,
        "resolution": c.resolution,
        "resolved_at": c.resolved_at,
        "resolved_by_id": c.resolved_by_id,
        "resolved_by": c.resolved_by.display_name if c.resolved_by else None,
        "recall_due_on": item.due_on if item else None,
        "recall_status": item.status.value if item else None,
    }


def coded_voucher(v: Voucher, status: str) -> dict[str, Any]:
    return {
        "id": v.id,
        "code": v.code,
        "customer_id": v.customer_id,
        "kind": v.kind,
        "amount": str(v.amount),
        "expires_on": v.expires_on,
        "status": status,
        "redeemed_on": v.redeemed_on,
        "redeemed_ro": v.redeemed_ro,
    }
