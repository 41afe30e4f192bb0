"""Importing a DMS export, then what it closes: the targets that came back (``cycles.returns``)
and the appointments whose car arrived (已到店). Every import path (the web and API uploads, the
CLI, the drop folder) calls these, so an appointment is closed as soon as its repair order is
imported, not only by the daily watcher's pass."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from winback.cases import appointments
from winback.customers.models import ImportBatch, ImportKind
from winback.cycles import returns


def _close_appointments(session: Session, batch: ImportBatch) -> None:
    if batch.kind == ImportKind.visits and (batch.inserted or batch.updated):
        appointments.close_loop(session=session, store_id=batch.store_id)


def import_file(*, session: Session, **kwargs: Any) -> tuple[ImportBatch, bool]:
    """``cycles.returns.import_file``, then the appointments its repair orders close."""
    batch, is_new = returns.import_file(session=session, **kwargs)
    if is_new:
        _close_appointments(session, batch)
    return batch, is_new


def run_import(*, session: Session, **kwargs: Any) -> ImportBatch:
    """``cycles.returns.run_import``, then the appointments its repair orders close."""
    batch = returns.run_import(session=session, **kwargs)
    _close_appointments(session, batch)
    return batch
