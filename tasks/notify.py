from __future__ import annotations

from prefect import task

from db.session import session_scope
from winback.notifications import service as notifications


# Delivery never raises for a bad receiver (it records and retries on a later pass);
# Prefect's retries cover the database being briefly away.
@task(name="deliver notifications", retries=3, retry_delay_seconds=[5, 30, 120])
def deliver() -> dict[str, int]:
    with session_scope() as session:
        return notifications.deliver_pending(session=session)
