"""The evaluation as an XLSX workbook (one sheet per part of the report)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from winback.evaluation.models import Evaluation
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
    "todo": ("待办", "to do"),
    "in_progress": ("进行中", "in progress"),
    "done": ("已完成", "done"),
    "overdue": ("已逾期", "overdue"),
}
SEGMENT = {"grade": ("车辆级别", "grade"), "customer_type": ("客户类型", "customer type")}


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

    def _(zh: str, en: str) -> str:
        return en if locale == "en" else zh

    labels = reason_labels or {}
    wb = Workbook()
    wb.remove(wb.active)
    h = ev.holdout or {}
    _sheet(
        wb,
        _("汇总", "Summary"),
        [_("指标", "Figure"), _("值", "Value")],
        [
            [_("月份", "Month"), month],
            [_("调查对象", "Targets"), ev.targets],
            [_("已回访", "Contacted"), ev.contacted],
            [_("回厂车辆数", "Vehicles back"), ev.vehicles_back],
            [_("进厂台次", "Workshop entries"), ev.workshop_entries],
            [_("产值（¥）", "Output value (¥)"), float(ev.output_value)],
            [_("回厂率 %", "Win-back rate %"), ev.winback_rate_pct],
            [_("目标 %", "Target %"), ev.target_pct],
            [_("措施成本（¥）", "Measure cost (¥)"), float(ev.measure_cost)],
            [_("优惠券成本（¥）", "Voucher cost (¥)"), float(ev.voucher_cost)],
            [_("满意度（1-5）", "Satisfaction (1-5)"), ev.satisfaction_avg],
            [_("满意度回访数", "Callbacks"), ev.satisfaction_n],
            [_("联系组", "Contacted group"), h.get("treated")],
            [_("联系组回厂", "Contacted group back"), h.get("treated_back")],
            [_("联系组回厂率 %", "Contacted group rate %"), h.get("treated_rate_pct")],
            [_("对照组", "Holdout"), h.get("holdout")],
            [_("对照组回厂", "Holdout back"), h.get("holdout_back")],
            [_("对照组回厂率 %", "Holdout rate %"), h.get("holdout_rate_pct")],
            [_("提升（百分点）", "Lift (pp)"), h.get("lift_pct")],
            [_("95% 区间下限", "95% CI low"), h.get("lift_ci_low_pct")],
            [_("95% 区间上限", "95% CI high"), h.get("lift_ci_high_pct")],
            [_("流失率 %", "Churn rate %"), ev.churn_rate_pct],
        ],
    )
    _sheet(
        wb,
        _("顾问", "Advisors"),
        [
            _("顾问", "Advisor"),
            _("已回访", "Contacted"),
            _("回厂", "Came back"),
            _("回厂率 %", "Rate %"),
            _("目标 %", "Target %"),
            _("差额人数", "Shortfall"),
            _("差额金额 ¥", "Shortfall ¥"),
            _("分配", "Assigned"),
            _("分配回厂", "Assigned back"),
            _("提升（百分点）", "Lift (pp)"),
            _("区间下限", "CI low"),
            _("区间上限", "CI high"),
            _("增量客户", "Incremental"),
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
    _sheet(
        wb,
        _("措施", "Measures"),
        [
            _("措施", "Measure"),
            _("状态", "Status"),
            _("原因", "Reasons"),
            _("回厂客户", "Customers back"),
            _("预期", "Expected"),
            _("单位", "Unit"),
            _("成本", "Cost"),
        ],
        [
            [
                m["title"],
                _(*MEASURE_STATUS[m["status"]]) if m["status"] in MEASURE_STATUS else m["status"],
                _("、", ", ").join(labels.get(code, code) for code in m.get("reasons") or []),
                m["customers_back"],
                m.get("expected_value"),
                m.get("expected_unit"),
                m.get("cost"),
            ]
            for m in ev.per_measure
        ],
    )
    k = ev.kpis or {}
    kpi_rows = [
        [
            _("首保回厂率 %", "First maintenance return %"),
            k.get("first_maintenance_return_pct"),
            k.get("first_maintenance_due"),
        ],
        [
            _("二保回厂率 %", "Second maintenance return %"),
            k.get("second_maintenance_return_pct"),
            k.get("second_maintenance_due"),
        ],
        [_("流失率 %", "Churn rate %"), k.get("churn_rate_pct"), k.get("active_vehicles")],
    ]
    for key, cells in (k.get("churn_by_segment") or {}).items():
        name = _(*SEGMENT[key]) if key in SEGMENT else key
        for seg, c in cells.items():
            kpi_rows.append(
                [
                    _("流失率 %（{k}={s}）", "Churn rate % ({k}={s})").format(k=name, s=seg),
                    c["rate_pct"],
                    c["vehicles"],
                ]
            )
    _sheet(wb, _("留存指标", "KPIs"), [_("指标", "KPI"), "%", _("基数", "Base")], kpi_rows)
    _sheet(
        wb,
        _("趋势", "Trend"),
        [
            _("季度", "Quarter"),
            _("回厂率 %", "Return rate %"),
            _("流失率 %", "Churn rate %"),
            _("提升（百分点）", "Lift (pp)"),
            _("区间下限", "CI low"),
            _("区间上限", "CI high"),
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
        _("季度差额", "Shortfall"),
        [_("季度", "Quarter"), _("顾问", "Advisor"), _("差额金额 ¥", "Shortfall ¥")],
        [[q["quarter"], name, yuan] for q in trend for name, yuan in (q.get("shortfall_yuan") or {}).items()],
    )
    buf = BytesIO()
    neutralise(wb).save(buf)
    return buf.getvalue()
