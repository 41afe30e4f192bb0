from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.care import calls as care_calls
from winback.surveys import service as surveys


@task(name="assign surveys")
def assign(cycle_id: int) -> dict[str, int]:
    with session_scope() as session:
        return surveys.assign_surveys(session=session, cycle_id=cycle_id, actor=flow_actor())


@task(name="remind and escalate")
def remind_and_escalate(store_id: int) -> dict[str, int]:
    with session_scope() as session:
        reminded = surveys.remind_due_soon(session=session, store_id=store_id, actor=flow_actor())
        escalated = surveys.escalate_overdue(session=session, store_id=store_id, actor=flow_actor())
        return {"reminded": reminded, "escalated": escalated}


@task(name="tally reasons")
def tally(cycle_id: int) -> dict[str, int]:
    with session_scope() as session:
        result = surveys.tally_reasons(session=session, cycle_id=cycle_id, actor=flow_actor())
        care_calls.add_to_tally(session=session, cycle_id=cycle_id)
        return {"done": result["done"], "reasons": sum(result["reasons"].values())}
