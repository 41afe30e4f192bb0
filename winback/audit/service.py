"""Recording and reading the audit trail. Events are only ever added, never changed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from winback import clock
from winback.actor import Actor
from winback.audit import chain
from winback.audit.models import AuditEvent
from winback.paging import PAGE_SIZE, Page, paginate


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int,
    store_id: int | None,
    changes: dict[str, Any] | None = None,
    customer_id: int | None = None,
    cycle_id: int | None = None,
) -> AuditEvent:
    """Add one event in the caller's transaction (so it commits or rolls back with the change)."""
    event = AuditEvent(
        store_id=store_id,
        at=clock.now(),
        actor_id=actor.staff_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=_plain(changes or {}),
        flow_run_id=actor.flow_run_id,
        customer_id=customer_id,
        cycle_id=cycle_id,
        seq=0,
        prev_hash="",
    )
    # Its HMAC outside the chain: what it carries if it commits before it is chained (a web
    # request's events, chained right after by the process's sealer; winback.audit.chain).
    event.hash = chain.waiting_hash(event)
    session.add(event)
    chain.defer(session, event)  # chained when the transaction commits (winback.audit.chain)
    return event


def diff(obj: Any, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Apply ``values`` to ``obj`` and return {field: {"before": .., "after": ..}} of real changes."""
    changes: dict[str, dict[str, Any]] = {}
    for key, new in values.items():
        old = getattr(obj, key)
        if old != new:
            changes[key] = {"before": _plain(old), "after": _plain(new)}
            setattr(obj, key, new)
    return changes


def timeline(
    *,
    session: Session,
    store_ids: list[int],
    entity_type: str,
    entity_id: int,
    limit: int = 500,
) -> list[AuditEvent]:
    """Events of one entity, plus (for customers and cycles) the events that concern it."""
    conditions = [(AuditEvent.entity_type == entity_type) & (AuditEvent.entity_id == entity_id)]
    if entity_type == "customer":
        conditions.append(AuditEvent.customer_id == entity_id)
    if entity_type == "cycle":
        conditions.append(AuditEvent.cycle_id == entity_id)
    stmt = (
        select(AuditEvent)
        .where(or_(*conditions), AuditEvent.store_id.in_(store_ids))
        .order_by(AuditEvent.at, AuditEvent.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def recent(*, session: Session, store_ids: list[int], limit: int = 100) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.store_id.in_(store_ids))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def verify(*, session: Session, store_ids: list[int] | None = None) -> chain.VerifyResult:
    """Recompute the hash chains; names the first event altered, deleted or out of order."""
    return chain.verify(session=session, store_ids=store_ids)


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=clock.business_tz())


def _search_query(
    *,
    store_ids: list[int],
    actor: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
):
    stmt = select(AuditEvent).where(AuditEvent.store_id.in_(store_ids))
    if actor:
        stmt = stmt.where(AuditEvent.actor_label == actor.strip())
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action.strip(), autoescape=True))
    if since:
        stmt = stmt.where(AuditEvent.at >= _start_of_day(since))
    if until:
        stmt = stmt.where(AuditEvent.at < _start_of_day(until + timedelta(days=1)))
    return stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def search(
    *,
    session: Session,
    store_ids: list[int],
    actor: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 200,
) -> list[AuditEvent]:
    """Events of the stores, newest first, filtered by person (username, or "system"),
    action (prefix, e.g. "task." or "plan.approved") and business dates (inclusive)."""
    stmt = _search_query(store_ids=store_ids, actor=actor, action=action, since=since, until=until)
    return list(session.scalars(stmt.limit(limit)))


def search_page(
    *,
    session: Session,
    store_ids: list[int],
    actor: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[AuditEvent]:
    """``search`` a page at a time (the audit page)."""
    stmt = _search_query(store_ids=store_ids, actor=actor, action=action, since=since, until=until)
    return paginate(
        session, stmt, page=page, page_size=page_size, filtered=bool(actor or action or since or until)
    )


def record_export(
    *, session: Session, actor: Actor, store_id: int, what: str, filters: dict[str, Any], rows: int
) -> AuditEvent:
    """Exports say who exported what: the export itself is an audit event."""
    return record(
        session=session,
        actor=actor,
        action="audit.exported",
        entity_type="export",
        entity_id=0,
        store_id=store_id,
        changes={"what": what, "filters": filters, "rows": rows},
    )
