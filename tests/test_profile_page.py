"""The profile analysis page, its XLSX export and the churn outlook, through HTTP."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from winback.customers.models import Vehicle
from winback.cycles.models import Target


@pytest.fixture
def client(surveying_cycle):
    from app import create_app

    with TestClient(create_app(), headers={"Origin": "http://testserver"}) as c:
        yield c


def _login(client, username):
    r = client.post("/login", data={"username": username, "password": "winback-demo"}, follow_redirects=False)
    assert r.status_code in (302, 303), r.text


def test_profile_page_charts_and_numbers_in_chinese(client, surveying_cycle, session):
    _login(client, "admin")
    r = client.get(f"/cycles/{surveying_cycle}/profile")
    assert r.status_code == 200
    html = r.text
    assert "对象分析" in html and "车型" in html and "区域" in html and "保修期内" in html
    assert html.count("<svg") >= 10  # one chart per dimension
    # nothing fetched from elsewhere: the only scripts are this origin's static files
    assert "cdn" not in html.lower() and all(
        src.startswith("/static/") for src in re.findall(r'<script src="([^"]+)"', html)
    )
    assert html.count("<script") == html.count('<script src="/static/')
    targets = session.scalar(
        select(func.count()).select_from(Target).where(Target.cycle_id == surveying_cycle)
    )
    assert f"<strong>{targets}</strong>" in html
    # the hover text carries the numbers
    assert "<title>" in html and "有效基盘" in html


def test_profile_xlsx_matches_the_targets(client, surveying_cycle, session):
    _login(client, "supervisor")
    r = client.get(f"/cycles/{surveying_cycle}/profile.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(r.content))
    assert "车型" in wb.sheetnames and "概要" in wb.sheetnames
    ws = wb["车型"]
    per_model = {row[0]: row[1] for row in ws.iter_rows(min_row=2, values_only=True)}
    want: dict[str, int] = {}
    for (model,) in session.execute(
        select(Vehicle.model)
        .join(Target, Target.vehicle_id == Vehicle.id)
        .where(Target.cycle_id == surveying_cycle)
    ):
        want[model] = want.get(model, 0) + 1
    assert {k: v for k, v in per_model.items() if v} == want
    assert ws._charts  # a chart in the sheet, not only numbers


def test_advisors_cannot_see_the_profile(client, surveying_cycle):
    _login(client, "advisor1")
    assert client.get(f"/cycles/{surveying_cycle}/profile").status_code == 403
    assert client.get(f"/cycles/{surveying_cycle}/profile.xlsx").status_code == 403


def test_churn_outlook_dashboard(client):
    _login(client, "manager")
    r = client.get("/analytics")
    assert r.status_code == 200
    assert "本月异常流失" in r.text and "预测流失" in r.text
    # The demo's fit is degenerate: the rule in force is said in words; the model's raw
    # parameters only behind the 详情 toggle.
    page = r.text
    rule = page[page.index('id="churn-rule"') :]
    assert "流失预测模型与本店的维修记录不相符" in rule[: rule.index("</p>")]
    details = page[
        page.index('<details id="churn-model">') : page.index("</details>", page.index('id="churn-model"'))
    ]
    assert "详情" in details and "MBG/NBD" in details and "模型参数大得不合常理" in details
    assert "MBG/NBD" not in page.replace(details, "") and "α=" not in page.replace(details, "")
    assert "劲客 Kicks" in page[page.index('id="likely-lost"') :]
