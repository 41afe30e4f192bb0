"""The monthly cycle: for each store, open the month's cycle and run it up to the surveys.

What follows the surveys waits in the database: the daily ``watch_deadlines`` flow moves each
cycle on when its condition holds (deadline passed, plan approved, three months elapsed).
"""

from __future__ import annotations

from prefect import flow, task
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

from flows.common import HOOKS, RUN_STATE_POLL_SECONDS, apply_as_of, without_heartbeats
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


_READ_LIMIT = 200  # flow runs per request (the Prefect server's default page)


@task(name="store cycles on the workers")
def cycles_on_workers(store_ids: list[int], month: str, as_of: str | None) -> list[int]:
    """Start one run of the store's cycle per store, each a deployment run of its own on
    whichever worker is free, and wait until every one has ended.

    The wait reads all the runs' states in one request every ``RUN_STATE_POLL_SECONDS``.
    ``run_deployment`` per store polled each run every 5 s (30 requests per round for 30
    stores) and saw the last store end up to 5 s late."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    parent = flow_run.get_id()
    runs = {
        store_id: run_deployment(
            "cycle_for_store/cycle-for-store",
            parameters={"store_id": store_id, "month": month, "as_of": as_of},
            idempotency_key=f"cycle_for_store:{store_id}:{month}:{parent}",
            timeout=0,  # started, not waited for: the loop below waits for all at once
        ).id
        for store_id in store_ids
    }
    ids = list(runs.values())
    with get_client(sync_client=True) as client:
        while True:
            states = {}
            for i in range(0, len(ids), _READ_LIMIT):
                chunk = FlowRunFilter(id=FlowRunFilterId(any_=ids[i : i + _READ_LIMIT]))
                states.update((r.id, r.state) for r in client.read_flow_runs(flow_run_filter=chunk))
            # a run deleted on the server meanwhile has ended too (it will never complete)
            if all(i not in states or states[i].is_final() for i in ids):
                break
            time.sleep(RUN_STATE_POLL_SECONDS)
    failed = {
        s: states[r].name if r in states else "deleted"
        for s, r in runs.items()
        if r not in states or not states[r].is_completed()
    }
    if failed:
        raise RuntimeError(
            "the cycles of these stores did not complete: "
            + ", ".join(f"store {s} ({name})" for s, name in sorted(failed.items()))
        )
    return store_ids


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
        cycles_on_workers(store_ids, month=month, as_of=as_of)
    else:
        for store_id in store_ids:
            cycle_for_store(store_id, month, as_of)
    return cycles.cycle_ids(store_ids, month)
