"""The advisor's day on the phone (issue 18): today's queue and the personal line, the call
script and the suggested next action, the attempt policy said plainly, and correcting the
contact data from a task; each through the pages and the API, on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from tests.pages import login
from tests.test_browser import live_server  # noqa: F401  (the fixture)
from winback import clock
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.customers import cleanup
from winback.customers import service as customers
from winback.customers.models import Customer, PhoneChange
from winback.cycles.models import Band
from winback.evaluation import my_day
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, SurveyStatus, SurveyTask


def _open_tasks(session, cycle_id, advisor, band=None):
    stmt = select(SurveyTask).where(
        SurveyTask.cycle_id == cycle_id,
        SurveyTask.assignee_id == advisor.id,
        SurveyTask.status == SurveyStatus.open,
    )
    if band is not None:
        stmt = stmt.where(SurveyTask.band == band)
    return list(session.scalars(stmt.order_by(SurveyTask.id)))


def _attempt(session, task, who, outcome, **kw):
    return surveys.record_attempt(
        session=session,
        task_id=task.id,
        method=ContactMethod.phone,
        outcome=outcome,
        note=None,
        actor_staff=who,
        **kw,
    )


def test_todays_queue_and_the_personal_line(session, surveying_cycle, staff, client):
    advisor = staff("advisor1")
    first, later, done, back, same_day = _open_tasks(session, surveying_cycle, advisor)[:5]
    now = clock.now()
    # a call-back promised for this afternoon leads the queue; one for tomorrow sinks
    _attempt(session, later, advisor, "call_back", call_back_at=now + timedelta(days=1))
    _attempt(session, first, advisor, "call_back", call_back_at=now + timedelta(hours=3))
    surveys.close_task(
        session=session,
        task_id=done.id,
        reason_codes_=["high_price"],
        contact_outcome="reached",
        actor_staff=advisor,
    )
    session.commit()
    mine = surveys.my_tasks_page(session=session, advisor_id=advisor.id, page_size=None).items
    assert mine[0].id == first.id and mine[-1].id == later.id  # tomorrow's call-back sinks today
    clock.set_now(now + timedelta(days=1) - timedelta(hours=8))  # the next morning (Tuesday)
    # a customer assigned to me comes back with a repair order: my win-back rate counts it
    customers.add_visit(
        session=session,
        store_id=back.store_id,
        vehicle_id=back.target.vehicle_id,
        ro_number="RO-WB-1",
        visit_date=clock.today(),
        category="保养",
        amount=Decimal("800"),
        actor=Actor.system(label="t"),
    )
    # one on the assignment's own business day is not "after the assignment": not counted
    customers.add_visit(
        session=session,
        store_id=same_day.store_id,
        vehicle_id=same_day.target.vehicle_id,
        ro_number="RO-WB-2",
        visit_date=clock.local(same_day.assigned_at).date(),
        category="保养",
        amount=Decimal("300"),
        actor=Actor.system(label="t"),
    )
    session.commit()
    session.expire_all()
    mine = surveys.my_tasks_page(session=session, advisor_id=advisor.id, page_size=None).items
    # yesterday's afternoon call-back (still not made) and this morning's lead, in promised order
    assert [t.id for t in mine[:2]] == [first.id, later.id]
    day = my_day.my_day(session=session, advisor=advisor)
    total = len(_open_tasks(session, surveying_cycle, advisor)) + 1
    assert day.done_this_week == 1
    assert day.callbacks_today == 2
    assert (day.assigned, day.assigned_back) == (total, 1)
    assert day.winback_rate_pct == round(100 / total, 1)
    assert day.target_pct == 20.0

    login(client, "advisor1")
    page = client.get("/tasks").text
    assert "本周完成 1 个" in page and "今日回电 2 个" in page
    assert (
        f"我的挽回率 {day.winback_rate_pct:g}%（目标 20%，按已分配客户计：{total} 个中 1 个已回厂）" in page
    )
    assert page.index(f'href="/tasks/{first.id}"') < page.index(f'href="/tasks/{mine[-1].id}"')
    assert "今日回电" in page
    api = client.get("/api/tasks/my-day").json()
    assert api["done_this_week"] == 1 and api["assigned_back"] == 1 and api["target_pct"] == 20.0
    assert api["winback_rate_pct"] == day.winback_rate_pct and "1 back" in api["counts"]
    queue = client.get("/api/tasks/mine").json()
    assert queue[0]["id"] == mine[0].id and done.id not in [t["id"] for t in queue]


def test_tomorrows_call_back_sinks_and_due_today_counts(session, surveying_cycle, staff):
    advisor = staff("advisor1")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    _attempt(session, task, advisor, "call_back", call_back_at=clock.now() + timedelta(days=2))
    session.commit()
    mine = surveys.my_tasks_page(session=session, advisor_id=advisor.id, page_size=None).items
    assert mine[-1].id == task.id
    assert my_day.my_day(session=session, advisor=advisor).due_today == 0
    clock.set_now(task.due_at - timedelta(hours=1))  # the deadline's day
    day = my_day.my_day(session=session, advisor=advisor)
    assert day.due_today == len(_open_tasks(session, surveying_cycle, advisor)) and day.overdue == 0


def test_call_script_edited_by_the_manager_and_shown_on_the_task(session, surveying_cycle, staff, client):
    advisor = staff("advisor1")
    task = _open_tasks(session, surveying_cycle, advisor, band=Band.lost)[0]
    name = task.target.customer.name
    login(client, "advisor1")
    page = client.get(f"/tasks/{task.id}").text
    assert "我们有一年多没见到您" in page and name in page  # the default, filled in
    assert client.post("/call-scripts/lost", data={"opening": "x", "questions": "y"}).status_code == 403
    assert client.put("/api/call-scripts/lost", json={"opening": "x", "questions": "y"}).status_code == 403

    login(client, "manager")
    assert "{customer}" in client.get("/call-scripts").text
    r = client.post(
        "/call-scripts/lost", data={"opening": "{customer}您好，本店新推出上门取送车。", "questions": ""}
    )
    assert r.status_code == 422 and "开场白和问题" in r.text
    r = client.post(
        "/call-scripts/lost",
        data={
            "opening": "{customer}您好，本店新推出上门取送车。",
            "questions": "最近在哪里保养？\n愿意回来试试吗？",
        },
    )
    assert r.status_code == 303
    scripts = client.put(
        "/api/call-scripts/at_risk", json={"opening": "您好{customer}", "questions": "车况如何？"}
    ).json()
    assert [(s["band"], s["custom"]) for s in scripts] == [("at_risk", True), ("lost", True)]
    assert session.scalar(select(func.count()).where(AuditEvent.action == "call_script.saved")) == 2

    login(client, "advisor1")
    page = client.get(f"/tasks/{task.id}").text
    assert f"{name}您好，本店新推出上门取送车。" in page and "<li>愿意回来试试吗？</li>" in page
    guide = client.get(f"/api/tasks/{task.id}/call-guide").json()
    assert guide["script"]["opening"] == f"{name}您好，本店新推出上门取送车。"
    assert guide["script"]["questions"] == ["最近在哪里保养？", "愿意回来试试吗？"]
    assert (
        guide["story"]["total_spend"] == str(task.target.total_spend)
        or Decimal(guide["story"]["total_spend"]) == task.target.total_spend
    )
    # both texts empty: back to the default
    login(client, "manager")
    client.put("/api/call-scripts/lost", json={"opening": "", "questions": ""})
    assert [s["custom"] for s in client.get("/api/call-scripts").json()] == [True, False]


def test_suggested_next_action_from_reasons_and_complaints(session, surveying_cycle, staff, client):
    advisor = staff("advisor1")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    login(client, "advisor1")
    guide = client.get(f"/api/tasks/{task.id}/call-guide").json()
    assert [a["kind"] for a in guide["next_actions"]] == ["ask"]
    surveys.save_draft(
        session=session,
        task_id=task.id,
        reason_codes_=["high_price", "too_far"],
        complaint="上次保养后异响没修好",
        actor_staff=advisor,
    )
    session.commit()
    guide = client.get(f"/api/tasks/{task.id}/call-guide", headers={"Accept-Language": "zh"}).json()
    kinds = [a["kind"] for a in guide["next_actions"]]
    assert kinds == ["manager_callback", "voucher", "pick_up"]
    voucher = guide["next_actions"][1]
    assert "500" in voucher["text"] and any("工时券" in m for m in voucher["measures"])
    assert guide["story"]["complaints"] == ["上次保养后异响没修好"]
    page = client.get(f"/tasks/{task.id}").text
    assert "客户投诉过：请经理回电。" in page and "上门取送车" in page
    assert "客户价值" in page


def test_attempt_policy_said_before_and_when_it_happens(session, surveying_cycle, staff, client):
    advisor = staff("advisor1")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    login(client, "advisor1")
    page = client.get(f"/tasks/{task.id}").text
    assert "再有 3 次未接通（另需 2 天）将标记无法联系" in page
    assert 'name="outcome" value="no_answer"' in page and 'class="savebar"' in page
    for outcome in ("no_answer", "busy", "left_message"):
        assert client.post(f"/tasks/{task.id}/attempts", data={"outcome": outcome}).status_code == 303
    page = client.get(f"/tasks/{task.id}").text
    assert "再打 1 天未接通将标记无法联系" in page
    guide = client.get(f"/api/tasks/{task.id}/call-guide").json()
    assert guide["policy"]["failed"] == 3 and guide["policy"]["met"] is False
    assert (
        guide["policy"]["outlook"]
        == "Calls on 1 more days without an answer and the task is marked unreachable."
    )
    clock.set_now(clock.now() + timedelta(days=1))
    login(client, "advisor1")  # a day later: a new session
    r = client.post(f"/api/tasks/{task.id}/attempts", json={"method": "phone", "outcome": "no_answer"})
    assert r.status_code == 201 and r.json()["status"] == "unreachable"
    page = client.get(f"/tasks/{task.id}").text
    assert "4 次未接通，已标记无法联系。" in page


def test_correct_the_contact_data_from_the_task(session, surveying_cycle, staff, client):
    advisor = staff("advisor1")
    task, other = _open_tasks(session, surveying_cycle, advisor)[:2]
    old = task.target.customer.phone
    login(client, "advisor1")
    assert client.post(f"/tasks/{task.id}/attempts", data={"outcome": "wrong_number"}).status_code == 303
    assert "号码错误：请在“联系方式”中填写正确的号码" in client.get(f"/tasks/{task.id}").text
    r = client.post(f"/tasks/{task.id}/phone", data={"phone": "12345"})
    assert r.status_code == 422 and "不是有效的电话号码" in r.text
    r = client.post(f"/tasks/{task.id}/phone", data={"phone": "139 1234 5678", "phone_note": "客户微信告知"})
    assert r.status_code == 303
    session.expire_all()
    customer = session.get(Customer, task.customer_id)
    assert (
        customer.phone == "13912345678" and customer.phone_valid and customer.phone_reported_wrong_at is None
    )
    change = session.scalar(select(PhoneChange).where(PhoneChange.customer_id == customer.id))
    assert (change.old_phone, change.new_phone, change.old_reported_wrong) == (old, "13912345678", True)
    # the archive cleanup checks the new number like an imported one, and keeps it
    cleanup.cleanup_archive(session=session, store_id=customer.store_id, actor=Actor.system(label="t"))
    session.commit()
    session.expire_all()
    customer = session.get(Customer, task.customer_id)
    assert customer.phone_checked == "13912345678" and customer.phone_valid
    # the customer record shows the old number
    login(client, "supervisor")
    assert old in client.get(f"/customers/{customer.id}").text

    login(client, "advisor1")
    r = client.post(f"/tasks/{task.id}/second-contact", data={"second_name": "李太太", "second_phone": ""})
    assert r.status_code == 422
    r = client.post(
        f"/tasks/{task.id}/second-contact", data={"second_name": "李太太", "second_phone": "13800001111"}
    )
    assert r.status_code == 303
    assert 'href="tel:13800001111"' in client.get(f"/tasks/{task.id}").text
    body = client.post(f"/api/tasks/{task.id}/phone", json={"phone": "13700002222"}).json()
    assert body["phone"] == "13700002222" and len(body["phone_history"]) == 2
    body = client.put(f"/api/tasks/{task.id}/second-contact", json={"name": None, "phone": None}).json()
    assert body["second_contact_name"] is None
    actions = {"customer.phone_changed", "customer.second_contact"}
    assert session.scalar(select(func.count()).where(AuditEvent.action.in_(actions))) == 4

    # do-not-contact: the page, then the API on another task
    assert client.post(f"/tasks/{task.id}/do-not-contact", data={"note": "客户要求"}).status_code == 303
    body = client.post(f"/api/tasks/{other.id}/do-not-contact", json={}).json()
    assert body["status"] == "excluded" and body["excluded_reason"] == "do_not_call"
    session.expire_all()
    for t in (task, other):
        assert session.get(SurveyTask, t.id).status == SurveyStatus.excluded
        assert session.get(Customer, t.customer_id).do_not_call is True
    login(client, "advisor2")  # not theirs
    assert client.post(f"/api/tasks/{task.id}/phone", json={"phone": "13700003333"}).status_code == 403


def test_do_not_contact_leaves_the_customer_out_of_later_screenings(session, surveying_cycle, staff):
    from winback.cycles.models import Target

    advisor = staff("advisor1")
    task = _open_tasks(session, surveying_cycle, advisor)[0]
    surveys.do_not_contact(session=session, task_id=task.id, note=None, actor_staff=advisor)
    session.commit()
    from winback.accounts.models import Store
    from winback.cycles import screening
    from winback.cycles import service as cycles

    admin = Actor.person(staff("admin"))
    clock.set_now("2026-12-02T09:00")
    cycle, _ = cycles.start_cycle(
        session=session, store=session.get(Store, task.store_id), month="2026-12", actor=admin
    )
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=admin)
    session.commit()
    screened = session.scalars(select(Target.customer_id).where(Target.cycle_id == cycle.id)).all()
    assert screened and task.customer_id not in screened


# ---- on a phone (headless Chromium at 375 px) --------------------------------------------

# Visible tap targets of the page's main part smaller than 44 px in either direction (inline
# text links aside: WCAG 2.5.8 exempts them), described for the failure message.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main button, main select, main textarea, main input:not([type=hidden]):not([type=checkbox]):not([type=radio]),'
    + ' main a.tel, main .card a.title, main fieldset label')]
  .filter(e => e.offsetParent !== null)
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.height < 44 || r.width < 44)
  .map(([e, r]) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def test_the_queue_and_a_task_on_a_phone(live_server, browser, request):
    from playwright.sync_api import expect

    from tests.test_browser import shot

    base, _cycle = live_server
    db = request.node.callspec.id
    phone = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = phone.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(base + "/login")
    page.get_by_label("用户名").fill("advisor1")
    page.get_by_label("密码").fill("winback-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/tasks")
    expect(page.locator("#my-day")).to_contain_text("本周完成 0 个")
    expect(page.locator("#my-day")).to_contain_text("按已分配客户计")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert page.evaluate(SMALL_TARGETS) == []
    shot(page, "workbench-queue", db)

    page.locator("li.card a.title").first.click()
    page.wait_for_url("**/tasks/*")
    expect(page.locator("#call-guide .opening")).to_contain_text("您好")
    expect(page.locator("#attempt-policy")).to_contain_text("将标记无法联系")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert page.evaluate(SMALL_TARGETS) == []
    assert page.locator(".savebar").evaluate("e => getComputedStyle(e).position") == "sticky"
    # the save bar stays in reach while the survey is scrolled through
    page.locator("#notes").scroll_into_view_if_needed()
    bar = page.locator(".savebar").bounding_box()
    assert bar is not None and bar["y"] + bar["height"] <= 812 + 1
    # one tap after the call records the outcome and says how far the attempt policy is
    page.locator("#attempts").get_by_role("button", name="无人接听", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("未接通")
    expect(page.locator("#attempts li")).to_have_count(1)
    expect(page.locator("#attempt-policy")).to_contain_text("再有 2 次未接通")
    shot(page, "workbench-task", db)
    phone.close()
    assert not errors, errors
