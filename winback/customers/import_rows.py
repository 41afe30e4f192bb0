"""What the writers of each kind of row share: the import's context, parsing a row by its
kind's spec, reporting the rows that fail, and saving (the audited update, the bulk insert).
The writers themselves: ``import_customer_rows``, ``import_vehicle_rows``, ``import_visit_rows``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from db.bulk import insert_rows
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers import import_cells
from winback.customers.import_columns import FIELD_LABELS
from winback.customers.import_errors import RowProblem, encode
from winback.customers.import_seen import SeenKeys
from winback.customers.import_values import value_key
from winback.customers.models import ImportBatch

# What a parser may return and be shared between rows (immutable values only).
_SHAREABLE = (str, int, float, bool, Decimal, date, type(None))


class _Memo:
    """A column's parsed values by cell text. A real export repeats its dates, categories,
    advisors and amounts thousands of times; a parser is a pure function of the cell, so each
    distinct cell is parsed once (the import spent most of its time parsing, cell by cell).
    A column whose cells hardly repeat (RO numbers, VINs) stops being remembered after a
    sample, so memory does not grow with the file."""

    SAMPLE, MIN_HITS, MAX_SIZE = 4000, 0.3, 50_000

    __slots__ = ("hits", "looks", "on", "values")

    def __init__(self) -> None:
        self.values: dict[Any, tuple[bool, Any]] = {}
        self.hits = self.looks = 0
        self.on = True

    def parse(self, parser: Callable[[Any], Any], raw: Any) -> Any:
        if not self.on:
            return parser(raw)
        self.looks += 1
        known = self.values.get(raw)
        if known is not None:
            self.hits += 1
            ok, value = known
            if ok:
                return value
            raise RowProblem(value[0], **value[1])  # a fresh one: a raised exception keeps its traceback
        if self.looks >= self.SAMPLE and self.hits < self.MIN_HITS * self.looks:
            self.on, self.values = False, {}
            return parser(raw)
        try:
            value = parser(raw)
        except RowProblem as exc:
            self._keep(raw, (False, (exc.code, exc.params)))
            raise
        if isinstance(value, _SHAREABLE):
            self._keep(raw, (True, value))
        return value

    def _keep(self, raw: Any, outcome: tuple[bool, Any]) -> None:
        if len(self.values) < self.MAX_SIZE:
            self.values[raw] = outcome


@dataclass
class ImportContext:
    session: Session
    batch: ImportBatch
    cols: dict[str, int]
    actor: Actor
    now: datetime
    seen: SeenKeys  # key -> the row it was first met on (bounded memory)
    errors: list[dict[str, Any]]
    # field -> {normalised word: value}: the store's own words for closed-list values.
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    plans: dict[int, list[tuple]] = field(default_factory=dict)  # ``_plan`` per spec
    memos: dict[str, _Memo] = field(default_factory=dict)  # field -> its parsed cells
    cells: dict[str, _Cells] = field(default_factory=dict)  # field -> its cells' outcomes (by column)
    vehicles: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # repair orders' look-ups


def _plan(ctx: ImportContext, spec: dict[str, Callable[[Any], Any]]) -> list[tuple]:
    """The spec's fields the file has: (field, column index, parser, the store's words or None),
    worked out once per import rather than once per cell."""
    plan = ctx.plans.get(id(spec))
    if plan is None:
        plan = ctx.plans[id(spec)] = [
            (name, ctx.cols[name], parser, ctx.values.get(name) or None, ctx.memos.setdefault(name, _Memo()))
            for name, parser in spec.items()
            if name in ctx.cols
        ]
    return plan


# A cell the column pass does not decide (an error, a warning, an oversize cell, a value a check
# refuses): its row goes through ``parse_row``, which reports it exactly.
UNDECIDED = object()


class _Cells(dict):
    """A column's outcome per distinct raw cell, for the whole import: the parsed value, or
    ``UNDECIDED``. Looked up by C (``map(cells.__getitem__, column)``); a cell not seen yet is
    parsed by ``__missing__``. Like ``_Memo``, a column whose cells hardly repeat stops being
    remembered, so memory does not grow with the file; the sample is larger (a chunk is
    10,000 rows, and a VIN or an amount repeats over a file rather than within its first
    rows) and at most ``MAX_SIZE`` cells are kept."""

    SAMPLE, MIN_HITS, MAX_SIZE = 20_000, 0.1, 50_000
    __slots__ = ("compute", "looks", "on")

    def __init__(self, compute: Callable[[Any], Any]) -> None:
        super().__init__()
        self.compute = compute
        self.looks = 0
        self.on = True

    def __missing__(self, raw: Any) -> Any:
        value = self.compute(raw)
        if len(self) < self.MAX_SIZE and (value is UNDECIDED or isinstance(value, _SHAREABLE)):
            self[raw] = value
        return value

    def outcomes(self, column: Sequence[Any]) -> list[Any]:
        if not self.on:
            return list(map(self.compute, column))
        if not _TEXT.issuperset(map(type, column)):
            # Cells of a workbook: 1, 1.0 and True are equal keys and must not share an outcome,
            # so a cell other than text is remembered under its type as well.
            return [self[c] if c is None or type(c) is str else self._typed(c) for c in column]
        out = list(map(self.__getitem__, column))
        self.looks += len(column)
        if self.looks >= self.SAMPLE and len(self) > (1 - self.MIN_HITS) * self.looks:
            self.on = False
            self.clear()
        return out

    def _typed(self, cell: Any) -> Any:
        key = (type(cell), cell)
        found = self.get(key, _ABSENT)
        if found is _ABSENT:
            found = self.compute(cell)
            if len(self) < self.MAX_SIZE and (found is UNDECIDED or isinstance(found, _SHAREABLE)):
                self[key] = found
        return found


_ABSENT = object()
_TEXT = frozenset({str, type(None)})


def cell_outcome(
    parser: Callable[[Any], Any], words: dict[str, str] | None, accept: Callable[[Any], bool] | None
) -> Callable[[Any], Any]:
    """What ``parse_row`` does with one cell, as a function of the raw cell: the value, or
    ``UNDECIDED`` where ``parse_row`` would report something (or ``accept`` refuses the value)."""

    def outcome(raw: Any) -> Any:
        if isinstance(raw, str):
            raw = raw.replace("\x00", "").strip() or None
            if (
                raw is not None
                and len(raw) * 4 > import_cells.FIELD_MAX_BYTES
                and import_cells.too_large(raw)
            ):
                return UNDECIDED
        try:
            value = parser(raw if words is None or raw is None else words.get(value_key(raw), raw))
        except (ValueError, ArithmeticError):  # RowProblem is a ValueError
            return UNDECIDED
        if accept is not None and not accept(value):
            return UNDECIDED
        return value

    return outcome


def parse_columns(
    ctx: ImportContext,
    rows: list[list[Any]],
    spec: dict[str, Callable[[Any], Any]],
    accept: dict[str, Callable[[Any], bool]],
) -> tuple[dict[str, list[Any]], set[int]]:
    """Parse a chunk column by column: each distinct cell of a column once per import (most
    columns repeat heavily), one C-level look-up per cell. Returns the values per field the
    file has (one per row) and the indexes of the rows a cell of which is ``UNDECIDED`` (or
    refused by the field's ``accept``): the caller passes those rows to ``parse_row``, which
    reports every error and warning as before."""
    width = max(map(len, rows), default=0)
    if any(len(r) != width for r in rows):
        rows = [r if len(r) == width else [*r, *([None] * (width - len(r)))] for r in rows]
    by_column = list(zip(*rows))
    empty = (None,) * len(rows)
    values: dict[str, list[Any]] = {}
    undecided: set[int] = set()
    for name, i, parser, words, _memo in _plan(ctx, spec):
        cells = ctx.cells.get(name)
        if cells is None:
            cells = ctx.cells[name] = _Cells(cell_outcome(parser, words, accept.get(name)))
        column = cells.outcomes(by_column[i] if i < width else empty)
        if UNDECIDED in column:  # identity first: no parsed value equals the marker
            undecided.update(k for k, v in enumerate(column) if v is UNDECIDED)
        values[name] = column
    return values, undecided


def parse_row(
    ctx: ImportContext,
    number: int,
    cells: list[Any],
    spec: dict[str, Callable[[Any], Any]],
    required: Iterable[str | tuple[str, ...]],
) -> tuple[dict[str, Any], bool]:
    """Parse one row: ``(values, ok)``. Every error and every warning of the row is recorded,
    not only the first; ``ok`` is False when the row has an error (it is then not imported, but
    the caller may still check and report the values that did parse)."""
    out: dict[str, Any] = {}
    errors, warnings = [], []
    width = len(cells)
    for name, i, parser, words, memo in _plan(ctx, spec):
        raw = cells[i] if i < width else None
        if isinstance(raw, str):
            raw = raw.replace("\x00", "").strip() or None  # a NUL byte: PostgreSQL refuses it in text
            if (
                raw is not None
                and len(raw) * 4 > import_cells.FIELD_MAX_BYTES
                and import_cells.too_large(raw)
            ):
                errors.append(
                    (
                        name,
                        encode("field_too_large", kib=import_cells.FIELD_MAX_BYTES // 1024),
                        import_cells.shown(raw),
                    )
                )
                continue
        try:
            out[name] = memo.parse(
                parser, raw if words is None or raw is None else words.get(value_key(raw), raw)
            )
        except RowProblem as exc:
            if name in import_cells.SOFT_FIELDS:  # not a key: imported empty, with a warning
                out[name] = None
                warnings.append((name, encode(exc.code, **exc.params, kept_empty=True), raw))
            else:
                errors.append((name, encode(exc.code, **exc.params), raw))
        except (ValueError, ArithmeticError) as exc:  # not foreseen: keep what Python says
            errors.append((name, encode("bad_value", detail=str(exc)[:300]), raw))
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not any(out.get(o) not in (None, "") for o in options) and not any(
            e[0] in options for e in errors
        ):
            errors.append((options[0], encode("required"), None))
    for name, reason, raw in errors + warnings:
        report_problem(ctx, number, name, reason, raw)
    return out, not errors


def report_problem(ctx: ImportContext, number: int, name: str, reason: str, raw: Any) -> None:
    """One error or warning of a row, under the file's own column header."""
    column = next((h for h, f in ctx.batch.columns.items() if f == name), FIELD_LABELS.get(name, name))
    ctx.errors.append(
        {
            "row_number": number,
            "column": column[:120],
            "reason": reason,
            "value": None if raw is None else str(raw)[:500],
        }
    )


def seen_before(ctx: ImportContext, key: str, number: int, field: str, shown: str | None = None) -> bool:
    """Whether ``key`` came earlier in the file (then reported); ``shown`` is the value the
    report shows when the key itself means nothing to a person (a derived key)."""
    first = ctx.seen.get(key)
    if first is not None:
        report_problem(
            ctx, number, field, encode("duplicate", first=first), shown if shown is not None else key
        )
        return True
    ctx.seen[key] = number
    return False


def apply_changes(
    ctx: ImportContext, obj: Any, values: dict[str, Any], entity: str, customer_id: int | None
) -> bool:
    changes = audit_service.diff(obj, values)
    if changes:
        audit_service.record(
            session=ctx.session,
            actor=ctx.actor,
            action=f"{entity}.updated_by_import",
            entity_type=entity,
            entity_id=obj.id,
            store_id=ctx.batch.store_id,
            customer_id=customer_id,
            changes={**changes, "import_batch": ctx.batch.id},
        )
        ctx.batch.updated += 1
        return True
    ctx.batch.unchanged += 1
    return False


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) by the database's bulk path (``db.bulk``)."""
    insert_rows(session, table, rows)


def uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One executemany needs the same keys in every row: a key some rows lack is None there."""
    keys = set().union(*rows)
    return [r if len(r) == len(keys) else {k: r.get(k) for k in keys} for r in rows]


def column_header(ctx: ImportContext, field: str) -> str:
    return next((h for h, f in ctx.batch.columns.items() if f == field), field)
