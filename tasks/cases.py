"""The daily pass over appointments and complaint re-calls (a thin wrapper: ids in, counts out)."""

from __future__ import annotations

from prefect import task

from db.session import session_scope
from winback.cases import appointments, complaints


@task(name="appointments and complaint re-calls")
def daily_cases(store_id: int) -> dict[str, int]:
    """Close the loop of the store's appointments (已到店 / 未到店) and remind advisors of
    complaint re-calls coming due."""
    with session_scope() as session:
        counts = appointments.close_loop(session=session, store_id=store_id)
        return {
            "appointments_arrived": counts["arrived"],
            "appointments_no_show": counts["no_show"],
            "recalls_reminded": complaints.remind_recalls(session=session, store_id=store_id),
        }
