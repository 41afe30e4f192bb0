from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.accounts import service as accounts
from winback.cycles import flow_runs
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage

# Stages a cycle rests in only while the monthly cycle runs (or after it crashed).
RESUMABLE = (CycleStage.started, CycleStage.cleaned, CycleStage.screened, CycleStage.profiled)


@task(name="stage of cycle")
def stage_of(cycle_id: int) -> str:
    with session_scope() as session:
        return cycles.get_cycle(session=session, cycle_id=cycle_id).stage.value


@task(name="store ids")
def store_ids(store_codes: list[str] | None) -> list[int]:
    with session_scope() as session:
        if store_codes:
            return [accounts.get_store(session=session, code=c).id for c in store_codes]
        return [s.id for s in accounts.list_stores(session=session)]


@task(name="open cycle")
def open_cycle(store_id: int, month: str) -> int:
    from winback.accounts.models import Store

    with session_scope() as session:
        cycle, _created = cycles.start_cycle(
            session=session, store=session.get(Store, store_id), month=month, actor=flow_actor()
        )
        return cycle.id


@task(name="due work")
def due_work(store_ids: list[int]) -> dict[str, list[int]]:
    """Cycles whose next stage is due: the first stages again (a crashed run), tally+plan,
    execution, evaluation."""
    from winback import clock
    from winback.plans.service import plan_in_force
    from winback.surveys.service import survey_window_closed

    work: dict[str, list[int]] = {"resume": [], "tally": [], "plan": [], "execute": [], "evaluate": []}
    with session_scope() as session:
        # A cycle left between its first stages by a process that died: nobody carries it.
        flow_runs.reap_dead_runs(session=session, store_ids=store_ids)
        for stage in RESUMABLE:
            for c in cycles.cycles_in_stage(session=session, stage=stage, store_ids=store_ids):
                if not flow_runs.cycle_in_hand(session=session, cycle_id=c.id, store_id=c.store_id):
                    work["resume"].append(c.id)
        for c in cycles.cycles_in_stage(session=session, stage=CycleStage.surveying, store_ids=store_ids):
            if survey_window_closed(session=session, cycle=c):
                work["tally"].append(c.id)
        for c in cycles.cycles_in_stage(session=session, stage=CycleStage.tallied, store_ids=store_ids):
            work["plan"].append(c.id)
        for c in cycles.cycles_in_stage(session=session, stage=CycleStage.planning, store_ids=store_ids):
            if plan_in_force(session=session, cycle_id=c.id) is not None:
                work["execute"].append(c.id)
        for c in cycles.evaluation_due(session=session, now=clock.now()):
            if c.store_id in store_ids:
                work["evaluate"].append(c.id)
    return work


@task(name="cycle ids")
def cycle_ids(store_ids: list[int], month: str) -> list[int]:
    with session_scope() as session:
        found = [cycles.find_cycle(session=session, store_id=s, month=month) for s in store_ids]
        return [c.id for c in found if c is not None]
