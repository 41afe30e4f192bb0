"""The real pages in headless Chromium (Debian's, through Playwright): an advisor closes a task
on a phone-sized screen, the supervisor sees it on the board. Screenshots go to artifacts/."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("WINBACK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def serving():
    """The app on a free port of 127.0.0.1 (uvicorn in a thread of this process, so it shares
    the test's database and frozen clock). Yields the base URL."""
    from app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the web server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(surveying_cycle):
    """The web server on the demo store whose cycle is at the surveys: (base URL, cycle id)."""
    with serving() as base:
        yield base, surveying_cycle


@pytest.fixture
def fresh_server(session, prefect_harness):
    """The web server on a demo store with no cycle yet, Prefect at hand (the temporary
    server of the harness): whatever the pages start runs as real flows in this process.

    The store has 100 customers rather than the demo's 240 (same story, same staff): every page
    of the walk is checked with axe and kept as a screenshot, and both cost by the row.
    The clock is frozen at the demo's time. Yields (base URL, store id)."""
    from tests.conftest import DEMO_NOW
    from winback import clock
    from winback.demo import load_demo

    clock.set_now(DEMO_NOW)
    store = load_demo(session=session, customers=100)
    session.commit()
    with serving() as base:
        yield base, store.id


def shot(page, name: str, db: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{db}.png"), full_page=True)


def test_advisor_on_a_phone_and_the_supervisor_board(live_server, browser, request):
    base, cycle_id = live_server
    db = request.node.callspec.id
    phone = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = phone.new_page()
    page.goto(base + "/")
    assert "登录" in page.title()
    page.get_by_label("用户名").fill("advisor1")
    page.get_by_label("密码").fill("winback-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/tasks")
    cards = page.locator("li.card")
    count = cards.count()
    assert count > 0
    # usable one-handed: nothing wider than the phone
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert page.locator("a.tel").first.get_attribute("href").startswith("tel:")
    shot(page, "advisor-tasks", db)

    cards.first.locator("a.title").click()
    page.wait_for_url("**/tasks/*")
    # two contact attempts: no answer (the page says how far the attempt policy is), then reached
    # one tap after the call: the outcome's button records the attempt
    for outcome, said in (("无人接听", "未接通：已联系 1 次（需 3 次）"), ("已接通", "已保存")):
        page.locator("#attempts").get_by_role("button", name=outcome, exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(said)
    expect(page.locator("section:has(h2:text('联系记录')) li")).to_have_count(2)
    page.get_by_label("备注", exact=True).fill("客户下周出差")
    page.get_by_role("button", name="提交并关闭任务").click()
    # the form comes back with the message and the notes typed
    expect(page.get_by_role("alert")).to_contain_text("请至少选择")
    expect(page.get_by_label("备注", exact=True)).to_have_value("客户下周出差")
    page.get_by_label("价格高（配件工时贵）").check()
    page.get_by_role("button", name="提交并关闭任务").click()
    page.wait_for_url("**/tasks")
    expect(page.get_by_role("status")).to_contain_text("任务已关闭")
    expect(page.locator("li.card")).to_have_count(count - 1, timeout=15000)
    shot(page, "advisor-closed", db)
    phone.close()

    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    page.goto(base + "/login")
    page.get_by_label("用户名").fill("supervisor")
    page.get_by_label("密码").fill("winback-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/cycles")
    page.goto(f"{base}/cycles/{cycle_id}")
    board = page.locator("section:has(h2:text('进度')) tbody tr")
    done = sum(int(board.nth(i).locator("td").nth(2).inner_text()) for i in range(board.count()))
    assert done == 1
    shot(page, "supervisor-cycle", db)
    # the supervisor reassigns the first open task to another advisor
    row = page.locator("tbody tr:has(select[name=assignee_id])").first
    select = row.locator("select")
    current = select.input_value()
    other = next(
        v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v != current
    )
    select.select_option(other)
    row.get_by_role("button", name="改派").click()
    expect(page.get_by_role("status")).to_contain_text("任务已改派")
    shot(page, "supervisor-reassigned", db)
    desk.close()


def test_profile_charts_render_on_a_phone(live_server, browser, request):
    """The profile charts are drawn (real boxes, not just markup) and fit a phone's width."""
    base, cycle_id = live_server
    phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, locale="zh-CN")
    page = phone.new_page()
    page.goto(base + "/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("winback-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/cycles")
    page.goto(f"{base}/cycles/{cycle_id}/profile")
    chart = page.locator("#dim-model svg.chart")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] > 200 and box["height"] > 20
    assert page.locator("#dim-model svg.chart rect.t").count() >= 2
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert "车型" in page.locator("#dim-model h2").inner_text()
    shot(page, "profile-charts", request.node.callspec.id)
    phone.close()
