"""The auditor's XLSX export of audit events. The sheet says who exported it, when and with
which filters; the export itself is recorded as an audit event by the caller."""
from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook

from winback import clock
from winback.audit.models import AuditEvent

COLUMNS = ("id", "store_id", "at", "actor", "action", "entity_type", "entity_id", "changes", "flow_run_id",
           "customer_id", "cycle_id", "seq", "hash")


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (=, +, -, @) is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def events_xlsx(events: list[AuditEvent], *, exported_by: str, filters: dict[str, Any]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "audit"
    ws.append(["exported by", exported_by, "at", clock.local(clock.now()).strftime("%Y-%m-%d %H:%M:%S"),
               "filters", json.dumps(filters, ensure_ascii=False), "rows", len(events)])
    ws.append(list(COLUMNS))
    for e in events:
        ws.append([_cell(v) for v in [e.id, e.store_id, clock.local(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.actor_label, e.action,
                   e.entity_type, e.entity_id, json.dumps(e.changes, ensure_ascii=False), e.flow_run_id,
                   e.customer_id, e.cycle_id, e.seq, e.hash]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
