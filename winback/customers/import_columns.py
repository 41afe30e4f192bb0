"""Which column of a dealer's file holds which field: the accepted headers, the required
fields, a store's saved mapping for other headers, and picking the header row."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import (
    ColumnMapping,
    ImportKind,
)
from winback.errors import InvalidInput
from winback.i18n import Message

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
        "grade": ["车辆级别", "车型级别", "级别", "车辆档次", "档次", "grade", "vehicle grade"],
        "purchase_date": ["购车日期", "购买日期", "销售日期", "开票日期", "purchase date", "sale date"],
        "warranty_end": ["保修截止日期", "保修到期", "保修截止", "warranty end"],
        "compulsory_insurance_end": [
            "交强险到期日",
            "交强险到期日期",
            "交强险到期",
            "compulsory insurance end",
        ],
        "commercial_insurance_end": [
            "商业险到期日",
            "商业险到期日期",
            "商业险到期",
            "commercial insurance end",
        ],
        "registered_on": [
            "初次登记日期",
            "初登日期",
            "注册日期",
            "登记日期",
            "上牌日期",
            "registration date",
            "first registration",
        ],
        "inspection_valid_until": [
            "检验有效期至",
            "检验有效期",
            "年检有效期至",
            "年检有效期",
            "年检到期日",
            "年检到期",
            "inspection valid until",
            "inspection due",
        ],
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
    ImportKind.visits: [("vin", "plate"), "visit_date"],
}
# Without this column a repair-order file still imports: each row's key is derived from its
# vehicle, date, amount and category (``import_visit_rows.derived_ro_number``).
DERIVABLE_KEY = {ImportKind.visits: "ro_number"}


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
    "grade": "车辆级别",
    "purchase_date": "购车日期",
    "warranty_end": "保修截止日期",
    "compulsory_insurance_end": "交强险到期日",
    "commercial_insurance_end": "商业险到期日",
    "registered_on": "初次登记日期",
    "inspection_valid_until": "检验有效期至",
    "customer_code": "客户编号",
    "ro_number": "工单号",
    "visit_date": "进厂日期",
    "mileage": "里程",
    "category": "维修类别",
    "items": "维修项目",
    "amount": "金额",
    "advisor": "服务顾问",
}


def norm_header(text: Any) -> str:
    return re.sub(r"[\s*＊:：()（）_\-]", "", str(text or "")).lower()


_SYNONYMS = {
    kind: {norm_header(h): f for f, hs in fields.items() for h in hs} for kind, fields in HEADERS.items()
}


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
                "unknown field '{name}' for {kind}; one of: {fields}",
                name=field,
                kind=Message(kind.value),
                fields=", ".join(sorted(fields)),
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


def find_columns(header: list[str], kind: ImportKind, saved: dict[str, str]) -> dict[str, int]:
    """field -> column index. The store's saved mapping wins over the built-in names."""
    saved_norm = {norm_header(h): f for h, f in saved.items()}
    found: dict[str, int] = {}
    for i, h in enumerate(header):
        key = norm_header(h)
        field = saved_norm.get(key) or _SYNONYMS[kind].get(key)
        if field and field not in found:
            found[field] = i
    return found


def header_score(kind: ImportKind, saved: dict[str, str]) -> Callable[[list[Any]], int]:
    names = set(_SYNONYMS[kind]) | {norm_header(h) for h in saved}
    return lambda cells: sum(1 for c in cells if c is not None and norm_header(c) in names)


def missing_required(kind: ImportKind, found: dict[str, int]) -> list[str]:
    missing = []
    for need in REQUIRED[kind]:
        options = need if isinstance(need, tuple) else (need,)
        if not any(o in found for o in options):
            missing.append(" / ".join(FIELD_LABELS[o] for o in options))
    return missing
