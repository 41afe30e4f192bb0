"""The evaluation as an XLSX workbook (one sheet per part of the report)."""
from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from winback.evaluation.models import Evaluation


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(12, min(50, len(str(name)) + 4))


def evaluation_xlsx(ev: Evaluation, *, month: str, trend: list[dict[str, Any]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    h = ev.holdout or {}
    _sheet(wb, "汇总 Summary", ["指标 Figure", "值 Value"], [
        ["月份 Month", month],
        ["调查对象 Targets", ev.targets],
        ["已回访 Contacted", ev.contacted],
        ["回厂车辆数 Vehicles back", ev.vehicles_back],
        ["进厂台次 Workshop entries", ev.workshop_entries],
        ["产值 Output value (¥)", float(ev.output_value)],
        ["回厂率 Win-back rate %", ev.winback_rate_pct],
        ["目标 Target %", ev.target_pct],
        ["措施成本 Measure cost (¥)", float(ev.measure_cost)],
        ["优惠券成本 Voucher cost (¥)", float(ev.voucher_cost)],
        ["满意度 Satisfaction (1-5)", ev.satisfaction_avg],
        ["满意度回访数 Callbacks", ev.satisfaction_n],
        ["联系组 Contacted group", h.get("treated")],
        ["联系组回厂 Contacted group back", h.get("treated_back")],
        ["联系组回厂率 % Contacted group rate", h.get("treated_rate_pct")],
        ["对照组 Holdout", h.get("holdout")],
        ["对照组回厂 Holdout back", h.get("holdout_back")],
        ["对照组回厂率 % Holdout rate", h.get("holdout_rate_pct")],
        ["提升 Lift (pp)", h.get("lift_pct")],
        ["95% 区间下限 CI low", h.get("lift_ci_low_pct")],
        ["95% 区间上限 CI high", h.get("lift_ci_high_pct")],
        ["流失率 Churn rate %", ev.churn_rate_pct],
    ])
    _sheet(wb, "顾问 Advisors", [
        "顾问 Advisor", "已回访 Contacted", "回厂 Came back", "回厂率 % Rate", "目标 % Target", "差额人数 Shortfall",
        "差额金额 Shortfall ¥", "分配 Assigned", "分配回厂 Assigned back", "提升 Lift pp", "区间下限 CI low",
        "区间上限 CI high", "增量客户 Incremental",
    ], [
        [a["advisor"], a["contacted"], a["came_back"], a["rate_pct"], a["target_pct"], a["shortfall_customers"],
         a["shortfall_yuan"], a.get("assigned"), a.get("assigned_back"), a.get("lift_pct"),
         a.get("lift_ci_low_pct"), a.get("lift_ci_high_pct"), a.get("incremental_customers")]
        for a in ev.per_advisor
    ])
    _sheet(wb, "措施 Measures", [
        "措施 Measure", "状态 Status", "原因 Reasons", "回厂客户 Customers back", "预期 Expected", "单位 Unit", "成本 Cost",
    ], [
        [m["title"], m["status"], ", ".join(m.get("reasons") or []), m["customers_back"], m.get("expected_value"),
         m.get("expected_unit"), m.get("cost")]
        for m in ev.per_measure
    ])
    k = ev.kpis or {}
    kpi_rows = [
        ["首保回厂率 % First maintenance return", k.get("first_maintenance_return_pct"), k.get("first_maintenance_due")],
        ["二保回厂率 % Second maintenance return", k.get("second_maintenance_return_pct"), k.get("second_maintenance_due")],
        ["流失率 % Churn rate", k.get("churn_rate_pct"), k.get("active_vehicles")],
    ]
    for key, cells in (k.get("churn_by_segment") or {}).items():
        for seg, c in cells.items():
            kpi_rows.append([f"流失率 % Churn {key}={seg}", c["rate_pct"], c["vehicles"]])
    _sheet(wb, "留存 KPIs", ["指标 KPI", "% ", "基数 Base"], kpi_rows)
    _sheet(wb, "趋势 Trend", ["季度 Quarter", "回厂率 % Return rate", "流失率 % Churn rate", "提升 Lift pp",
                              "区间下限 CI low", "区间上限 CI high"], [
        [q["quarter"], q["return_rate_pct"], q["churn_rate_pct"], q["lift_pct"], q["lift_ci_low_pct"],
         q["lift_ci_high_pct"]] for q in trend
    ])
    _sheet(wb, "季度差额 Shortfall", ["季度 Quarter", "顾问 Advisor", "差额金额 Shortfall ¥"], [
        [q["quarter"], name, yuan] for q in trend for name, yuan in (q.get("shortfall_yuan") or {}).items()
    ])
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
