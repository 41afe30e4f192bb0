"""Records of the flow runs started for a store or cycle: one live run per launch key.

Written by the launcher and by the flows' state hooks; read by the pages (which stage runs)
and by the launcher before it starts a run again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.cycles.models import FlowRunRecord, FlowRunState

TERMINAL = {FlowRunState.completed, FlowRunState.failed, FlowRunState.crashed, FlowRunState.cancelled}


def live_flow_run(
    *, session: Session, launch_key: str, stale_after: timedelta = timedelta(hours=6)
) -> FlowRunRecord | None:
    """A run with this key that is still scheduled or running (so we do not start it twice)."""
    stmt = (
        select(FlowRunRecord)
        .where(
            FlowRunRecord.launch_key == launch_key,
            FlowRunRecord.state.in_([FlowRunState.scheduled, FlowRunState.running]),
            FlowRunRecord.started_at >= clock.now() - stale_after,
        )
        .order_by(FlowRunRecord.id.desc())
    )
    return session.scalars(stmt).first()


def record_flow_run(
    *,
    session: Session,
    flow_name: str,
    launch_key: str,
    state: FlowRunState,
    store_id: int | None = None,
    cycle_id: int | None = None,
    prefect_flow_run_id: str | None = None,
    message: str | None = None,
) -> FlowRunRecord:
    """Create or update the record of a flow run (by Prefect id when known, else by key)."""
    record = None
    if prefect_flow_run_id:
        record = session.scalar(
            select(FlowRunRecord).where(FlowRunRecord.prefect_flow_run_id == prefect_flow_run_id)
        )
    if record is None and prefect_flow_run_id:
        # A launcher record waiting for its run id.
        record = session.scalars(
            select(FlowRunRecord)
            .where(
                FlowRunRecord.launch_key == launch_key,
                FlowRunRecord.prefect_flow_run_id.is_(None),
                FlowRunRecord.state == FlowRunState.scheduled,
            )
            .order_by(FlowRunRecord.id.desc())
        ).first()
    now = clock.now()
    if record is None:
        record = FlowRunRecord(
            flow_name=flow_name,
            launch_key=launch_key,
            state=state,
            started_at=now,
            store_id=store_id,
            cycle_id=cycle_id,
        )
        session.add(record)
    record.state = state
    if prefect_flow_run_id:
        record.prefect_flow_run_id = prefect_flow_run_id
    if store_id is not None:
        record.store_id = store_id
    if cycle_id is not None:
        record.cycle_id = cycle_id
    if message is not None:
        record.message = message[:1000]
    if state in TERMINAL:
        record.finished_at = now
    session.flush()
    return record


def mark_flow_run_failed(*, session: Session, record_id: int, message: str) -> None:
    """A run that died before its own hooks could say so (the launcher's last word)."""
    record = session.get(FlowRunRecord, record_id)
    if record is not None and record.state in (FlowRunState.scheduled, FlowRunState.running):
        record.state = FlowRunState.failed
        record.message = message[:1000]
        record.finished_at = clock.now()


def set_flow_run_id(*, session: Session, record_id: int, prefect_flow_run_id: str) -> None:
    record = session.get(FlowRunRecord, record_id)
    if record is not None and record.prefect_flow_run_id is None:
        record.prefect_flow_run_id = prefect_flow_run_id


def flows_running(
    *,
    session: Session,
    store_ids: list[int],
    cycle_id: int | None = None,
    stale_after: timedelta = timedelta(hours=6),
) -> bool:
    """Whether work is still under way for these stores (and this cycle): a run scheduled or
    running, started in the last ``stale_after``. For a cycle, its own stage runs count and so
    do the store's runs that belong to no cycle yet (the monthly cycle and the watcher run the
    stages one after another, so between two stages only they are live)."""
    scope = (FlowRunRecord.store_id.in_(store_ids)) | (FlowRunRecord.store_id.is_(None))
    if cycle_id is not None:
        scope = (FlowRunRecord.cycle_id == cycle_id) | (scope & FlowRunRecord.cycle_id.is_(None))
    stmt = (
        select(FlowRunRecord.id)
        .where(
            scope,
            FlowRunRecord.state.in_([FlowRunState.scheduled, FlowRunState.running]),
            FlowRunRecord.started_at >= clock.now() - stale_after,
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None


def flow_runs_of(
    *, session: Session, store_ids: list[int], cycle_id: int | None = None, limit: int = 50
) -> list[FlowRunRecord]:
    stmt = select(FlowRunRecord).where(
        (FlowRunRecord.store_id.in_(store_ids)) | (FlowRunRecord.store_id.is_(None))
    )
    if cycle_id is not None:
        stmt = stmt.where(FlowRunRecord.cycle_id == cycle_id)
    stmt = stmt.order_by(FlowRunRecord.id.desc()).limit(limit)
    return list(session.scalars(stmt))
