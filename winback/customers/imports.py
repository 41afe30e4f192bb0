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
import io
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import get_settings
from winback.customers import cleanup
from winback.customers.import_errors import WORKBOOK, RowProblem, describe, encode
from winback.customers.models import (
    ColumnMapping,
    Customer,
    CustomerType,
    ImportBatch,
    ImportKind,
    ImportRowError,
    ImportStatus,
    ServiceVisit,
    Vehicle,
)
from winback.customers.tables import NotATable, read_table
from winback.errors import InvalidInput, NotFound
from winback.paging import PAGE_SIZE, Page, matches, paginate
from winback.paging import words as search_words

CHUNK = 2000  # rows per database round trip

# field -> accepted column headers (compared without spaces, '*' and case).
HEADERS: dict[ImportKind, dict[str, list[str]]] = {
    ImportKind.customers: {
        "dms_code": [
            "客户编号",
            "客户代码",
            "客户ID",
            "客户号",
            "customer code",
            "customer id",
            "customer no",
            "dms code",
        ],
        "name": ["客户姓名", "姓名", "客户名称", "车主", "车主姓名", "name", "customer name", "customer"],
        "phone": [
            "手机",
            "手机号",
            "手机号码",
            "联系电话",
            "电话",
            "联系方式",
            "mobile",
            "phone",
            "telephone",
        ],
        "gender": ["性别", "gender", "sex"],
        "birth_date": ["出生日期", "生日", "birth date", "birthday", "date of birth"],
        "age": ["年龄", "age"],
        "occupation": ["职业", "occupation"],
        "address": ["地址", "联系地址", "住址", "address"],
        "district": ["区县", "区域", "所在区县", "district", "area"],
        "customer_type": ["客户类型", "客户性质", "customer type", "type"],
    },
    ImportKind.vehicles: {
        "vin": ["车架号", "VIN", "VIN码", "底盘号", "车辆识别代号"],
        "plate": ["车牌", "车牌号", "车牌号码", "plate", "license plate", "plate number"],
        "model": ["车型", "车型名称", "车系", "model", "vehicle model"],
        "purchase_date": ["购车日期", "购买日期", "销售日期", "开票日期", "purchase date", "sale date"],
        "warranty_end": ["保修截止日期", "保修到期", "保修截止", "warranty end"],
        "customer_code": ["客户编号", "客户代码", "客户ID", "customer code", "customer id"],
        "name": ["客户姓名", "姓名", "车主", "车主姓名", "name", "customer name", "owner"],
        "phone": ["手机", "手机号", "联系电话", "电话", "mobile", "phone"],
    },
    ImportKind.visits: {
        "ro_number": [
            "工单号",
            "维修工单号",
            "工单编号",
            "委托书号",
            "RO号",
            "RO number",
            "repair order",
            "ro no",
        ],
        "vin": ["车架号", "VIN", "VIN码", "底盘号"],
        "plate": ["车牌", "车牌号", "plate"],
        "visit_date": ["进厂日期", "维修日期", "结算日期", "进站日期", "visit date", "date", "repair date"],
        "mileage": ["里程", "进厂里程", "行驶里程", "mileage", "odometer"],
        "category": ["维修类别", "维修类型", "工单类别", "category", "repair type"],
        "items": ["维修项目", "维修内容", "项目", "items", "work done"],
        "amount": ["金额", "结算金额", "工单金额", "总金额", "amount", "total"],
        "advisor": ["服务顾问", "接待顾问", "接待员", "advisor", "service advisor"],
    },
}

# Required fields; a tuple means "one of these".
REQUIRED: dict[ImportKind, list[str | tuple[str, ...]]] = {
    ImportKind.customers: ["name", ("dms_code", "phone")],
    ImportKind.vehicles: ["vin", "model", ("customer_code", "phone")],
    ImportKind.visits: ["ro_number", ("vin", "plate"), "visit_date"],
}

FIELD_LABELS = {
    "dms_code": "客户编号",
    "name": "客户姓名",
    "phone": "手机",
    "gender": "性别",
    "birth_date": "出生日期",
    "age": "年龄",
    "occupation": "职业",
    "address": "地址",
    "district": "区县",
    "customer_type": "客户类型",
    "vin": "车架号/VIN",
    "plate": "车牌",
    "model": "车型",
    "purchase_date": "购车日期",
    "warranty_end": "保修截止日期",
    "customer_code": "客户编号",
    "ro_number": "工单号",
    "visit_date": "进厂日期",
    "mileage": "里程",
    "category": "维修类别",
    "items": "维修项目",
    "amount": "金额",
    "advisor": "服务顾问",
}


def _norm_header(text: Any) -> str:
    return re.sub(r"[\s*＊:：()（）_\-]", "", str(text or "")).lower()


_SYNONYMS = {
    kind: {_norm_header(h): f for f, hs in fields.items() for h in hs} for kind, fields in HEADERS.items()
}


# ---- cell parsers ------------------------------------------------------------------------


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # Excel stores 13800138000 as a number
    if isinstance(v, datetime):
        v = v.date()
    s = str(v).strip()
    return s or None


_EXCEL_EPOCH = date(1899, 12, 30)
_EIGHT_DIGITS = re.compile(r"\d{8}")
_SERIAL_TEXT = re.compile(r"\d{5}(\.0+)?")
_AMOUNT_JUNK = re.compile(r"[¥￥,，\s元]|RMB|CNY", re.I)
_INT_JUNK = re.compile(r"[,，\s]|km|公里", re.I)
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")


def parse_date(v: Any) -> date | None:
    """Excel dates, Excel serial numbers and 2024/3/5, 2024-03-05, 2024年3月5日, 20240305."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        if isinstance(v, int | float) and not isinstance(v, bool):
            if 1 <= v < 2958466:  # Excel serial (days since 1899-12-30)
                return _EXCEL_EPOCH + timedelta(days=int(v))
            raise RowProblem("bad_date")
        s = str(v).strip()
        if _EIGHT_DIGITS.fullmatch(s):
            return date(int(s[:4]), int(s[4:6]), int(s[6:]))
        if _SERIAL_TEXT.fullmatch(s):
            return _EXCEL_EPOCH + timedelta(days=int(float(s)))
        m = _DATE_TEXT.match(s)
        if not m:
            raise RowProblem("bad_date")
        return date(int(m[1]), int(m[2]), int(m[3]))
    except (ValueError, OverflowError) as exc:  # 2024/13/5: "month must be in 1..12"
        if isinstance(exc, RowProblem):
            raise
        raise RowProblem("bad_date") from exc


def parse_amount(v: Any) -> Decimal | None:
    """¥1,234.50 / 1234.5元 / ￥ 1 234 -> Decimal."""
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return Decimal(str(v)).quantize(Decimal("0.01"))
    s = _AMOUNT_JUNK.sub("", str(v))
    if not s:
        return None
    try:
        return Decimal(s).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise RowProblem("bad_amount") from None


def parse_int(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return int(v)
    s = _INT_JUNK.sub("", str(v))
    if not s:
        return None
    try:
        return int(Decimal(s))
    except InvalidOperation:
        raise RowProblem("bad_number") from None


def parse_gender(v: Any) -> str | None:
    s = _text(v)
    if s is None:
        return None
    low = s.lower()
    if low in ("男", "m", "male", "先生"):
        return "男"
    if low in ("女", "f", "female", "女士"):
        return "女"
    raise RowProblem("bad_gender")


def parse_customer_type(v: Any) -> CustomerType | None:
    s = _text(v)
    if s is None:
        return None
    low = s.lower()
    for words, ctype in (
        (("私", "个人", "private"), CustomerType.private),
        (("单位", "公司", "企业", "company", "fleet"), CustomerType.company),
        (("保险", "事故", "insurance"), CustomerType.insurance),
        (("出租", "网约", "taxi"), CustomerType.taxi),
    ):
        if any(w in low for w in words):
            return ctype
    raise RowProblem("bad_customer_type")


# ---- mapping -----------------------------------------------------------------------------


def get_column_mapping(*, session: Session, store_id: int, kind: ImportKind) -> dict[str, str]:
    row = session.scalar(
        select(ColumnMapping).where(ColumnMapping.store_id == store_id, ColumnMapping.kind == kind)
    )
    return dict(row.mapping) if row else {}


def save_column_mapping(
    *, session: Session, store_id: int, kind: ImportKind, mapping: dict[str, str], actor: Actor
) -> ColumnMapping:
    """Save which of this store's column headers means which field (for headers we do not know)."""
    fields = set(HEADERS[kind])
    clean: dict[str, str] = {}
    for header, field in mapping.items():
        header, field = str(header).strip(), str(field).strip()
        if not header or not field:
            continue
        if field not in fields:
            raise InvalidInput(
                f"unknown field {field!r} for {kind.value}; one of: {', '.join(sorted(fields))}",
                field="mapping",
            )
        clean[header] = field
    row = session.scalar(
        select(ColumnMapping).where(ColumnMapping.store_id == store_id, ColumnMapping.kind == kind)
    )
    if row is None:
        row = ColumnMapping(store_id=store_id, kind=kind, mapping={})
        session.add(row)
    before = dict(row.mapping or {})
    row.mapping = clean
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="import.mapping_saved",
        entity_type="store",
        entity_id=store_id,
        store_id=store_id,
        changes={"kind": kind.value, "before": before, "after": clean},
    )
    return row


def _columns(header: list[str], kind: ImportKind, saved: dict[str, str]) -> dict[str, int]:
    """field -> column index. The store's saved mapping wins over the built-in names."""
    saved_norm = {_norm_header(h): f for h, f in saved.items()}
    found: dict[str, int] = {}
    for i, h in enumerate(header):
        key = _norm_header(h)
        field = saved_norm.get(key) or _SYNONYMS[kind].get(key)
        if field and field not in found:
            found[field] = i
    return found


def _score(kind: ImportKind, saved: dict[str, str]) -> Callable[[list[Any]], int]:
    names = set(_SYNONYMS[kind]) | {_norm_header(h) for h in saved}
    return lambda cells: sum(1 for c in cells if c is not None and _norm_header(c) in names)


def _missing(kind: ImportKind, found: dict[str, int]) -> list[str]:
    missing = []
    for need in REQUIRED[kind]:
        options = need if isinstance(need, tuple) else (need,)
        if not any(o in found for o in options):
            missing.append(" or ".join(f"{FIELD_LABELS[o]} ({o})" for o in options))
    return missing


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
    return session.scalar(
        select(ImportBatch)
        .where(
            ImportBatch.store_id == store_id,
            ImportBatch.kind == kind,
            ImportBatch.sha256 == sha256,
            ImportBatch.status == ImportStatus.done,
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


@dataclass
class _Ctx:
    session: Session
    batch: ImportBatch
    cols: dict[str, int]
    actor: Actor
    now: datetime
    seen: dict[str, int]
    errors: list[dict[str, Any]]


def run_import(
    *, session: Session, batch_id: int, actor: Actor, on_chunk: Callable[[ImportBatch], None] | None = None
) -> ImportBatch:
    """Read the batch's file and write its rows. A file that is not a usable table ends the
    batch as ``failed`` with one message (no rows written)."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"no import {batch_id}")
    saved = get_column_mapping(session=session, store_id=batch.store_id, kind=batch.kind)
    try:
        table = read_table(Path(batch.stored_path), batch.filename, _score(batch.kind, saved))
        cols = _columns(table.header, batch.kind, saved)
        missing = _missing(batch.kind, cols)
        if missing:
            raise NotATable(
                f"required column(s) missing: {'; '.join(missing)}. Found: {', '.join(h for h in table.header if h) or 'none'}. "
                "Rename the column or save a column mapping for this store."
            )
    except NotATable as exc:
        return _finish_failed(session, batch, exc.message, actor)
    batch.file_format, batch.encoding = table.file_format, table.encoding
    batch.columns = {table.header[i]: f for f, i in cols.items()}
    batch.rows_total = table.rows_expected  # what the progress bar measures against; exact at the end
    session.flush()
    if on_chunk:
        on_chunk(batch)
    ctx = _Ctx(session, batch, cols, actor, clock.now(), {}, [])
    writer = {
        ImportKind.customers: _write_customers,
        ImportKind.vehicles: _write_vehicles,
        ImportKind.visits: _write_visits,
    }[batch.kind]
    chunk: list[tuple[int, list[Any]]] = []
    try:
        for number, cells in table.rows:
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            chunk.append((number, cells))
            if len(chunk) >= CHUNK:
                _flush_chunk(ctx, writer, chunk, on_chunk)
                chunk = []
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:  # a CSV that breaks half-way
        return _finish_failed(
            session,
            batch,
            f"the file cannot be read past row {batch.rows_done + len(chunk) + 1}: {exc}",
            actor,
        )
    if chunk:
        _flush_chunk(ctx, writer, chunk, on_chunk)
    batch.rows_total = batch.rows_done  # the rows counted, not the estimate (blank lines are skipped)
    if batch.rows_total == 0:
        return _finish_failed(session, batch, "the file has a header but no data rows", actor)
    batch.status = ImportStatus.done
    batch.finished_at = clock.now()
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
        },
    )
    session.flush()
    if on_chunk:
        on_chunk(batch)
    return batch


def _finish_failed(session: Session, batch: ImportBatch, message: str, actor: Actor) -> ImportBatch:
    # Rows of earlier chunks (a CSV that breaks half-way) stay: they are valid and counted.
    batch.rows_total = batch.rows_done
    batch.status = ImportStatus.failed
    batch.message = message
    batch.finished_at = clock.now()
    audit_service.record(
        session=session,
        actor=actor,
        action="import.failed",
        entity_type="import",
        entity_id=batch.id,
        store_id=batch.store_id,
        changes={"kind": batch.kind.value, "file": batch.filename, "message": message},
    )
    session.flush()
    return batch


def _flush_chunk(ctx: _Ctx, writer, chunk, on_chunk) -> None:
    writer(ctx, chunk)
    if ctx.errors:
        ctx.session.execute(insert(ImportRowError), [{"batch_id": ctx.batch.id, **e} for e in ctx.errors])
        ctx.batch.failed += len({e["row_number"] for e in ctx.errors})
        ctx.errors.clear()
    ctx.batch.rows_done += len(chunk)
    ctx.batch.rows_total = max(ctx.batch.rows_total, ctx.batch.rows_done)
    ctx.session.flush()
    if on_chunk:
        on_chunk(ctx.batch)


def _cell(ctx: _Ctx, cells: list[Any], field: str) -> Any:
    i = ctx.cols.get(field)
    if i is None or i >= len(cells):
        return None
    v = cells[i]
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def _parse(
    ctx: _Ctx,
    number: int,
    cells: list[Any],
    spec: dict[str, Callable[[Any], Any]],
    required: Iterable[str | tuple[str, ...]],
) -> dict[str, Any] | None:
    """Parse one row; on errors record them (all of them) and return None."""
    out: dict[str, Any] = {}
    errors = []
    for field, parser in spec.items():
        if field not in ctx.cols:
            continue
        raw = _cell(ctx, cells, field)
        try:
            out[field] = parser(raw)
        except RowProblem as exc:
            errors.append((field, encode(exc.code, **exc.params), raw))
        except (ValueError, ArithmeticError) as exc:  # not foreseen: keep what Python says
            errors.append((field, encode("bad_value", detail=str(exc)[:300]), raw))
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not any(out.get(o) not in (None, "") for o in options) and not any(
            e[0] in options for e in errors
        ):
            errors.append((options[0], encode("required"), None))
    for field, reason, raw in errors:
        column = next((h for h, f in ctx.batch.columns.items() if f == field), FIELD_LABELS.get(field, field))
        ctx.errors.append(
            {
                "row_number": number,
                "column": column[:120],
                "reason": reason,
                "value": None if raw is None else str(raw)[:500],
            }
        )
    return None if errors else out


def _duplicate(ctx: _Ctx, key: str, number: int, field: str) -> bool:
    first = ctx.seen.get(key)
    if first is not None:
        column = next((h for h, f in ctx.batch.columns.items() if f == field), field)
        ctx.errors.append(
            {
                "row_number": number,
                "column": column[:120],
                "reason": encode("duplicate", first=first),
                "value": key[:500],
            }
        )
        return True
    ctx.seen[key] = number
    return False


def _apply(ctx: _Ctx, obj: Any, values: dict[str, Any], entity: str, customer_id: int | None) -> bool:
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


def _vin(v: Any) -> str | None:
    s = _text(v)
    if s is None:
        return None
    s = re.sub(r"[\s\-]", "", s).upper()
    if len(s) > 17:
        raise RowProblem("vin_length", length=len(s))
    return s


def _phone(v: Any) -> str | None:
    p = cleanup.normalize_phone(_text(v))
    if p and len(p) > 40:
        raise RowProblem("bad_phone")
    return p


def _name(v: Any) -> str | None:
    s = _text(v)
    if s and len(s) > 120:
        raise RowProblem("name_too_long", max=120)
    return s


def _bounded(n: int) -> Callable[[Any], str | None]:
    """A key (customer code, RO number): too long is an error, never silently cut."""

    def parse(v: Any) -> str | None:
        s = _text(v)
        if s and len(s) > n:
            raise RowProblem("too_long", max=n)
        return s

    return parse


def _mileage(v: Any) -> int | None:
    n = parse_int(v)
    if n is not None and not 0 <= n < 10_000_000:
        raise RowProblem("bad_mileage")
    return n


def _amount(v: Any) -> Decimal | None:
    d = parse_amount(v)
    if d is not None and abs(d) >= Decimal("10000000000"):
        raise RowProblem("amount_too_large")
    return d


def _limited(n: int) -> Callable[[Any], str | None]:
    def parse(v: Any) -> str | None:
        s = _text(v)
        return s[:n] if s else s

    return parse


# ---- customers ---------------------------------------------------------------------------

_CUSTOMER_SPEC = {
    "dms_code": _bounded(40),
    "name": _name,
    "phone": _phone,
    "gender": parse_gender,
    "birth_date": parse_date,
    "age": parse_int,
    "occupation": _limited(80),
    "address": _limited(300),
    "district": _limited(80),
    "customer_type": parse_customer_type,
}


def _write_customers(ctx: _Ctx, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, cells in chunk:
        row = _parse(ctx, number, cells, _CUSTOMER_SPEC, REQUIRED[ImportKind.customers])
        if row is None:
            continue
        row["dms_code"] = row.get("dms_code") or row.get("phone")
        age = row.pop("age", None)
        if age is not None and not row.get("birth_date"):
            if not 0 < age < 120:
                ctx.errors.append(
                    {
                        "row_number": number,
                        "column": _col(ctx, "age"),
                        "reason": encode("bad_age"),
                        "value": str(age),
                    }
                )
                continue
            row["birth_date"] = date(clock.today().year - age, 7, 1)  # mid-year estimate from the age
        if _duplicate(ctx, row["dms_code"], number, "dms_code"):
            continue
        parsed.append((number, row))
    codes = [r["dms_code"] for _, r in parsed]
    existing = (
        {
            c.dms_code: c
            for c in s.scalars(
                select(Customer).where(Customer.store_id == store_id, Customer.dms_code.in_(codes))
            )
        }
        if codes
        else {}
    )
    new = []
    for _number, row in parsed:
        values = {k: v for k, v in row.items() if k in ctx.cols or k in ("dms_code", "birth_date")}
        if "phone" in values:
            values["phone_valid"] = cleanup.phone_is_valid(values["phone"])
        c = existing.get(row["dms_code"])
        if c is None:
            values.setdefault("customer_type", CustomerType.private)
            new.append(
                {
                    "store_id": store_id,
                    "created_at": ctx.now,
                    "import_batch_id": ctx.batch.id,
                    "phone_valid": True,
                    **values,
                }
            )
        else:
            _apply(ctx, c, values, "customer", c.id)
    if new:
        s.execute(insert(Customer.__table__), _uniform(new))
        ctx.batch.inserted += len(new)


# ---- vehicles ----------------------------------------------------------------------------

_VEHICLE_SPEC = {
    "vin": _vin,
    "plate": lambda v: cleanup.normalize_plate(_text(v)),
    "model": _limited(80),
    "purchase_date": parse_date,
    "warranty_end": parse_date,
    "customer_code": _bounded(40),
    "name": _name,
    "phone": _phone,
}


def _write_vehicles(ctx: _Ctx, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    parsed = []
    for number, cells in chunk:
        row = _parse(ctx, number, cells, _VEHICLE_SPEC, REQUIRED[ImportKind.vehicles])
        if row is None or _duplicate(ctx, row["vin"], number, "vin"):
            continue
        parsed.append((number, row))
    codes = {r["customer_code"] for _, r in parsed if r.get("customer_code")}
    phones = {r["phone"] for _, r in parsed if r.get("phone") and not r.get("customer_code")}
    by_code = (
        dict(
            s.execute(
                select(Customer.dms_code, Customer.id).where(
                    Customer.store_id == store_id, Customer.dms_code.in_(codes)
                )
            ).all()
        )
        if codes
        else {}
    )
    by_phone: dict[str, int] = {}
    if phones:
        for phone, cid in s.execute(
            select(Customer.phone, Customer.id)
            .where(
                Customer.store_id == store_id, Customer.phone.in_(phones), Customer.merged_into_id.is_(None)
            )
            .order_by(Customer.id)
        ):
            by_phone.setdefault(phone, cid)
    vins = [r["vin"] for _, r in parsed]
    existing = {
        v.vin: v
        for v in s.scalars(select(Vehicle).where(Vehicle.store_id == store_id, Vehicle.vin.in_(vins)))
    }
    new = []
    for number, row in parsed:
        cid = (
            by_code.get(row["customer_code"]) if row.get("customer_code") else by_phone.get(row.get("phone"))
        )
        if cid is None and row.get("name") and (row.get("customer_code") or row.get("phone")):
            # The export names the owner we do not have yet: create the customer from this row.
            code = row.get("customer_code") or row["phone"]
            c = Customer(
                store_id=store_id,
                dms_code=code,
                name=row["name"],
                phone=row.get("phone"),
                phone_valid=cleanup.phone_is_valid(row.get("phone")),
                customer_type=CustomerType.private,
                created_at=ctx.now,
                import_batch_id=ctx.batch.id,
            )
            s.add(c)
            s.flush()
            cid = c.id
            (by_code if row.get("customer_code") else by_phone)[code] = cid
        if cid is None:
            field = "customer_code" if row.get("customer_code") else "phone"
            column = next((h for h, f in ctx.batch.columns.items() if f == field), field)
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": column,
                    "value": row.get(field),
                    "reason": encode("no_customer"),
                }
            )
            continue
        values = {
            k: row[k] for k in ("vin", "plate", "model", "purchase_date", "warranty_end") if k in ctx.cols
        }
        values["customer_id"] = cid
        if "purchase_date" in values and "warranty_end" not in ctx.cols and values["purchase_date"]:
            values["warranty_end"] = values["purchase_date"] + timedelta(days=3 * 365)
        values["vin_valid"] = cleanup.vin_is_valid(values["vin"])
        values["vin_check_digit_ok"] = cleanup.vin_check_digit_ok(values["vin"])
        if "plate" in values:
            values["plate_valid"] = cleanup.plate_is_valid(values["plate"])
        v = existing.get(row["vin"])
        if v is None:
            new.append(
                {"store_id": store_id, "created_at": ctx.now, "import_batch_id": ctx.batch.id, **values}
            )
        else:
            _apply(ctx, v, values, "vehicle", cid)
    if new:
        s.execute(insert(Vehicle.__table__), _uniform(new))
        ctx.batch.inserted += len(new)


# ---- repair orders -----------------------------------------------------------------------


def _category(v: Any) -> str | None:
    return _limited(40)(v)


_VISIT_SPEC = {
    "ro_number": _bounded(40),
    "vin": _vin,
    "plate": lambda v: cleanup.normalize_plate(_text(v)),
    "visit_date": parse_date,
    "mileage": _mileage,
    "category": _category,
    "items": _text,
    "amount": _amount,
    "advisor": _text,
}


def _write_visits(ctx: _Ctx, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    if not hasattr(ctx, "advisors"):  # advisor column holds a display name or a username
        ctx.advisors = {}  # type: ignore[attr-defined]
        for sid, shown, username in s.execute(
            select(Staff.id, Staff.display_name, Staff.username).where(Staff.store_id == store_id)
        ):
            ctx.advisors[shown] = ctx.advisors[username] = sid  # type: ignore[attr-defined]
    parsed = []
    today = clock.today()
    for number, cells in chunk:
        row = _parse(ctx, number, cells, _VISIT_SPEC, REQUIRED[ImportKind.visits])
        if row is None:
            continue
        if "amount" in ctx.cols and row.get("amount") is None:
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": _col(ctx, "amount"),
                    "value": None,
                    "reason": encode("empty_amount"),
                }
            )
            continue
        if row.get("amount") is not None and row["amount"] < 0:
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": _col(ctx, "amount"),
                    "reason": encode("negative_amount"),
                    "value": str(row["amount"]),
                }
            )
            continue
        if row["visit_date"] > today + timedelta(days=1):
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": _col(ctx, "visit_date"),
                    "reason": encode("future_date"),
                    "value": str(row["visit_date"]),
                }
            )
            continue
        if _duplicate(ctx, row["ro_number"], number, "ro_number"):
            continue
        parsed.append((number, row))
    vins = {r["vin"] for _, r in parsed if r.get("vin")}
    plates = {r["plate"] for _, r in parsed if r.get("plate") and not r.get("vin")}
    by_vin = (
        {
            vin: (vid, cid)
            for vin, vid, cid in s.execute(
                select(Vehicle.vin, Vehicle.id, Vehicle.customer_id).where(
                    Vehicle.store_id == store_id, Vehicle.vin.in_(vins)
                )
            )
        }
        if vins
        else {}
    )
    by_plate = (
        {
            p: (vid, cid)
            for p, vid, cid in s.execute(
                select(Vehicle.plate, Vehicle.id, Vehicle.customer_id).where(
                    Vehicle.store_id == store_id, Vehicle.plate.in_(plates)
                )
            )
        }
        if plates
        else {}
    )
    ros = [r["ro_number"] for _, r in parsed]
    existing = (
        {
            v.ro_number: v
            for v in s.scalars(
                select(ServiceVisit).where(ServiceVisit.store_id == store_id, ServiceVisit.ro_number.in_(ros))
            )
        }
        if ros
        else {}
    )
    new = []
    for number, row in parsed:
        hit = by_vin.get(row["vin"]) if row.get("vin") else by_plate.get(row.get("plate"))
        if hit is None:
            field = "vin" if row.get("vin") else "plate"
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": _col(ctx, field),
                    "value": row.get(field),
                    "reason": encode("no_vehicle"),
                }
            )
            continue
        vid, cid = hit
        values: dict[str, Any] = {"vehicle_id": vid, "customer_id": cid, "visit_date": row["visit_date"]}
        for k in ("mileage", "items"):
            if k in ctx.cols:
                values[k] = row.get(k)
        if "category" in ctx.cols:
            values["category"] = row.get("category") or "其他"
        if "amount" in ctx.cols:
            values["amount"] = row["amount"]
        if row.get("advisor"):
            values["advisor_id"] = ctx.advisors.get(row["advisor"])  # type: ignore[attr-defined]
        v = existing.get(row["ro_number"])
        if v is None:
            values.setdefault("category", "其他")
            values.setdefault("amount", Decimal("0.00"))
            new.append(
                {
                    "store_id": store_id,
                    "ro_number": row["ro_number"],
                    "created_at": ctx.now,
                    "import_batch_id": ctx.batch.id,
                    **values,
                }
            )
        else:
            _apply(ctx, v, values, "visit", cid)
    if new:
        s.execute(insert(ServiceVisit.__table__), _uniform(new))
        ctx.batch.inserted += len(new)


def _uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One executemany needs the same keys in every row: a key some rows lack is None there."""
    keys = set().union(*rows)
    return [r if len(r) == len(keys) else {k: r.get(k) for k in keys} for r in rows]


def _col(ctx: _Ctx, field: str) -> str:
    return next((h for h, f in ctx.batch.columns.items() if f == field), field)


# ---- reading back ------------------------------------------------------------------------


def get_batch(*, session: Session, batch_id: int, store_ids: list[int]) -> ImportBatch:
    batch = session.get(ImportBatch, batch_id)
    if batch is None or batch.store_id not in store_ids:
        raise NotFound(f"no import {batch_id}")
    return batch


def list_batches(*, session: Session, store_id: int, limit: int = 50) -> list[ImportBatch]:
    return list(
        session.scalars(
            select(ImportBatch)
            .where(ImportBatch.store_id == store_id)
            .order_by(ImportBatch.id.desc())
            .limit(limit)
        )
    )


def batches_page(
    *,
    session: Session,
    store_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page[ImportBatch]:
    """The archive page's imports, newest first; ``search`` matches the file name."""
    stmt = (
        select(ImportBatch)
        .where(ImportBatch.store_id == store_id, matches(search, ImportBatch.filename))
        .order_by(ImportBatch.id.desc())
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(search_words(search)))


def row_errors(*, session: Session, batch_id: int, limit: int | None = None) -> list[ImportRowError]:
    stmt = (
        select(ImportRowError)
        .where(ImportRowError.batch_id == batch_id)
        .order_by(ImportRowError.row_number, ImportRowError.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def errors_xlsx(*, session: Session, batch_id: int, locale: str = "zh") -> bytes:
    """The row errors as a workbook the admin can download, fix and re-import from, in the
    reader's language (sheet name, headers and reasons; ``locale`` zh or en)."""
    from openpyxl import Workbook

    sheet, header = WORKBOOK["en" if locale == "en" else "zh"]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(header)
    for e in session.scalars(
        select(ImportRowError)
        .where(ImportRowError.batch_id == batch_id)
        .order_by(ImportRowError.row_number, ImportRowError.id)
    ):
        ws.append([e.row_number, e.column, describe(e.reason, locale), e.value])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


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
