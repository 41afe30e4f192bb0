"""The process walked in a real browser (Debian's Chromium through Playwright), in Chinese and
in English: the admin looks at the running cycle, the supervisor redistributes a task, two
advisors close tasks on a phone, the auditor verifies the trail. Every page visited is checked
with axe-core (labels, contrast, names, landmarks: WCAG 2 A/AA), the log-in is done with the
keyboard alone, and screenshots are kept in artifacts/screenshots/walk-<lang>-<step>-<db>.png.
"""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.test_browser import ARTIFACTS, browser, live_server  # noqa: F401  (fixtures)

AXE = Axe()
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}

TEXT = {
    "zh": {"login": "登录", "user": "用户名", "password": "密码", "cycles": "月度流失调查",
           "reassign": "改派", "reassigned": "任务已改派", "attempt": "记录一次联系", "saved": "已保存",
           "close": "提交并关闭任务", "closed": "任务已关闭", "price": "价格高（配件工时贵）",
           "verify": "校验审计记录", "accept": "zh-CN,zh;q=0.9"},
    "en": {"login": "Log in", "user": "Username", "password": "Password", "cycles": "Monthly cycles",
           "reassign": "Reassign", "reassigned": "Task reassigned", "attempt": "Record an attempt", "saved": "Saved",
           "close": "Close the task", "closed": "Task closed", "price": "High price (parts and labour)",
           "verify": "Verify the audit trail", "accept": "en-GB,en;q=0.9"},
}


class Walk:
    """One person's browser window: log in, look, check accessibility, keep a screenshot."""

    def __init__(self, browser, base: str, lang: str, db: str, phone: bool = False):
        size = {"width": 375, "height": 812} if phone else {"width": 1280, "height": 900}
        self.context = browser.new_context(
            viewport=size, is_mobile=phone, has_touch=phone, locale="zh-CN" if lang == "zh" else "en-GB",
            extra_http_headers={"Accept-Language": TEXT[lang]["accept"]},
        )
        self.page = self.context.new_page()
        self.base, self.lang, self.db, self.phone = base, lang, db, phone
        self.t = TEXT[lang]

    def check(self, step: str, axe: bool = True) -> None:
        """No axe violation (pages seen before: axe=False), nothing wider than a phone on a
        phone, a screenshot kept."""
        page = self.page
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if self.lang == "zh" else "en")
        if axe:
            result = AXE.run(page, options=AXE_OPTIONS)
            assert result.response["passes"], f"axe checked nothing on {page.url}"
            assert result.violations_count == 0, f"{step} ({page.url}):\n{result.generate_report()}"
        if self.phone:
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 375, f"{step} scrolls sideways"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"walk-{self.lang}-{step}-{self.db}.png"), full_page=True)

    def login(self, username: str, lands_on: str) -> None:
        """With the keyboard only: Tab into the fields, Enter to send."""
        page = self.page
        page.goto(self.base + "/")
        assert self.t["login"] in page.title()
        self.check("login", axe=username == "admin")
        page.get_by_label(self.t["user"]).focus()
        page.keyboard.type(username)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.name") == "password"
        page.keyboard.type("winback-demo")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{lands_on}")

    def close(self) -> None:
        self.context.close()


def advisor_closes_a_task(browser, base, lang, db, username):
    w = Walk(browser, base, lang, db, phone=True)
    w.login(username, "/tasks")
    page = w.page
    cards = page.locator("li.card")
    before = cards.count()
    assert before > 0
    assert page.locator("a.tel").first.get_attribute("href").startswith("tel:")
    w.check(f"{username}-tasks", axe=username == "advisor1")
    cards.first.locator("a.title").click()
    page.wait_for_url("**/tasks/*")
    w.check(f"{username}-task", axe=username == "advisor1")
    page.locator("#att-outcome").select_option("reached")
    page.get_by_role("button", name=w.t["attempt"]).click()
    expect(page.get_by_role("status")).to_contain_text(w.t["saved"])
    page.get_by_label(w.t["price"]).check()
    page.get_by_role("button", name=w.t["close"]).click()
    page.wait_for_url("**/tasks")
    expect(page.get_by_role("status")).to_contain_text(w.t["closed"])
    expect(page.locator("li.card")).to_have_count(before - 1, timeout=15000)
    w.check(f"{username}-closed", axe=False)
    w.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_process_in_a_real_browser(live_server, browser, request, lang):  # noqa: F811
    base, cycle_id = live_server
    db = request.node.callspec.params.get("db_url", "db")
    db = "postgres" if "postgres" in str(db) else "sqlite"
    t = TEXT[lang]

    admin = Walk(browser, base, lang, db)
    admin.login("admin", "/cycles")
    expect(admin.page.get_by_role("heading", level=1)).to_contain_text(t["cycles"])
    admin.check("admin-cycles")
    admin.page.goto(f"{base}/cycles/{cycle_id}")
    admin.check("admin-cycle")
    admin.close()

    supervisor = Walk(browser, base, lang, db)
    supervisor.login("supervisor", "/cycles")
    page = supervisor.page
    page.goto(f"{base}/cycles/{cycle_id}")
    supervisor.check("supervisor-board")
    row = page.locator("tbody tr:has(select[name=assignee_id])").first
    select = row.locator("select")
    current = select.input_value()
    other = next(v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v != current)
    select.select_option(other)
    row.get_by_role("button", name=t["reassign"]).click()
    expect(page.get_by_role("status")).to_contain_text(t["reassigned"])
    supervisor.check("supervisor-reassigned", axe=False)
    supervisor.close()

    for username in ("advisor1", "advisor2"):
        advisor_closes_a_task(browser, base, lang, db, username)

    auditor = Walk(browser, base, lang, db)
    auditor.login("auditor", "/audit")
    page = auditor.page
    page.goto(base + "/audit")
    auditor.check("auditor-audit")
    page.get_by_role("button", name=t["verify"]).click()
    expect(page.get_by_role("status")).to_contain_text("intact" if lang == "en" else "完好")
    auditor.check("auditor-verified", axe=False)
    auditor.close()
