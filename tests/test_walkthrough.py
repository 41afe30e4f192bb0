"""The whole process walked in a real browser (Debian's Chromium through Playwright), in Chinese
and in English, on each database, on a demo store of 100 customers with no cycle yet:

1. the admin starts the month's cycle with the button on the cycle list; its stages run as real
   Prefect flows in the server's process (the harness's temporary Prefect server) and the page
   follows them live (htmx polling its live part) until the surveys are assigned;
2. the supervisor hands one of advisor1's tasks to advisor2;
3. both advisors close their task on a 375 px phone;
4. the supervisor runs the watcher, which tallies the reasons (every survey is closed) and drafts
   the plan; the manager revises a measure, submits, rejects with a comment, revises,
   resubmits and approves, all by clicking; execution starts;
5. the auditor verifies the hash chain and reads the plan's timeline;
6. advisor2 finds the hand-over in the inbox (the bell counts it), opens its task, marks all
   read, sets a notification channel (a typo first) and sends a test message to a loopback
   receiver; the admin reads the delivery page. No CSP violation on those pages.

To keep the walk short, all the month's surveys but two (advisor1's) are closed through the
services right after the cycle is started (``close_all_but_two``): those two go through the
pages. Every page visited is checked with axe-core (labels, contrast, names, landmarks: WCAG 2
A/AA), the log-in is done with the keyboard alone, and screenshots are kept in
artifacts/screenshots/walk-<lang>-<step>-<db>.png.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

import db.session
from tests.test_browser import ARTIFACTS, fresh_server  # noqa: F401  (the fixture)
from tests.test_browser_live import WATCH_CSP
from winback.i18n import translations

ZH = translations("zh")
AXE = Axe()
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}  # full detail for violations only: much less to send back
FLOWS = 90_000  # ms: the stages run as Prefect flows on a shared machine

TEXT = {
    "zh": {
        "login": "登录",
        "user": "用户名",
        "password": "密码",
        "reassigned": "任务已改派",
        "reached": "已接通",
        "saved": "已保存",
        "close": "提交并关闭任务",
        "closed": "任务已关闭",
        "price": "价格高（配件工时贵）",
        "verify": "校验审计记录",
        "intact": "完好",
        "accept": "zh-CN,zh;q=0.9",
        "reject_why": "价格措施成本太高，请重算后再提交",
        "approve_why": "同意执行",
    },
    "en": {
        "login": "Log in",
        "user": "Username",
        "password": "Password",
        "reassigned": "Task reassigned",
        "reached": "reached",
        "saved": "Saved",
        "close": "Close the task",
        "closed": "Task closed",
        "price": "High price (parts and labour)",
        "verify": "Verify the audit trail",
        "intact": "intact",
        "accept": "en-GB,en;q=0.9",
        "reject_why": "The price measure costs too much; recalculate it and submit again",
        "approve_why": "Agreed",
    },
}
REASONS = ["high_price", "too_far", "high_price", "poor_attitude"]


def say(lang: str, text: str) -> str:
    """What the page shows for an English UI text: itself, or its Chinese translation."""
    return text if lang == "en" else ZH[text]


class Walk:
    """One person's browser window: log in, look, check accessibility, keep a screenshot."""

    def __init__(self, chrome, base: str, lang: str, db: str, phone: bool = False):
        size = {"width": 375, "height": 812} if phone else {"width": 1280, "height": 900}
        self.context = chrome.new_context(
            viewport=size,
            is_mobile=phone,
            has_touch=phone,
            locale="zh-CN" if lang == "zh" else "en-GB",
            extra_http_headers={"Accept-Language": TEXT[lang]["accept"]},
        )
        self.page = self.context.new_page()
        self.base, self.lang, self.db, self.phone = base, lang, db, phone
        self.t = TEXT[lang]

    def say(self, text: str) -> str:
        return say(self.lang, text)

    def check(self, step: str, axe: bool = True, shot: bool = True) -> None:
        """No axe violation (pages seen before: axe=False), nothing wider than the window (a
        phone's or a desk's), a screenshot kept (unless shot=False: the same page seen again)."""
        page = self.page
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if self.lang == "zh" else "en")
        if axe:
            result = AXE.run(page, options=AXE_OPTIONS)
            assert result.response["passes"], f"axe checked nothing on {page.url}"
            assert result.violations_count == 0, f"{step} ({page.url}):\n{result.generate_report()}"
        width = page.viewport_size["width"]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width, f"{step} scrolls sideways"
        if not shot:
            return
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"walk-{self.lang}-{step}-{self.db}.png"), full_page=True)

    def login(self, username: str, lands_on: str, axe: bool = False) -> None:
        """With the keyboard only: Tab into the fields, Enter to send."""
        page = self.page
        page.goto(self.base + "/")
        assert self.t["login"] in page.title()
        self.check("login", axe=axe, shot=axe)
        page.get_by_label(self.t["user"]).focus()
        page.keyboard.type(username)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.name") == "password"
        page.keyboard.type("winback-demo")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{lands_on}")

    def flash(self, text: str) -> None:
        """The message the last action left (a status line, not the live progress line)."""
        expect(self.page.locator("p.flash[role=status]")).to_contain_text(self.say(text))

    def wait_for_flows(self) -> None:
        """The page follows the running flows by itself; wait until it says they are done."""
        expect(self.page.locator("[data-poll], [hx-trigger^='every']")).to_have_count(0, timeout=FLOWS)

    def close(self) -> None:
        self.context.close()


def close_all_but_two(cycle_id: int) -> tuple[int, int]:
    """Close every survey of the cycle through the services, as its advisor would, except two
    of advisor1's. Returns the ids of those two (open, in advisor1's list)."""
    from winback.accounts.models import Staff
    from winback.surveys import service as surveys
    from winback.surveys.models import ContactMethod, SurveyStatus

    session = db.session.new_session()
    try:
        advisor1 = session.scalar(select(Staff).where(Staff.username == "advisor1"))
        page = surveys.cycle_tasks_page(
            session=session, cycle_id=cycle_id, status=SurveyStatus.open, page_size=None
        )
        tasks, total = page.items, page.total
        assert total == len(tasks) > 2
        kept = [t.id for t in tasks if t.assignee_id == advisor1.id][:2]
        assert len(kept) == 2, "advisor1 was given fewer than two surveys"
        for i, task in enumerate(t for t in tasks if t.id not in kept):
            surveys.close_task(
                contact_outcome="reached",
                session=session,
                task_id=task.id,
                method=ContactMethod.phone,
                reason_codes_=[REASONS[i % len(REASONS)]],
                serviced_elsewhere=False,
                actor_staff=session.get(Staff, task.assignee_id),
            )
        session.commit()
        return kept[0], kept[1]
    finally:
        session.close()


def staff_id(username: str) -> int:
    from winback.accounts.models import Staff

    with db.session.new_session() as session:
        return session.scalar(select(Staff.id).where(Staff.username == username))


def advisor_closes_a_task(chrome, base, lang, db_name, username):
    w = Walk(chrome, base, lang, db_name, phone=True)
    w.login(username, "/tasks")
    page = w.page
    cards = page.locator("li.card")
    expect(cards).to_have_count(1)
    assert page.locator("a.tel").first.get_attribute("href").startswith("tel:")
    w.check(f"{username}-tasks", axe=username == "advisor1")
    cards.first.locator("a.title").click()
    page.wait_for_url("**/tasks/*")
    w.check(f"{username}-task", axe=username == "advisor1")
    # after the tel: call, one tap records the outcome
    page.locator("#attempts").get_by_role("button", name=w.t["reached"], exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(w.t["saved"])
    page.get_by_label(w.t["price"]).check()
    page.get_by_role("button", name=w.t["close"]).click()
    page.wait_for_url("**/tasks")
    expect(page.get_by_role("status")).to_contain_text(w.t["closed"])
    expect(page.locator("li.card")).to_have_count(0, timeout=15000)
    w.check(f"{username}-closed", axe=username == "advisor1")
    w.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_process_in_a_real_browser(fresh_server, browser, request, lang, webhook):
    base, _store_id = fresh_server
    db_name = "postgres" if "postgres" in request.node.callspec.id else "sqlite"
    t = TEXT[lang]

    # -- 1. the admin starts the month; the page follows the flows until the surveys ----------
    admin = Walk(browser, base, lang, db_name)
    admin.login("admin", "/cycles", axe=True)
    page = admin.page
    expect(page.get_by_role("heading", level=1)).to_contain_text(admin.say("Monthly cycles"))
    expect(page.locator("#cycle-list tbody tr")).to_have_count(0)
    admin.check("admin-no-cycle")
    expect(page.get_by_label(admin.say("Month"))).to_have_value("2026-11")
    page.get_by_role("button", name=admin.say("Start the cycle")).click()
    page.wait_for_url("**/cycles?run=*")
    admin.flash("The cycle has started; its stages run as Prefect flows.")
    expect(page.locator("p.progress[data-poll]")).to_be_visible()  # work under way, the page says so
    row = page.locator("#cycle-list tbody tr")
    expect(row).to_have_count(1, timeout=FLOWS)  # the first stage opened the cycle: it shows up live
    expect(row.locator(".stage")).to_have_text(admin.say("surveying"), timeout=FLOWS)
    admin.wait_for_flows()
    expect(page.locator("p.progress")).to_contain_text(admin.say("The flows have finished."))
    expect(page.locator("#runs .state.running, #runs .state.scheduled, #runs .state.failed")).to_have_count(0)
    admin.check("admin-cycle-started")
    row.get_by_role("link", name="2026-11").click()
    page.wait_for_url(re.compile(r".*/cycles/\d+$"))
    cycle_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("ol.stages li.done")).to_have_count(5)  # draft … surveying
    expect(page.get_by_role("heading", level=2, name=re.compile(admin.say("Tasks")))).to_be_visible()
    admin.check("admin-cycle")
    admin.close()

    _, second = close_all_but_two(cycle_id)

    # -- 2. the supervisor gives one of advisor1's two tasks to advisor2 ------------------------
    supervisor = Walk(browser, base, lang, db_name)
    supervisor.login("supervisor", "/cycles")
    page = supervisor.page
    page.goto(f"{base}/cycles/{cycle_id}")
    supervisor.check("supervisor-board")
    expect(page.locator("tbody tr:has(select[name=assignee_id])")).to_have_count(2)
    page.locator(f"#assignee-{second}").select_option(str(staff_id("advisor2")))
    page.locator(f"form:has(#assignee-{second})").get_by_role(
        "button", name=supervisor.say("Reassign")
    ).click()
    expect(page.get_by_role("status")).to_contain_text(t["reassigned"])
    supervisor.check("supervisor-reassigned", axe=False)

    # -- 3. each advisor closes their one task on a phone ------------------------------------
    for username in ("advisor1", "advisor2"):
        advisor_closes_a_task(browser, base, lang, db_name, username)

    # -- 4. every survey is in: the watcher tallies the reasons and drafts the plan ------------
    page.goto(f"{base}/cycles")
    page.get_by_role("button", name=supervisor.say("Run the watcher now")).click()
    page.wait_for_url("**/cycles")
    expect(page.locator("#cycle-list .stage")).to_have_text(supervisor.say("planning"), timeout=FLOWS)
    supervisor.wait_for_flows()
    page.goto(f"{base}/cycles/{cycle_id}")
    tally = page.locator("section", has=page.get_by_role("heading", level=2, name=supervisor.say("Tally")))
    expect(tally).to_be_visible()
    assert (
        int(
            tally.locator("tbody tr", has_text=t["price"].split("（")[0].split(" (")[0])
            .locator("td")
            .nth(1)
            .inner_text()
        )
        >= 2
    )
    supervisor.check("supervisor-tally")
    supervisor.close()

    manager = Walk(browser, base, lang, db_name)
    manager.login("manager", "/cycles")
    page = manager.page
    page.goto(f"{base}/cycles/{cycle_id}")
    page.get_by_role("link", name=re.compile(r"v1 · " + manager.say("draft"))).click()
    page.wait_for_url(re.compile(r".*/plans/\d+$"))
    plan_id = int(page.url.rsplit("/", 1)[1])
    tally_line = page.locator("p", has_text=manager.say("Tally") + ":")
    expect(tally_line).to_contain_text(t["price"])  # the reasons by name, not by code
    expect(tally_line).not_to_contain_text("high_price")
    manager.check("manager-draft")
    measure = page.locator("article.measure").first
    # the price measure goes to the front-desk supervisor
    measure.locator("select[name$='-owner_id']").select_option(str(staff_id("supervisor")))
    page.get_by_role("button", name=manager.say("Save the plan")).click()
    manager.flash("Saved.")
    # a second card edited, then straight to submit: one form, both edits go with it
    second_card = page.locator("article.measure").nth(1)
    second_card.get_by_label(manager.say("Expected effect")).fill(t["reject_why"][:6])
    page.get_by_role("button", name=manager.say("Save and submit for approval")).click()
    manager.flash("Plan submitted.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(manager.say("submitted"))
    expect(page.locator("article.measure").nth(1)).to_contain_text(t["reject_why"][:6])
    manager.check("manager-submitted")
    page.get_by_label(manager.say("Comment"), exact=True).fill(t["reject_why"])
    page.get_by_role("button", name=manager.say("Reject"), exact=True).click()
    manager.flash("Plan rejected.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(manager.say("rejected"))
    expect(page.locator("p.note.current")).to_contain_text(t["reject_why"])
    manager.check("manager-rejected")
    measure = page.locator("article.measure").first
    measure.get_by_label(manager.say("Estimated cost")).fill("3000")
    page.get_by_role("button", name=manager.say("Save and submit for approval")).click()
    manager.flash("Plan submitted.")
    # the pending decision is the new submission; the rejection is history below it
    expect(page.locator("p.note.current")).not_to_contain_text(t["reject_why"])
    expect(page.locator("details.history")).to_contain_text(t["reject_why"])
    page.get_by_label(manager.say("Comment"), exact=True).fill(t["approve_why"])
    page.get_by_role("button", name=manager.say("Approve"), exact=True).click()
    manager.flash("Plan approved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(manager.say("approved"))
    expect(page.locator("article.measure form[action^='/measures/']:not([action$='/status'])")).to_have_count(
        0
    )
    manager.check("manager-approved")
    # approval starts the execution (a flow): the cycle page follows it to the next stage
    page.goto(f"{base}/cycles/{cycle_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(manager.say("executing"), timeout=FLOWS)
    manager.wait_for_flows()
    manager.check("manager-executing", axe=False)
    manager.close()

    # -- 5. the auditor: the chain is intact and the plan's timeline tells the story --------
    auditor = Walk(browser, base, lang, db_name)
    auditor.login("auditor", "/audit")
    page = auditor.page
    page.goto(base + "/audit")
    auditor.check("auditor-audit")
    page.get_by_role("button", name=t["verify"]).click()
    expect(page.get_by_role("status")).to_contain_text(t["intact"])
    auditor.check("auditor-verified", axe=False)
    page.goto(f"{base}/audit/plan/{plan_id}")
    actions = page.locator("table.events tbody tr td:nth-child(3)")
    # what happened in words; the event code and its JSON behind 详情
    expect(actions.filter(has_text=auditor.say("The plan was rejected"))).to_have_count(1)
    expect(actions.filter(has_text=auditor.say("The plan was approved"))).to_have_count(1)
    expect(actions.filter(has_text=auditor.say("The plan was submitted for approval"))).to_have_count(2)
    rejected = page.locator("table.events tr", has_text=auditor.say("The plan was rejected"))
    expect(rejected.locator("details")).to_contain_text("plan.rejected")
    expect(rejected).to_contain_text(t["reject_why"])
    auditor.check("auditor-plan")
    auditor.close()

    # -- 6. every notification reaches a person: the inbox, a channel, the delivery page ------
    inbox_and_channels(browser, base, lang, db_name, webhook)


def inbox_and_channels(chrome, base, lang, db_name, webhook):
    w = Walk(chrome, base, lang, db_name)
    w.context.add_init_script(WATCH_CSP)
    w.login("advisor2", "/tasks")
    page = w.page
    bell = page.locator("#bell")
    expect(bell.locator(".count")).to_have_text(re.compile(r"^[1-9]\d*$"))  # the hand-over, at least
    bell.click()
    page.wait_for_url("**/inbox")
    expect(page.get_by_role("heading", level=1)).to_have_text(w.say("Inbox"))
    # A message is written once, when queued, in its recipient's language: advisor2 has none
    # stored, so the default (Chinese) whatever the browser asks now.
    changed = page.locator("li.message.unread", has_text=ZH["Callback task changed"])
    expect(changed).to_have_count(1)
    w.check("advisor2-inbox")
    changed.get_by_role("link", name=w.say("Open")).click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    page.goto(base + "/inbox")
    page.get_by_role("button", name=w.say("Mark all read")).click()
    page.wait_for_url("**/inbox")
    expect(page.locator("li.message.unread")).to_have_count(0)
    expect(page.locator("#bell .count")).to_have_count(0)

    page.goto(base + "/account/password")
    field = page.get_by_label(w.say("Channel address (Apprise URL)"))
    field.fill("mailtoo//advisor2@example.com")
    page.get_by_role("button", name=w.say("Save channel")).click()
    expect(page.locator("#channel p.flash.error[role=alert]")).to_be_visible()
    expect(page.get_by_label(w.say("Channel address (Apprise URL)"))).to_have_value(
        "mailtoo//advisor2@example.com"
    )
    page.get_by_label(w.say("Channel address (Apprise URL)")).fill(webhook.url)
    page.get_by_role("button", name=w.say("Save channel")).click()
    w.flash("Notification channel saved.")
    page.get_by_role("button", name=w.say("Send a test message")).click()
    expect(page.locator("#test-result")).to_contain_text(w.say("Delivered"))
    # written in advisor2's language (none stored: the default), like every message to them
    assert [m["title"] for m in webhook.messages] == [ZH["Test message"]]
    w.check("advisor2-channel")
    assert page.evaluate("window.__csp") == []
    w.close()

    admin = Walk(chrome, base, lang, db_name)
    admin.context.add_init_script(WATCH_CSP)
    admin.login("admin", "/cycles")
    page = admin.page
    page.get_by_role("navigation").get_by_role("link", name=admin.say("Notifications")).click()
    page.wait_for_url("**/admin/notifications")
    expect(page.locator('#channels tr[data-channel="json"] td.delivered')).to_have_text("1")
    expect(page.locator("#without-channel")).to_contain_text("advisor1")
    admin.check("admin-notifications")
    assert page.evaluate("window.__csp") == []
    admin.close()
