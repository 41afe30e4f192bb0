"""The audit chain is keyed: every event's hash becomes HMAC-SHA256 with the audit key, which
lives outside the database (WINBACK_AUDIT_KEY or the data directory's ``audit_key`` file,
see winback/audit/key.py), so hashes recomputed in SQL no longer verify (issue 15).

Run ``winback db upgrade`` with the same key settings as the application. Each chain is
re-sealed in order, checking the old (unkeyed SHA-256) hashes on the way: a chain that was
already broken is re-sealed only up to its first broken event, which keeps its old hash, so
``winback audit verify`` still names it afterwards (tampering is never sealed over).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 17:45:00
"""

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


# A migration is a snapshot: it carries its own copy of the hash's input and of the key's
# place (winback/audit/chain.py canonical, winback/audit/key.py load) instead of importing
# the application, whose code moves on.


def canonical(event) -> bytes:
    at = event.at if isinstance(event.at, datetime) else datetime.fromisoformat(str(event.at))
    if at.tzinfo is None:  # the application stores UTC (db/base.py UTCDateTime)
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
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


def _secret() -> bytes:
    """WINBACK_AUDIT_KEY, else the data directory's ``audit_key`` file (created, mode 0600)."""
    from_env = os.environ.get("WINBACK_AUDIT_KEY", "")
    if from_env:
        return from_env.encode("utf-8")
    data_dir = Path(os.environ.get("WINBACK_DATA_DIR", ".winback")).resolve()
    path = data_dir / "audit_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        except FileExistsError:
            pass
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def _reseal(rekey) -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    events = sa.Table("audit_events", meta, autoload_with=bind)
    heads = sa.Table("audit_chain_heads", meta, autoload_with=bind)
    chains = [row[0] for row in bind.execute(sa.select(events.c.store_id).distinct())]
    for store_id in chains:
        cond = events.c.store_id.is_(None) if store_id is None else events.c.store_id == store_id
        rows = bind.execute(sa.select(events).where(cond).order_by(events.c.id)).mappings()
        old_prev = new_prev = ""
        expected_seq = 1
        updates = []
        intact = True
        for row in rows:
            ev = SimpleNamespace(**row)
            if ev.seq != expected_seq or ev.prev_hash != old_prev or rekey(ev, None) != ev.hash:
                intact = False
                break
            old_prev = ev.hash
            ev.prev_hash = new_prev
            new_hash = rekey(ev, canonical)
            updates.append({"i": ev.id, "p": new_prev, "h": new_hash})
            new_prev, expected_seq = new_hash, expected_seq + 1
        if updates:
            bind.execute(
                sa.update(events)
                .where(events.c.id == sa.bindparam("i"))
                .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
                updates,
            )
        chain = store_id if store_id is not None else 0
        head = bind.execute(sa.select(heads).where(heads.c.chain == chain)).mappings().first()
        if intact and head is not None and head["hash"] == old_prev and head["seq"] == expected_seq - 1:
            bind.execute(sa.update(heads).where(heads.c.chain == chain).values(hash=new_prev))


def upgrade() -> None:
    secret = _secret()

    def rekey(ev, keyed):
        if keyed is None:  # the old, unkeyed hash
            return hashlib.sha256(canonical(ev)).hexdigest()
        return hmac.new(secret, keyed(ev), hashlib.sha256).hexdigest()

    _reseal(rekey)


def downgrade() -> None:
    secret = _secret()

    def unkey(ev, plain):
        if plain is None:  # the keyed hash being undone
            return hmac.new(secret, canonical(ev), hashlib.sha256).hexdigest()
        return hashlib.sha256(plain(ev)).hexdigest()

    _reseal(unkey)
