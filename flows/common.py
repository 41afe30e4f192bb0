"""Shared by every flow: launch keys, the clock parameter and flow-run tracking hooks."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from db.session import session_scope
from flows import faults, lease
from winback import clock
from winback.cycles import flow_runs
from winback.cycles.models import FlowRunState, MonthlyCycle

log = logging.getLogger(__name__)

_IGNORED = {"as_of"}


KEY_LENGTH = 200  # flow_runs.launch_key is varchar(200)
# How often a run that waits for others on a Prefect server (a command for its run, the month's
# run for its stores' runs) reads their states: one request each time (Prefect's default: 5 s).
RUN_STATE_POLL_SECONDS = 1.0


def launch_key(flow_name: str, parameters: dict[str, Any]) -> str:
    """ "monthly_cycle:month=2026-11,store_codes=['S01']": one live run per key. A key that would
    not fit (a group of many stores) keeps its start readable and ends in a hash of the whole,
    so its length does not grow with the group."""
    parts = ",".join(f"{k}={parameters[k]}" for k in sorted(parameters) if k not in _IGNORED)
    key = f"{flow_name}:{parts}"
    if len(key) <= KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: KEY_LENGTH - len(digest) - 5]}...#{digest}"


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Flow runs started inside send no Prefect heartbeats.

    Prefect joins a flow run's heartbeat thread when the run ends, and the thread sleeps a
    second at a time: every flow run, subflows included, ended up to a second late (six empty
    flow runs: 6.1 s with heartbeats, 1.15 s without). The launcher runs in-process flows
    inside it; a deployed run (a worker's) starts its own heartbeat before our code runs, and
    runs its stages' subflows inside it. A crashed run is found by its lease
    (``flows/lease.py``), not by Prefect's heartbeats."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def apply_as_of(as_of: str | None) -> None:
    """A flow started with ``as_of`` runs on that business time (demo, tests, --as-of)."""
    if as_of:
        clock.set_now(as_of)


_STATES = {
    "RUNNING": FlowRunState.running,
    "COMPLETED": FlowRunState.completed,
    "FAILED": FlowRunState.failed,
    "CRASHED": FlowRunState.crashed,
    "CANCELLED": FlowRunState.cancelled,
}


def track(flow, flow_run, state) -> None:
    """State hook: record the run's state in the database (never fails the flow)."""
    try:
        params = dict(flow_run.parameters or {})
        cycle_id = params.get("cycle_id")
        with faults.quiet(), session_scope() as session:
            store_id = params.get("store_id")
            if cycle_id:
                cycle = session.get(MonthlyCycle, cycle_id)
                store_id = cycle.store_id if cycle else store_id
                cycle_id = cycle.id if cycle else None  # a run for a cycle that does not exist
            if state.type.value in ("RUNNING", "PENDING"):
                lease.hold()  # this process runs it (a worker's flow process, too): keep its lease
            flow_runs.record_flow_run(
                session=session,
                flow_name=flow.name,
                launch_key=launch_key(flow.name, params),
                state=_STATES.get(state.type.value, FlowRunState.running),
                store_id=store_id,
                cycle_id=cycle_id,
                prefect_flow_run_id=str(flow_run.id),
                message=state.message if state.type.value != "COMPLETED" else None,
            )
    except Exception:  # pragma: no cover - tracking must not break the business flow
        log.exception("could not record the state of flow run %s", getattr(flow_run, "id", "?"))
    if state.type.value == "RUNNING":
        faults.hit(flow.name, "start")


HOOKS = dict(
    on_running=[track], on_completion=[track], on_failure=[track], on_crashed=[track], on_cancellation=[track]
)
