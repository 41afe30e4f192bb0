from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.evaluation import service as evaluation


@task(name="evaluate cycle")
def evaluate(cycle_id: int) -> int:
    with session_scope() as session:
        return evaluation.evaluate_cycle(session=session, cycle_id=cycle_id, actor=flow_actor()).id
