"""Sending the message touches: through the store's Apprise URL, or as a workbook in the format
bulk-SMS platforms take (marked sent when exported)."""

from __future__ import annotations

import io
from urllib.parse import quote

import apprise
from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.care import messages
from winback.care.models import (
    CareItem,
    CareTouch,
    TouchChannel,
    TouchStatus,
)
from winback.customers.models import Customer, Vehicle
from winback.i18n import gettext

# Messages through the store's channel are tried this many times (one pass a day each).
MAX_SEND_ATTEMPTS = 3


# ---- delivery -----------------------------------------------------------------------------


def deliver_messages(*, session: Session, store_id: int) -> dict[str, int]:
    """Send the pending message touches through the store's Apprise URL, the customer's phone
    put in for ``{phone}``. A refused message is retried on the next pass, then marked failed."""
    rules = effective_settings(session.get(Store, store_id))
    url = rules.care_apprise_url.strip()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not url:
        return counts
    pending = session.scalars(
        select(CareTouch)
        .where(
            CareTouch.store_id == store_id,
            CareTouch.channel == TouchChannel.message,
            CareTouch.status == TouchStatus.pending,
        )
        .order_by(CareTouch.id)
    ).all()
    for touch in pending:
        target = url.replace("{phone}", quote(touch.phone or "", safe=""))
        notifier = apprise.Apprise()
        ok, error = False, None
        if not notifier.add(target):
            error = "not a valid notification URL"
        else:
            try:
                ok = bool(notifier.notify(title="", body=touch.body or ""))
                error = None if ok else "the receiver did not accept the message"
            except Exception as exc:  # a broken plugin must not stop the pass
                error = f"{type(exc).__name__}: {exc}"
        touch.attempts += 1
        if ok:
            touch.status, touch.sent_at, touch.last_error = TouchStatus.sent, clock.now(), None
            counts["sent"] += 1
        elif touch.attempts >= MAX_SEND_ATTEMPTS:
            touch.status, touch.last_error = TouchStatus.failed, error
            counts["failed"] += 1
        else:
            touch.last_error = error
            counts["retry"] += 1
    session.flush()
    return counts


# The columns bulk-SMS platforms take (their own format, in Chinese whatever the reader's language).
SMS_SHEET = "短信"
SMS_HEADERS = ("手机号码", "短信内容", "客户姓名", "车牌号", "提醒类型", "到期日")


def export_pending(*, session: Session, store_ids: list[int], actor: Actor) -> tuple[bytes, int]:
    """The pending export touches as a bulk-SMS workbook (手机号码, 短信内容 first: the columns
    SMS platforms take); the exported touches are marked sent. Audited as an export."""
    from openpyxl import Workbook

    rows = session.execute(
        select(CareTouch, CareItem, Customer.name, Vehicle.plate)
        .join(CareItem, CareItem.id == CareTouch.item_id)
        .join(Customer, Customer.id == CareItem.customer_id)
        .join(Vehicle, Vehicle.id == CareItem.vehicle_id)
        .where(
            CareTouch.store_id.in_(store_ids),
            CareTouch.channel == TouchChannel.export,
            CareTouch.status == TouchStatus.pending,
        )
        .order_by(CareTouch.id)
    ).all()
    wb = Workbook()
    ws = wb.active
    ws.title = SMS_SHEET
    ws.append(SMS_HEADERS)
    now = clock.now()
    for touch, item, name, plate in rows:
        ws.append(
            [
                touch.phone,
                touch.body,
                name,
                plate,
                gettext(messages.KIND_NAMES[item.kind.value], "zh"),
                item.due_on,
            ]
        )
        touch.status, touch.sent_at = TouchStatus.sent, now
    for col, width in zip("ABCDEF", (16, 80, 12, 12, 10, 12)):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    for store_id in store_ids:
        n = sum(1 for t, *_ in rows if t.store_id == store_id)
        if n:
            audit_service.record_export(
                session=session, actor=actor, store_id=store_id, what="care_sms", filters={}, rows=n
            )
    session.flush()
    return buf.getvalue(), len(rows)
