"""The auditor's pages: filters, the XLSX export (which says who exported what), complaints."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from winback.audit.models import AuditEvent
from winback.surveys import service as surveys
from winback.surveys.models import SurveyTask


def _client(username: str) -> TestClient:
    from app import create_app

    c = TestClient(create_app(), follow_redirects=False, headers={"Origin": "http://testserver"})
    assert (
        c.post("/api/auth/login", json={"username": username, "password": "winback-demo"}).status_code == 200
    )
    return c


def test_filters_export_and_complaints(session, surveying_cycle, staff):
    advisor = staff("advisor1")
    task = session.scalar(select(SurveyTask).where(SurveyTask.assignee_id == advisor.id).limit(1))
    surveys.close_task(
        contact_outcome="reached",
        session=session,
        task_id=task.id,
        method="phone",
        reason_codes_=["high_price"],
        serviced_elsewhere=False,
        complaint="=等了两个小时 <b>没人管</b>",
        actor_staff=advisor,
    )
    session.commit()
    c = _client("auditor")

    r = c.get("/audit", params={"actor": "advisor1", "action": "task."})
    assert r.status_code == 200 and "task.closed" in r.text and "task.assigned" not in r.text
    assert c.get("/audit", params={"since": "yesterday"}).status_code == 422
    r = c.get("/audit", params={"since": "2026-11-03"})  # after every event of the frozen demo day
    assert "task.closed" not in r.text

    r = c.get("/audit/export.xlsx", params={"actor": "advisor1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert (
        rows[0][:2] == ("导出人", "auditor")
        and rows[1][:3] == ("编号", "门店", "时间")
        and '"actor": "advisor1"' in rows[0][5]
    )
    assert {row[3] for row in rows[2:]} == {"advisor1"} and any(row[4] == "task.closed" for row in rows[2:])
    exported = session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()
    assert len(exported) == 1 and exported[0].actor_label == "auditor"
    assert (
        exported[0].changes["filters"] == {"actor": "advisor1"}
        and exported[0].changes["rows"] == len(rows) - 2
    )

    r = c.get("/audit/complaints")
    assert r.status_code == 200
    assert "&lt;b&gt;没人管&lt;/b&gt;" in r.text and "<b>没人管" not in r.text  # autoescaped
    assert (
        f"/audit/task/{task.id}" in r.text and "价格高（配件工时贵）" in r.text
    )  # the store's label, not the code
