from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.cycles import profiles, screening


@task(name="screen targets (SQL)")
def screen(cycle_id: int) -> dict[str, int]:
    with session_scope() as session:
        return screening.screen_targets(session=session, cycle_id=cycle_id, actor=flow_actor())


@task(name="analyze profiles")
def analyze(cycle_id: int) -> int:
    with session_scope() as session:
        return profiles.analyze_profiles(session=session, cycle_id=cycle_id, actor=flow_actor())["targets"]
