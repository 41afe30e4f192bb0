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
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _reseal(rekey) -> None:
    from winback.audit.chain import canonical
    from winback.audit.models import AuditChainHead, AuditEvent

    bind = op.get_bind()
    events = AuditEvent.__table__
    heads = AuditChainHead.__table__
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
    from winback.audit.chain import canonical
    from winback.audit.key import current

    secret = current().secret

    def rekey(ev, keyed):
        if keyed is None:  # the old, unkeyed hash
            return hashlib.sha256(canonical(ev)).hexdigest()
        return hmac.new(secret, keyed(ev), hashlib.sha256).hexdigest()

    _reseal(rekey)


def downgrade() -> None:
    from winback.audit.chain import canonical
    from winback.audit.key import current

    secret = current().secret

    def unkey(ev, plain):
        if plain is None:  # the keyed hash being undone
            return hmac.new(secret, canonical(ev), hashlib.sha256).hexdigest()
        return hashlib.sha256(plain(ev)).hexdigest()

    _reseal(unkey)
