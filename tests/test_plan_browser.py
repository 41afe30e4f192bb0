"""The manager's plan and the evaluation report in headless Chromium (Debian's, through
Playwright), watched for what the strict CSP refuses: the report's charts are styled by a file of
this origin, their bars coloured (not the browser's default black) on screen and on paper, and
no page asks for something that is not there (the favicon included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.test_browser import serving, shot
from tests.test_plans_evaluation import _approve
from winback import clock
from winback.actor import Actor
from winback.cycles.models import MonthlyCycle
from winback.evaluation import service as evaluation
from winback.plans import service as plans

# Collects CSP violations in the page itself (an init script is injected by the browser, not inline).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '')));
"""
BLACK = ("rgb(0, 0, 0)", "#000000", "black")


def watched(browser, base: str, username: str, **context):
    """A logged-in page whose console errors, CSP violations and failed requests are collected."""
    ctx = browser.new_context(**({"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"} | context))
    ctx.add_init_script(WATCH_CSP)
    page = ctx.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("response", lambda r: problems.append(f"http {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.goto(base + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("winback-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    return ctx, page, problems


def clean(page, problems: list[str]) -> None:
    assert page.evaluate("window.__csp") == [], page.evaluate("window.__csp")
    assert problems == []


@pytest.fixture
def evaluated_cycle(session, planning_cycle, staff):
    """The planning cycle with its plan approved and executed, evaluated three months on."""
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    _approve(session, plan.id, staff("manager"))
    plans.execute_plan(session=session, cycle_id=planning_cycle, actor=Actor.system())
    session.commit()
    cycle = session.get(MonthlyCycle, planning_cycle)
    clock.set_now(cycle.evaluation_due_at + timedelta(hours=1))
    evaluation.evaluate_cycle(session=session, cycle_id=cycle.id, actor=Actor.system())
    session.commit()
    return planning_cycle


def test_the_report_is_coloured_on_screen_and_on_paper_without_csp_violations(
    evaluated_cycle, browser, request
):
    with serving() as base:
        ctx, page, problems = watched(browser, base, "manager")
        page.goto(f"{base}/cycles/{evaluated_cycle}/report")
        expect(page.get_by_role("heading", level=1)).to_contain_text("效果评估报告")
        bars = page.locator("svg.chart rect.bar-a")
        assert bars.count() >= 2
        fills = bars.evaluate_all("rs => rs.map(r => getComputedStyle(r).fill)")
        assert fills and not [f for f in fills if f in BLACK], fills
        holdout = page.locator("svg.chart rect.bar-b").first.evaluate("r => getComputedStyle(r).fill")
        assert holdout not in BLACK and holdout != fills[0]
        # the values beside the advisors' bars are inside the drawing (not clipped at its edge)
        chart = page.locator("svg.chart").nth(1)
        right = chart.bounding_box()["x"] + chart.bounding_box()["width"]
        for box in chart.locator("text.value").evaluate_all(
            "ts => ts.map(t => t.getBoundingClientRect().right)"
        ):
            assert box <= right + 1
        assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") != "none"
        shot(page, "report", request.node.callspec.id)
        # on paper: the same colours, the navigation and the buttons gone
        page.emulate_media(media="print")
        printed = page.locator("svg.chart rect.bar-a").first.evaluate("r => getComputedStyle(r).fill")
        assert printed == fills[0]
        adjust = page.locator("svg.chart rect.bar-a").first.evaluate(
            "r => getComputedStyle(r).printColorAdjust || getComputedStyle(r).webkitPrintColorAdjust"
        )
        assert adjust == "exact"
        assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "none"
        assert page.locator("[data-print]").is_hidden()
        page.emulate_media(media="screen")
        # the print button is a button (no javascript: link the CSP would refuse)
        assert page.locator("a[href^='javascript:']").count() == 0
        page.evaluate("window.print = () => { window.__printed = true; }")
        page.locator("[data-print]").click()
        assert page.evaluate("window.__printed") is True
        clean(page, problems)
        # the favicon: linked, served, and asked for by the browser with no 404
        assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
        assert page.request.get(base + "/favicon.ico").ok
        ctx.close()
