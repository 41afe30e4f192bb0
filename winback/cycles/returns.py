"""The archive import as the cycles see it: how many survey targets a file shows came back.

``customers.imports`` reads and writes the dealer's files and knows nothing of cycles; these
two entry points run it and then count the targets whose vehicle has a repair order of the
file dated after their cycle's screening (the evaluation counts them as returns). The CLI, the
tasks, the pages and the API import through here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback.actor import Actor
from winback.customers import imports
from winback.customers.models import ImportBatch, ImportKind, ImportStatus, ServiceVisit
from winback.cycles.models import MonthlyCycle, Target


def returned_targets(*, session: Session, batch_id: int) -> int:
    """Targets of cycles already started whose vehicle has a repair order of this file dated
    after the cycle's screening: they came back (the evaluation counts them)."""
    stmt = (
        select(func.count(func.distinct(Target.id)))
        .join(MonthlyCycle, MonthlyCycle.id == Target.cycle_id)
        .join(ServiceVisit, ServiceVisit.vehicle_id == Target.vehicle_id)
        .where(ServiceVisit.import_batch_id == batch_id, ServiceVisit.visit_date > MonthlyCycle.as_of)
    )
    return int(session.scalar(stmt) or 0)


def _count_returns(session: Session, batch: ImportBatch) -> ImportBatch:
    if batch.status == ImportStatus.done and batch.kind == ImportKind.visits:
        batch.returned_targets = returned_targets(session=session, batch_id=batch.id)
        session.flush()
    return batch


def run_import(
    *,
    session: Session,
    batch_id: int,
    actor: Actor,
    on_chunk: Callable[[ImportBatch], None] | None = None,
) -> ImportBatch:
    """``customers.imports.run_import``, then the targets that came back."""
    batch = imports.run_import(session=session, batch_id=batch_id, actor=actor, on_chunk=on_chunk)
    return _count_returns(session, batch)


def import_file(
    *,
    session: Session,
    store_id: int,
    kind: ImportKind | str,
    source: Path,
    filename: str | None = None,
    actor: Actor,
    on_chunk: Callable[[ImportBatch], None] | None = None,
) -> tuple[ImportBatch, bool]:
    """``customers.imports.import_file`` (both steps), then the targets that came back."""
    batch, is_new = imports.import_file(
        session=session,
        store_id=store_id,
        kind=kind,
        source=source,
        filename=filename,
        actor=actor,
        on_chunk=on_chunk,
    )
    return (_count_returns(session, batch) if is_new else batch), is_new
