"""The keyed audit chain (issue 15, item 8): hashes recomputed in SQL without the key are
detected and named; the key lives outside the database; the upgrade re-seals old chains."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

import db.migrate
import db.session
from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.audit import chain
from winback.audit import key as audit_key
from winback.audit import service as audit
from winback.audit.models import AuditEvent


@pytest.fixture
def two_stores(session) -> dict[str, int]:
    clock.set_now("2026-11-02T09:00")
    system = Actor.system(label="test")
    ids = {}
    for code in ("S01", "S02"):
        store = accounts.create_store(session=session, code=code, name=code, actor=system)
        ids[code] = store.id
        for n in range(4):
            accounts.create_staff(
                session=session,
                store_id=store.id,
                username=f"staff{n}_{code}".lower(),
                display_name=f"staff {n}",
                password="secret-pass-1",
                roles=[Role.advisor],
                actor=system,
            )
    session.commit()
    return ids


def _rehash_from(session, store_id: int, first_id: int, hasher) -> None:
    """What someone with write access to the database does to hide an edit or a delete:
    renumber the chain from ``first_id`` on, recompute every hash after it with ``hasher``
    and move the head, all in SQL."""
    events = list(
        session.scalars(select(AuditEvent).where(AuditEvent.store_id == store_id).order_by(AuditEvent.id))
    )
    prev, seq = "", 0
    for ev in events:
        seq += 1
        if ev.id >= first_id:
            row = SimpleNamespace(**{c.key: getattr(ev, c.key) for c in AuditEvent.__table__.columns})
            row.seq, row.prev_hash = seq, prev
            digest = hasher(chain.canonical(row))
            session.execute(
                text("UPDATE audit_events SET seq = :s, prev_hash = :p, hash = :h WHERE id = :i"),
                {"s": seq, "p": prev, "h": digest, "i": ev.id},
            )
            prev = digest
        else:
            prev = ev.hash
    session.execute(
        text("UPDATE audit_chain_heads SET seq = :s, hash = :h WHERE chain = :c"),
        {"s": seq, "h": prev, "c": store_id},
    )
    session.commit()
    session.expire_all()


def test_edit_and_delete_with_hashes_recomputed_in_sql_are_detected(session, two_stores):
    s01 = two_stores["S01"]
    ids = list(
        session.scalars(select(AuditEvent.id).where(AuditEvent.store_id == s01).order_by(AuditEvent.id))
    )
    assert len(ids) >= 5 and audit.verify(session=session).ok
    edited, deleted = ids[1], ids[3]
    session.execute(text("UPDATE audit_events SET actor_label = 'someone-else' WHERE id = :i"), {"i": edited})
    session.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": deleted})
    session.commit()
    session.expire_all()

    # recomputed without the key (plain SHA-256, what the chain used to be): caught, named
    _rehash_from(session, s01, edited, lambda raw: hashlib.sha256(raw).hexdigest())
    bad = audit.verify(session=session)
    key = audit_key.current()
    assert not bad.ok and bad.bad_event_id == edited and bad.store_id == s01
    assert "without the audit key" in bad.reason
    assert key.fingerprint in bad.line() and key.source in bad.line()
    r = CliRunner().invoke(__import__("winback.cli", fromlist=["app"]).app, ["audit", "verify"])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert f"event {edited}" in r.output and key.fingerprint in r.output
    # the other store's chain is intact, and says with which key it was checked
    ok = audit.verify(session=session, store_ids=[two_stores["S02"]])
    assert ok.ok and f"key {key.fingerprint}" in ok.line()

    # the control: the same recomputation with the key verifies, so it is the key that told
    _rehash_from(session, s01, edited, lambda raw: hmac.new(key.secret, raw, hashlib.sha256).hexdigest())
    assert audit.verify(session=session).ok
    # ... and a different key is a mismatch too
    _rehash_from(session, s01, edited, lambda raw: hmac.new(b"guessed", raw, hashlib.sha256).hexdigest())
    bad = audit.verify(session=session)
    assert not bad.ok and bad.bad_event_id == edited and "another key" in bad.reason


def test_the_key_file_is_made_once_with_0600_and_the_environment_wins(tmp_path):
    first = audit_key.load("", tmp_path)
    path = tmp_path / audit_key.FILE_NAME
    assert path.is_file() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.source == str(path) and len(first.secret) == 64
    audit_key.load.cache_clear()
    assert audit_key.load("", tmp_path) == first  # read back, not made again
    from_env = audit_key.load("an operator's key", tmp_path)
    assert from_env.secret == b"an operator's key" and "WINBACK_AUDIT_KEY" in from_env.describe()
    assert from_env.fingerprint != first.fingerprint


def test_the_upgrade_reseals_old_chains_and_keeps_tampering_visible(db_url, session, two_stores):
    """Down to 0015 (unkeyed SHA-256, as before the key), an edit nobody recomputed in S02,
    then up: S01 is re-sealed with the key and verifies; S02 is re-sealed only up to the edit,
    which verify still names."""
    from alembic import command

    s02 = two_stores["S02"]
    ids = list(
        session.scalars(select(AuditEvent.id).where(AuditEvent.store_id == s02).order_by(AuditEvent.id))
    )
    session.close()
    cfg = db.migrate.alembic_config(db_url)
    command.downgrade(cfg, "0015")
    s = db.session.new_session()
    try:
        plain = {ev.id: ev.hash for ev in s.scalars(select(AuditEvent))}
        ev = s.get(AuditEvent, ids[0])
        assert ev.hash == chain.unkeyed_hash(ev)  # unkeyed before 0016
        s.execute(text("UPDATE audit_events SET actor_label = 'x' WHERE id = :i"), {"i": ids[2]})
        s.commit()
    finally:
        s.close()
    command.upgrade(cfg, "head")
    s = db.session.new_session()
    try:
        after = {ev.id: ev.hash for ev in s.scalars(select(AuditEvent))}
        assert after[ids[0]] != plain[ids[0]] and after[ids[2]] == plain[ids[2]]
        assert audit.verify(session=s, store_ids=[two_stores["S01"]]).ok
        bad = audit.verify(session=s, store_ids=[s02])
        assert not bad.ok and bad.bad_event_id == ids[2]
    finally:
        s.close()
