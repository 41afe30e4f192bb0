"""The pages of issue 18's cases with something on them, in headless Chromium on a 375 px phone,
in Chinese and English: the task's appointment section, the front desk's day list, a complaint
case and the list, the voucher desk. Each is refused on a console error or CSP violation, a
failed request, sideways scrolling, or a raw enum value of the models shown to the reader."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.test_browser import live_server  # noqa: F401  (the fixture)
from tests.test_every_page import CODES, SHOWN, WIDEST
from tests.test_plan_browser import WATCH_CSP
from winback import clock
from winback.cases import complaints
from winback.cases import service as cases
from winback.cases.models import ComplaintCase
from winback.plans.models import Voucher
from winback.surveys.models import SurveyStatus, SurveyTask


def _cases(session, cycle_id, staff) -> tuple[int, int, str, str]:
    advisor = staff("advisor1")
    task = session.scalar(
        select(SurveyTask)
        .where(SurveyTask.cycle_id == cycle_id, SurveyTask.assignee_id == advisor.id)
        .where(SurveyTask.status == SurveyStatus.open)
        .order_by(SurveyTask.id)
    )
    day = clock.today() + timedelta(days=1)
    cases.close_survey(
        session=session,
        task_id=task.id,
        contact_outcome="reached",
        reason_codes_=["high_price"],
        appointment_on=day,
        voucher_offered=True,
        complaint="接待时间太长，没人理",
        actor_staff=advisor,
    )
    case = session.scalar(select(ComplaintCase).where(ComplaintCase.task_id == task.id))
    complaints.resolve(
        session=session, case_id=case.id, resolution="经理已致电道歉", actor_staff=staff("manager")
    )
    code = session.scalar(select(Voucher.code).where(Voucher.task_id == task.id))
    session.commit()
    return task.id, case.id, code, day.isoformat()


def test_case_pages_read_clean_on_a_phone(live_server, browser, session, staff):
    base, cycle_id = live_server
    task_id, case_id, code, day = _cases(session, cycle_id, staff)
    pages = [f"/tasks/{task_id}", f"/appointments?day={day}", "/complaints", f"/complaints/{case_id}"]
    pages.append(f"/vouchers?code={code}")
    findings: list[str] = []
    for lang in ("zh", "en"):
        ctx = browser.new_context(
            viewport={"width": 375, "height": 812},
            is_mobile=True,
            locale="zh-CN" if lang == "zh" else "en-GB",
            extra_http_headers={"Accept-Language": "zh-CN" if lang == "zh" else "en-GB,en;q=0.9"},
        )
        ctx.add_init_script(WATCH_CSP)
        page = ctx.new_page()
        problems: list[str] = []
        page.on(
            "console", lambda m, p=problems: p.append(f"console: {m.text}") if m.type == "error" else None
        )
        page.on(
            "response",
            lambda r, p=problems: p.append(f"http {r.status}: {r.url}") if r.status >= 400 else None,
        )
        page.goto(f"{base}/login?lang={lang}")
        page.locator("input[name=username]").fill("supervisor")
        page.locator("input[name=password]").fill("winback-demo")
        page.locator("form:has(input[name=password]) button").first.click()
        page.wait_for_load_state()
        for path in pages:
            problems.clear()
            response = page.goto(base + path)
            page.wait_for_load_state()
            where = f"[{lang} {path}]"
            assert response is not None and response.status == 200, where
            findings += [f"{where} {p}" for p in problems]
            findings += [f"{where} CSP {v}" for v in page.evaluate("window.__csp")]
            if page.evaluate("document.scrollingElement.scrollWidth") > 375:
                findings.append(f"{where} scrolls sideways: {page.evaluate(WIDEST)}")
            text = page.evaluate(SHOWN)
            raw = sorted({c for c in CODES if re.search(rf"(?<![\w/.-]){c}(?![\w/.-])", text)})
            if raw:
                findings.append(f"{where} raw codes {raw}")
        # what the pages say, in the page's language
        page.goto(f"{base}/complaints/{case_id}")
        assert ("已解决" if lang == "zh" else "Resolved") in page.evaluate(SHOWN)
        page.goto(f"{base}/appointments?day={day}")
        assert ("已预约" if lang == "zh" else "Booked") in page.evaluate(SHOWN)
        ctx.close()
    assert findings == [], "\n".join(findings)
