"""Every list page the same way: a search box that narrows the list, pages that together show
every row exactly once (the filters kept in the page links), and an empty state that tells
"nothing here" (and what to do next) from "nothing matches your search". Breadcrumbs on every
page but the login, and the 404/403 pages, in both languages."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select

from tests.pages import login
from winback import clock
from winback.accounts.models import Store
from winback.actor import Actor
from winback.customers import imports
from winback.customers.models import Customer
from winback.cycles import service as cycles
from winback.cycles.models import MonthlyCycle
from winback.plans import service as plans
from winback.plans.models import Measure, MeasureTemplate
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, SurveyTask

NO_MATCH = "没有符合搜索条件的结果"
CORPUS = Path(__file__).parent / "data" / "imports"


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of ``n`` rows in every page module, so a few rows already need several pages."""
    import web.routes.admin
    import web.routes.analytics
    import web.routes.archive
    import web.routes.audit
    import web.routes.cycles
    import web.routes.plans
    import web.routes.tasks

    def set_size(n: int) -> None:
        for module in (
            web.routes.admin,
            web.routes.analytics,
            web.routes.archive,
            web.routes.audit,
            web.routes.cycles,
            web.routes.plans,
            web.routes.tasks,
        ):
            monkeypatch.setattr(module, "PAGE", n)

    return set_size


def rows_of(text: str, pattern: str) -> list[str]:
    return re.findall(pattern, text)


def walk(client, url: str, pattern: str, size: int, params: dict | None = None) -> list[str]:
    """All rows of a paged list, page after page; asserts the page sizes, the total shown in
    the pager and that the filters survive the page links."""
    params = dict(params or {})
    first = client.get(url, params=params)
    assert first.status_code == 200, first.text
    m = re.search(r"(\d+)–(\d+) / (\d+)</span>", first.text)
    assert m, f"{url} {params}: no pager"
    total = int(m.group(3))
    assert total > size
    pages = -(-total // size)
    seen: list[str] = []
    for page in range(1, pages + 1):
        r = client.get(url, params={**params, "page": page})
        found = rows_of(r.text, pattern)
        assert len(found) == (size if page < pages else total - size * (pages - 1)), (url, page)
        seen += found
        if page < pages:
            for key, value in params.items():  # the next link keeps the search
                kept = re.escape(quote_plus(str(value), safe="/"))
                assert re.search(rf'href="\?[^"]*{key}={kept}[^"]*page={page + 1}"', r.text), (key, value)
    assert len(seen) == total
    return seen


def searched(client, url: str, pattern: str, params: dict) -> list[str]:
    r = client.get(url, params=params)
    assert r.status_code == 200
    return rows_of(r.text, pattern)


def no_match(client, url: str, params: dict) -> None:
    r = client.get(url, params=params)
    assert r.status_code == 200
    assert NO_MATCH in r.text and "清除搜索条件" in r.text


# ---- cycles, a cycle's tasks, my tasks ----------------------------------------------------


def test_cycles_and_their_tasks(client, session, surveying_cycle, staff, small_pages):
    login(client, "admin")
    # no match vs. nothing here: the empty states differ
    no_match(client, "/cycles", {"q": "1999"})
    admin = Actor.person(staff("admin"))
    store = session.get(Store, staff("admin").store_id)
    for month in ("2026-09", "2026-10"):
        cycles.start_cycle(session=session, store=store, month=month, actor=admin)
    session.commit()
    small_pages(2)
    months = walk(client, "/cycles", r'<td><a href="/cycles/\d+">(\d{4}-\d\d)</a>', 2)
    assert months == ["2026-11", "2026-10", "2026-09"]  # newest first, each once
    assert searched(client, "/cycles", r'<td><a href="/cycles/\d+">(\d{4}-\d\d)</a>', {"q": "2026-1"}) == [
        "2026-11",
        "2026-10",
    ]
    # a page past the end shows the last one; the language switch keeps the search and the page
    r = client.get("/cycles", params={"q": "2026", "page": 99})
    assert rows_of(r.text, r'<td><a href="/cycles/\d+">(\d{4}-\d\d)</a>') == ["2026-09"]
    assert 'href="?q=2026&amp;page=99&amp;lang=en"' in r.text
    no_match(client, "/cycles", {"q": "%"})  # LIKE wildcards are searched for, not expanded
    no_match(client, "/cycles", {"q": "2026_"})

    # a cycle without tasks yet says why, and what comes next
    started = session.scalar(select(MonthlyCycle).where(MonthlyCycle.month == "2026-10"))
    r = client.get(f"/cycles/{started.id}")
    assert "还没有任务——筛选出调查对象后会分配给服务顾问" in r.text

    login(client, "supervisor")
    small_pages(5)
    task_row = r'<td><a href="/tasks/(\d+)">\d+</a></td>'
    ids = walk(client, f"/cycles/{surveying_cycle}", task_row, 5)
    assert len(set(ids)) == len(ids)
    task = session.get(SurveyTask, int(ids[-1]))
    name = task.target.customer.name
    found = searched(client, f"/cycles/{surveying_cycle}", task_row, {"q": name})
    assert task.id in {int(i) for i in found} and len(found) < len(ids)
    assert all(session.get(SurveyTask, int(i)).target.customer.name.find(name) >= 0 for i in found)
    plate = task.target.vehicle.plate
    assert [int(i) for i in searched(client, f"/cycles/{surveying_cycle}", task_row, {"q": plate})] == [
        task.id
    ]
    no_match(client, f"/cycles/{surveying_cycle}", {"q": "没有这个人"})
    no_match(client, f"/cycles/{surveying_cycle}", {"status": "excluded"})
    # the supervisor sees phone numbers and may search by them; the manager sees them masked,
    # so a search by number (digit by digit it would unmask them) finds nothing for them
    phone = task.target.customer.phone
    assert task.id in {int(i) for i in searched(client, f"/cycles/{surveying_cycle}", task_row, {"q": phone})}
    login(client, "manager")
    no_match(client, f"/cycles/{surveying_cycle}", {"q": phone})
    assert task.id in {int(i) for i in searched(client, f"/cycles/{surveying_cycle}", task_row, {"q": plate})}

    # my tasks: search by plate, the empty state of someone with nothing to do
    login(client, task.assignee.username)
    card = r'class="title" href="/tasks/(\d+)"'
    assert [int(i) for i in searched(client, "/tasks", card, {"q": plate})] == [task.id]
    no_match(client, "/tasks", {"q": "没有这个人"})
    login(client, "manager")
    r = client.get("/tasks")
    assert "没有任务——本周的任务都完成了" in r.text and NO_MATCH not in r.text


# ---- plans: my measures, the library, follow-up, complaints ----------------------------------


@pytest.fixture
def approved_plan(session, surveying_cycle, staff) -> int:
    """12 surveys closed (with complaints), tallied, the plan's measures owned by the
    supervisor and approved."""
    tasks = list(
        session.scalars(
            select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle).order_by(SurveyTask.id)
        )
    )
    for i, t in enumerate(tasks[:12]):
        surveys.close_task(
            contact_outcome="reached",
            session=session,
            task_id=t.id,
            method=ContactMethod.phone,
            reason_codes_=["high_price" if i % 2 == 0 else "too_far"],
            serviced_elsewhere=False,
            complaint=f"投诉{i:02d} 等太久",
            actor_staff=t.assignee,
        )
    session.commit()
    clock.set_now(clock.now() + timedelta(days=8))
    actor = Actor.person(staff("admin"))
    surveys.tally_reasons(session=session, cycle_id=surveying_cycle, actor=actor)
    plans.draft_plan(session=session, cycle_id=surveying_cycle, actor=actor)
    manager = staff("manager")
    plan = plans.current_plan(session=session, cycle_id=surveying_cycle)
    for m in plan.measures:
        plans.update_measure(
            session=session,
            measure_id=m.id,
            actor_staff=manager,
            owner_id=staff("supervisor").id,
            due_date=clock.today() + timedelta(days=10),
        )
    plans.submit_plan(session=session, plan_id=plan.id, actor_staff=manager)
    plans.decide_plan(session=session, plan_id=plan.id, approve=True, comment="同意", actor_staff=manager)
    session.commit()
    return surveying_cycle


def test_measures_library_followup_and_complaints(client, session, approved_plan, staff, small_pages):
    login(client, "advisor1")
    r = client.get("/measures")
    assert "整改方案批准后，由您负责的措施会连同截止日期显示在这里" in r.text

    login(client, "supervisor")
    small_pages(1)
    measure = r'action="/measures/(\d+)/status"'
    ids = {int(i) for i in walk(client, "/measures", measure, 1)}
    assert len(ids) == 2
    first = session.get(Measure, min(ids))
    word = first.title[:4]
    found = searched(client, "/measures", measure, {"q": word})
    assert int(found[0]) == first.id and all(word in session.get(Measure, int(i)).title for i in found)
    no_match(client, "/measures", {"q": "没有这种措施"})

    small_pages(3)
    row = r'<article class="measure">\s*<h3>([^<]+)'
    people = walk(client, f"/cycles/{approved_plan}/followup", row, 3)
    assert len(people) == 12
    one = people[4].split()[0]
    assert all(one in p for p in searched(client, f"/cycles/{approved_plan}/followup", row, {"q": one}))
    no_match(client, f"/cycles/{approved_plan}/followup", {"q": "没有这个人"})

    login(client, "manager")
    small_pages(4)
    template = r'name="template_id" value="(\d+)"'
    ids = walk(client, "/measure-library", template, 4)
    assert len(set(ids)) == len(ids)
    r = client.get("/measure-library", params={"q": "培训"})
    assert 0 < len(rows_of(r.text, template)) < len(ids)
    # an English reader finds a measure by the English title the page shows them
    english = session.scalar(
        select(MeasureTemplate)
        .where(MeasureTemplate.title_en.is_not(None))
        .order_by(MeasureTemplate.id.desc())
    )
    r = client.get("/measure-library", params={"q": english.title_en, "lang": "en"})
    assert str(english.id) in rows_of(r.text, template) and len(rows_of(r.text, template)) < len(ids)
    client.get("/measure-library", params={"lang": "zh"})  # back to Chinese for the checks below
    no_match(client, "/measure-library", {"q": "没有这种措施"})

    login(client, "auditor")
    small_pages(5)
    complaint = r"<td>(投诉\d\d 等太久)</td>"
    texts = walk(client, "/audit/complaints", complaint, 5, {"q": "等太久"})
    assert sorted(texts) == [f"投诉{i:02d} 等太久" for i in range(12)]
    assert searched(client, "/audit/complaints", complaint, {"q": "投诉07"}) == ["投诉07 等太久"]
    no_match(client, "/audit/complaints", {"q": "没有这种投诉"})
    # the auditor sees numbers masked: searching by one finds nothing; the admin's search does
    with_phone = session.scalar(select(SurveyTask).where(SurveyTask.complaint == "投诉07 等太久"))
    phone = with_phone.target.customer.phone
    no_match(client, "/audit/complaints", {"q": phone})
    login(client, "admin")
    assert "投诉07 等太久" in searched(client, "/audit/complaints", complaint, {"q": phone})


def test_empty_lists_say_what_comes_next(client, demo_store):
    login(client, "admin")
    assert "还没有循环——请用上方表单启动本月循环" in client.get("/cycles").text
    assert "此项还没有记录" in client.get("/audit/cycle/999999").text
    assert "暂时没有需要跟进的客户" not in client.get("/cycles").text
    r = client.get("/archive/merges")
    assert "每次导入后档案整理会提出新的合并建议" in r.text
    login(client, "auditor")
    assert "没有记录到投诉" in client.get("/audit/complaints").text
    login(client, "supervisor")
    r = client.get("/cycles?lang=en")
    assert "No cycle yet." in r.text and "The administration starts one each month" in r.text


# ---- archive: imports, merges, customers --------------------------------------------------------


def test_archive_lists(client, session, demo_store, staff, small_pages):
    admin = Actor.person(staff("admin"))
    for name in ("customers_utf8.csv", "customers_gbk.csv", "customers_english.xlsx"):
        imports.start_import(
            session=session,
            store_id=demo_store,
            kind="customers",
            source=CORPUS / name,
            filename=name,
            actor=admin,
        )
    customers = list(
        session.scalars(select(Customer).where(Customer.store_id == demo_store).order_by(Customer.id))
    )
    for i, c in enumerate([c for c in customers if c.phone and c.phone_valid][:3]):
        session.add(
            Customer(
                store_id=demo_store, dms_code=f"TWIN{i}", name=c.name, phone=c.phone, created_at=c.created_at
            )
        )
    session.commit()
    login(client, "admin")
    assert client.post("/archive/cleanup").status_code == 303

    small_pages(2)
    batch = r'<a href="/archive/imports/(\d+)">\d+</a>'
    assert len(set(walk(client, "/archive", batch, 2))) == 3
    assert len(searched(client, "/archive", batch, {"q": "gbk"})) == 1
    no_match(client, "/archive", {"q": "nothing.csv"})

    small_pages(1)
    merge = r'<form method="post" action="/archive/merges/(\d+)" class="inline"><input type="hidden" name="decision" value="merge">'
    proposals = walk(client, "/archive/merges", merge, 1)
    assert len(set(proposals)) == len(proposals) >= 2
    assert len(searched(client, "/archive/merges", merge, {"q": "TWIN0"})) == 1
    no_match(client, "/archive/merges", {"q": "TWIN9"})

    small_pages(50)
    row = r'<td><a href="/customers/(\d+)">'
    ids = walk(client, "/archive/customers", row, 50)
    assert len(set(ids)) == len(ids)
    someone = customers[7]
    vehicle = someone.vehicles[0]
    for q in (someone.name, vehicle.plate, vehicle.vin[-8:], someone.phone):
        assert str(someone.id) in searched(client, "/archive/customers", row, {"q": q}), q
    # the manager sees masked phones: the phone is not searchable for them
    login(client, "manager")
    assert str(someone.id) not in searched(client, "/archive/customers", row, {"q": someone.phone})
    assert str(someone.id) in searched(client, "/archive/customers", row, {"q": someone.name})
    no_match(client, "/archive/customers", {"q": "没有这个人"})


# ---- audit events, staff, likely lost -----------------------------------------------------------


def test_audit_staff_and_outlook_lists(client, session, surveying_cycle, staff, small_pages):
    login(client, "admin")
    # the demo's model fit is degenerate: its overdue rule lists the few drifting Kicks owners
    assert "目前没有正在流失的客户" not in client.get("/analytics").text
    from winback.accounts import service as accounts

    store = session.get(Store, staff("admin").store_id)  # a store that gives up on customers sooner
    accounts.set_store_setting(
        session=session,
        store=store,
        key="likely_lost_overdue_factor",
        value=1.01,
        actor=Actor.person(staff("admin")),
    )
    session.commit()
    login(client, "auditor")
    small_pages(3)
    event = r'<code class="changes">'
    assert len(walk(client, "/audit", event, 3, {"action": "staff"})) < len(walk(client, "/audit", event, 3))
    r = client.get("/audit", params={"actor": "admin", "action": "cycle.started"})
    assert len(rows_of(r.text, event)) == 1
    no_match(client, "/audit", {"actor": "nobody"})

    login(client, "admin")
    small_pages(3)
    person = r'action="/admin/staff/(\d+)"'
    everyone = walk(client, "/admin/staff", person, 3)
    advisors = searched(client, "/admin/staff", person, {"q": "advisor"})
    assert 2 <= len(advisors) < len(everyone)
    no_match(client, "/admin/staff", {"q": "没有这个人"})
    # a form error re-renders the list from the POST: its search and page links still lead to the list
    r = client.post("/admin/staff", data={"username": "", "display_name": ""})
    assert r.status_code == 422
    assert 'action="/admin/staff" class="row search"' in r.text and 'href="/admin/staff?page=2"' in r.text
    r = client.get("/admin/staff", params={"q": "advisor1"})
    assert r.text.count('<option value="') >= len(everyone) - 1  # the token form still offers everyone active

    small_pages(10)
    callback = r"<tr><td>([^<]+)</td><td>[^<]*</td><td>[^<]*</td><td>[^<]*\d{4}[^<]*</td>"  # the last visit, in the page's date format
    names = walk(client, "/analytics", callback, 10)
    found = searched(client, "/analytics", callback, {"q": names[-1]})
    assert names[-1] in found and all(names[-1] in n for n in found) and len(found) < len(names)
    no_match(client, "/analytics", {"q": "没有这个人"})


# ---- breadcrumbs and the error pages --------------------------------------------------------------

CRUMB = re.compile(r'<nav class="crumbs[^"]*" aria-label="([^"]+)">\s*<ol>(.*?)</ol>', re.DOTALL)


def test_breadcrumbs_on_every_page_but_login(client, session, surveying_cycle):
    assert not CRUMB.search(client.get("/login").text)
    task = session.scalar(select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle).limit(1))
    login(client, "admin")
    for path, last in [
        ("/cycles", "月度循环"),
        (f"/cycles/{surveying_cycle}", "2026-11"),
        (f"/cycles/{surveying_cycle}/profile", "对象分析"),
        (f"/cycles/{surveying_cycle}/followup", "回厂跟进"),
        ("/analytics", None),
        ("/archive", "客户档案"),
        ("/archive/customers", "客户列表"),
        ("/archive/merges", None),
        (f"/customers/{task.customer_id}", None),
        ("/audit", "审计"),
        ("/audit/complaints", None),
        (f"/audit/cycle/{surveying_cycle}", None),
        ("/admin/staff", "员工"),
        ("/measures", None),
        ("/measure-library", None),
        ("/account/password", None),
        (f"/tasks/{task.id}", None),
        ("/tasks", "我的任务"),
    ]:
        r = client.get(path)
        assert r.status_code == 200, path
        m = CRUMB.search(r.text)
        assert m, path
        assert m.group(1) == "页面位置"
        items = re.findall(r"<li>(.*?)</li>", m.group(2), re.DOTALL)
        assert items[0] == '<a href="/">首页</a>', path
        assert 'aria-current="page"' in items[-1] and r.text.count('aria-current="page"') == 1, path
        if last:
            assert last in items[-1], (path, items[-1])
    # the cycle page: Home > Cycles > this cycle, the middle one a link
    m = CRUMB.search(client.get(f"/cycles/{surveying_cycle}/followup?lang=en").text)
    assert re.findall(r'href="([^"]+)"', m.group(2)) == ["/", "/cycles", f"/cycles/{surveying_cycle}"]
    assert 'aria-label="Breadcrumb"' in client.get("/cycles").text


def test_404_and_403_pages_help_back(client, surveying_cycle):
    login(client, "admin")
    r = client.get("/cycles/999999")
    assert r.status_code == 404
    assert "页面不存在" in r.text and "此地址没有内容" in r.text
    assert '<a href="/cycles">返回列表: 月度循环</a>' in r.text and '<a href="/">返回首页</a>' in r.text
    assert CRUMB.search(r.text) and 'aria-current="page">页面不存在' in r.text
    r = client.get("/no/such/page?lang=en")
    assert (
        r.status_code == 404 and "Page not found" in r.text and "There is nothing at this address" in r.text
    )
    assert "Back to the list" not in r.text and '<a href="/">Back to the start</a>' in r.text
    login(client, "advisor1")
    r = client.get("/audit/complaints?lang=zh")
    assert r.status_code == 403
    assert "您的角色无权访问此页面" in r.text and '<a href="/audit">返回列表: 审计</a>' in r.text


def test_error_pages_speak_the_persons_stored_language(client, session, surveying_cycle, staff):
    """Someone who chose English on their account gets the 404/403 pages in English, whatever
    their browser asks for."""
    person = staff("admin")
    person.locale = "en"
    session.commit()
    login(client, "admin")
    r = client.get("/cycles/999999", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert r.status_code == 404 and "Page not found" in r.text and "页面不存在" not in r.text
