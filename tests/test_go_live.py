"""Going live without the demo (issue 16): a store, its staff and its own exports from an empty
database to the first cycle, with every reminder reaching a person; the first-run page; first
passwords changed at the first log-in; one business clock for the CLI and the web server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

import db.session
from winback import clock
from winback.accounts.models import Role, Staff, Store
from winback.audit.models import AuditEvent

ORIGIN = {"Origin": "http://testserver"}
ROOT = Path(__file__).resolve().parent.parent


def _client() -> TestClient:
    from app import create_app

    return TestClient(create_app(), follow_redirects=False, headers=ORIGIN)


def _cli(args: list[str], input: str | None = None):
    from winback.cli import app as cli

    return CliRunner().invoke(cli, args, input=input)


# ---- the roster ---------------------------------------------------------------------------


ROSTER = """门店员工名单（2026年11月）
姓名,工号,岗位,手机,企业微信,通知地址
王芳,wangfang,服务顾问,13800138000,,json://127.0.0.1:9/wangfang
李强,liqiang,"服务顾问、前台主管",13900139000,wecombot://abcdef,
,bad user,厨师,,,nope://x
赵六,wangfang,服务经理,,,
钱七,qianqi,行政/客服,,,
"""


def test_a_staff_list_lands_its_good_rows_and_reports_every_problem_of_the_others(session, tmp_path):
    from winback import roster, stores
    from winback.actor import Actor

    store = stores.create_store(session=session, code="D01", name="某某4S店", actor=Actor.system(label="t"))
    path = tmp_path / "员工.csv"
    path.write_text(ROSTER, encoding="gb18030")  # a Chinese Excel's CSV
    result = roster.import_roster(
        session=session, store_id=store.id, source=path, filename=path.name, actor=Actor.system(label="t")
    )
    assert result.rows == 5
    assert [c[0] for c in result.created] == ["wangfang", "liqiang", "qianqi"]
    # row 5 (the file's line: a title above the header) has four problems, all reported
    by_row = {}
    for e in result.errors:
        by_row.setdefault(e.row_number, []).append(e)
    assert sorted(by_row) == [5, 6]
    assert [e.column for e in by_row[5]] == ["姓名", "工号", "岗位", "通知地址"]
    assert [e.reason.translate("zh") for e in by_row[5]][2].startswith("未知岗位")
    assert "wangfang" in by_row[6][0].reason.translate("zh")
    people = {s.username: s for s in session.scalars(select(Staff).where(Staff.store_id == store.id))}
    assert people["liqiang"].roles == {Role.advisor, Role.supervisor}
    assert people["liqiang"].apprise_url == "wecombot://abcdef"  # the 企业微信 column
    assert people["wangfang"].apprise_url == "json://127.0.0.1:9/wangfang"
    assert people["qianqi"].roles == {Role.admin} and people["qianqi"].apprise_url is None
    assert all(p.must_change_password for p in people.values())
    # each generated password is the account's own
    from winback.accounts import authentication

    for username, _name, password in result.created:
        assert len(password) >= 12
        attempt = authentication.look_up(session=session, username=username, address="test")
        assert attempt.staff_id is not None and authentication.check_password(attempt, password)
        assert not authentication.check_password(attempt, password + "x")
    created = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "staff.created")
    )
    assert created == 3


def test_a_staff_list_that_breaks_half_way_makes_the_people_before_the_break(
    session, tmp_path, small_csv_limit
):
    """A cell larger than the CSV reader takes (``small_csv_limit``) stops the file: the rows
    before it are made, and the break is told as the next row's error."""
    from winback import roster, stores
    from winback.actor import Actor

    store = stores.create_store(session=session, code="D03", name="某某4S店", actor=Actor.system(label="t"))
    path = tmp_path / "员工.csv"
    path.write_text(
        f'姓名,工号,岗位\n王芳,wangfang,服务顾问\n李强,liqiang,"{"x" * 200_000}"\n', encoding="utf-8"
    )
    result = roster.import_roster(
        session=session, store_id=store.id, source=path, filename=path.name, actor=Actor.system(label="t")
    )
    assert [c[0] for c in result.created] == ["wangfang"]
    assert [(e.row_number, e.reason.translate("zh")) for e in result.errors] == [
        (3, "第 2 行之后的内容无法读取：field larger than field limit (150000)")
    ]


def test_an_english_xlsx_roster_and_a_file_without_the_columns(session, tmp_path):
    from openpyxl import Workbook

    from winback import roster, stores
    from winback.actor import Actor
    from winback.errors import InvalidInput

    store = stores.create_store(session=session, code="D02", name="Dealer", actor=Actor.system(label="t"))
    wb = Workbook()
    wb.active.append(["Name", "Username", "Role", "Email"])
    wb.active.append(["Amy Li", "amy", "advisor", "mailto://amy:secret@example.com"])
    wb.active.append(["Bo Wang", "bo", "manager; auditor", "bo@example.com"])  # a bare address: no channel
    wb.save(tmp_path / "staff.xlsx")
    result = roster.import_roster(
        session=session,
        store_id=store.id,
        source=tmp_path / "staff.xlsx",
        filename="staff.xlsx",
        actor=Actor.system(label="t"),
    )
    assert result.errors == [] and [c[0] for c in result.created] == ["amy", "bo"]
    bo = session.scalar(select(Staff).where(Staff.username == "bo"))
    assert bo.roles == {Role.manager, Role.auditor} and bo.apprise_url is None
    (tmp_path / "other.csv").write_text("客户姓名,手机\n张三,13800138000\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        roster.import_roster(
            session=session,
            store_id=store.id,
            source=tmp_path / "other.csv",
            filename="other.csv",
            actor=Actor.system(label="t"),
        )
    assert "工号" in err.value.message.translate("zh")


# ---- first passwords and the first-run page ------------------------------------------------


def test_a_generated_first_password_is_changed_before_anything_else(db_url, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "2026-11-02T09:00")
    r = _cli(["store", "create", "D01", "--name", "某某4S店"])
    assert r.exit_code == 0, r.output
    r = _cli(["staff", "add", "boss", "--store", "D01", "--role", "管理员", "--name", "张总"], input="")
    assert r.exit_code == 0, r.output
    assert "首次登录" in r.output
    password = r.output.strip().splitlines()[-1].rsplit(" ", 1)[-1].split("：")[-1]
    r = _cli(
        ["staff", "add", "fang", "--store", "D01", "--role", "advisor", "--name", "王芳", "--password-stdin"],
        input="Wang-own-secret-26\n",
    )
    assert r.exit_code == 0, r.output
    c = _client()
    assert c.post("/login", data={"username": "boss", "password": password}).status_code == 303
    for page in ("/", "/cycles", "/admin/staff"):
        r = c.get(page)
        assert r.status_code == 303 and r.headers["location"] == "/account/password", page
    r = c.get("/account/password")
    assert r.status_code == 200 and "自己的密码" in r.text
    r = c.post("/account/password", data={"old_password": password, "new_password": password})
    assert r.status_code == 422  # the same one again is not a change
    r = c.post("/account/password", data={"old_password": password, "new_password": "Zhang-own-secret-26"})
    assert r.status_code == 303
    assert c.get("/cycles").status_code == 200
    # a password the person chose (--password-stdin) is not a first password
    c2 = _client()
    assert c2.post("/login", data={"username": "fang", "password": "Wang-own-secret-26"}).status_code == 303
    assert c2.get("/tasks").status_code == 200


def test_the_first_run_page_sets_up_once(db_url, session):
    clock.set_now("2026-11-02T09:00")
    c = _client()
    for page in ("/", "/login", "/cycles", "/admin/staff"):
        r = c.get(page)
        assert r.status_code == 303 and r.headers["location"] == "/setup", page
    r = c.get("/setup")
    assert r.status_code == 200 and "设置" in r.text
    form = {
        "store_code": "D01",
        "store_name": "某某4S店",
        "username": "boss",
        "display_name": "张总",
        "password": "Zhang-own-secret-26",
        "password_again": "Zhang-own-secret-27",
    }
    r = c.post("/setup", data=form)
    assert r.status_code == 422 and "两次输入的密码不一致" in r.text
    assert 'value="某某4S店"' in r.text and 'value="boss"' in r.text  # the input is kept
    assert session.scalar(select(func.count(Store.id))) == 0  # nothing half-done
    r = c.post("/setup", data={**form, "store_code": "bad code!", "password_again": form["password"]})
    assert r.status_code == 422 and "门店代码" in r.text
    r = c.post("/setup", data={**form, "password_again": form["password"]})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert c.get("/").headers["location"] == "/cycles"  # logged in as the new admin
    assert c.get("/cycles").status_code == 200
    # gone for good, for everyone
    assert c.get("/setup").status_code == 404
    assert _client().get("/setup").status_code == 404
    assert c.post("/setup", data={**form, "store_code": "D02", "username": "boss2"}).status_code == 404
    assert _client().get("/").headers["location"] == "/login"
    session.expire_all()
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"store.created", "staff.created"} <= actions
    boss = session.scalar(select(Staff).where(Staff.username == "boss"))
    assert boss.roles == {Role.admin} and not boss.must_change_password


# ---- one clock ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "WINBACK_NOW"}
    env.update(WINBACK_DATABASE_URL=db_url, LANG="zh_CN.UTF-8")
    return env


def _winback(env, *args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "winback.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


def _cli_overdue(env) -> int:
    out = _winback(env, "--lang", "en", "cycle", "status")
    assert "overdue=" in out, out
    return sum(int(part.split("=", 1)[1]) for part in out.split() if part.startswith("overdue="))


def test_the_web_server_and_the_cli_agree_on_overdue_after_a_clock_move(surveying_cycle, db_url):
    """The server runs in a process of its own (no WINBACK_NOW): only the demo clock in the
    database tells it what day it is."""
    clock.set_now(None)
    env = _env(db_url)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        web = httpx.Client(base_url=base, headers={"Origin": base})
        deadline = time.monotonic() + 60
        while True:
            try:
                web.get("/login")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.2)
        assert (
            web.post("/login", data={"username": "supervisor", "password": "winback-demo"}).status_code == 303
        )

        def web_overdue() -> int:
            r = web.get(f"/api/cycles/{surveying_cycle}")
            assert r.status_code == 200, r.text
            return sum(b["overdue"] for b in r.json()["progress"])

        _winback(env, "clock", "set", "2026-11-03T09:00")  # the day after the tasks were handed out
        time.sleep(clock.STORED_TTL_SECONDS + 0.2)
        assert _cli_overdue(env) == web_overdue() == 0
        page = web.get("/cycles")
        assert "演示时间" in page.text and "2026" in page.text

        _winback(env, "clock", "set", "2026-11-20T09:00")  # past the one-week deadline
        time.sleep(clock.STORED_TTL_SECONDS + 0.2)
        overdue = web_overdue()
        assert overdue > 0 and _cli_overdue(env) == overdue

        _winback(env, "clock", "reset")
        time.sleep(clock.STORED_TTL_SECONDS + 0.2)
        assert "演示时间" not in web.get("/cycles").text
    finally:
        server.terminate()
        server.wait(20)


# ---- end to end ---------------------------------------------------------------------------


class Receiver:
    """A JSON receiver for Apprise's json:// URLs that keeps who (the URL's path) got what."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict]] = []
        lock = threading.Lock()
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with lock:
                    got.append((self.path.strip("/"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, who: str) -> str:
        return f"json://127.0.0.1:{self.port}/{who}"

    def to(self, who: str) -> list[dict]:
        return [body for path, body in self.got if path == who]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _exports(tmp: Path, receiver: Receiver) -> dict[str, Path]:
    """A dealer's own files: a staff list and three DMS exports with Chinese headers, 24
    customers whose last visit was 7 to 9 months before the cycle (at risk). The repair-order
    history has no RO-number column, as many DMS history exports do not."""
    files = {}
    roster = ["姓名,工号,岗位,手机,通知地址"]
    roster.append(f"王芳,wangfang,服务顾问,13800138001,{receiver.url('wangfang')}")
    roster.append(f"刘洋,liuyang,服务顾问,13800138002,{receiver.url('liuyang')}")
    roster.append(f"陈静,chenjing,前台主管,13800138003,{receiver.url('chenjing')}")
    roster.append(f"周伟,zhouwei,服务经理,13800138004,{receiver.url('zhouwei')}")
    files["roster"] = tmp / "员工名单.csv"
    files["roster"].write_text("\n".join(roster) + "\n", encoding="utf-8-sig")
    customers, vehicles, visits = (
        ["客户编号,客户姓名,手机,性别,客户类型"],
        ["车架号,车牌号,车型,购车日期,客户编号"],
        ["车架号,进厂日期,里程,维修类别,维修项目,金额,服务顾问"],
    )
    for i in range(24):
        code = f"C{i:03d}"
        vin = f"LGBH52E0{i:09d}"
        customers.append(f"{code},客户{i},139{i:08d},{'男' if i % 2 else '女'},私家车")
        vehicles.append(f"{vin},粤A{i:05d},轩逸,2022-0{1 + i % 9}-15,{code}")
        visits.append(f"{vin},2025-1{i % 3}-10,{10000 + i * 100},保养,机油机滤,{480 + i}.00,王芳")
        visits.append(
            f"{vin},2026-0{2 + i % 3}-1{i % 9},{15000 + i * 100},保养,机油机滤,{520 + i}.00,{'王芳' if i % 2 else '刘洋'}"
        )
    for name, rows in (("客户.csv", customers), ("车辆.csv", vehicles), ("维修工单.csv", visits)):
        files[name] = tmp / name
        files[name].write_text("\n".join(rows) + "\n", encoding="gb18030")
    return files


@pytest.mark.flow
def test_from_an_empty_database_to_people_reminded(db_url, prefect_harness, receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "2026-11-02T09:00")  # the CLI's --as-of sets it; restored after
    files = _exports(tmp_path, receiver)
    steps = [
        ["store", "create", "D01", "--name", "某某汽车4S店"],
        ["staff", "import", str(files["roster"]), "--store", "D01"],
        ["import", "customers", str(files["客户.csv"]), "--store", "D01"],
        ["import", "vehicles", str(files["车辆.csv"]), "--store", "D01"],
        ["import", "visits", str(files["维修工单.csv"]), "--store", "D01"],
    ]
    for args in steps:
        r = _cli(args)
        assert r.exit_code == 0, (args, r.output, r.exception)
        assert "0 行有错误" in r.output or "有错误 0" in r.output or "已创建门店" in r.output, r.output
    assert "文件没有工单号列" in r.output  # the visits' keys were derived, and the report says so
    again = _cli(["import", "visits", str(files["维修工单.csv"]), "--store", "D01"])
    assert again.exit_code == 0, again.output
    from winback.customers.models import ServiceVisit

    check = db.session.new_session()
    try:  # the same file twice doubles nothing
        assert check.scalar(select(func.count(ServiceVisit.id))) == 48
    finally:
        check.close()
    r = _cli(
        ["staff", "add", "boss", "--store", "D01", "--role", "admin", "--name", "张总", "--password-stdin"]
        + ["--notify", receiver.url("boss")],
        input="Zhang-own-secret-26\n",
    )
    assert r.exit_code == 0, r.output
    r = _cli(["cycle", "start", "--month", "2026-11", "--store", "D01", "--as-of", "2026-11-02T09:00"])
    assert r.exit_code == 0, (r.output, r.exception)
    assert "调查中" in r.output and "逾期 0" in r.output, r.output

    # a week and a day later the watcher reminds the advisors and tells the supervisor
    r = _cli(["watch", "--as-of", "2026-11-10T09:00"])
    assert r.exit_code == 0, (r.output, r.exception)
    deadline = time.monotonic() + 10
    while not receiver.to("chenjing") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert receiver.to("wangfang") or receiver.to("liuyang"), receiver.got
    advisors = receiver.to("wangfang") + receiver.to("liuyang")
    assert any("逾期" in (b.get("title", "") + b.get("message", "")) for b in advisors), advisors
    escalations = receiver.to("chenjing")
    assert escalations and any("逾期" in (b.get("title", "") + b.get("message", "")) for b in escalations)
    # in the database: tasks for both advisors, and every reminder to a person with a channel sent
    from winback.notifications.models import Notification, NotificationStatus
    from winback.surveys.models import SurveyTask

    session = db.session.new_session()
    try:
        owners = set(
            session.scalars(select(Staff.username).join(SurveyTask, SurveyTask.assignee_id == Staff.id))
        )
        assert owners == {"wangfang", "liuyang"}
        sent = session.execute(
            select(Staff.username, Notification.kind, Notification.status).join(
                Staff, Staff.id == Notification.recipient_id
            )
        ).all()
        assert {(u, k) for u, k, _s in sent} >= {("chenjing", "tasks_escalated")}
        assert {k for u, k, _s in sent if u in owners} >= {"tasks_overdue"}
        assert all(st == NotificationStatus.sent for _u, _k, st in sent), sent
        # and every one of them is in its person's inbox too, unread
        from winback.notifications import inbox

        for username in ("chenjing", *owners):
            person = session.scalar(select(Staff).where(Staff.username == username))
            mine = sum(1 for u, _k, _s in sent if u == username)
            assert inbox.unread_count(session=session, staff_id=person.id) == mine >= 1
    finally:
        session.close()

    # the web server shows the same day, and the created admin logs in
    clock.set_now(None)
    monkeypatch.delenv("WINBACK_NOW")
    c = _client()
    assert c.post("/login", data={"username": "boss", "password": "Zhang-own-secret-26"}).status_code == 303
    page = c.get("/cycles")
    assert page.status_code == 200 and "演示时间" in page.text


# ---- the first-run page in a real browser --------------------------------------------------


def test_the_first_run_page_in_chromium(db_url, session, browser, request):
    """On an empty database the browser lands on the set-up form whatever it asks for; a refused
    form keeps what was typed; once set up the admin is in, and the form is gone for good."""
    from tests.test_browser import serving, shot

    clock.set_now("2026-11-02T09:00")
    db = request.node.callspec.id
    with serving() as base:
        page = browser.new_context(locale="zh-CN").new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/cycles")
        page.wait_for_url("**/setup")
        assert page.title().startswith("设置 winback")
        page.get_by_label("门店代码（如 S01）").fill("D01")
        page.get_by_label("门店名称").fill("某某汽车4S店")
        page.get_by_label("用户名").fill("boss")
        page.get_by_label("姓名").fill("张总")
        page.get_by_label("密码", exact=True).fill("Zhang-own-secret-26")
        page.get_by_label("再次输入密码").fill("Zhang-own-secret-27")
        page.get_by_role("button", name="完成设置").click()
        page.get_by_text("两次输入的密码不一致").wait_for()
        assert page.get_by_label("门店名称").input_value() == "某某汽车4S店"  # kept
        shot(page, "first-run-refused", db)
        page.get_by_label("密码", exact=True).fill("Zhang-own-secret-26")
        page.get_by_label("再次输入密码").fill("Zhang-own-secret-26")
        page.get_by_role("button", name="完成设置").click()
        page.wait_for_url("**/cycles")
        assert "张总" in page.locator("header").inner_text()
        shot(page, "first-run-done", db)
        r = page.goto(base + "/setup")
        assert r.status == 404
        other = browser.new_context(locale="zh-CN").new_page()
        other.goto(base + "/")
        other.wait_for_url("**/login")
        assert "登录" in other.title()
        assert not [e for e in errors if "Content Security Policy" in e], errors
