from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.cycles import service as cycles


@task(name="clean archive")
def clean_archive(cycle_id: int) -> dict[str, int]:
    with session_scope() as session:
        return cycles.clean_archive(session=session, cycle_id=cycle_id, actor=flow_actor())
