from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.plans import service as plans


@task(name="draft plan")
def draft(cycle_id: int) -> int:
    with session_scope() as session:
        return plans.draft_plan(session=session, cycle_id=cycle_id, actor=flow_actor()).id


@task(name="start execution")
def execute(cycle_id: int) -> dict[str, int]:
    with session_scope() as session:
        return plans.execute_plan(session=session, cycle_id=cycle_id, actor=flow_actor())


@task(name="remind measures")
def remind_measures(store_id: int) -> dict[str, int]:
    with session_scope() as session:
        return plans.remind_measures(session=session, store_id=store_id, actor=flow_actor())
