"""The audit trail (审计记录): who did what, when, to which entity; append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_store_at", "store_id", "at"),
        # verify walks each store's chain in seq order (commit order, see winback.audit.chain)
        Index("ix_audit_events_store_seq", "store_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A person, or None for the system (a flow); actor_label says which.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column()
    # Before/after of the fields that changed, or the facts of the action.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The Prefect flow run that made the change, when a flow made it.
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Other entities the event concerns (a task's customer, a plan's cycle), for timelines.
    customer_id: Mapped[int | None] = mapped_column(index=True)
    cycle_id: Mapped[int | None] = mapped_column(index=True)
    # Tamper evidence: the event's place in its store's chain (given at commit; 0 until then),
    # the previous event's hash and HMAC-SHA256 over this event's content and prev_hash
    # (see winback.audit.chain).
    seq: Mapped[int] = mapped_column(default=0, server_default="0")
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _append_only(_mapper, _connection, target: AuditEvent) -> None:
    """Events are only ever added: the application has no path that changes or removes one."""
    raise AppendOnlyViolation(f"audit event {target.id} is append-only")


class AppendOnlyViolation(RuntimeError):
    pass


class AuditChainHead(Base):
    """The last event of one store's chain (chain 0: events of no store). A commit that chains
    events locks this row (SELECT ... FOR UPDATE on PostgreSQL) for the commit only, so concurrent
    transactions chain one after the other in commit order."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64), default="")
