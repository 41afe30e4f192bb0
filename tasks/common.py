"""What every task needs: who is acting (the flow run) and a unit of work."""

from __future__ import annotations

from prefect.runtime import flow_run

from winback.actor import Actor


def flow_actor() -> Actor:
    """The system, acting inside the current flow run (its id goes into the audit trail)."""
    run_id = flow_run.get_id()
    name = flow_run.get_flow_name() or "flow"
    return Actor.system(flow_run_id=str(run_id) if run_id else None, label=f"flow:{name}")
