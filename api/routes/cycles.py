"""JSON API: cycles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import serializers as out
from api.deps import Admin, Manager, Reader, SessionDep, store_ids
from api.schemas import (
    CycleDetailOut,
    CycleOut,
    EvaluationOut,
    PlanOut,
    StartedOut,
    TargetPageOut,
    TaskPageOut,
)
from flows import launcher
from winback.actor import Actor
from winback.cycles import flow_runs
from winback.cycles import service as cycles
from winback.cycles.schemas import CycleCancelIn, CycleStartIn, NoActionIn
from winback.errors import Forbidden, NotFound
from winback.evaluation import service as evaluation
from winback.plans import service as plans
from winback.surveys import service as surveys

router = APIRouter()


# ---- cycles -----------------------------------------------------------------------------


@router.get("/cycles", response_model=list[CycleOut], tags=["cycles"])
def list_cycles(user: Reader, session: SessionDep) -> list[dict[str, Any]]:
    return [out.cycle(c) for c in cycles.cycles_page(session=session, store_ids=store_ids(user)).items]


@router.post("/cycles", response_model=StartedOut, status_code=202, tags=["cycles"])
def start_cycle(body: CycleStartIn, user: Admin) -> dict[str, Any]:
    """Start the monthly cycle of the admin's store (runs as a Prefect flow)."""
    code = body.store_code or user.store.code
    if code != user.store.code:
        raise Forbidden("you may start cycles of your own store only")
    run = launcher.start_monthly_cycle(store_code=code, month=body.month, store_id=user.store_id)
    return {"flow_run": run.__dict__}


@router.post("/cycles/{cycle_id}/cancel", response_model=CycleOut, tags=["cycles"])
def cancel_cycle(cycle_id: int, body: CycleCancelIn, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Cancel a cycle before its surveys start (audited with the reason)."""
    cycle = cycles.cancel_cycle(
        session=session,
        cycle_id=cycle_id,
        reason=body.reason,
        actor=Actor.person(user),
        store_ids=store_ids(user),
    )
    return out.cycle(cycle)


@router.post("/cycles/{cycle_id}/no-action", response_model=CycleOut, tags=["plans"])
def no_action(cycle_id: int, body: NoActionIn, user: Manager, session: SessionDep) -> dict[str, Any]:
    """The manager records "no action" (无需整改) with a reason: a cycle whose plan has no
    measures moves on to execution, and its customers may be screened again."""
    return out.cycle(
        plans.record_no_action(session=session, cycle_id=cycle_id, reason=body.reason, actor_staff=user)
    )


@router.get("/cycles/{cycle_id}", response_model=CycleDetailOut, tags=["cycles"])
def get_cycle(cycle_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    return {
        **out.cycle(c),
        "progress": surveys.progress(session=session, cycle_id=c.id),
        "flow_runs": [
            out.flow_run(r)
            for r in flow_runs.flow_runs_of(session=session, store_ids=store_ids(user), cycle_id=c.id)
        ],
    }


@router.get("/cycles/{cycle_id}/targets", response_model=TargetPageOut, tags=["cycles"])
def cycle_targets(
    cycle_id: int,
    user: Reader,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    rows, total = cycles.targets_of(session=session, cycle_id=c.id, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "items": [out.target(t) for t in rows]}


@router.get("/cycles/{cycle_id}/tasks", response_model=TaskPageOut, tags=["surveys"])
def cycle_tasks(
    cycle_id: int,
    user: Reader,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    page = surveys.cycle_tasks_page(session=session, cycle_id=c.id, offset=offset, page_size=limit)
    rows, total = page.items, page.total
    return {"total": total, "offset": offset, "items": [out.task(t, user) for t in rows]}


@router.get("/cycles/{cycle_id}/plan", response_model=PlanOut, tags=["plans"])
def cycle_plan(cycle_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    plan = plans.current_plan(session=session, cycle_id=c.id)
    if plan is None:
        raise NotFound("this cycle has no plan yet")
    return out.plan(plan)


@router.get("/cycles/{cycle_id}/evaluation", response_model=EvaluationOut, tags=["evaluation"])
def cycle_evaluation(cycle_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    ev = evaluation.get_evaluation(session=session, cycle_id=c.id)
    if ev is None:
        raise NotFound("this cycle has not been evaluated yet")
    return out.evaluation(ev)


@router.post("/watch", response_model=StartedOut, status_code=202, tags=["cycles"])
def run_watcher(user: Admin) -> dict[str, Any]:
    """Run the deadline watcher now (it also runs daily on its schedule)."""
    run = launcher.launch("watch_deadlines", {"store_codes": [user.store.code]}, store_id=user.store_id)
    return {"flow_run": run.__dict__}
