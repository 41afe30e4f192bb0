"""The care calendar in headless Chromium: the front desk's care list and a customer's care
calendar, and an advisor recording a care call on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.test_browser import serving, shot
from winback.actor import Actor
from winback.care import planning
from winback.care.models import CareItem, CareKind


@pytest.fixture
def care_server(session, demo_store):
    planning.plan(session=session, store_id=demo_store, actor=Actor.system(label="test"))
    session.commit()
    with serving() as base:
        yield base


def _log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("winback-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def _watch(page, errors: list[str]) -> None:
    """Script errors and CSP violations (console), and failed requests other than the favicon."""
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None
        ),
    )


def test_care_list_calendar_and_a_care_call(care_server, browser, session, request):
    base, db = care_server, request.node.callspec.id
    errors: list[str] = []
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    _watch(page, errors)
    _log_in(page, base, "supervisor")
    page.get_by_role("link", name="关怀日历").first.click()
    page.wait_for_url("**/care")
    expect(page.locator("h1")).to_have_text("关怀日历")
    rows = page.locator("table.care-list tbody tr")
    assert rows.count() > 0  # today's touches
    page.get_by_role("link", name="本周到期").click()
    page.wait_for_url("**view=week**")
    page.locator("#kind").select_option("maintenance")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**kind=maintenance**")
    kinds = page.locator("table.care-list tbody tr td:nth-child(2)").all_inner_texts()
    assert kinds and all(k.startswith("保养") for k in kinds)
    shot(page, "care-list", db)
    # a customer's care calendar, from the list
    page.locator("table.care-list tbody tr td:nth-child(3) a").first.click()
    page.wait_for_url("**/customers/*")
    calendar = page.locator("table.care-calendar").first
    expect(calendar).to_be_visible()
    expect(calendar).to_contain_text("保养")
    expect(calendar).to_contain_text("公里/天")
    shot(page, "care-calendar", db)
    desk.close()

    phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, locale="zh-CN")
    page = phone.new_page()
    _watch(page, errors)
    _log_in(page, base, "advisor1")
    page.goto(base + "/care/calls")
    cards = page.locator("li.card")
    count = cards.count()
    assert count > 0
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    first = cards.first
    first.locator("select").select_option("appointment")
    first.get_by_role("button", name="记录").click()
    expect(page.get_by_role("status")).to_contain_text("回访结果已记录")
    expect(page.locator("li.card")).to_have_count(count - 1)
    shot(page, "care-calls", db)
    phone.close()
    assert not errors, errors  # no CSP violation, no script error
    session.expire_all()
    assert session.scalar(select(CareItem.id).where(CareItem.kind == CareKind.maintenance)) is not None
