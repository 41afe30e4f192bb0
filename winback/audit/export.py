"""The auditor's XLSX export of audit events. The sheet says who exported it, when and with
which filters; the export itself is recorded as an audit event by the caller."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook

from winback import clock
from winback.audit.models import AuditEvent
from winback.i18n import N_, gettext, pgettext
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
# The headers in the exporting person's language (the column keys above are the English headers).
TITLES = {
    "id": N_("id"),
    "store_id": N_("store_id"),
    "at": N_("at"),
    "actor": N_("actor"),
    "action": N_("action"),
    "entity_type": N_("entity_type"),
    "entity_id": N_("entity_id"),
    "changes": N_("changes"),
    "flow_run_id": N_("flow_run_id"),
    "customer_id": N_("customer_id"),
    "cycle_id": N_("cycle_id"),
    "seq": N_("seq"),
    "hash": N_("hash"),
}


def events_xlsx(
    events: list[AuditEvent],
    *,
    exported_by: str,
    filters: dict[str, Any],
    locale: str = "zh",
    shown_changes: Callable[[Any], Any],
) -> bytes:
    """The headers in the exporting person's language; the values stay as recorded, each
    event's changes as ``shown_changes`` gives them (contact data masked for a person who sees
    it masked elsewhere: the caller knows the viewer; the audit area sits below the archive)."""

    wb = Workbook()
    ws = wb.active
    ws.title = gettext("audit", locale)
    ws.append(
        [
            pgettext("audit export", "exported by", locale),
            exported_by,
            pgettext("audit export", "at", locale),
            clock.local(clock.now()).strftime("%Y-%m-%d %H:%M:%S"),
            pgettext("audit export", "filters", locale),
            json.dumps(filters, ensure_ascii=False),
            pgettext("audit export", "rows", locale),
            len(events),
        ]
    )
    ws.append([gettext(TITLES[c], locale) for c in COLUMNS])
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
                    json.dumps(shown_changes(e.changes), ensure_ascii=False),
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
