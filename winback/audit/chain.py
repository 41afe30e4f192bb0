"""Tamper evidence for the audit trail: a hash chain per store.

Each event carries ``seq`` (its place in its store's chain, from 1), ``prev_hash`` (the hash
of the event before it, "" for the first) and ``hash`` = HMAC-SHA256 over its content and
``prev_hash``, keyed with the audit key, which is kept outside the database
(``winback.audit.key``): whoever changes rows in SQL cannot recompute hashes that verify.
(Until migration 0016 the hash was a plain SHA-256, which anyone could recompute.)

Events are chained **at commit**, not when they are recorded: ``record`` inserts the event with
``seq`` 0 and remembers it on the session; just before the transaction commits, ``seal_pending``
locks each chain's head (``audit_chain_heads``: PostgreSQL SELECT ... FOR UPDATE; SQLite
serializes writers anyway), gives the events their places and hashes and moves the head on, all in
that same transaction. The head is held for the commit only, not for the whole request, so two
people working in one store no longer queue behind each other's requests (issue 20), and such an
event is never committed without its place. A chain's order is therefore commit order (``seq``),
not id order.

The web's requests do not even wait for the head: a request's session is marked ``seal_later``
(``edge.session``), its events commit outside the chain (``seq`` 0), each with HMAC-SHA256 over
its content as it stands there (``waiting_hash``, computed when recorded), and a sealer of the
web process chains them soon after the commit, a fifth of a second's commits at once
(``seal_waiting``: the head locked, the store's waiting events in id order, each one's HMAC
checked first). Measured at saturation (``bench/soak.py``), a request's commit-time seal held
the store's head while its worker's other threads took the interpreter in turns, and every
write in the store queued behind it (up to 11 sessions waiting on the head's lock at once). An
event that waits can be told from one written without the application: without the key nobody
computes its HMAC, and such an event is never chained. (What the wait leaves open: until an
event is chained, someone with SQL access could delete or copy it unseen; the wait is a
fraction of a second, or after a web process was killed, until the first write after its
restart.)

``verify`` walks every chain in ``seq`` order: an edited event no longer matches its hash, a
deleted one leaves a gap in ``seq`` (or a head that is ahead of the last event), events moved in
the chain (seq changed, rows re-inserted) break the prev_hash sequence, and an event outside any
chain is named unless it is waiting for its place with a valid HMAC (then it is counted as
waiting).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC

from sqlalchemy import bindparam, event, inspect, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from winback.audit import key as audit_key
from winback.audit.key import AuditKey
from winback.audit.models import AuditChainHead, AuditEvent

NO_STORE = 0  # the chain of events that belong to no store


def chain_of(store_id: int | None) -> int:
    return store_id if store_id is not None else NO_STORE


# An event's place outside the chain: no ``seq``, no previous hash (see ``waiting_hash``).
OUTSIDE = (0, "")


def canonical(event: AuditEvent, place: tuple[int, str] | None = None) -> bytes:
    """The bytes an event's hash is computed over: its content, place in the chain and the
    previous hash (or ``place``, as (seq, prev_hash)), as canonical JSON."""
    at = event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    seq, prev_hash = place or (event.seq, event.prev_hash)
    body = {
        "store_id": event.store_id,
        "seq": seq,
        "prev_hash": prev_hash,
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


def content_hash(event: AuditEvent, key: AuditKey | None = None, place: tuple[int, str] | None = None) -> str:
    """HMAC-SHA256 (hex) of ``canonical(event, place)`` with the audit key."""
    secret = (key or audit_key.current()).secret
    return hmac.new(secret, canonical(event, place), hashlib.sha256).hexdigest()


def unkeyed_hash(event: AuditEvent) -> str:
    """The plain SHA-256 the chain used before it was keyed: what someone without the key
    computes. A stored hash equal to it shows a hash recomputed outside the application."""
    return hashlib.sha256(canonical(event)).hexdigest()


def _locked_head_pg(session: Session, chain: int) -> tuple[int, str]:
    """PostgreSQL: the chain's head (seq, hash), created if missing and locked until the
    transaction ends, in one statement: ON CONFLICT DO UPDATE locks the existing row as
    SELECT ... FOR UPDATE would (the update leaves it as it was)."""
    table = AuditChainHead.__table__
    stmt = pg_insert(table).values(chain=chain, seq=0, hash="")
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.chain], set_={"seq": table.c.seq})
    seq, hash_ = session.execute(stmt.returning(table.c.seq, table.c.hash)).one()
    return seq, hash_


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


# The events recorded in a session's transaction and not yet chained (see seal_pending).
PENDING = "audit_unchained"
# A session whose events are chained after its commit (``seal_waiting``), not in it.
SEAL_LATER = "audit_seal_later"
# The chains a committed seal-later session left events waiting in (for its sealer).
WAITING = "audit_waiting_chains"


def waiting_hash(event: AuditEvent, key: AuditKey | None = None) -> str:
    """HMAC of an event outside the chain (``seq`` 0, no previous hash): what it carries while
    it waits for its place, and what the sealer checks before giving it one."""
    return content_hash(event, key, OUTSIDE)


def seal_later(session: Session) -> None:
    """Chain this session's events after it commits (its caller hands ``WAITING`` to a sealer)."""
    session.info[SEAL_LATER] = True


def defer(session: Session, ev: AuditEvent) -> None:
    """Remember ``ev`` (just added to ``session``) to be chained when the transaction commits."""
    session.info.setdefault(PENDING, []).append(ev)


_SEAL = (
    AuditEvent.__table__.update()
    .where(AuditEvent.__table__.c.id == bindparam("event_id"))
    .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"))
)


def seal_pending(session: Session) -> int:
    """Chain the transaction's events: lock each head (chains in one order: no deadlock between
    two writers of two stores), give each event its place and hash in insertion order, move the
    head on. The event rows are written with one UPDATE by primary key: the only change an event
    ever gets, before anyone else can see it. Returns how many were chained."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return 0
    session.flush()
    live = [ev for ev in pending if inspect(ev).persistent]  # a rolled-back savepoint's are gone
    by_chain: dict[int, list[AuditEvent]] = defaultdict(list)
    for ev in live:
        by_chain[chain_of(ev.store_id)].append(ev)
    for chain in sorted(by_chain):
        _chain(session, chain, by_chain[chain].copy)
    session.flush()
    return len(live)


def _chain(session: Session, chain: int, events) -> int:
    """Lock the chain's head, then give ``events()`` (read once the head is held) their places
    and hashes in id order and move the head on. Returns how many were chained."""
    head = None
    if session.get_bind().dialect.name == "postgresql":
        seq, hash_ = _locked_head_pg(session, chain)
    else:
        head = _locked_head(session, chain)
        seq, hash_ = head.seq, head.hash
    rows = []
    for ev in sorted(events(), key=lambda e: e.id):
        set_committed_value(ev, "seq", seq + 1)
        set_committed_value(ev, "prev_hash", hash_)
        set_committed_value(ev, "hash", content_hash(ev))
        seq, hash_ = ev.seq, ev.hash
        rows.append({"event_id": ev.id, "new_seq": ev.seq, "new_prev": ev.prev_hash, "new_hash": ev.hash})
    if not rows:
        return 0
    session.execute(_SEAL, rows)
    if head is not None:
        head.seq, head.hash = seq, hash_
    else:
        # an ORM update: a head object this session holds is brought up to date too
        session.execute(
            update(AuditChainHead).where(AuditChainHead.chain == chain).values(seq=seq, hash=hash_)
        )
    return len(rows)


def _in_chain(chain: int):
    return AuditEvent.store_id.is_(None) if chain == NO_STORE else AuditEvent.store_id == chain


def seal_waiting(*, session: Session, chain: int) -> int:
    """Chain the events waiting in ``chain`` (committed by seal-later sessions), in id order,
    in the caller's transaction. An event whose HMAC does not match is left where it is, for
    ``verify`` to name. Returns how many were chained."""

    def waiting() -> list[AuditEvent]:
        rows = session.scalars(
            select(AuditEvent).where(_in_chain(chain), AuditEvent.seq == 0).order_by(AuditEvent.id)
        ).all()
        return [ev for ev in rows if hmac.compare_digest(ev.hash, waiting_hash(ev))]

    return _chain(session, chain, waiting)


def chains_waiting(*, session: Session) -> set[int]:
    """The chains that hold events waiting for their place (a sealer that stopped before it
    chained them: a web process killed between a commit and its seal)."""
    return {
        chain_of(s)
        for s in session.scalars(select(AuditEvent.store_id).where(AuditEvent.seq == 0).distinct())
    }


@event.listens_for(Session, "before_commit")
def _seal_before_commit(session: Session) -> None:
    if not session.info.get(SEAL_LATER):
        seal_pending(session)
        return
    pending = session.info.pop(PENDING, None)
    if pending:
        session.info[WAITING] = session.info.get(WAITING, set()) | {chain_of(ev.store_id) for ev in pending}


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction) -> None:
    """A transaction rolled back or closed: its events are gone, nothing to chain."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_event_id: int | None = None
    store_id: int | None = None
    reason: str = ""
    key: str = ""  # which key the hashes were checked with (AuditKey.describe())
    waiting: int = 0  # events with a valid HMAC not yet given their place (sealed within seconds)

    def line(self) -> str:
        with_key = f" (HMAC-SHA256, {self.key})" if self.key else ""
        if self.ok:
            waiting = f", {self.waiting} waiting for their place" if self.waiting else ""
            return f"audit trail intact: {self.checked} events checked{waiting}{with_key}"
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
    checked = waiting = 0
    for chain in chains:
        store = None if chain == NO_STORE else chain
        cond = _in_chain(chain)
        for ev in session.scalars(
            select(AuditEvent).where(cond, AuditEvent.seq == 0).order_by(AuditEvent.id)
        ):
            if ev.prev_hash or not hmac.compare_digest(waiting_hash(ev, key), ev.hash):
                return VerifyResult(
                    False,
                    checked,
                    ev.id,
                    store,
                    "an event outside the chain (written without the application)",
                )
            waiting += 1
        expected_seq, prev_hash, last = 1, "", (0, 0)
        while True:
            rows = list(
                session.scalars(
                    select(AuditEvent)
                    .where(cond, AuditEvent.seq > 0, tuple_(AuditEvent.seq, AuditEvent.id) > last)
                    .order_by(AuditEvent.seq, AuditEvent.id)
                    .limit(batch)
                )
            )
            if not rows:
                break
            for ev in rows:
                checked += 1
                if ev.seq != expected_seq:
                    reason = f"expected event #{expected_seq} of the chain, found #{ev.seq}: " + (
                        "an event was deleted" if ev.seq > expected_seq else "events out of order"
                    )
                    return VerifyResult(False, checked, ev.id, store, reason)
                if ev.prev_hash != prev_hash:
                    return VerifyResult(
                        False,
                        checked,
                        ev.id,
                        store,
                        "does not follow the event before it (events out of order)",
                    )
                if not hmac.compare_digest(content_hash(ev, key), ev.hash):
                    reason = (
                        "its hash was recomputed without the audit key (content altered or events "
                        "removed before it)"
                        if ev.hash == unkeyed_hash(ev)
                        else "content altered (hash mismatch), or the chain was sealed with another key"
                    )
                    return VerifyResult(False, checked, ev.id, store, reason)
                expected_seq, prev_hash, last = ev.seq + 1, ev.hash, (ev.seq, ev.id)
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
    return VerifyResult(True, checked, waiting=waiting)
