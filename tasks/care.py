"""The care calendar's tasks: one service call each, ids and counts out."""

from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.care import delivery, planning


@task(name="plan care")
def plan_care(store_id: int, as_of: str | None = None) -> dict[str, int]:
    """Fulfil, mark missed, make the items entering the window and today's touches (one store)."""
    from datetime import date

    with session_scope() as session:
        day = date.fromisoformat(as_of[:10]) if as_of else None
        return planning.plan(session=session, store_id=store_id, actor=flow_actor(), as_of=day)


# The store's message channel is the outside world: Prefect retries the task when the database
# is briefly away; a refused message is recorded and retried on the next daily pass.
@task(name="deliver care messages", retries=3, retry_delay_seconds=[10, 60, 300])
def deliver_messages(store_id: int) -> dict[str, int]:
    with session_scope() as session:
        return delivery.deliver_messages(session=session, store_id=store_id)
