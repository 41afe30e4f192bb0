"""The Prefect flows: the monthly cycle up to the surveys, its tracking and its audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from winback.accounts.models import Store
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.cycles import flow_runs
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, FlowRunRecord, FlowRunState, MonthlyCycle, Target
from winback.notifications.models import Notification
from winback.surveys.models import SurveyTask


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.flow
def test_monthly_cycle_flow_runs_to_the_surveys(prefect_harness, session, demo_store, webhook, staff):
    from flows.monthly_cycle import monthly_cycle

    # One advisor receives notifications: the flow's delivery step must reach them.
    staff("advisor1").apprise_url = webhook.url
    session.commit()

    cycle_ids = monthly_cycle(month="2026-11", store_codes=["S01"])
    session.expire_all()
    assert len(cycle_ids) == 1
    cycle = session.get(MonthlyCycle, cycle_ids[0])
    assert (cycle.store_id, cycle.month) == (demo_store, "2026-11")
    assert cycle.stage == CycleStage.surveying
    assert cycle.cleanup is not None and cycle.cleanup["customers"] == 240
    assert cycle.profile is not None
    targets = _count(session, Target, Target.cycle_id == cycle.id)
    tasks = _count(session, SurveyTask, SurveyTask.cycle_id == cycle.id)
    assert targets > 0
    held = _count(session, Target, Target.cycle_id == cycle.id, Target.holdout.is_(True))
    assert held == round(targets * 0.10) > 0  # the randomized holdout is never contacted
    assert tasks == targets - held and targets == cycle.profile["targets"]

    # Every flow run is recorded, completed, with its Prefect id.
    records = list(session.scalars(select(FlowRunRecord).order_by(FlowRunRecord.id)))
    by_name: dict[str, list[FlowRunRecord]] = {}
    for r in records:
        by_name.setdefault(r.flow_name, []).append(r)
    for name in (
        "monthly_cycle",
        "cycle_for_store",
        "archive_cleanup",
        "screen_targets",
        "analyze_profiles",
        "assign_surveys",
    ):
        assert len(by_name.get(name, [])) == 1, (name, sorted(by_name))
        rec = by_name[name][0]
        assert rec.state == FlowRunState.completed, (name, rec.state, rec.message)
        assert rec.prefect_flow_run_id
        assert rec.finished_at is not None
    assert by_name["monthly_cycle"][0].launch_key == "monthly_cycle:month=2026-11,store_codes=['S01']"
    assert by_name["screen_targets"][0].cycle_id == cycle.id
    assert by_name["assign_surveys"][0].store_id == demo_store
    assert len({r.prefect_flow_run_id for r in records}) == len(records)

    # The audit trail names the flow run that made each change.
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.cycle_id == cycle.id)))
    actions = {e.action for e in events}
    assert {"cycle.started", "cycle.stage_changed", "surveys.assigned"} <= actions
    for e in events:
        assert e.flow_run_id, (e.action, e.actor_label)
        assert e.actor_id is None and e.actor_label.startswith("flow:")
    assigned = next(e for e in events if e.action == "surveys.assigned")
    assert assigned.flow_run_id == by_name["assign_surveys"][0].prefect_flow_run_id
    started = next(e for e in events if e.action == "cycle.started")
    assert started.flow_run_id == by_name["cycle_for_store"][0].prefect_flow_run_id
    stages = [
        e.changes["stage"]["after"]
        for e in sorted(events, key=lambda e: e.id)
        if e.action == "cycle.stage_changed"
    ]
    assert stages == ["cleaned", "screened", "profiled", "surveying"]

    # The assignment step delivered the advisors' messages: sent to advisor1, in the inbox only for the rest.
    assert len(webhook.delivered) == 1
    assert webhook.delivered[0]["title"] == "新的回访任务"
    statuses = dict(
        session.execute(
            select(Notification.status, func.count())
            .where(Notification.kind == "tasks_assigned")
            .group_by(Notification.status)
        ).all()
    )
    assert {k.value: v for k, v in statuses.items()} == {"sent": 1, "inbox_only": 2}

    # Run again: same cycle, nothing added.
    n_events = _count(session, AuditEvent)
    assert monthly_cycle(month="2026-11", store_codes=["S01"]) == cycle_ids
    session.expire_all()
    assert _count(session, Target, Target.cycle_id == cycle.id) == targets
    assert _count(session, SurveyTask, SurveyTask.cycle_id == cycle.id) == tasks
    assert session.get(MonthlyCycle, cycle.id).stage == CycleStage.surveying
    assert _count(session, AuditEvent) == n_events
    assert (
        _count(
            session,
            FlowRunRecord,
            FlowRunRecord.flow_name == "monthly_cycle",
            FlowRunRecord.state == FlowRunState.completed,
        )
        == 2
    )
    assert len(webhook.delivered) == 1


def test_task_logic_runs_without_a_flow(session, demo_store, staff):
    """``.fn`` calls a task's body directly; outside a flow the actor has no run id."""
    from tasks import screening, surveys

    store = session.get(Store, demo_store)
    cycle, _ = cycles.start_cycle(
        session=session, store=store, month="2026-11", actor=Actor.person(staff("admin"))
    )
    session.commit()

    first = screening.screen.fn(cycle.id)
    assert first["added"] == first["total"] > 0
    assert first["at_risk"] + first["lost"] == first["added"]
    assert screening.screen.fn(cycle.id) == {
        "added": 0,
        "total": first["total"],
        "at_risk": 0,
        "lost": 0,
        "likely_lost": 0,
        "holdout": 0,
    }
    assert screening.analyze.fn(cycle.id) == first["total"]
    assigned = surveys.assign.fn(cycle.id)
    contacted = first["total"] - first["holdout"]
    assert assigned == {"assigned": contacted, "total": contacted}

    session.expire_all()
    assert session.get(MonthlyCycle, cycle.id).stage == CycleStage.surveying
    screened = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.cycle_id == cycle.id, AuditEvent.action == "cycle.stage_changed")
        .order_by(AuditEvent.id)
    ).first()
    assert screened.changes["stage"]["after"] == "screened"
    assert screened.flow_run_id is None
    assert screened.actor_label == "flow:flow"


@pytest.mark.flow
def test_a_failing_flow_is_recorded_failed_and_a_second_launch_is_not_blocked(
    prefect_harness, session, demo_store
):
    """The launcher's record ends 'failed' with the reason, so a retry can start a new run."""
    from flows.launcher import launch
    from winback.errors import NotFound

    with pytest.raises(NotFound):
        launch("evaluate_cycle", {"cycle_id": 424242}, wait=True)
    session.expire_all()
    records = list(session.scalars(select(FlowRunRecord).where(FlowRunRecord.flow_name == "evaluate_cycle")))
    assert len(records) == 1
    assert records[0].state == FlowRunState.failed and "424242" in (records[0].message or "")
    assert records[0].prefect_flow_run_id and records[0].finished_at is not None
    with pytest.raises(NotFound):  # not refused as "already running"
        launch("evaluate_cycle", {"cycle_id": 424242}, wait=True)
    assert session.scalar(select(func.count()).where(FlowRunRecord.flow_name == "evaluate_cycle")) == 2


@pytest.mark.flow
def test_a_deployed_store_run_sends_heartbeats_and_its_stages_do_not(
    prefect_harness, session, demo_store, monkeypatch
):
    """A worker's run of one store's cycle has Prefect's heartbeats on (Prefect's default, set
    before our code runs); its four stage subflows run without: each heartbeat thread is
    joined when its flow run ends, a second at most, four seconds a store on the workers."""
    import prefect.flow_engine
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.monthly_cycle import cycle_for_store

    seen: list[tuple[str, int | None]] = []
    real = prefect.flow_engine._send_heartbeats

    def watched(engine, *args, **kwargs):
        seen.append((engine.flow.name, engine.heartbeat_seconds))
        return real(engine, *args, **kwargs)

    monkeypatch.setattr(prefect.flow_engine, "_send_heartbeats", watched)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):  # as on a worker
        cycle_id = cycle_for_store(demo_store, "2026-11")
    assert session.get(MonthlyCycle, cycle_id).stage == CycleStage.surveying
    assert seen == [
        ("cycle_for_store", 30),
        ("archive_cleanup", None),
        ("screen_targets", None),
        ("analyze_profiles", None),
        ("assign_surveys", None),
    ]


def test_the_pages_know_work_is_under_way_between_two_stages(session, demo_store, staff):
    """flows_running, which makes the cycle pages follow the flows: a cycle's own stage run
    counts, and so does its store's run that belongs to no cycle (the monthly cycle or the
    watcher, still running between two stages); another store's, a finished or a stale one
    does not, nor one whose process is gone."""
    import os
    from datetime import timedelta

    from winback import clock
    from winback.config import get_settings

    actor = Actor.person(staff("admin"))
    store = session.get(Store, demo_store)
    from winback import stores

    other = stores.create_store(session=session, code="S99", name="other store", actor=actor)
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    session.flush()

    def running() -> bool:
        return flow_runs.flows_running(session=session, store_ids=[store.id], cycle_id=cycle.id)

    def cycles_running() -> bool:
        return flow_runs.flows_running(session=session, store_ids=[store.id])

    def record(key: str, state: FlowRunState, **where) -> FlowRunRecord:
        return flow_runs.record_flow_run(session=session, flow_name=key, launch_key=key, state=state, **where)

    assert not running()
    stage = record("screen_targets", FlowRunState.running, store_id=store.id, cycle_id=cycle.id)
    assert running()
    stage.state = FlowRunState.completed  # between two stages ...
    assert not running()
    parent = record("monthly_cycle", FlowRunState.running, store_id=store.id)
    assert running()  # ... the store's monthly cycle still runs
    assert flow_runs.flows_running(session=session, store_ids=[store.id])  # the cycle list too
    parent.state = FlowRunState.completed
    session.flush()
    record("monthly_cycle S99", FlowRunState.running, store_id=other.id)
    assert not running()
    assert not cycles_running()
    watcher = record("watch_deadlines", FlowRunState.scheduled)
    assert running()  # a run for every store (no store recorded) counts for this one
    # Its process killed (a pid that is gone): it blocks nothing, however recent.
    watcher.owner_pid = _dead_pid()
    assert not running()
    # Seen from another host, the heartbeat decides: alive within the lease, dead after it.
    watcher.owner_host = "another-host"
    watcher.heartbeat_at = flow_runs.wall_now() - timedelta(seconds=10)
    assert running()
    watcher.heartbeat_at = flow_runs.wall_now() - timedelta(seconds=get_settings().flow_run_lease_seconds + 1)
    assert not running()
    # Business time is not wall time: a run stays alive however far the clock jumps.
    watcher.owner_host, watcher.owner_pid = flow_runs.this_process().host, os.getpid()
    clock.set_now(clock.now() + timedelta(days=90))
    assert running()


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
