"""The one way the web UI and the CLI start flows.

* ``PREFECT_API_URL`` set: ``run_deployment`` on the deployments of prefect.yaml (workers run them).
* unset: the flow runs in this process (Prefect's ephemeral mode), in a background thread
  unless ``wait=True``.

Either way a ``FlowRunRecord`` is written first; a second launch with the same key while the
first is scheduled or running returns the first, and every stage is idempotent besides.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from db.session import session_scope
from flows.common import launch_key
from winback.cycles import service as cycles
from winback.cycles.models import FlowRunState

log = logging.getLogger(__name__)

# flow name -> (module, function, deployment name in prefect.yaml)
FLOWS: dict[str, tuple[str, str, str]] = {
    "monthly_cycle": ("flows.monthly_cycle", "monthly_cycle", "monthly-cycle"),
    "watch_deadlines": ("flows.watch_deadlines", "watch_deadlines", "watch-deadlines"),
    "evaluate_cycle": ("flows.stages", "evaluate_cycle", "evaluate-cycle"),
    "execute_plan": ("flows.stages", "execute_plan", "execute-plan"),
    "assign_surveys": ("flows.stages", "assign_surveys", "assign-surveys"),
    "import_visits": ("flows.import_visits", "import_visits", "import-visits"),
    "plan_care": ("flows.plan_care", "plan_care", "plan-care"),
}


@dataclass
class Launched:
    record_id: int
    flow_name: str
    prefect_flow_run_id: str | None
    state: str
    reused: bool


def quiet_prefect() -> None:
    """Prefect's ephemeral server is chatty; staff and CI logs need none of it."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def uses_deployments() -> bool:
    return bool(os.environ.get("PREFECT_API_URL"))


def _flow_function(flow_name: str):
    import importlib

    module, func, _ = FLOWS[flow_name]
    return getattr(importlib.import_module(module), func)


def launch(
    flow_name: str,
    parameters: dict[str, Any],
    *,
    store_id: int | None = None,
    cycle_id: int | None = None,
    wait: bool = False,
) -> Launched:
    if flow_name not in FLOWS:
        raise ValueError(f"unknown flow {flow_name!r}")
    key = launch_key(flow_name, parameters)
    with session_scope() as session:
        live = cycles.live_flow_run(session=session, launch_key=key)
        if live is not None:
            return Launched(live.id, flow_name, live.prefect_flow_run_id, live.state.value, True)
        record = cycles.record_flow_run(
            session=session,
            flow_name=flow_name,
            launch_key=key,
            state=FlowRunState.scheduled,
            store_id=store_id,
            cycle_id=cycle_id,
        )
        record_id = record.id
    # Tests and scripted demos may ask every in-process launch to finish before returning.
    wait = wait or os.environ.get("WINBACK_INLINE_FLOWS") == "1"
    if uses_deployments():
        return _launch_deployment(flow_name, parameters, key, record_id, wait)
    return _launch_in_process(flow_name, parameters, key, record_id, wait)


def _launch_deployment(flow_name, parameters, key, record_id, wait) -> Launched:
    from prefect.deployments import run_deployment

    _, func, deployment = FLOWS[flow_name]
    run = run_deployment(
        f"{flow_name}/{deployment}",
        parameters=parameters,
        timeout=None if wait else 0,
        idempotency_key=f"{key}#{record_id}",
        as_subflow=False,
    )
    state = run.state.type.value.lower() if run.state else "scheduled"
    with session_scope() as session:
        rec = cycles.record_flow_run(
            session=session,
            flow_name=flow_name,
            launch_key=key,
            state=FlowRunState(state) if state in FlowRunState.__members__ else FlowRunState.scheduled,
            prefect_flow_run_id=str(run.id),
        )
        cycles.set_flow_run_id(session=session, record_id=record_id, prefect_flow_run_id=str(run.id))
    return Launched(record_id, flow_name, str(run.id), rec.state.value, False)


def _launch_in_process(flow_name, parameters, key, record_id, wait) -> Launched:
    quiet_prefect()
    fn = _flow_function(flow_name)

    def run() -> None:
        try:
            fn(**parameters)
        except Exception as exc:  # the hooks record the failure; make sure the record ends
            log.exception("flow %s failed", flow_name)
            with session_scope() as session:
                cycles.mark_flow_run_failed(
                    session=session, record_id=record_id, message=f"{type(exc).__name__}: {exc}"
                )
            if wait:
                raise

    if wait:
        run()
    else:
        threading.Thread(target=run, name=f"flow-{flow_name}", daemon=True).start()
    with session_scope() as session:
        from winback.cycles.models import FlowRunRecord

        rec = session.get(FlowRunRecord, record_id)
        return Launched(record_id, flow_name, rec.prefect_flow_run_id, rec.state.value, False)


def start_monthly_cycle(
    *, store_code: str, month: str, wait: bool = False, store_id: int | None = None
) -> Launched:
    """What the admin's "start the cycle" button and ``POST /api/cycles`` do. With the store's
    id the run is recorded against the store, so its pages know work is under way."""
    from winback.cycles.service import parse_month

    parse_month(month)
    return launch(
        "monthly_cycle", {"month": month, "store_codes": [store_code]}, store_id=store_id, wait=wait
    )


def start_execution(*, cycle_id: int, store_id: int) -> Launched:
    """Right after the manager approves; the daily watcher would also pick it up."""
    return launch("execute_plan", {"cycle_id": cycle_id}, store_id=store_id, cycle_id=cycle_id)
