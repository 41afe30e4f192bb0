"""The web's audit events are chained after the request commits (winback.audit.chain, "seal
later"; edge.audit_sealer): a request never waits for its store's chain head, an event waiting
for its place verifies as waiting, one written without the key is never chained."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, insert, select, text

import db.session
from edge import audit_sealer
from edge.audit_sealer import sealer
from winback import clock
from winback.actor import Actor
from winback.audit import chain
from winback.audit import service as audit
from winback.audit.models import AuditEvent
from winback.surveys.models import SurveyStatus, SurveyTask


def _record(store_id: int, n: int) -> list[int]:
    """``n`` events in a seal-later session of their own, committed; their ids."""
    s = db.session.new_session()
    chain.seal_later(s)
    try:
        events = [
            audit.record(
                session=s,
                actor=Actor.system(label="test"),
                action="test.waiting",
                entity_type="store",
                entity_id=store_id,
                store_id=store_id,
                changes={"n": i},
            )
            for i in range(n)
        ]
        s.commit()
        assert s.info.pop(chain.WAITING) == {store_id}
        return [e.id for e in events]
    finally:
        s.close()


def _places(session, ids: list[int]) -> list[int]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.seq).where(AuditEvent.id.in_(ids)).order_by(AuditEvent.id)))


def test_waiting_events_verify_as_waiting_and_are_chained_in_order(session, demo_store):
    first, second = _record(demo_store, 2), _record(demo_store, 1)
    assert _places(session, first + second) == [0, 0, 0]
    result = audit.verify(session=session)
    assert result.ok and result.waiting == 3, result
    assert "3 waiting for their place" in result.line()

    end = session.scalar(
        select(AuditEvent.seq)
        .where(AuditEvent.store_id == demo_store)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    assert chain.seal_waiting(session=session, chain=demo_store) == 3
    session.commit()
    assert _places(session, first + second) == [end + 1, end + 2, end + 3]
    result = audit.verify(session=session)
    assert result.ok and result.waiting == 0, result
    assert chain.seal_waiting(session=session, chain=demo_store) == 0  # nothing left: nothing done


def test_an_event_written_without_the_key_is_never_chained(session, demo_store):
    good = _record(demo_store, 1)
    forged = session.execute(
        insert(AuditEvent)
        .values(
            store_id=demo_store,
            at=clock.now(),
            actor_label="someone with SQL",
            action="task.closed",
            entity_type="survey_task",
            entity_id=1,
            changes={},
            seq=0,
            prev_hash="",
            hash="0" * 64,
        )
        .returning(AuditEvent.id)
    ).scalar_one()
    session.commit()
    bad = audit.verify(session=session)
    assert not bad.ok and bad.bad_event_id == forged and "outside the chain" in bad.reason

    assert chain.seal_waiting(session=session, chain=demo_store) == 1  # the good one only
    session.commit()
    assert _places(session, [forged]) == [0]
    assert _places(session, good)[0] > 0
    assert audit.verify(session=session).bad_event_id == forged


def test_a_request_does_not_wait_for_the_stores_chain_head(surveying_cycle, client, session, db_url):
    """On PostgreSQL another transaction holds the store's chain head (as a sealer does): the
    advisor's call is answered all the same, and chained once the head is free."""
    from tests.pages import login

    task = session.scalar(
        select(SurveyTask)
        .where(SurveyTask.cycle_id == surveying_cycle, SurveyTask.status == SurveyStatus.open)
        .order_by(SurveyTask.id)
        .limit(1)
    )
    store_id = session.scalar(text("select store_id from cycles where id = :c"), {"c": surveying_cycle})
    advisor = session.scalar(text("select username from staff where id = :s"), {"s": task.assignee_id})
    session.rollback()
    login(client, advisor)
    sealer.wait_idle()

    holder = engine = None
    if db_url.startswith("postgresql"):
        engine = create_engine(db_url)
        holder = engine.connect()
        held = holder.execute(
            text("select count(*) from (select 1 from audit_chain_heads where chain = :c for update) h"),
            {"c": store_id},
        ).scalar_one()
        assert held == 1  # the store's head exists and is locked by this other transaction
    try:
        answered: dict[str, object] = {}

        def call() -> None:
            answered["response"] = client.post(
                f"/api/tasks/{task.id}/attempts", json={"method": "phone", "outcome": "no_answer"}
            )

        caller = threading.Thread(target=call)
        caller.start()
        caller.join(20)
        assert not caller.is_alive(), "the request waited for the chain head"
        assert answered["response"].status_code == 201, answered["response"].text
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "task.contact_attempt", AuditEvent.entity_id == task.id)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        if holder is not None:
            time.sleep(0.5)  # the sealer is waiting for the head meanwhile
            session.expire_all()
            assert session.get(AuditEvent, event.id).seq == 0
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
            engine.dispose()
    assert sealer.wait_idle(30)
    session.expire_all()
    assert session.get(AuditEvent, event.id).seq > 0
    assert audit.verify(session=session).ok


def test_a_burst_of_commits_is_chained_in_one_seal(session, demo_store, monkeypatch):
    """The sealer gathers the commits that follow the one that woke it (edge.audit_sealer,
    GATHER_SECONDS): ten requests' events in quick succession cost one seal, not one each."""
    sealer.wait_idle()
    seals: list[int] = []
    real = chain.seal_waiting

    def counted(*, session, chain):
        done = real(session=session, chain=chain)
        if chain == demo_store:  # (a process's first seal also looks at every other chain)
            seals.append(done)
        return done

    monkeypatch.setattr(chain, "seal_waiting", counted)
    # a wider window than the default fifth of a second, so that a slow machine's ten commits
    # still fall into one (read by the sealer each time it wakes)
    monkeypatch.setattr(audit_sealer, "GATHER_SECONDS", 1.0)
    ids = []
    for _ in range(10):
        ids += _record(demo_store, 1)
        sealer.request({demo_store})
    assert sealer.wait_idle(30, hurry=False)
    assert sum(seals) == 10 and len(seals) == 1, seals
    assert 0 not in _places(session, ids)
    assert audit.verify(session=session).ok
