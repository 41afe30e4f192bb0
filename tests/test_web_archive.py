"""The admin's archive pages: upload with report and error download, bad files shown as one
message (never a 500), merge review, vehicle flags and advisors' notes from the task page."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from tests.pages import login
from winback.customers.models import Customer, CustomerNote, MergeProposal, Vehicle, VehicleStatus

CORPUS = Path(__file__).parent / "data" / "imports"


def upload(client, kind, name):
    with open(CORPUS / name, "rb") as fh:
        return client.post("/archive/imports", data={"kind": kind}, files={"file": (name, fh)})


def test_admin_uploads_and_reads_the_report(client, session):
    login(client, "admin")
    assert "数据质量" in client.get("/archive").text
    r = upload(client, "customers", "customers_bad_rows.csv")
    assert r.status_code == 303
    report = client.get(r.headers["location"])
    assert report.status_code == 200
    # The row errors in the reader's language: Chinese by default...
    assert "错误和警告" in report.text and "与本文件第 2 行重复，已跳过" in report.text
    assert "性别应为 男 或 女" in report.text and "不能为空" in report.text
    assert (
        "duplicate of row" not in report.text and "&#34;code&#34;" not in report.text
    )  # not the stored JSON
    xlsx = client.get(r.headers["location"] + "/errors.xlsx")
    assert xlsx.status_code == 200
    rows = list(load_workbook(BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("行号", "列", "原因", "值")
    assert [row[0] for row in rows[1:]] == [3, 4, 4, 5]
    assert rows[-1][1:] == ("客户编号", "与本文件第 2 行重复，已跳过", "C001")
    # ...and English for an English reader (the same stored import).
    english = client.get(r.headers["location"] + "?lang=en")
    assert (
        "Errors and warnings" in english.text and "duplicate of row 2 in this file; skipped" in english.text
    )
    assert "gender must be 男 or 女" in english.text and "与本文件" not in english.text
    rows = list(
        load_workbook(BytesIO(client.get(r.headers["location"] + "/errors.xlsx").content)).active.iter_rows(
            values_only=True
        )
    )
    assert rows[0] == ("Row", "Column", "Reason", "Value")
    assert rows[-1][1:] == ("客户编号", "duplicate of row 2 in this file; skipped", "C001")
    client.get("/archive?lang=zh")
    # A file with row errors is read again (its cause may be fixed); one whose rows all landed is not.
    again = upload(client, "customers", "customers_bad_rows.csv")
    assert again.headers["location"] != r.headers["location"]
    clean = upload(client, "customers", "customers_utf8.csv")
    twice = upload(client, "customers", "customers_utf8.csv")
    assert twice.headers["location"] == clean.headers["location"]  # the same file: the same import
    assert "没有任何变化" in client.get(twice.headers["location"]).text


def test_bad_files_show_one_message_and_form_errors(client):
    login(client, "admin")
    for name in ("zero_bytes.csv", "binary_renamed.xlsx", "empty_sheets.xlsx", "visits_missing_columns.csv"):
        r = upload(client, "visits", name)
        assert r.status_code == 303, name
        page = client.get(r.headers["location"])
        assert page.status_code == 200 and 'role="alert"' in page.text and "失败" in page.text, name
    r = client.post("/archive/imports", data={"kind": "nonsense"})
    assert r.status_code == 303 and client.get("/archive").text.count("请选择文件内容类型") == 1
    login(client, "advisor1")
    assert upload(client, "customers", "customers_utf8.csv").status_code == 403
    assert client.get("/archive").status_code == 403


def test_merge_review_page(client, session, demo_store):
    login(client, "admin")
    first = session.scalars(
        select(Customer).where(Customer.store_id == demo_store).order_by(Customer.id)
    ).first()
    twin = Customer(
        store_id=demo_store, dms_code="DUP1", name=first.name, phone=first.phone, created_at=first.created_at
    )
    session.add(twin)
    session.commit()
    r = client.post("/archive/cleanup")
    assert r.status_code == 303
    page = client.get("/archive/merges")
    assert "DUP1" in page.text
    proposal = session.scalar(select(MergeProposal).where(MergeProposal.merge_id == twin.id))
    r = client.post(f"/archive/merges/{proposal.id}", data={"decision": "merge"})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Customer, twin.id).merged_into_id == first.id
    assert client.post(f"/archive/merges/{proposal.id}", data={"decision": "merge"}).status_code == 409
    assert "#%d" % first.id in client.get(f"/customers/{twin.id}").text


def test_vehicle_flag_and_advisor_note_from_the_task_page(client, session, surveying_cycle):
    from winback.accounts.models import Staff
    from winback.surveys.models import SurveyTask

    advisor = session.scalar(select(Staff).where(Staff.username == "advisor1"))
    task = session.scalar(select(SurveyTask).where(SurveyTask.assignee_id == advisor.id))
    login(client, "advisor1")
    r = client.post(
        f"/customers/{task.customer_id}/notes",
        data={"kind": "best_time", "text": "", "back": f"/tasks/{task.id}"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{task.id}"
    assert "备注为空" in client.get(f"/tasks/{task.id}").text  # the domain error, in the page's language
    client.post(
        f"/customers/{task.customer_id}/notes",
        data={"kind": "reason_left", "text": "嫌保养贵，去了路边店", "back": f"/tasks/{task.id}"},
    )
    assert "嫌保养贵" in client.get(f"/tasks/{task.id}").text
    session.expire_all()
    assert (
        session.scalar(select(CustomerNote.text).where(CustomerNote.customer_id == task.customer_id))
        == "嫌保养贵，去了路边店"
    )
    login(client, "admin")
    assert "嫌保养贵" in client.get(f"/customers/{task.customer_id}").text
    vehicle = session.scalar(select(Vehicle).where(Vehicle.customer_id == task.customer_id))
    r = client.post(
        f"/vehicles/{vehicle.id}/status",
        data={"status": "sold", "note": "", "back": f"/customers/{task.customer_id}"},
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Vehicle, vehicle.id).status == VehicleStatus.active  # a reason is needed
    client.post(
        f"/vehicles/{vehicle.id}/status",
        data={"status": "sold", "note": "客户来电说已卖车", "back": f"/customers/{task.customer_id}"},
    )
    session.expire_all()
    v = session.get(Vehicle, vehicle.id)
    assert v.status == VehicleStatus.sold and v.status_by_id is not None


def test_column_mapping_form_saves_and_reshows_errors(client):
    login(client, "admin")
    bad = client.post(
        "/archive/mappings", data={"kind": "customers", "mapping": "档案号 = dms_code\n称呼 = nonsense"}
    )
    assert bad.status_code == 422
    assert "没有字段“nonsense”" in bad.text and "称呼 = nonsense" in bad.text  # the input comes back
    ok = client.post(
        "/archive/mappings", data={"kind": "customers", "mapping": "档案号 = dms_code\n称呼 = name"}
    )
    assert ok.status_code == 303
    assert "称呼 = name" in client.get("/archive").text


def test_json_api_import_and_quality(client):
    login(client, "admin")
    with open(CORPUS / "customers_gbk.csv", "rb") as fh:
        r = client.post("/api/imports", data={"kind": "customers"}, files={"file": ("c.csv", fh)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["inserted"], body["encoding"], body["already_imported"]) == (
        "done",
        5,
        "gb18030",
        False,
    )
    with open(CORPUS / "binary_renamed.xlsx", "rb") as fh:
        bad = client.post("/api/imports", data={"kind": "visits"}, files={"file": ("x.xlsx", fh)}).json()
    assert bad["status"] == "failed" and "not one" in bad["message"]
    assert client.get(f"/api/imports/{body['id']}").json()["rows"] == 5
    with open(CORPUS / "customers_bad_rows.csv", "rb") as fh:
        rows = client.post("/api/imports", data={"kind": "customers"}, files={"file": ("b.csv", fh)}).json()
    dup = rows["errors"][-1]  # API callers get English unless they ask for Chinese
    assert (dup["row"], dup["code"], dup["reason"], dup["reason_en"]) == (
        5,
        "duplicate",
        "duplicate of row 2 in this file; skipped",
        "duplicate of row 2 in this file; skipped",
    )
    zh = client.get(f"/api/imports/{rows['id']}", headers={"Accept-Language": "zh-CN"}).json()["errors"][-1]
    assert (zh["code"], zh["reason"], zh["reason_en"]) == (
        "duplicate",
        "与本文件第 2 行重复，已跳过",
        "duplicate of row 2 in this file; skipped",
    )
    for lang, header, reason in (
        ("en", "Row", "duplicate of row 2 in this file; skipped"),
        ("zh", "行号", "与本文件第 2 行重复，已跳过"),
    ):
        xlsx = client.get(f"/api/imports/{rows['id']}/errors.xlsx", headers={"Accept-Language": lang})
        assert xlsx.status_code == 200
        sheet = list(load_workbook(BytesIO(xlsx.content)).active.iter_rows(values_only=True))
        assert sheet[0][0] == header and sheet[-1][2] == reason
    assert client.get("/api/archive/quality").json()["customers"] == 246  # row 4 kept, its gender empty
