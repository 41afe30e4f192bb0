"""Moving business time for a demo, for every process at once (``winback.clock``'s demo clock).

``--as-of`` on the CLI and ``winback clock set`` keep the time in the database, so a running
web server and the flows see the same day as the command; ``winback clock reset`` lets the
real time run again. Each change is an audit event (``clock.moved`` / ``clock.reset``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

# The audit trail's mappers refer to stores and staff.
import winback.accounts.models  # noqa: F401
from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.clock import DemoClock


def current(*, session: Session) -> datetime | None:
    """The demo clock as stored (None: real time)."""
    row = session.get(DemoClock, 1)
    return row.as_of if row is not None else None


def set_demo_clock(*, session: Session, as_of: datetime, actor: Actor) -> DemoClock:
    """Move business time to ``as_of`` for every process reading this database."""
    row = session.get(DemoClock, 1)
    before = row.as_of.isoformat() if row is not None else None
    if row is None:
        row = DemoClock(id=1, as_of=as_of, set_at=as_of)
        session.add(row)
    row.as_of = as_of
    row.set_at = as_of
    session.flush()
    if before != as_of.isoformat():
        audit_service.record(
            session=session,
            actor=actor,
            action="clock.moved",
            entity_type="demo_clock",
            entity_id=1,
            store_id=None,
            changes={"as_of": {"before": before, "after": as_of.isoformat()}},
        )
    clock.remember_stored(as_of)
    return row


def reset_demo_clock(*, session: Session, actor: Actor) -> bool:
    """Let the real time run again; False when no demo clock was set."""
    row = session.get(DemoClock, 1)
    clock.remember_stored(None)
    if row is None:
        return False
    before = row.as_of.isoformat()
    session.delete(row)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="clock.reset",
        entity_type="demo_clock",
        entity_id=1,
        store_id=None,
        changes={"as_of": {"before": before, "after": None}},
    )
    return True
