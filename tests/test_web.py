"""The staff pages, through the real app: log-in, forms that keep input on error, 404, roles."""

from __future__ import annotations

import re

import pytest

from db.session import session_scope
from tests.pages import login
from winback.surveys import service as surveys


@pytest.fixture
def cycle_id(surveying_cycle) -> int:
    return surveying_cycle


def test_first_page_is_chinese_login(client):
    r = client.get("/", follow_redirects=True)
    assert r.url.path == "/login"
    assert "登录" in r.text
    r = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "<h1>Log in" in r.text and 'lang="en"' in r.text


def test_wrong_password_reshows_form_with_username(client):
    r = client.post("/login", data={"username": "advisor1", "password": "nope"})
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert 'value="advisor1"' in r.text


def test_pages_need_login_and_roles(client, cycle_id):
    r = client.get(f"/cycles/{cycle_id}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/api/me").status_code == 401
    login(client, "advisor1")
    assert client.get("/audit").status_code == 403
    assert client.post("/cycles", data={"month": "2026-12"}).status_code == 403
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "页面不存在" in r.text


def test_advisor_closes_a_task_and_errors_keep_input(client, cycle_id):
    login(client, "advisor1")
    page = client.get("/tasks")
    ids = re.findall(r'href="/tasks/(\d+)"', page.text)
    assert ids, "advisor1 has tasks"
    assert 'href="tel:' in page.text
    task = ids[0]
    # no reason chosen: the form comes back with the message and what was typed
    r = client.post(f"/tasks/{task}/close", data={"method": "home_visit", "notes": "客户说下次再来"})
    assert r.status_code == 422
    assert "请至少选择一个流失原因" in r.text
    assert "客户说下次再来" in r.text
    assert re.search(r'value="home_visit" checked', r.text)
    # no contact that reached the customer recorded: refused until the call's outcome is given
    r = client.post(f"/tasks/{task}/close", data={"method": "phone", "reasons": ["high_price", "too_far"]})
    assert r.status_code == 422 and "接通客户的联系" in r.text
    r = client.post(
        f"/tasks/{task}/close",
        data={"method": "phone", "reasons": ["high_price", "too_far"], "contact_outcome": "reached"},
    )
    assert r.status_code == 303
    r = client.get("/tasks", follow_redirects=True)
    assert f'href="/tasks/{task}"' not in r.text  # closed tasks leave the list
    # a second close is refused with a message, not a crash
    r = client.post(f"/tasks/{task}/close", data={"method": "phone", "reasons": ["other"]})
    assert r.status_code == 409 and "已经关闭" in r.text  # the conflict, in the page's language
    # another advisor cannot open it
    login(client, "advisor2")
    assert client.get(f"/tasks/{task}").status_code == 403


def test_a_card_of_my_tasks_shows_the_customer_the_car_and_whether_it_was_tried(client, cycle_id):
    """The list's cards are read as plain lines (``surveys.TaskSummary``), not whole tasks:
    each still names the customer, the car, the band and the spend, the advisor's own
    customer's number to dial, and "new" until a first contact attempt."""
    from web.i18n import fmt_money
    from winback.surveys.models import ContactMethod

    login(client, "advisor1")
    page = client.get("/tasks")
    first = re.search(r'<li class="card[^"]*">(.*?)</li>', page.text, re.S).group(1)
    task_id = int(re.search(r'href="/tasks/(\d+)"', first).group(1))
    with session_scope() as s:
        task = surveys.get_task(session=s, task_id=task_id)
        customer, vehicle, target = task.target.customer, task.target.vehicle, task.target
        assert f"{customer.name} · {vehicle.model}" in first
        assert fmt_money(target.total_spend, "zh") in first
        assert {"lost": "已流失", "at_risk": "流失风险"}[target.band.value] in first
        assert f'href="tel:{customer.phone}"' in first  # the assignee sees the number
        assert "新任务" in first and not task.attempts
        advisor = task.assignee
        surveys.record_attempt(
            session=s,
            task_id=task_id,
            method=ContactMethod.phone,
            outcome="no_answer",
            note=None,
            actor_staff=advisor,
        )
    again = client.get("/tasks").text
    card = re.search(rf'<li class="card[^"]*">((?:(?!</li>).)*href="/tasks/{task_id}".*?)</li>', again, re.S)
    assert card and "新任务" not in card.group(1)


def test_supervisor_reassigns_from_the_cycle_page(client, cycle_id):
    login(client, "supervisor")
    page = client.get(f"/cycles/{cycle_id}")
    assert page.status_code == 200
    task = re.findall(r'action="/tasks/(\d+)/reassign"', page.text)[0]
    with session_scope() as session:
        t = surveys.get_task(session=session, task_id=int(task))
        before = t.assignee_id
        from winback.accounts.models import Role
        from winback.accounts.service import staff_with_role

        other = next(
            a.id
            for a in staff_with_role(session=session, store_id=t.store_id, role=Role.advisor)
            if a.id != before
        )
    r = client.post(f"/tasks/{task}/reassign", data={"assignee_id": other, "back": f"/cycles/{cycle_id}"})
    assert r.status_code == 303
    with session_scope() as session:
        assert surveys.get_task(session=session, task_id=int(task)).assignee_id == other


def test_english_on_request(client, cycle_id):
    login(client, "admin")
    r = client.get(f"/cycles/{cycle_id}?lang=en")
    assert "Profile analysis" in r.text and "对象分析" not in r.text
    r = client.get("/cycles")  # the choice is remembered
    assert "Monthly cycles" in r.text


def test_my_tasks_are_paged_and_keep_the_filters(client, cycle_id, monkeypatch):
    import web.routes.tasks

    monkeypatch.setattr(web.routes.tasks, "PAGE", 5)
    login(client, "advisor1")
    first = client.get("/tasks?band=lost")
    total = int(re.search(r"<h1>我的任务 \((\d+)\)</h1>", first.text).group(1))
    assert total > 5
    assert first.text.count('<li class="card') == 5
    assert 'href="?band=lost&amp;page=2"' in first.text  # the filter survives the page link
    last_page = -(-total // 5)
    last = client.get(f"/tasks?band=lost&page={last_page}")
    assert last.text.count('<li class="card') == total - 5 * (last_page - 1)
    ids = set()
    for page in range(1, last_page + 1):
        ids |= set(
            re.findall(r'class="title" href="/tasks/(\d+)"', client.get(f"/tasks?band=lost&page={page}").text)
        )
    assert len(ids) == total  # every task on exactly one page
