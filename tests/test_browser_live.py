"""Progress that updates by itself, in a real browser (Debian's Chromium through Playwright): the
cycle page's stages and the import report change while the work goes on in the background, with
no navigation, and the strict CSP (no inline script or style) is never violated by htmx."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.pages import record_stage_run
from tests.test_browser import live_server, shot  # noqa: F401  (the fixture)
from winback.actor import Actor
from winback.cycles import service as cycles
from winback.cycles.models import FlowRunState

RUN_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
# Collects CSP violations in the page itself (an init script is injected by the browser, not inline).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '')));
"""


def _watched_page(browser, base):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text} @ {m.location.get('url', '')}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    # What failed to load, by address (the console's "Failed to load resource" does not say).
    page.on("response", lambda r: console.append(f"http {r.status}: {r.url}") if r.status >= 400 else None)
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    page.goto(base + "/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("winback-demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/cycles")
    return context, page, console, navigations


def _no_csp_violation(page, console) -> None:
    assert page.evaluate("window.__csp") == []
    assert not [m for m in console if "Content Security Policy" in m or "Refused to" in m], console
    # nothing else went wrong either (the browser asks for /favicon.ico by itself; there is none)
    failed = [m for m in console if m.startswith(("http", "pageerror", "error"))]
    assert all(m.endswith("/favicon.ico") for m in failed), failed


def test_progress_updates_without_a_reload_and_without_csp_violations(
    live_server,
    browser,
    session,
    staff,
    request,
    tmp_path,
):
    base, cycle_id = live_server
    db = request.node.callspec.id
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    record_stage_run(session, cycle, "tally_reasons", FlowRunState.running, prefect_flow_run_id=RUN_ID)
    session.commit()
    context, page, console, navigations = _watched_page(browser, base)

    # --- the cycle page: a stage flow runs, then ends, while the page stays
    page.goto(f"{base}/cycles/{cycle_id}")
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx is loaded and running
    tallied = page.locator("#cycle-progress tr.stage-tallied")
    expect(tallied).to_contain_text("流程运行中")
    expect(tallied.locator(".state.running")).to_have_text("运行中")
    page.evaluate("window.__still_here = true")
    seen = len(navigations)
    record_stage_run(session, cycle, "tally_reasons", FlowRunState.completed, prefect_flow_run_id=RUN_ID)
    session.commit()
    expect(tallied.locator(".state.completed")).to_have_text("已完成", timeout=10000)
    expect(page.locator("#cycle-progress")).to_contain_text("流程已运行结束")
    expect(page.locator("#flow-runs tr", has_text="tally_reasons").locator(".state")).to_have_text("已完成")
    assert page.evaluate("window.__still_here") is True and len(navigations) == seen  # no reload
    shot(page, "live-cycle-progress", db)
    # finished: the fragment stops asking
    assert page.locator("#cycle-progress[hx-trigger]").count() == 0

    # --- the import report: rows done of total, advancing in the background
    from winback.customers import imports

    csv = tmp_path / "c.csv"
    csv.write_text(
        "客户编号,客户姓名,手机\n" + "".join(f"L{i},客户{i},1390001{i:04d}\n" for i in range(10)),
        encoding="utf-8",
    )
    admin = staff("admin")
    batch, _ = imports.start_import(
        session=session,
        store_id=admin.store_id,
        kind="customers",
        source=csv,
        filename="c.csv",
        actor=Actor.person(admin),
    )
    batch.rows_total, batch.rows_done = 10, 3
    session.commit()
    page.goto(f"{base}/archive/imports/{batch.id}")
    expect(page.locator("#import-progress .done-of-total")).to_have_text("3 / 10 行")
    expect(page.get_by_role("progressbar", name="进度")).to_have_attribute("value", "3")
    page.evaluate("window.__still_here = true")
    seen = len(navigations)
    batch.rows_done = 7
    session.commit()
    expect(page.locator("#import-progress .done-of-total")).to_have_text("7 / 10 行", timeout=10000)
    batch.rows_total, batch.rows_done = 0, 0
    imports.run_import(session=session, batch_id=batch.id, actor=Actor.person(admin))
    session.commit()
    expect(page.locator("#import-progress .stage")).to_have_text("已完成", timeout=10000)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    assert page.evaluate("window.__still_here") is True and len(navigations) == seen
    shot(page, "live-import-done", db)

    _no_csp_violation(page, console)
    # ... and the watch would have seen one: an inline style, as htmx's indicator styles would be
    page.evaluate("""document.body.insertAdjacentHTML('beforeend', '<div style="color:red">x</div>')""")
    page.wait_for_function("window.__csp.length > 0")
    assert "style-src" in page.evaluate("window.__csp[0]")
    context.close()
