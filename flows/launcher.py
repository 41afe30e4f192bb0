"""The one way the web UI and the CLI start flows.

* ``PREFECT_API_URL`` set: ``run_deployment`` on the deployments of prefect.yaml (workers run them).
* unset: the flow runs in this process, in a background thread unless ``wait=True``, against
  the local Prefect server of ``winback serve`` when one runs, else against a temporary one
  this process starts and stops (``flows/prefect_server.py``). ``detach=True`` runs it in a
  child process of its own that outlives the caller (``winback cycle start --no-wait``).

Either way a ``FlowRunRecord`` is written first, holding a lease for the process that runs
it (``flows/lease.py``). A second launch with the same key while the first is alive returns
the first; a record whose process is gone is marked crashed and does not block. Every stage
is idempotent, so the new run redoes what the crashed one left.

The flows are those of prefect.yaml (``FLOWS``): one registry, the deployments.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import winback.models  # noqa: F401  (every mapper, for a process that starts here)
from db.session import session_scope
from flows import lease
from flows.common import RUN_STATE_POLL_SECONDS, launch_key, without_heartbeats
from winback.cycles import flow_runs
from winback.cycles.models import FlowRunRecord, FlowRunState

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Deployment:
    flow_name: str  # the @flow name, also the function's name
    module: str  # flows.monthly_cycle
    function: str
    deployment: str  # monthly-cycle

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.deployment}"


def read_deployments(path: Path = ROOT / "prefect.yaml") -> dict[str, Deployment]:
    """prefect.yaml's deployments by flow name (entrypoint ``flows/x.py:function``)."""
    import yaml

    found: dict[str, Deployment] = {}
    for d in yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]:
        file, function = d["entrypoint"].split(":")
        module = file.removesuffix(".py").replace("/", ".")
        found[function] = Deployment(function, module, function, d["name"])
    return found


FLOWS: dict[str, Deployment] = read_deployments()


@dataclass
class Launched:
    record_id: int
    flow_name: str
    prefect_flow_run_id: str | None
    state: str
    reused: bool
    owner: str | None = None  # "pid 1234 on host" of the run that is alive (reused) or detached

    def describe(self) -> str:
        """ "flow run #12 (Prefect 1f0…), process 1234 on host"."""
        text = f"flow run #{self.record_id}"
        if self.prefect_flow_run_id:
            text += f" (Prefect {self.prefect_flow_run_id})"
        return text + (f", {self.owner}" if self.owner else "")


def quiet_prefect() -> None:
    """Prefect's server is chatty; staff and CI logs need none of it (before Prefect is first
    imported)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def uses_deployments() -> bool:
    from flows import prefect_server

    return bool(os.environ.get("PREFECT_API_URL")) and not prefect_server.is_local_api()


def flow_function(flow_name: str):
    d = FLOWS[flow_name]
    return getattr(importlib.import_module(d.module), d.function)


def _owner_text(record: FlowRunRecord) -> str | None:
    return f"process {record.owner_pid} on {record.owner_host}" if record.owner_pid else None


def launch(
    flow_name: str,
    parameters: dict[str, Any],
    *,
    store_id: int | None = None,
    cycle_id: int | None = None,
    wait: bool = False,
    detach: bool = False,
) -> Launched:
    if flow_name not in FLOWS:
        raise ValueError(f"unknown flow {flow_name!r}")
    key = launch_key(flow_name, parameters)
    deployed = uses_deployments()
    lease.hold()
    second_opinion = _prefect_second_opinion if deployed else None
    with session_scope() as session:
        # Whatever a dead process left live (its subflows too) is marked crashed first.
        flow_runs.reap_dead_runs(session=session, second_opinion=second_opinion)
        live = flow_runs.live_flow_run(session=session, launch_key=key, second_opinion=second_opinion)
        if live is not None:
            return Launched(
                live.id, flow_name, live.prefect_flow_run_id, live.state.value, True, _owner_text(live)
            )
        record = flow_runs.record_flow_run(
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
    if deployed:
        return _launch_deployment(flow_name, parameters, key, record_id, wait)
    if detach and not wait:
        return _launch_detached(flow_name, parameters, record_id)
    return _launch_in_process(flow_name, parameters, record_id, wait)


def _prefect_second_opinion(record: FlowRunRecord) -> bool:
    """For a record its lease calls dead, on a Prefect server: a run still waiting for a
    worker is alive; a run Prefect thinks is running, whose process is gone, is crashed, and
    Prefect is told so (a new worker would otherwise wait on it for ever)."""
    if not record.prefect_flow_run_id:
        return False
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(record.prefect_flow_run_id)
            state = run.state.type.value if run.state else "SCHEDULED"
            if state in ("SCHEDULED", "PENDING"):
                return True
            if state in ("RUNNING", "CANCELLING"):
                client.set_flow_run_state(run.id, Crashed(message=flow_runs.why_dead(record)), force=True)
    except Exception:  # the server is unreachable: trust the lease
        log.warning("could not ask Prefect about flow run %s", record.prefect_flow_run_id, exc_info=True)
    return False


def _launch_deployment(flow_name, parameters, key, record_id, wait) -> Launched:
    from prefect.deployments import run_deployment

    run = run_deployment(
        FLOWS[flow_name].full_name,
        parameters=parameters,
        timeout=None if wait else 0,
        poll_interval=RUN_STATE_POLL_SECONDS,
        idempotency_key=f"{key}#{record_id}",
        as_subflow=False,
    )
    state = run.state.type.value.lower() if run.state else "scheduled"
    with session_scope() as session:
        flow_runs.set_flow_run_id(session=session, record_id=record_id, prefect_flow_run_id=str(run.id))
        rec = session.get(FlowRunRecord, record_id)
        if state in FlowRunState.__members__ and FlowRunState(state) in flow_runs.TERMINAL:
            flow_runs.record_flow_run(
                session=session,
                flow_name=flow_name,
                launch_key=key,
                state=FlowRunState(state),
                prefect_flow_run_id=str(run.id),
            )
        elif rec.owner_pid == os.getpid():
            # Waiting for a worker: no process of ours runs it. The worker's run takes the lease
            # when it starts; until then the heartbeat, then Prefect's word, keep it alive.
            flow_runs.hand_over(session=session, record_id=record_id, owner=None)
    return Launched(record_id, flow_name, str(run.id), rec.state.value, False)


def _launch_in_process(flow_name, parameters, record_id, wait) -> Launched:
    from flows import prefect_server

    quiet_prefect()
    prefect_server.ensure_api()
    fn = flow_function(flow_name)

    def run() -> None:
        try:
            with without_heartbeats():
                fn(**parameters)
        except Exception as exc:  # the hooks record the failure; make sure the record ends
            log.exception("flow %s failed", flow_name)
            with session_scope() as session:
                flow_runs.mark_flow_run_failed(
                    session=session, record_id=record_id, message=f"{type(exc).__name__}: {exc}"
                )
            if wait:
                raise
        except BaseException:  # Ctrl-C or SIGTERM: the run stops, and says so
            with session_scope() as session:
                flow_runs.mark_flow_run_failed(
                    session=session,
                    record_id=record_id,
                    message="stopped (Ctrl-C or SIGTERM)",
                    state=FlowRunState.cancelled,
                )
            raise

    if wait:
        run()
    else:
        threading.Thread(target=run, name=f"flow-{flow_name}", daemon=True).start()
    with session_scope() as session:
        rec = session.get(FlowRunRecord, record_id)
        return Launched(record_id, flow_name, rec.prefect_flow_run_id, rec.state.value, False)


def log_dir() -> Path:
    from winback.config import get_settings

    path = get_settings().data_dir / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _launch_detached(flow_name, parameters, record_id) -> Launched:
    """Run the flow in a child process of its own session (it survives the caller's exit and
    its terminal's hang-up), which takes the record's lease; its output goes to a log file."""
    from flows import prefect_server

    out = log_dir() / f"flow-run-{record_id}.log"
    env = prefect_server.child_environment()
    with open(out, "ab") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "flows.launcher", str(record_id), flow_name, json.dumps(parameters)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    owner = flow_runs.Owner(flow_runs.this_process().host, child.pid)
    with session_scope() as session:
        flow_runs.hand_over(session=session, record_id=record_id, owner=owner)
        rec = session.get(FlowRunRecord, record_id)
        return Launched(record_id, flow_name, None, rec.state.value, False, f"process {child.pid}, log {out}")


def start_monthly_cycle(
    *, store_code: str, month: str, wait: bool = False, store_id: int | None = None
) -> Launched:
    """What the admin's "start the cycle" button and ``POST /api/cycles`` do. With the store's
    id the run is recorded against the store, so its pages know work is under way."""
    from winback.accounts import service as accounts
    from winback.cycles.service import check_month

    with session_scope() as session:  # a month far ahead or long past is refused here
        check_month(session=session, store=accounts.get_store(session=session, code=store_code), month=month)
    return launch(
        "monthly_cycle", {"month": month, "store_codes": [store_code]}, store_id=store_id, wait=wait
    )


def start_execution(*, cycle_id: int, store_id: int) -> Launched:
    """Right after the manager approves; the daily watcher would also pick it up."""
    return launch("execute_plan", {"cycle_id": cycle_id}, store_id=store_id, cycle_id=cycle_id)


def _run_detached(record_id: int, flow_name: str, parameters: dict[str, Any]) -> int:
    """The detached child: hold the lease the parent handed over and run the flow."""
    lease.hold()
    try:
        _launch_in_process(flow_name, parameters, record_id, wait=True)
    except KeyboardInterrupt:
        return 130
    except Exception:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_run_detached(int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])))
