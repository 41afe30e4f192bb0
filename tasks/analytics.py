from __future__ import annotations

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.analytics import redline


@task(name="red-line digest")
def redline_digest(store_id: int) -> dict[str, int]:
    """Queue today's digest of customers who crossed a red line (delivered by notify.deliver)."""
    with session_scope() as session:
        return redline.queue_redline_digest(session=session, store_id=store_id, actor=flow_actor())
