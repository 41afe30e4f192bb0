"""The monthly cycle: for each store, open the month's cycle and run it up to the surveys.

What follows the surveys waits in the database: the daily ``watch_deadlines`` flow moves each
cycle on when its condition holds (deadline passed, plan approved, three months elapsed).
"""

from __future__ import annotations

from prefect import flow, task
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

from flows.common import HOOKS, apply_as_of, without_heartbeats
from flows.stages import analyze_profiles, archive_cleanup, assign_surveys, screen_targets
from tasks import cycles
from winback import clock
from winback.cycles.models import CycleStage


@flow(name="cycle_for_store", flow_run_name="monthly cycle {month} store {store_id}", **HOOKS)
def cycle_for_store(store_id: int, month: str, as_of: str | None = None) -> int:
    apply_as_of(as_of)
    cycle_id = cycles.open_cycle(store_id, month)
    with without_heartbeats():  # run on a worker, this run sends its own
        archive_cleanup(cycle_id)
        screen_targets(cycle_id)
        analyze_profiles(cycle_id)
        assign_surveys(cycle_id)
    return cycle_id


@flow(name="resume_cycle", flow_run_name="resume cycle {cycle_id}", **HOOKS)
def resume_cycle(cycle_id: int, as_of: str | None = None) -> str:
    """The stages a cycle still lacks up to the surveys, from where a crashed run left it
    (the watcher starts it; each stage is idempotent, so the one that was cut off runs whole)."""
    apply_as_of(as_of)
    steps = [archive_cleanup, screen_targets, analyze_profiles, assign_surveys]
    reached = list(cycles.RESUMABLE).index(CycleStage(cycles.stage_of(cycle_id)))
    with without_heartbeats():
        for step in steps[reached:]:
            step(cycle_id)
    return cycles.stage_of(cycle_id)


def _current_month() -> str:
    return clock.today().strftime("%Y-%m")


@task(name="store cycle on a worker")
def cycle_for_store_on_worker(store_id: int, month: str, as_of: str | None) -> int:
    """Run one store's cycle as its own deployment run, on whichever worker is free."""
    from prefect.deployments import run_deployment

    run = run_deployment(
        "cycle_for_store/cycle-for-store",
        parameters={"store_id": store_id, "month": month, "as_of": as_of},
        idempotency_key=f"cycle_for_store:{store_id}:{month}:{flow_run.get_id()}",
    )
    if run.state is None or not run.state.is_completed():
        raise RuntimeError(
            f"the cycle of store {store_id} ended {run.state.name if run.state else 'unknown'}"
        )
    return store_id


def _deployed() -> bool:
    """Whether this run is a deployment's (a worker runs it). Read from the run in memory:
    ``prefect.runtime.deployment.get_id()`` asks the API for the run each time (0.1 s)."""
    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.deployment_id)


@flow(name="monthly_cycle", flow_run_name="monthly cycle {month}", **HOOKS)
def monthly_cycle(
    month: str | None = None, store_codes: list[str] | None = None, as_of: str | None = None
) -> list[int]:
    """Start the month's cycle for the given stores (all when empty). Returns the cycle ids.

    Deployed (a worker runs it), each store's cycle is a run of its own, so a group's stores
    run in parallel on whichever workers are free; in-process they run one after another.
    """
    apply_as_of(as_of)
    month = month or _current_month()
    store_ids = cycles.store_ids(store_codes)
    if _deployed():
        futures = cycle_for_store_on_worker.map(store_ids, month=month, as_of=as_of)
        [f.result() for f in futures]
    else:
        for store_id in store_ids:
            cycle_for_store(store_id, month, as_of)
    return cycles.cycle_ids(store_ids, month)
