from __future__ import annotations

from pathlib import Path

from prefect import task

from db.session import session_scope
from tasks.common import flow_actor
from winback.cases import arrivals


@task(name="import a dropped file", retries=2, retry_delay_seconds=[10, 60])
def import_dropped_file(store_id: int, kind: str, path: str) -> dict:
    """Import one file of the drop folder; the same file twice changes nothing (by its hash)."""
    with session_scope() as session:
        batch, is_new = arrivals.import_file(
            session=session, store_id=store_id, kind=kind, source=Path(path), actor=flow_actor()
        )
        return {
            "file": Path(path).name,
            "batch": batch.id,
            "new": is_new,
            "status": batch.status.value,
            "inserted": batch.inserted,
            "updated": batch.updated,
            "failed": batch.failed,
        }
