"""The list pages on a 375 px phone in headless Chromium: search box, pager, empty state and
breadcrumbs fit the screen (no sideways scrolling of the page; wide tables scroll inside
themselves) and pass axe-core (WCAG 2 A/AA), searched and not."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

from tests.test_browser import live_server, shot  # noqa: F401  (the fixture)

AXE = Axe()
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}

PAGES = {
    "admin": [
        "/cycles",
        "/cycles/{cycle}",
        "/cycles/{cycle}?q=%E6%B2%A1%E6%9C%89",
        "/archive",
        "/archive/customers",
        "/archive/customers?q=%E6%B2%A1%E6%9C%89",
        "/archive/merges",
        "/audit",
        "/audit/complaints",
        "/admin/staff",
        "/analytics",
        "/measure-library",
        "/no/such/page",
    ],
    "advisor1": ["/tasks", "/tasks?q=%E6%B2%A1%E6%9C%89", "/measures"],
}


def test_list_pages_fit_a_phone_and_pass_axe(live_server, browser, request):
    base, cycle_id = live_server
    db = request.node.callspec.id
    for who, paths in PAGES.items():
        context = browser.new_context(
            viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        page = context.new_page()
        page.goto(base + "/login")
        page.get_by_label("用户名").fill(who)
        page.get_by_label("密码").fill("winback-demo")
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        for path in paths:
            page.goto(base + path.format(cycle=cycle_id))
            assert page.locator('nav[aria-label="页面位置"] [aria-current="page"]').count() == 1, path
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 375, f"{path}: the page is {width} px wide on a 375 px phone"
            result = AXE.run(page, options=AXE_OPTIONS)
            assert result.violations_count == 0, f"{path}: {result.generate_report()}"
        shot(page, f"lists-{who}", db)
        context.close()
