"""Records of the flow runs started for a store or cycle: one live run per launch key.

Written by the launcher and by the flows' state hooks; read by the pages (which stage runs)
and by the launcher before it starts a run again.

A live record (scheduled or running) holds a lease: the host and pid of the process running
it and a heartbeat that process renews (``flows/lease.py``). A record is alive while its
process is (same host: the pid is checked at once) or, seen from another host, while its
heartbeat is younger than ``flow_run_lease_seconds``. A dead record blocks nothing: whoever
finds it marks it crashed, and the stages being idempotent, the next run redoes its work.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from winback import clock
from winback.config import get_settings
from winback.cycles.models import FlowRunRecord, FlowRunState

TERMINAL = {FlowRunState.completed, FlowRunState.failed, FlowRunState.crashed, FlowRunState.cancelled}
LIVE = (FlowRunState.scheduled, FlowRunState.running)


@dataclass(frozen=True)
class Owner:
    """The process that holds a run's lease."""

    host: str
    pid: int


def this_process() -> Owner:
    return Owner(socket.gethostname()[:255], os.getpid())


def wall_now() -> datetime:
    """Leases are wall-clock time: business time may be frozen (``--as-of``) or far ahead."""
    return datetime.now(UTC)


def lease_length() -> timedelta:
    return timedelta(seconds=get_settings().flow_run_lease_seconds)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie, killed and not yet reaped
    by its parent, is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (not Linux): kill(0) is the answer
        return True


def is_alive(record: FlowRunRecord, *, here: Owner | None = None, now: datetime | None = None) -> bool:
    """Whether a record is a run that is really under way (see the module's docstring)."""
    if record.state not in LIVE:
        return False
    here = here or this_process()
    if record.owner_pid is not None and record.owner_host == here.host:
        return pid_alive(record.owner_pid)
    beat = record.heartbeat_at
    return beat is not None and beat >= (now or wall_now()) - lease_length()


def why_dead(record: FlowRunRecord) -> str:
    if record.owner_pid is not None and record.owner_host == this_process().host:
        return f"crashed: its process {record.owner_pid} on {record.owner_host} is gone"
    beat = f"{record.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if record.heartbeat_at else "never"
    return f"crashed: no heartbeat from {record.owner_host or 'its process'} since {beat}"


SecondOpinion = Callable[[FlowRunRecord], bool]


def _live_records(session: Session, *where) -> list[FlowRunRecord]:
    stmt = select(FlowRunRecord).where(FlowRunRecord.state.in_(LIVE), *where)
    return list(session.scalars(stmt.order_by(FlowRunRecord.id.desc())))


def _settle(session: Session, records: list[FlowRunRecord], second_opinion: SecondOpinion | None):
    """Split live records into alive and dead; the dead are marked crashed."""
    alive, dead = [], []
    here, now = this_process(), wall_now()
    for record in records:
        if is_alive(record, here=here, now=now) or (second_opinion is not None and second_opinion(record)):
            alive.append(record)
        else:
            record.state = FlowRunState.crashed
            record.message = why_dead(record)[:1000]
            record.finished_at = clock.now()
            dead.append(record)
    session.flush()
    return alive, dead


def live_flow_run(
    *, session: Session, launch_key: str, second_opinion: SecondOpinion | None = None
) -> FlowRunRecord | None:
    """The run with this key that is alive (so it is not started twice), newest first. Dead
    records found on the way are marked crashed. ``second_opinion`` may keep a record the
    lease calls dead (the launcher asks Prefect about a run waiting for a worker)."""
    alive, _dead = _settle(
        session, _live_records(session, FlowRunRecord.launch_key == launch_key), second_opinion
    )
    return alive[0] if alive else None


def reap_dead_runs(
    *, session: Session, store_ids: list[int] | None = None, second_opinion: SecondOpinion | None = None
) -> list[FlowRunRecord]:
    """Mark crashed every live record whose process is gone (the watcher's first step)."""
    where = []
    if store_ids is not None:
        where.append(FlowRunRecord.store_id.in_(store_ids) | FlowRunRecord.store_id.is_(None))
    return _settle(session, _live_records(session, *where), second_opinion)[1]


def heartbeat(*, session: Session, owner: Owner) -> int:
    """Renew the lease of every live run this process holds; returns how many."""
    result = session.execute(
        update(FlowRunRecord)
        .where(
            FlowRunRecord.owner_host == owner.host,
            FlowRunRecord.owner_pid == owner.pid,
            FlowRunRecord.state.in_(LIVE),
        )
        .values(heartbeat_at=wall_now())
    )
    return result.rowcount or 0


def release(*, session: Session, owner: Owner, message: str) -> int:
    """This process stops (Ctrl-C, SIGTERM, the server shutting down): its live runs end as
    cancelled, with the reason, instead of waiting to be found dead."""
    result = session.execute(
        update(FlowRunRecord)
        .where(
            FlowRunRecord.owner_host == owner.host,
            FlowRunRecord.owner_pid == owner.pid,
            FlowRunRecord.state.in_(LIVE),
        )
        .values(state=FlowRunState.cancelled, message=message[:1000], finished_at=clock.now())
    )
    return result.rowcount or 0


def hand_over(*, session: Session, record_id: int, owner: Owner | None) -> None:
    """Give a run's lease to another process (a detached child), or to nobody (a Prefect
    deployment run waiting for a worker: kept by its heartbeat, then by Prefect's word)."""
    record = session.get(FlowRunRecord, record_id)
    if record is not None:
        record.owner_host = owner.host if owner else None
        record.owner_pid = owner.pid if owner else None
        record.heartbeat_at = wall_now()
        session.flush()


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
    else:  # whoever reports a live state is the process running it: it holds the lease
        here = this_process()
        record.owner_host, record.owner_pid, record.heartbeat_at = here.host, here.pid, wall_now()
    session.flush()
    return record


def mark_flow_run_failed(
    *, session: Session, record_id: int, message: str, state: FlowRunState = FlowRunState.failed
) -> None:
    """A run that ended before its own hooks could say so (the launcher's last word): failed,
    or cancelled when the process was stopped (Ctrl-C, SIGTERM)."""
    record = session.get(FlowRunRecord, record_id)
    if record is not None and record.state in LIVE:
        record.state = state
        record.message = message[:1000]
        record.finished_at = clock.now()


def set_flow_run_id(*, session: Session, record_id: int, prefect_flow_run_id: str) -> None:
    record = session.get(FlowRunRecord, record_id)
    if record is not None and record.prefect_flow_run_id is None:
        record.prefect_flow_run_id = prefect_flow_run_id


def flows_running(*, session: Session, store_ids: list[int], cycle_id: int | None = None) -> bool:
    """Whether work is still under way for these stores (and this cycle): a run scheduled or
    running whose process is alive. For a cycle, its own stage runs count and so do the
    store's runs that belong to no cycle yet (the monthly cycle and the watcher run the stages
    one after another, so between two stages only they are live)."""
    scope = (FlowRunRecord.store_id.in_(store_ids)) | (FlowRunRecord.store_id.is_(None))
    if cycle_id is not None:
        scope = (FlowRunRecord.cycle_id == cycle_id) | (scope & FlowRunRecord.cycle_id.is_(None))
    here, now = this_process(), wall_now()
    return any(is_alive(r, here=here, now=now) for r in _live_records(session, scope))


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


# The flows that carry a cycle through its first stages (flows/monthly_cycle.py).
CYCLE_RUNNERS = ("monthly_cycle", "cycle_for_store", "resume_cycle")


def cycle_in_hand(*, session: Session, cycle_id: int, store_id: int) -> bool:
    """Whether a live process is carrying this cycle: a run of one of its stages, or a run of
    the monthly cycle for its store (or for every store). The watcher resumes a cycle left
    between two stages only when nobody is."""
    scope = (FlowRunRecord.cycle_id == cycle_id) | (
        FlowRunRecord.flow_name.in_(CYCLE_RUNNERS)
        & (FlowRunRecord.store_id.is_(None) | (FlowRunRecord.store_id == store_id))
    )
    here, now = this_process(), wall_now()
    return any(is_alive(r, here=here, now=now) for r in _live_records(session, scope))
