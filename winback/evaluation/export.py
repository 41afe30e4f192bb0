"""The evaluation as an XLSX workbook (one sheet per part of the report)."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from winback.evaluation.models import Evaluation
from winback.i18n import N_, localize, pgettext, translator
from winback.spreadsheet import neutralise


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(12, min(50, len(str(name)) + 4))


MEASURE_STATUS = {
    "todo": N_("to do"),
    "in_progress": N_("in progress"),
    "done": N_("done"),
    "overdue": N_("overdue"),
}
SEGMENT = {"grade": N_("grade"), "customer_type": N_("customer type")}


def evaluation_xlsx(
    ev: Evaluation,
    *,
    month: str,
    trend: list[dict[str, Any]],
    locale: str = "zh",
    reason_labels: dict[str, str] | None = None,
) -> bytes:
    """The workbook in the requesting person's language (sheet names, headers, figure names,
    measure statuses and reasons; ``reason_labels`` maps the store's reason codes to its
    labels in that language)."""

    _ = translator(locale)
    wb = Workbook()
    wb.remove(wb.active)
    _summary_sheet(wb, ev, month=month, _=_, locale=locale)
    _advisors_sheet(wb, ev, _=_, locale=locale)
    _measures_sheet(wb, ev, _=_, locale=locale, reason_labels=reason_labels or {})
    _kpis_sheet(wb, ev, _=_)
    _trend_sheets(wb, trend, _=_, locale=locale)
    buf = BytesIO()
    neutralise(wb).save(buf)
    return buf.getvalue()


def _summary_sheet(wb: Workbook, ev: Evaluation, *, month: str, _: Callable[..., str], locale: str) -> None:
    h = ev.holdout or {}
    _sheet(
        wb,
        pgettext("evaluation workbook", "Summary", locale),
        [_("Figure"), _("Value")],
        [
            [_("Month"), month],
            # What the report can defend first: the lift against the holdout with its interval,
            # the returns among every target given to advisors, then among those reached.
            [_("Lift (pp)"), h.get("lift_pct")],
            [_("95% CI low"), h.get("lift_ci_low_pct")],
            [_("95% CI high"), h.get("lift_ci_high_pct")],
            [_("Contacted group"), h.get("treated")],
            [_("Contacted group back"), h.get("treated_back")],
            [_("Contacted group rate %"), h.get("treated_rate_pct")],
            [_("Holdout"), h.get("holdout")],
            [_("Holdout back"), h.get("holdout_back")],
            [_("Holdout rate %"), h.get("holdout_rate_pct")],
            [pgettext("evaluation workbook", "Contacted", locale), ev.contacted],
            [_("Vehicles back"), ev.vehicles_back],
            [_("Win-back rate %"), ev.winback_rate_pct],
            [_("Target %"), ev.target_pct],
            [_("Targets"), ev.targets],
            [_("Workshop entries"), ev.workshop_entries],
            [_("Output value (¥)"), float(ev.output_value)],
            [_("Measure cost (¥)"), float(ev.measure_cost)],
            [_("Voucher cost (¥)"), float(ev.voucher_cost)],
            [_("Satisfaction (1-5)"), ev.satisfaction_avg],
            [_("Callbacks"), ev.satisfaction_n],
            [_("Churn rate %"), ev.churn_rate_pct],
        ],
    )


def _advisors_sheet(wb: Workbook, ev: Evaluation, *, _: Callable[..., str], locale: str) -> None:
    _sheet(
        wb,
        pgettext("evaluation workbook", "Advisors", locale),
        [
            pgettext("evaluation workbook", "Advisor", locale),
            pgettext("evaluation workbook", "Contacted", locale),
            pgettext("evaluation workbook", "Came back", locale),
            _("Rate %"),
            _("Target %"),
            pgettext("evaluation workbook", "Shortfall", locale),
            _("Shortfall ¥"),
            _("Assigned"),
            _("Assigned back"),
            _("Lift (pp)"),
            _("CI low"),
            _("CI high"),
            _("Incremental"),
        ],
        [
            [
                a["advisor"],
                a["contacted"],
                a["came_back"],
                a["rate_pct"],
                a["target_pct"],
                a["shortfall_customers"],
                a["shortfall_yuan"],
                a.get("assigned"),
                a.get("assigned_back"),
                a.get("lift_pct"),
                a.get("lift_ci_low_pct"),
                a.get("lift_ci_high_pct"),
                a.get("incremental_customers"),
            ]
            for a in ev.per_advisor
        ],
    )


def _measures_sheet(
    wb: Workbook, ev: Evaluation, *, _: Callable[..., str], locale: str, reason_labels: dict[str, str]
) -> None:
    status_label = {code: _(text) for code, text in MEASURE_STATUS.items()}
    _sheet(
        wb,
        pgettext("evaluation workbook", "Measures", locale),
        [
            _("Measure"),
            _("Status"),
            pgettext("evaluation workbook", "Reasons", locale),
            _("Customers back"),
            _("Expected"),
            _("Unit"),
            _("Cost"),
        ],
        [
            [
                m["title"],
                status_label.get(m["status"], m["status"]),
                localize([reason_labels.get(code, code) for code in m.get("reasons") or []], locale),
                m["customers_back"],
                m.get("expected_value"),
                m.get("expected_unit"),
                m.get("cost"),
            ]
            for m in ev.per_measure
        ],
    )


def _kpis_sheet(wb: Workbook, ev: Evaluation, *, _: Callable[..., str]) -> None:
    k = ev.kpis or {}
    kpi_rows = [
        [
            _("First maintenance return %"),
            k.get("first_maintenance_return_pct"),
            k.get("first_maintenance_due"),
        ],
        [
            _("Second maintenance return %"),
            k.get("second_maintenance_return_pct"),
            k.get("second_maintenance_due"),
        ],
        [_("Churn rate %"), k.get("churn_rate_pct"), k.get("active_vehicles")],
    ]
    for key, cells in (k.get("churn_by_segment") or {}).items():
        name = _(SEGMENT[key]) if key in SEGMENT else key
        for seg, c in cells.items():
            kpi_rows.append(
                [
                    _("Churn rate % ({k}: {s})", k=name, s=_(seg)),
                    c["rate_pct"],
                    c["vehicles"],
                ]
            )
    _sheet(wb, _("KPIs"), [_("KPI"), "%", _("Base")], kpi_rows)


def _trend_sheets(wb: Workbook, trend: list[dict[str, Any]], *, _: Callable[..., str], locale: str) -> None:
    """The quarter-by-quarter figures, and each advisor's shortfall in yuan per quarter."""
    _sheet(
        wb,
        _("Trend"),
        [
            _("Quarter"),
            _("Return rate %"),
            _("Churn rate %"),
            _("Lift (pp)"),
            _("CI low"),
            _("CI high"),
        ],
        [
            [
                q["quarter"],
                q["return_rate_pct"],
                q["churn_rate_pct"],
                q["lift_pct"],
                q["lift_ci_low_pct"],
                q["lift_ci_high_pct"],
            ]
            for q in trend
        ],
    )
    _sheet(
        wb,
        pgettext("evaluation workbook sheet", "Shortfall", locale),
        [_("Quarter"), pgettext("evaluation workbook", "Advisor", locale), _("Shortfall ¥")],
        [[q["quarter"], name, yuan] for q in trend for name, yuan in (q.get("shortfall_yuan") or {}).items()],
    )
