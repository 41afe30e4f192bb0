"""JSON API routes: parse, authorize, call a service, serialize. No business rules here."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api import serializers as out
from api.deps import CurrentUser, SessionDep, require, store_ids
from flows import launcher
from winback.accounts import service as accounts
from winback.accounts.models import Role, Staff
from winback.actor import Actor
from winback.audit import service as audit
from winback.customers import service as customers
from winback.customers.schemas import VisitIn
from winback.cycles import service as cycles
from winback.cycles.schemas import CycleStartIn
from winback.errors import Forbidden, NotFound
from winback.evaluation import service as evaluation
from winback.plans import service as plans
from winback.plans.schemas import MeasureUpdate, PlanDecision
from winback.surveys import service as surveys
from winback.surveys.schemas import ContactAttemptIn, ReassignIn, SurveyResultIn

router = APIRouter()

Admin = Annotated[Staff, require(Role.admin)]
Supervisor = Annotated[Staff, require(Role.supervisor)]
Manager = Annotated[Staff, require(Role.manager)]
Reader = Annotated[Staff, require(Role.admin, Role.supervisor, Role.manager, Role.auditor)]


class LoginIn(BaseModel):
    username: str
    password: str


@router.post("/auth/login", tags=["auth"])
def login(body: LoginIn, request: Request, session: SessionDep) -> dict[str, Any]:
    staff = accounts.authenticate(session=session, username=body.username, password=body.password)
    if staff is None:
        from fastapi import HTTPException

        raise HTTPException(status_code=401, detail="wrong username or password")
    request.session.clear()
    request.session["staff_id"] = staff.id
    return me(staff)


@router.post("/auth/logout", tags=["auth"])
def logout(request: Request) -> dict[str, bool]:
    request.session.clear()
    return {"ok": True}


@router.get("/me", tags=["auth"])
def me(user: CurrentUser) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "name": user.display_name,
            "store": user.store.code, "roles": sorted(r.value for r in user.roles)}


# ---- cycles -----------------------------------------------------------------------------

@router.get("/cycles", tags=["cycles"])
def list_cycles(user: Reader, session: SessionDep) -> list[dict[str, Any]]:
    return [out.cycle(c) for c in cycles.list_cycles(session=session, store_ids=store_ids(user))]


@router.post("/cycles", status_code=202, tags=["cycles"])
def start_cycle(body: CycleStartIn, user: Admin) -> dict[str, Any]:
    """Start the monthly cycle of the admin's store (runs as a Prefect flow)."""
    code = body.store_code or user.store.code
    if code != user.store.code:
        raise Forbidden("you may start cycles of your own store only")
    run = launcher.start_monthly_cycle(store_code=code, month=body.month)
    return {"flow_run": run.__dict__}


@router.get("/cycles/{cycle_id}", tags=["cycles"])
def get_cycle(cycle_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    return {
        **out.cycle(c),
        "progress": surveys.progress(session=session, cycle_id=c.id),
        "flow_runs": [out.flow_run(r) for r in cycles.flow_runs_of(session=session, store_ids=store_ids(user), cycle_id=c.id)],
    }


@router.get("/cycles/{cycle_id}/targets", tags=["cycles"])
def cycle_targets(
    cycle_id: int, user: Reader, session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    rows, total = cycles.targets_of(session=session, cycle_id=c.id, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "items": [out.target(t) for t in rows]}


@router.get("/cycles/{cycle_id}/tasks", tags=["surveys"])
def cycle_tasks(
    cycle_id: int, user: Reader, session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    rows, total = surveys.tasks_of_cycle(session=session, cycle_id=c.id, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "items": [out.task(t) for t in rows]}


@router.get("/cycles/{cycle_id}/plan", tags=["plans"])
def cycle_plan(cycle_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    plan = plans.current_plan(session=session, cycle_id=c.id)
    if plan is None:
        raise NotFound("this cycle has no plan yet")
    return out.plan(plan)


@router.get("/cycles/{cycle_id}/evaluation", tags=["evaluation"])
def cycle_evaluation(cycle_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    ev = evaluation.get_evaluation(session=session, cycle_id=c.id)
    if ev is None:
        raise NotFound("this cycle has not been evaluated yet")
    return out.evaluation(ev)


@router.post("/watch", status_code=202, tags=["cycles"])
def run_watcher(user: Admin) -> dict[str, Any]:
    """Run the deadline watcher now (it also runs daily on its schedule)."""
    run = launcher.launch("watch_deadlines", {"store_codes": [user.store.code]})
    return {"flow_run": run.__dict__}


# ---- survey tasks -----------------------------------------------------------------------

@router.get("/tasks/mine", tags=["surveys"])
def my_tasks(user: CurrentUser, session: SessionDep, closed: bool = False, q: str | None = None) -> list[dict[str, Any]]:
    return [out.task(t) for t in surveys.my_tasks(session=session, advisor_id=user.id, include_closed=closed, search=q)]


@router.get("/tasks/{task_id}", tags=["surveys"])
def get_task(task_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    return out.task(surveys.get_task(session=session, task_id=task_id, viewer=user))


@router.post("/tasks/{task_id}/attempts", status_code=201, tags=["surveys"])
def add_attempt(task_id: int, body: ContactAttemptIn, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    surveys.record_attempt(session=session, task_id=task_id, method=body.method, outcome=body.outcome,
                           note=body.note, actor_staff=user)
    return out.task(surveys.get_task(session=session, task_id=task_id, viewer=user))


@router.post("/tasks/{task_id}/close", tags=["surveys"])
def close_task(task_id: int, body: SurveyResultIn, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    data = body.model_dump()
    task = surveys.close_task(session=session, task_id=task_id, reason_codes_=data.pop("reasons"),
                              actor_staff=user, **data)
    return out.task(task)


@router.post("/tasks/{task_id}/reassign", tags=["surveys"])
def reassign_task(task_id: int, body: ReassignIn, user: Supervisor, session: SessionDep) -> dict[str, Any]:
    return out.task(surveys.reassign(session=session, task_id=task_id, to_staff_id=body.assignee_id, actor_staff=user))


@router.get("/reason-codes", tags=["surveys"])
def reason_codes(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    return [
        {"code": r.code, "label_zh": r.label_zh, "label_en": r.label_en, "area": r.area.value}
        for r in surveys.reason_codes(session=session, store_id=user.store_id)
    ]


# ---- plans ------------------------------------------------------------------------------

@router.patch("/measures/{measure_id}", tags=["plans"])
def update_measure(measure_id: int, body: MeasureUpdate, user: Manager, session: SessionDep) -> dict[str, Any]:
    m = plans.update_measure(session=session, measure_id=measure_id, actor_staff=user, **body.model_dump())
    return out.measure(m)


@router.post("/plans/{plan_id}/submit", tags=["plans"])
def submit_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    return out.plan(plans.submit_plan(session=session, plan_id=plan_id, actor_staff=user))


@router.post("/plans/{plan_id}/approve", tags=["plans"])
def approve_plan(plan_id: int, body: PlanDecision, user: Manager, session: SessionDep) -> dict[str, Any]:
    plan = plans.decide_plan(session=session, plan_id=plan_id, approve=True, comment=body.comment, actor_staff=user)
    session.commit()  # the execution flow reads the approval from the database
    launcher.start_execution(cycle_id=plan.cycle_id, store_id=plan.store_id)
    return out.plan(plan)


@router.post("/plans/{plan_id}/reject", tags=["plans"])
def reject_plan(plan_id: int, body: PlanDecision, user: Manager, session: SessionDep) -> dict[str, Any]:
    return out.plan(plans.decide_plan(session=session, plan_id=plan_id, approve=False, comment=body.comment, actor_staff=user))


# ---- archive ----------------------------------------------------------------------------

@router.post("/visits", status_code=201, tags=["archive"])
def add_visit(body: VisitIn, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Record a repair order (e.g. pushed by the DMS). The same RO number twice is one visit."""
    vehicle = customers.vehicle_by_vin(session=session, store_id=user.store_id, vin=body.vin)
    visit = customers.add_visit(
        session=session, store_id=user.store_id, vehicle_id=vehicle.id, ro_number=body.ro_number,
        visit_date=body.visit_date, category=body.category, amount=body.amount, mileage=body.mileage,
        items=body.items, actor=Actor.person(user),
    )
    return {"id": visit.id, "vehicle_id": vehicle.id, "customer_id": visit.customer_id}


# ---- audit ------------------------------------------------------------------------------

@router.get("/audit/{entity_type}/{entity_id}", tags=["audit"])
def audit_timeline(entity_type: str, entity_id: int, user: Reader, session: SessionDep) -> list[dict[str, Any]]:
    events = audit.timeline(session=session, store_ids=store_ids(user), entity_type=entity_type, entity_id=entity_id)
    return [out.audit_event(e) for e in events]
