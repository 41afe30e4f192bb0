"""Tamper evidence for the audit trail: a hash chain per store.

Each event carries ``seq`` (its place in its store's chain, from 1), ``prev_hash`` (the hash
of the event before it, "" for the first) and ``hash`` = HMAC-SHA256 over its content and
``prev_hash``, keyed with the audit key, which is kept outside the database
(``winback.audit.key``): whoever changes rows in SQL cannot recompute hashes that verify.
(Until migration 0016 the hash was a plain SHA-256, which anyone could recompute.) The head of each chain (last seq and hash) lives in ``audit_chain_heads``;
appending locks that row, so two transactions writing to one store chain one after the other
(PostgreSQL: SELECT ... FOR UPDATE; SQLite serializes writers anyway).

``verify`` recomputes every chain: an edited event no longer matches its hash, a deleted one
leaves a gap in ``seq`` (or a head that is ahead of the last event), and events moved out of
insertion order (ids swapped, rows re-inserted) break the seq/prev_hash sequence.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from winback.audit import key as audit_key
from winback.audit.key import AuditKey
from winback.audit.models import AuditChainHead, AuditEvent

NO_STORE = 0  # the chain of events that belong to no store


def chain_of(store_id: int | None) -> int:
    return store_id if store_id is not None else NO_STORE


def canonical(event: AuditEvent) -> bytes:
    """The bytes an event's hash is computed over: its content, place in the chain and the
    previous hash, as canonical JSON."""
    at = event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "store_id": event.store_id,
        "seq": event.seq,
        "prev_hash": event.prev_hash,
        "at": at,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "changes": event.changes,
        "flow_run_id": event.flow_run_id,
        "customer_id": event.customer_id,
        "cycle_id": event.cycle_id,
    }
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return raw.encode("utf-8")


def content_hash(event: AuditEvent, key: AuditKey | None = None) -> str:
    """HMAC-SHA256 (hex) of ``canonical(event)`` with the audit key."""
    secret = (key or audit_key.current()).secret
    return hmac.new(secret, canonical(event), hashlib.sha256).hexdigest()


def unkeyed_hash(event: AuditEvent) -> str:
    """The plain SHA-256 the chain used before it was keyed: what someone without the key
    computes. A stored hash equal to it shows a hash recomputed outside the application."""
    return hashlib.sha256(canonical(event)).hexdigest()


def _locked_head(session: Session, chain: int) -> AuditChainHead:
    """The chain's head row, created if missing, locked until the transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(AuditChainHead).values(chain=chain, seq=0, hash="").on_conflict_do_nothing())
    elif session.get(AuditChainHead, chain) is None:  # pragma: no cover - other databases
        session.add(AuditChainHead(chain=chain, seq=0, hash=""))
        session.flush()
    head = session.scalar(
        select(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert head is not None
    return head


def link(session: Session, event: AuditEvent) -> None:
    """Give ``event`` its place in its store's chain and its hash; move the head on."""
    head = _locked_head(session, chain_of(event.store_id))
    event.seq = head.seq + 1
    event.prev_hash = head.hash
    event.hash = content_hash(event)
    head.seq = event.seq
    head.hash = event.hash


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_event_id: int | None = None
    store_id: int | None = None
    reason: str = ""
    key: str = ""  # which key the hashes were checked with (AuditKey.describe())

    def line(self) -> str:
        with_key = f" (HMAC-SHA256, {self.key})" if self.key else ""
        if self.ok:
            return f"audit trail intact: {self.checked} events checked{with_key}"
        where = f"event {self.bad_event_id}" if self.bad_event_id is not None else "end of chain"
        return f"audit trail BROKEN at {where} (store {self.store_id}): {self.reason}{with_key}"


def verify(*, session: Session, store_ids: list[int] | None = None, batch: int = 2000) -> VerifyResult:
    """Recompute the chains (all stores, or ``store_ids``) with the audit key; the first
    broken event, if any."""
    key = audit_key.current()
    result = _verify(session, store_ids, batch, key)
    return replace(result, key=key.describe())


def _verify(session: Session, store_ids: list[int] | None, batch: int, key: AuditKey) -> VerifyResult:
    heads = {h.chain: h for h in session.scalars(select(AuditChainHead))}
    with_events = {chain_of(s) for s in session.scalars(select(AuditEvent.store_id).distinct())}
    chains = sorted(set(heads) | with_events)
    if store_ids is not None:
        chains = [c for c in chains if c in store_ids]
    checked = 0
    for chain in chains:
        store = None if chain == NO_STORE else chain
        cond = AuditEvent.store_id.is_(None) if store is None else AuditEvent.store_id == store
        expected_seq, prev_hash, last_id = 1, "", 0
        while True:
            rows = list(
                session.scalars(
                    select(AuditEvent)
                    .where(cond, AuditEvent.id > last_id)
                    .order_by(AuditEvent.id)
                    .limit(batch)
                )
            )
            if not rows:
                break
            for ev in rows:
                checked += 1
                if ev.seq != expected_seq:
                    missing = (
                        session.scalar(select(AuditEvent.id).where(cond, AuditEvent.seq == expected_seq))
                        is None
                    )
                    reason = f"expected event #{expected_seq} of the chain, found #{ev.seq}: " + (
                        "an event was deleted" if missing and ev.seq > expected_seq else "events out of order"
                    )
                    return VerifyResult(False, checked, ev.id, store, reason)
                if ev.prev_hash != prev_hash:
                    return VerifyResult(False, checked, ev.id, store, "does not follow the event before it")
                if not hmac.compare_digest(content_hash(ev, key), ev.hash):
                    reason = (
                        "its hash was recomputed without the audit key (content altered or events "
                        "removed before it)"
                        if ev.hash == unkeyed_hash(ev)
                        else "content altered (hash mismatch), or the chain was sealed with another key"
                    )
                    return VerifyResult(False, checked, ev.id, store, reason)
                expected_seq, prev_hash, last_id = ev.seq + 1, ev.hash, ev.id
        head = heads.get(chain)
        if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
            return VerifyResult(
                False,
                checked,
                None,
                store,
                f"the chain ends at #{expected_seq - 1} but its head says #{head.seq}: "
                "the last events were deleted",
            )
    return VerifyResult(True, checked)
