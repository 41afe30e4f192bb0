"""Reports over what other stages computed: the tally with its shares, and the profile
analysis (``cycles.profiles``) as an XLSX workbook."""

from __future__ import annotations

from typing import Any

from winback.spreadsheet import neutralise


def tally_report(*, tally: dict[str, Any] | None) -> dict[str, Any] | None:
    """The tally (结果统计) with shares: reasons overall, serviced elsewhere, unreachable."""
    if not tally:
        return None
    tasks = tally.get("tasks") or 0
    reached = max(tasks - (tally.get("unreachable") or 0), 0)
    total_mentions = sum(tally.get("reasons", {}).values()) or 1
    return {
        **tally,
        "unreachable_pct": round(100 * (tally.get("unreachable") or 0) / tasks, 1) if tasks else 0.0,
        "elsewhere_pct": round(100 * (tally.get("serviced_elsewhere") or 0) / reached, 1) if reached else 0.0,
        "reason_rows": [
            {
                "value": k,
                "count": v,
                "pct": round(100 * v / total_mentions, 1),
                # the shape the page's bar chart draws (no base to compare a reason with)
                "targets": v,
                "share_pct": round(100 * v / total_mentions, 1),
                "base": 0,
                "base_share_pct": 0,
                "index": None,
            }
            for k, v in tally.get("reasons", {}).items()
        ],
    }


def profile_workbook(*, report: dict[str, Any], tally: dict[str, Any] | None, translate=lambda s: s) -> bytes:
    """The profile analysis as an XLSX workbook: one sheet per dimension, one for the tally."""
    from io import BytesIO

    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    _ = label = translate  # label(): a value's code (a dimension's value, a reason) to its words
    wb = Workbook()
    summary = wb.active
    summary.title = _("Summary")[:31]
    summary.append([_("Month"), report["month"]])
    summary.append([_("As of"), report["as_of"]])
    summary.append([_("Targets"), report["targets"]])
    summary.append([_("Active base"), report["base"]])
    for d, rows in report["dimensions"].items():
        ws = wb.create_sheet(_(d)[:31])
        ws.append(
            [_(d), _("Targets"), _("Share") + " %", _("Active base"), _("Base share") + " %", _("Index")]
        )
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in rows:
            ws.append(
                [label(r["value"]), r["targets"], r["share_pct"], r["base"], r["base_share_pct"], r["index"]]
            )
        if rows:
            chart = BarChart()
            chart.type = "bar"
            chart.title = _(d)
            chart.add_data(
                Reference(ws, min_col=3, max_col=3, min_row=1, max_row=len(rows) + 1), titles_from_data=True
            )
            chart.add_data(
                Reference(ws, min_col=5, max_col=5, min_row=1, max_row=len(rows) + 1), titles_from_data=True
            )
            chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(rows) + 1))
            ws.add_chart(chart, "H2")
    if tally:
        ws = wb.create_sheet(_("Tally")[:31])
        ws.append([_("Reason"), _("Count"), "%"])
        for r in tally["reason_rows"]:
            ws.append([label(r["value"]), r["count"], r["pct"]])
        ws.append([])
        ws.append([_("unreachable"), tally.get("unreachable"), tally["unreachable_pct"]])
        ws.append([_("Serviced elsewhere"), tally.get("serviced_elsewhere"), tally["elsewhere_pct"]])
        for seg, by in (tally.get("by_segment") or {}).items():
            ws.append([])
            ws.append([_(seg)])
            for value, reasons in by.items():
                ws.append([_(value)] + [f"{_(k)}: {v}" for k, v in reasons.items()])
    out = BytesIO()
    neutralise(wb).save(out)
    return out.getvalue()
