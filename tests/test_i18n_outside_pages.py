"""Texts outside the web pages in the recipient's (or requester's) language: notifications,
with the words and dates put into them translated too (services on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from winback import clock
from winback.actor import Actor
from winback.i18n import translations
from winback.notifications.messages import MESSAGES, Lines, Message, Month, pmessage, render
from winback.notifications.models import Notification
from winback.plans import service as plans
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, SurveyTask

ZH = translations("zh")
CJK = re.compile(r"[\u4e00-\u9fff]")

SAMPLE = {
    "month": Month("2026-11"),
    "count": 3,
    "due": datetime(2026, 11, 9, 1, 0, tzinfo=UTC),
    "task_id": 1234,
    "customer": "王伟",
    "change": Message("handed to {to}", to="张伟"),
    "advisors": ["张伟", "刘洋"],
    "lines": Lines(
        [
            Message(
                "· #{id} {customer} ({advisor}, due {due})",
                id=7,
                customer="王伟",
                advisor="张伟",
                due=date(2026, 11, 9),
            )
        ]
    ),
    "advisor": "张伟",
    "complaint": "太贵",
    "case_id": 56,
    "resolution": "价格透明",  # free text: the complaint case's resolution
    "version": 2,
    "decision": pmessage("plan decision", "rejected"),
    "comment": "",
    "title": "价格透明",
    "measures": [Message("{title} ({owner}, {due})", title="价格透明", owner="张伟", due=date(2026, 12, 1))],
    "back": 12,
    "contacted": 40,
    "rate": 30.0,
    "date": date(2026, 11, 2),
    "at_risk": 4,
    "lost": 2,
    "names": ["王伟"],
    "name": "王伟",  # the test message's addressee
}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_every_message_renders_in_both_languages_with_its_values_translated(kind):
    zh_title, zh_body = render(kind, "zh", **SAMPLE)
    en_title, en_body = render(kind, "en", **SAMPLE)
    assert CJK.search(zh_title) and CJK.search(zh_body)
    assert not CJK.search(en_title)
    # The English body holds no Chinese except people's and customers' names and free text.
    names = "王伟|张伟|刘洋|太贵|价格透明"
    assert not CJK.search(re.sub(names, "", en_body)), en_body
    assert "{" not in zh_body and "{" not in en_body
    for word in ("rejected", "handed to", "due "):
        assert word not in zh_body


def test_dates_months_and_lists_follow_the_locale():
    _t, zh = render(
        "tasks_assigned", "zh", month=Month("2026-11"), count=3, due=datetime(2026, 11, 9, 1, 0, tzinfo=UTC)
    )
    _t, en = render(
        "tasks_assigned", "en", month=Month("2026-11"), count=3, due=datetime(2026, 11, 9, 1, 0, tzinfo=UTC)
    )
    assert zh.startswith("2026年11月 ") and "2026/11/9 09:00" in zh  # business time (Asia/Shanghai)
    assert en.startswith("Nov 2026 ") and "09/11/2026, 09:00" in en
    _t, zh = render(
        "tasks_escalated",
        "zh",
        month=[Month("2026-10"), Month("2026-11")],
        count=2,
        advisors=["张伟", "刘洋"],
        lines=Lines(["a", "b"]),
    )
    _t, en = render(
        "tasks_escalated",
        "en",
        month=[Month("2026-10"), Month("2026-11")],
        count=2,
        advisors=["张伟", "刘洋"],
        lines=Lines(["a", "b"]),
    )
    assert "2026年10月、2026年11月" in zh and "（张伟、刘洋）" in zh and zh.endswith("a\nb")
    assert "Oct 2026, Nov 2026" in en and "(张伟, 刘洋)" in en
    _t, en = render("evaluation_ready", "en", month=Month("2026-11"), back=1200, contacted=4000, rate=30.25)
    assert "30.25%" in en and "1200 of 4000" in en


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_plan_decision_reaches_the_submitter_in_their_language(session, surveying_cycle, staff, locale):
    tasks = list(
        session.scalars(
            select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle).order_by(SurveyTask.id)
        )
    )[:4]
    for t in tasks:
        surveys.close_task(
            contact_outcome="reached",
            session=session,
            task_id=t.id,
            method=ContactMethod.phone,
            reason_codes_=["high_price"],
            serviced_elsewhere=False,
            actor_staff=t.assignee,
        )
    clock.set_now(clock.now() + timedelta(days=8))
    surveys.tally_reasons(session=session, cycle_id=surveying_cycle, actor=Actor.person(staff("admin")))
    plan = plans.draft_plan(session=session, cycle_id=surveying_cycle, actor=Actor.person(staff("admin")))
    supervisor = staff("supervisor")
    supervisor.locale = locale
    plans.submit_plan(session=session, plan_id=plan.id, actor_staff=supervisor)
    plans.decide_plan(
        session=session, plan_id=plan.id, approve=False, comment="成本太高", actor_staff=staff("manager")
    )
    note = session.scalars(
        select(Notification).where(
            Notification.kind == "plan_decided", Notification.recipient_id == supervisor.id
        )
    ).one()
    if locale == "en":
        assert note.title == "Plan decision"
        assert note.body == "Nov 2026 rectification plan: rejected. 成本太高"
    else:
        assert note.title == "整改方案审批结果"
        assert note.body == "2026年11月 整改方案被驳回。成本太高"
    # The managers were told of the submission in their own language (default: Chinese).
    submitted = session.scalars(select(Notification).where(Notification.kind == "plan_submitted")).all()
    assert submitted and all(n.body.startswith("2026年11月 整改方案（第 1 版）") for n in submitted)


def test_a_reassigned_task_tells_each_advisor_in_their_own_language(session, surveying_cycle, staff):
    advisor1, advisor2 = staff("advisor1"), staff("advisor2")
    advisor1.locale, advisor2.locale = "en", "zh"
    task = session.scalars(
        select(SurveyTask).where(SurveyTask.assignee_id == advisor1.id).order_by(SurveyTask.id)
    ).first()
    surveys.reassign(
        session=session, task_id=task.id, to_staff_id=advisor2.id, actor_staff=staff("supervisor")
    )
    notes = {
        n.recipient_id: n
        for n in session.scalars(select(Notification).where(Notification.kind == "task_reassigned"))
    }
    assert notes[advisor1.id].title == "Callback task changed"
    assert notes[advisor1.id].body.endswith(f": handed to {advisor2.display_name}.")
    assert notes[advisor2.id].title == "回访任务调整"
    assert notes[advisor2.id].body.endswith(f"：由 {advisor1.display_name} 转交给您。")


# ---- the person's language: stored on the account, over the browser's -----------------------


def _login(client, username):
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": "winback-demo"})
    assert r.status_code == 303, r.text


def test_stored_language_wins_over_the_browser_and_is_audited(client, session, staff):
    from winback.audit.models import AuditEvent

    _login(client, "advisor1")
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    assert 'lang="en"' in client.get("/tasks", headers=english_browser).text
    page = client.get("/account/password", headers=english_browser)
    assert 'action="/account/language"' in page.text and "As the browser asks" in page.text
    r = client.post("/account/language", data={"locale": "zh"}, headers=english_browser)
    assert r.status_code == 303
    page = client.get("/tasks", headers=english_browser)
    assert 'lang="zh-CN"' in page.text and ZH["My tasks"] in page.text and ">My tasks<" not in page.text
    assert client.get("/api/me").json()["locale"] == "zh"
    # a ?lang= switch is for this session; saving the preference again drops it
    assert 'lang="en"' in client.get("/tasks?lang=en").text
    assert 'lang="en"' in client.get("/tasks").text
    client.post("/account/language", data={"locale": "zh"})
    assert 'lang="zh-CN"' in client.get("/tasks").text
    # back to "as the browser asks"
    client.post("/account/language", data={"locale": ""})
    assert 'lang="en"' in client.get("/tasks", headers=english_browser).text
    session.expire_all()
    assert staff("advisor1").locale is None
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.language_changed").order_by(AuditEvent.id)
    ).all()
    assert [e.changes["locale"]["after"] for e in events] == ["zh", None]
    # nonsense is refused, in the page's language
    r = client.post("/account/language", data={"locale": "fr"})
    assert r.status_code == 422 and "请选择语言" in r.text


def test_the_stored_language_also_reaches_notifications(client, session, surveying_cycle, staff):
    _login(client, "advisor2")
    assert client.patch("/api/me", json={"locale": "en"}).json()["locale"] == "en"
    assert client.patch("/api/me", json={"locale": "xx"}).status_code == 422
    session.expire_all()
    advisor1, advisor2 = staff("advisor1"), staff("advisor2")
    task = session.scalars(select(SurveyTask).where(SurveyTask.assignee_id == advisor1.id)).first()
    surveys.reassign(
        session=session, task_id=task.id, to_staff_id=advisor2.id, actor_staff=staff("supervisor")
    )
    note = session.scalars(
        select(Notification).where(
            Notification.recipient_id == advisor2.id, Notification.kind == "task_reassigned"
        )
    ).one()
    assert note.title == "Callback task changed"


# ---- API errors in the caller's language ------------------------------------------------------


def test_api_errors_speak_the_callers_language(client, staff):
    # nobody asks: English (programs); a Chinese browser: Chinese, with the English kept
    r = client.get("/api/me")
    assert (
        r.status_code == 401 and r.json()["detail"] == "log in first" and r.json()["code"] == "not_logged_in"
    )
    r = client.get("/api/me", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert r.json() == {"detail": "请先登录", "code": "not_logged_in", "detail_en": "log in first"}
    r = client.post(
        "/api/auth/login",
        json={"username": "advisor1", "password": "wrong"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 401 and r.json()["detail"] == "用户名或密码错误"
    r = client.post("/api/auth/login", json={"username": "advisor1"}, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422 and r.json()["detail"] == "输入无效" and r.json()["errors"]
    # logged in with a stored preference: it wins over the header
    client.post("/api/auth/login", json={"username": "advisor1", "password": "winback-demo"})
    client.patch("/api/me", json={"locale": "zh"})
    r = client.get("/api/cycles", headers={"Accept-Language": "en"})
    assert (
        r.status_code == 403
        and r.json()["detail"] == "无权执行此操作"
        and r.json()["detail_en"] == "forbidden"
    )
    # a domain message with an id: translated with its parameters, the English kept
    r = client.get("/api/tasks/999999", headers={"Accept-Language": "en"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert r.json()["detail"] == "找不到回访任务 999999" and r.json()["detail_en"] == "no survey task 999999"
    # a text the catalog does not know (the framework's): the generic words of its code, the text kept
    r = client.get("/api/no-such-route", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 404 and r.json()["detail"] == "找不到该地址"
    client.patch("/api/me", json={"locale": "en"})
    r = client.get("/api/tasks/999999", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 404 and "detail_en" not in r.json() and not CJK.search(r.json()["detail"])


# ---- exports in the requesting person's language ----------------------------------------------


def _evaluation_stub():
    from decimal import Decimal
    from types import SimpleNamespace

    return SimpleNamespace(
        holdout={"treated": 50, "holdout": 6},
        targets=57,
        contacted=12,
        vehicles_back=5,
        workshop_entries=7,
        output_value=Decimal(8600),
        winback_rate_pct=41.7,
        target_pct=20,
        measure_cost=Decimal(0),
        voucher_cost=Decimal(500),
        satisfaction_avg=4.5,
        satisfaction_n=2,
        churn_rate_pct=12.0,
        per_advisor=[],
        kpis={"churn_by_segment": {"grade": {"economy": {"rate_pct": 20.0, "vehicles": 10}}}},
        per_measure=[
            {
                "title": "价格透明",
                "status": "in_progress",
                "reasons": ["high_price", "too_far"],
                "customers_back": 3,
                "expected_value": 30,
                "expected_unit": "台",
                "cost": 100,
            }
        ],
    )


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_evaluation_workbook_in_the_requesters_language(locale):
    from io import BytesIO

    from openpyxl import load_workbook

    from winback.evaluation.export import evaluation_xlsx

    labels = {
        "zh": {"high_price": "价格高", "too_far": "距离远"},
        "en": {"high_price": "High price", "too_far": "Too far"},
    }
    wb = load_workbook(
        BytesIO(
            evaluation_xlsx(
                _evaluation_stub(), month="2026-11", trend=[], locale=locale, reason_labels=labels[locale]
            )
        )
    )
    headers = [cell for ws in wb.worksheets for cell in next(ws.iter_rows(max_row=1, values_only=True))]
    names = wb.sheetnames + headers
    summary = dict(wb.worksheets[0].iter_rows(min_row=2, values_only=True))
    measure = next(wb.worksheets[2].iter_rows(min_row=2, values_only=True))
    kpis = [row[0] for row in wb.worksheets[3].iter_rows(min_row=2, values_only=True)]
    if locale == "en":
        assert not any(CJK.search(str(n)) for n in names), names
        assert summary["Targets"] == 57 and summary["Vehicles back"] == 5
        assert measure[1:3] == ("in progress", "High price, Too far")
        assert "Churn rate % (Vehicle grade: Economy)" in kpis
    else:
        assert all(CJK.search(str(n)) or n == "%" for n in names), names
        assert not any(re.search(r"[A-Za-z]{3,}", str(n)) for n in names), names
        assert summary["调查对象"] == 57 and summary["回厂车辆数"] == 5
        assert measure[1:3] == ("进行中", "价格高、距离远")
        assert "流失率 %（车辆级别：经济型）" in kpis


def test_audit_export_headers_follow_the_exporters_language(client, session, staff):
    import io

    from openpyxl import load_workbook

    _login(client, "auditor")
    rows = list(
        load_workbook(io.BytesIO(client.get("/audit/export.xlsx").content)).active.iter_rows(values_only=True)
    )
    assert rows[0][0] == "导出人" and rows[1][:4] == ("编号", "门店", "时间", "操作人")
    client.post("/account/language", data={"locale": "en"})
    wb = load_workbook(
        io.BytesIO(client.get("/audit/export.xlsx", headers={"Accept-Language": "zh-CN"}).content)
    )
    rows = list(wb.active.iter_rows(values_only=True))
    assert (
        wb.active.title == "audit"
        and rows[0][0] == "exported by"
        and rows[1][:4] == ("id", "store_id", "at", "actor")
    )


# ---- reasons and measures in both languages, per store ----------------------------------------


def test_admin_edits_reason_labels_in_both_languages_and_pages_show_the_viewers(client, session, staff):
    from winback.audit.models import AuditEvent
    from winback.surveys.models import ReasonCode

    _login(client, "admin")
    page = client.get("/reason-codes")
    assert page.status_code == 200 and "中文名称" in page.text and "价格高（配件工时贵）" in page.text
    rc = session.scalars(select(ReasonCode).where(ReasonCode.code == "high_price")).one()
    r = client.post(
        "/reason-codes",
        data={
            "reason_id": rc.id,
            "label_zh": "保养价格偏高",
            "label_en": "Servicing too dear",
            "area": "price",
            "active": "1",
        },
    )
    assert r.status_code == 303
    r = client.post(
        "/reason-codes",
        data={
            "code": "new_dealer",
            "label_zh": "附近新开了同品牌店",
            "label_en": "A new dealer of the brand opened nearby",
            "area": "distance",
        },
    )
    assert r.status_code == 303
    # both labels are required, the code is a slug, and one code per store
    r = client.post("/reason-codes", data={"code": "x_1", "label_zh": "只有中文", "label_en": " "})
    assert r.status_code == 422 and "原因需要中文和英文名称" in r.text and 'value="只有中文"' in r.text
    assert (
        client.post("/reason-codes", data={"code": "Bad code", "label_zh": "a", "label_en": "b"}).status_code
        == 422
    )
    assert (
        client.post(
            "/reason-codes", data={"code": "new_dealer", "label_zh": "a", "label_en": "b"}
        ).status_code
        == 422
    )
    session.expire_all()
    assert (rc.label("zh"), rc.label("en")) == ("保养价格偏高", "Servicing too dear")
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("reason_code.%")).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["reason_code.updated", "reason_code.added"]
    assert events[0].changes["label_en"] == {
        "before": "High price (parts and labour)",
        "after": "Servicing too dear",
    }
    # the viewer's language decides which label a page shows
    page = client.get("/reason-codes?lang=en").text
    assert "Servicing too dear" in page and "A new dealer of the brand opened nearby" in page
    page = client.get("/reason-codes?lang=zh").text
    assert "保养价格偏高" in page and "附近新开了同品牌店" in page
    # an advisor reads nothing here and changes nothing
    _login(client, "advisor1")
    assert client.get("/reason-codes").status_code == 403
    assert (
        client.post("/reason-codes", data={"code": "zz", "label_zh": "a", "label_en": "b"}).status_code == 403
    )


def test_tally_and_measures_show_the_stores_labels_and_titles_in_the_viewers_language(
    client, session, surveying_cycle, staff
):
    from winback.plans.models import MeasureTemplate

    tasks = list(
        session.scalars(
            select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle).order_by(SurveyTask.id)
        )
    )[:3]
    for t in tasks:
        surveys.close_task(
            contact_outcome="reached",
            session=session,
            task_id=t.id,
            method=ContactMethod.phone,
            reason_codes_=["too_far"],
            serviced_elsewhere=False,
            actor_staff=t.assignee,
        )
    clock.set_now(clock.now() + timedelta(days=8))
    surveys.tally_reasons(session=session, cycle_id=surveying_cycle, actor=Actor.person(staff("admin")))
    plan = plans.draft_plan(session=session, cycle_id=surveying_cycle, actor=Actor.person(staff("admin")))
    session.commit()
    measure = plan.measures[0]
    template = session.scalars(select(MeasureTemplate).where(MeasureTemplate.title == measure.title)).first()

    _login(client, "manager")
    # the manager gives the library measure a new English title on the library page
    r = client.post(
        "/measure-library",
        data={
            "template_id": template.id,
            "reason_code": template.reason_code,
            "title": template.title,
            "title_en": "Door-to-door service for far customers",
            "active": "1",
        },
    )
    assert r.status_code == 303
    en = client.get(f"/plans/{plan.id}?lang=en").text
    assert "Door-to-door service for far customers" in en and "Too far away 3" in en
    zh = client.get(f"/plans/{plan.id}?lang=zh").text
    assert template.title in zh and "距离太远 3" in zh and "Door-to-door" not in zh
    assert "Door-to-door service for far customers" in client.get("/measure-library?lang=en").text
    profile = client.get(f"/cycles/{surveying_cycle}/profile?lang=en").text
    assert "Too far away" in profile and ">too_far<" not in profile
    # a service call that does not mention the English title keeps it
    plans.save_template(
        session=session,
        actor_staff=staff("manager"),
        template_id=template.id,
        reason_code=template.reason_code,
        title=template.title,
        active=True,
    )
    session.expire_all()
    assert session.get(MeasureTemplate, template.id).title_en == "Door-to-door service for far customers"


# ---- dates, numbers and money on the pages ----------------------------------------------------

TEMPLATES = __import__("pathlib").Path(__file__).parent.parent / "web" / "templates"
MONEY = re.compile(
    r"\{\{[^}]*\b(amount|spend|total_spend|cost|output_value|shortfall_yuan|measure_cost|voucher_cost)\b[^}]*\}\}"
)
DATES = re.compile(r"\{\{[^}]*\b(\w+_date|\w+_on|\w+_at|last_visit|as_of)\b[^}|]*\}\}")


def test_templates_format_money_and_dates_through_the_locale_filters():
    raw = []
    for path in TEMPLATES.rglob("*.html"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            shown = re.sub(
                r'value="[^"]*"', "", line
            )  # form values stay machine-readable (ISO, plain numbers)
            shown = re.sub(r"\{\{ _\([^)]*\) \}\}", "", shown)
            if "¥{{" in shown:
                raw.append(f"{path.name}:{n}: ¥ before a raw value")
            for m in MONEY.finditer(shown):
                if "|money" not in m.group(0) and "estimated_cost" not in m.group(0):
                    raw.append(f"{path.name}:{n}: {m.group(0)}")
            for m in DATES.finditer(shown):
                if not re.search(r"\|(ldate|local)|if |<|< now", m.group(0)):
                    raw.append(f"{path.name}:{n}: {m.group(0)}")
    assert not raw, "\n".join(raw)


def test_visit_dates_and_amounts_follow_the_viewers_language(client, session, surveying_cycle, staff):
    from decimal import Decimal

    from winback.customers.models import ServiceVisit

    task = session.scalars(
        select(SurveyTask).where(SurveyTask.assignee_id == staff("advisor1").id).order_by(SurveyTask.id)
    ).first()
    visit = session.scalars(
        select(ServiceVisit)
        .where(ServiceVisit.customer_id == task.customer_id)
        .order_by(ServiceVisit.visit_date.desc())
    ).first()
    visit.amount = Decimal("12345.5")
    session.commit()
    _login(client, "advisor1")
    zh = client.get(f"/tasks/{task.id}?lang=zh").text
    en = client.get(f"/tasks/{task.id}?lang=en").text
    d = visit.visit_date
    assert f"{d.year}年{d.month}月{d.day}日" in zh and "¥12,345.50" in zh
    assert f"{d.day} {d.strftime('%b')} {d.year}" in en and "¥12,345.50" in en
    assert d.isoformat() not in zh.replace(f'value="{d.isoformat()}"', "")
    # the due time in business time, the Chinese and the English way
    due = clock.local(task.due_at)
    assert f"{due.year}/{due.month}/{due.day} {due:%H:%M}" in zh
    assert f"{due:%d/%m/%Y}, {due:%H:%M}" in en


def test_measure_notifications_carry_the_librarys_english_title(session, surveying_cycle, staff):
    from winback.plans.models import MeasureTemplate

    tasks = list(
        session.scalars(
            select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle).order_by(SurveyTask.id)
        )
    )[:2]
    for t in tasks:
        surveys.close_task(
            contact_outcome="reached",
            session=session,
            task_id=t.id,
            method=ContactMethod.phone,
            reason_codes_=["too_far"],
            serviced_elsewhere=False,
            actor_staff=t.assignee,
        )
    clock.set_now(clock.now() + timedelta(days=8))
    admin = Actor.person(staff("admin"))
    surveys.tally_reasons(session=session, cycle_id=surveying_cycle, actor=admin)
    plan = plans.draft_plan(session=session, cycle_id=surveying_cycle, actor=admin)
    manager = staff("manager")
    manager.locale = "en"
    template = session.scalars(
        select(MeasureTemplate).where(MeasureTemplate.title == plan.measures[0].title)
    ).first()
    assert template.title_en
    plans.submit_plan(session=session, plan_id=plan.id, actor_staff=staff("supervisor"))
    plans.decide_plan(session=session, plan_id=plan.id, approve=True, comment="ok", actor_staff=manager)
    plans.execute_plan(session=session, cycle_id=surveying_cycle, actor=admin)
    note = session.scalars(
        select(Notification).where(
            Notification.kind == "measure_assigned", Notification.recipient_id == manager.id
        )
    ).first()
    assert note is not None and f'"{template.title_en}"' in note.body and not CJK.search(note.body)
