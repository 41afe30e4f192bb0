"""The auditor's XLSX export of audit events. The sheet says who exported it, when and with
which filters; the export itself is recorded as an audit event by the caller."""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook

from winback import clock
from winback.audit.models import AuditEvent
from winback.customers.contact_masking import changes_for
from winback.spreadsheet import neutralise, safe_row

COLUMNS = (
    "id",
    "store_id",
    "at",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "flow_run_id",
    "customer_id",
    "cycle_id",
    "seq",
    "hash",
)
# The headers in Chinese (the column keys above are the English headers).
COLUMNS_ZH = {
    "id": "编号",
    "store_id": "门店",
    "at": "时间",
    "actor": "操作人",
    "action": "操作",
    "entity_type": "对象类型",
    "entity_id": "对象编号",
    "changes": "变更内容",
    "flow_run_id": "流程运行",
    "customer_id": "客户编号",
    "cycle_id": "周期编号",
    "seq": "序号",
    "hash": "哈希",
}
META = {"exported by": "导出人", "at": "导出时间", "filters": "筛选条件", "rows": "行数"}


def events_xlsx(
    events: list[AuditEvent],
    *,
    exported_by: str,
    filters: dict[str, Any],
    locale: str = "zh",
    viewer: Any,
) -> bytes:
    """The headers in the exporting person's language; the values stay as recorded, contact
    data masked for a ``viewer`` who sees it masked elsewhere."""

    def _(text: str, zh: dict[str, str]) -> str:
        return text if locale == "en" else zh[text]

    wb = Workbook()
    ws = wb.active
    ws.title = "audit" if locale == "en" else "审计记录"
    ws.append(
        [
            _("exported by", META),
            exported_by,
            _("at", META),
            clock.local(clock.now()).strftime("%Y-%m-%d %H:%M:%S"),
            _("filters", META),
            json.dumps(filters, ensure_ascii=False),
            _("rows", META),
            len(events),
        ]
    )
    ws.append([_(c, COLUMNS_ZH) for c in COLUMNS])
    for e in events:
        ws.append(
            safe_row(
                [
                    e.id,
                    e.store_id,
                    clock.local(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                    e.actor_label,
                    e.action,
                    e.entity_type,
                    e.entity_id,
                    json.dumps(changes_for(e.changes, viewer), ensure_ascii=False),
                    e.flow_run_id,
                    e.customer_id,
                    e.cycle_id,
                    e.seq,
                    e.hash,
                ]
            )
        )
    buf = io.BytesIO()
    neutralise(wb).save(buf)
    return buf.getvalue()
