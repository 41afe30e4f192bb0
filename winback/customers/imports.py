"""Importing customers, vehicles and repair orders from the dealer management system (DMS).

Nothing lost, nothing doubled: every data row of a file ends as inserted, updated, unchanged or
failed (an ``ImportRowError`` with its row number, column and reason). The original file is kept
under the data directory by its SHA-256; the same file imported again is recognised and changes
nothing. A newer export updates the changed rows and records each change in the audit trail.

Two steps, so a web request can answer at once and the work can report progress:
``start_import`` keeps the file and creates the batch; ``run_import`` reads and writes it in
chunks (``on_chunk`` is called once the file's size in rows is known, then after each chunk, e.g.
to commit and show progress: ``rows_done`` of ``rows_total``, an estimate until the batch ends).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.session import refresh_statistics
from winback import clock, collector
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import get_settings
from winback.customers import cleanup, import_cells, import_value_map
from winback.customers.import_columns import (
    DERIVABLE_KEY,
    find_columns,
    get_column_mapping,
    header_score,
    missing_required,
)
from winback.customers.import_customer_rows import write_customers
from winback.customers.import_errors import encode
from winback.customers.import_rows import ImportContext
from winback.customers.import_seen import SeenKeys
from winback.customers.import_vehicle_rows import write_vehicles
from winback.customers.import_visit_rows import write_visits
from winback.customers.models import (
    ImportBatch,
    ImportKind,
    ImportRowError,
    ImportStatus,
)
from winback.customers.tables import NotATable, Table, read_table
from winback.errors import NotFound
from winback.i18n import Message

# Rows per database round trip, and per progress step: 10,000 rows are a fraction of a second at
# bulk-load speed, so the page still moves, and each chunk's fixed cost (a savepoint, the
# look-ups, a commit) is paid once per 10,000 rows (at 2,000 it was a fifth of the import).
CHUNK = 10_000


# ---- cell parsers ------------------------------------------------------------------------


# ---- mapping -----------------------------------------------------------------------------


# ---- starting and running an import ------------------------------------------------------


def _store_file(src: Path, store_id: int) -> tuple[str, int, Path]:
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    sha = digest.hexdigest()
    folder = get_settings().data_dir / "imports" / str(store_id)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{sha}{src.suffix.lower()[:10]}"
    if not dest.exists():
        shutil.copyfile(src, dest)
    return sha, size, dest.resolve()


def find_previous(*, session: Session, store_id: int, kind: ImportKind, sha256: str) -> ImportBatch | None:
    """The earlier import of the same file whose every row landed as it was (no row error nor
    warning). A file that imported nothing, or only some rows, or some cells left empty, is
    imported again: once its cause is fixed (a column mapping, a value mapping, the vehicles
    imported first) the rows now valid land, and the rows already in change nothing."""
    return session.scalar(
        select(ImportBatch)
        .where(
            ImportBatch.store_id == store_id,
            ImportBatch.kind == kind,
            ImportBatch.sha256 == sha256,
            ImportBatch.status == ImportStatus.done,
            ImportBatch.rows_total > 0,
            ~select(ImportRowError.id).where(ImportRowError.batch_id == ImportBatch.id).exists(),
        )
        .order_by(ImportBatch.id)
        .limit(1)
    )


def start_import(
    *, session: Session, store_id: int, kind: ImportKind | str, source: Path, filename: str, actor: Actor
) -> tuple[ImportBatch, bool]:
    """Keep the file and create its batch. Returns ``(batch, is_new)``: the same file (same
    hash, same kind) already imported returns the earlier batch and ``False`` (nothing to do)."""
    kind = ImportKind(kind)
    sha, size, stored = _store_file(Path(source), store_id)
    previous = find_previous(session=session, store_id=store_id, kind=kind, sha256=sha)
    if previous is not None:
        return previous, False
    batch = ImportBatch(
        store_id=store_id,
        kind=kind,
        filename=Path(filename).name[:255],
        sha256=sha,
        size=size,
        stored_path=str(stored),
        status=ImportStatus.running,
        columns={},
        quality={},
        actor_id=actor.staff_id,
        actor_label=actor.label,
        started_at=clock.now(),
    )
    session.add(batch)
    session.flush()
    return batch, True


def run_import(
    *, session: Session, batch_id: int, actor: Actor, on_chunk: Callable[[ImportBatch], None] | None = None
) -> ImportBatch:
    """Read the batch's file and write its rows. A file that is not a usable table ends the
    batch as ``failed`` with one message (no rows written)."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound("no import {batch_id}", batch_id=batch_id)
    try:
        table, cols = _read_columns(session, batch)
    except NotATable as exc:
        return _finish_failed(session, batch, exc.message, actor)
    batch.file_format, batch.encoding = table.file_format, table.encoding
    batch.columns = {table.header[i]: f for f, i in cols.items()}
    batch.key_derived = batch.kind in DERIVABLE_KEY and DERIVABLE_KEY[batch.kind] not in cols
    batch.rows_total = table.rows_expected  # what the progress bar measures against; exact at the end
    session.flush()
    if on_chunk:
        on_chunk(batch)
    ctx = ImportContext(
        session,
        batch,
        cols,
        actor,
        clock.now(),
        SeenKeys(),
        [],
        import_value_map.lookup_table(session=session, store_id=batch.store_id),
    )
    try:
        broken = _write_rows(ctx, table, on_chunk)
    finally:
        ctx.seen.close()
    if broken is not None:
        return _finish_failed(session, batch, broken, actor)
    batch.rows_total = batch.rows_done  # the rows counted, not the estimate (blank lines are skipped)
    if batch.rows_total == 0:
        return _finish_failed(session, batch, Message("the file has a header but no data rows"), actor)
    _finish_done(session, batch, actor)
    if on_chunk:
        on_chunk(batch)
    return batch


def _read_columns(session: Session, batch: ImportBatch) -> tuple[Table, dict[str, int]]:
    """The batch's file as a table and its columns (field -> index, the store's saved mapping
    first); ``NotATable`` when it is not readable or lacks a required column."""
    saved = get_column_mapping(session=session, store_id=batch.store_id, kind=batch.kind)
    import_cells.allow_long_csv_fields()
    table = read_table(Path(batch.stored_path), batch.filename, header_score(batch.kind, saved))
    cols = find_columns(table.header, batch.kind, saved)
    missing = missing_required(batch.kind, cols)
    if missing:
        raise NotATable(
            "required column(s) missing: {missing}. Found: {found}. Rename the column or save a column mapping for this store.",
            missing="; ".join(missing),
            found=", ".join(h for h in table.header if h) or "none",
        )
    return table, cols


_WRITERS = {
    ImportKind.customers: write_customers,
    ImportKind.vehicles: write_vehicles,
    ImportKind.visits: write_visits,
}


def _write_rows(ctx: ImportContext, table: Table, on_chunk) -> Message | None:
    """Write the table's data rows (blank ones skipped) in chunks of ``CHUNK``; the message of
    a file that breaks half-way (its earlier chunks stay written), else None."""
    writer = _WRITERS[ctx.batch.kind]
    chunk: list[tuple[int, list[Any]]] = []
    append = chunk.append
    last_read = table.header_row  # the file's number of the last row read with anything in it
    with collector.young_collections_only():
        try:
            for row in table.rows:  # (row number, cells); blank rows are dropped chunk by chunk
                append(row)
                if len(chunk) >= CHUNK:
                    last_read = _flush_chunk(ctx, writer, _not_blank(chunk), on_chunk) or last_read
                    chunk.clear()
                    collector.collect_young()
        except (UnicodeDecodeError, ValueError, csv.Error) as exc:  # a CSV that breaks half-way
            # The rows read before the break are written; the message names the last one.
            last_read = _flush_chunk(ctx, writer, _not_blank(chunk), on_chunk) or last_read
            return Message("the file cannot be read past row {row}: {error}", row=last_read, error=exc)
        _flush_chunk(ctx, writer, _not_blank(chunk), on_chunk)
    return None


def _not_blank(block: list[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
    try:  # a CSV's cells are all text: one C call per row
        return [row for row in block if "".join(row[1]).strip()]
    except TypeError:  # a workbook's numbers, dates, None
        return [row for row in block if not _blank(row[1])]


def _blank(cells: list[Any]) -> bool:
    """Whether every cell is empty or spaces (a row to skip)."""
    try:
        return not "".join(cells).strip()  # a CSV's cells are all text: one C call
    except TypeError:  # a workbook's numbers, dates, None
        return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _finish_done(session: Session, batch: ImportBatch, actor: Actor) -> None:
    batch.status = ImportStatus.done
    batch.finished_at = clock.now()
    if session.get_bind().dialect.name == "sqlite":
        # A bulk change, and SQLite never gathers statistics by itself. (PostgreSQL's
        # autovacuum does; an ANALYZE here would hold its lock until the import commits and
        # queue a second store's import behind it.)
        refresh_statistics(session)
    batch.quality = cleanup.data_quality(session=session, store_id=batch.store_id)
    audit_service.record(
        session=session,
        actor=actor,
        action="import.completed",
        entity_type="import",
        entity_id=batch.id,
        store_id=batch.store_id,
        changes={
            "kind": batch.kind.value,
            "file": batch.filename,
            "sha256": batch.sha256,
            "rows": batch.rows_total,
            "inserted": batch.inserted,
            "updated": batch.updated,
            "unchanged": batch.unchanged,
            "failed": batch.failed,
            "key_derived": batch.key_derived,
        },
    )
    session.flush()


def _finish_failed(session: Session, batch: ImportBatch, message: Message, actor: Actor) -> ImportBatch:
    # Rows of earlier chunks (a CSV that breaks half-way) stay: they are valid and counted.
    # The message is kept as its id and parameters, read in each reader's language.
    batch.rows_total = batch.rows_done
    batch.status = ImportStatus.failed
    batch.message = message.stored()
    batch.finished_at = clock.now()
    audit_service.record(
        session=session,
        actor=actor,
        action="import.failed",
        entity_type="import",
        entity_id=batch.id,
        store_id=batch.store_id,
        changes={"kind": batch.kind.value, "file": batch.filename, "message": str(message)},
    )
    session.flush()
    return batch


def _flush_chunk(ctx: ImportContext, writer, chunk, on_chunk) -> int | None:
    """Write a chunk of rows (none blank); the file's number of its last row."""
    if not chunk:
        return None
    import_cells.write_rows(ctx, writer, chunk, encode("db_refused"))
    if ctx.errors:
        ctx.session.execute(insert(ImportRowError), [{"batch_id": ctx.batch.id, **e} for e in ctx.errors])
        ctx.batch.failed += import_cells.failed_rows(ctx.errors)
        ctx.errors.clear()
    ctx.batch.rows_done += len(chunk)
    ctx.batch.rows_total = max(ctx.batch.rows_total, ctx.batch.rows_done)
    ctx.session.flush()
    if on_chunk:
        on_chunk(ctx.batch)
    return chunk[-1][0]


# ---- customers ---------------------------------------------------------------------------


# ---- vehicles ----------------------------------------------------------------------------


# ---- repair orders -----------------------------------------------------------------------


# ---- reading back ------------------------------------------------------------------------


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
    """Both steps at once (the CLI and tests). Returns ``(batch, is_new)``."""
    batch, is_new = start_import(
        session=session,
        store_id=store_id,
        kind=kind,
        source=Path(source),
        filename=filename or Path(source).name,
        actor=actor,
    )
    if not is_new:
        return batch, False
    return run_import(session=session, batch_id=batch.id, actor=actor, on_chunk=on_chunk), True
