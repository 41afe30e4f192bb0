from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.customers import service as customers
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage


@task(name="clean archive")
def clean_archive(cycle_id: int) -> dict[str, int]:
    with session_scope() as session:
        cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
        summary = customers.cleanup_archive(session=session, store_id=cycle.store_id, actor=flow_actor())
        if cycle.cleanup is None:
            cycle.cleanup = summary
        cycles.advance(session=session, cycle=cycle, to=CycleStage.cleaned, actor=flow_actor())
        return summary
