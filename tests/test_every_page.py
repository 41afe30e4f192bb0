"""Every page reachable from each role's navigation, in Chinese and in English, in headless
Chromium on a 375 px phone (Debian's Chromium through Playwright), on the demo store whose cycle
is at the surveys: each page (and each page its links lead to, one level down, same origin) is
refused on a console error or CSP violation, a failed request, sideways scrolling, a raw enum
value of the models or a JSON fragment in what a reader sees (technical detail behind a
<details> toggle is allowed). axe-core runs in tests/test_walkthrough.py (the PyPI package
axe-playwright-python vendors it)."""

from __future__ import annotations

import enum
import importlib
import pkgutil
import re
from urllib.parse import urlsplit

import pytest

import winback
from tests.test_browser import live_server  # noqa: F401  (the fixture)
from tests.test_plan_browser import WATCH_CSP

ROLES = ("admin", "supervisor", "advisor1", "manager", "auditor")
JSON = re.compile(r"[{,]\s*\"[a-z_]+\"\s*:")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# Links that leave the page's purpose (downloads, log-out, the language switch, the API docs).
SKIP = re.compile(r"(\.xlsx|\.csv|/logout|/api/|lang=|/static/|#)")
# What the page shows a reader, without <details> contents (the 详情 toggles) but with summaries.
SHOWN = """() => {
  const root = document.querySelector('main').cloneNode(true);
  root.querySelectorAll('details > :not(summary), script, style, code').forEach(e => e.remove());
  return root.innerText;
}"""


# The element that sticks out furthest to the right (to say what makes a page scroll sideways).
WIDEST = """() => {
  const clipped = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
  let best = null, right = 0;
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect().right;
    if (r > right && !clipped(e)) { right = r; best = e; }
  }
  return best ? `${best.tagName.toLowerCase()}#${best.id}.${best.className} ${Math.round(right)}px` : '';
}"""


def _enum_values() -> set[str]:
    found = set()
    for info in pkgutil.walk_packages(winback.__path__, "winback."):
        try:
            module = importlib.import_module(info.name)
        except Exception:
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, enum.Enum) and obj is not enum.Enum:
                for e in obj:
                    if (
                        isinstance(e.value, str)
                        and re.fullmatch(r"[a-z][a-z0-9_]{3,}", e.value)
                        and "_" in e.value
                    ):
                        found.add(e.value)
    return found


CODES = _enum_values()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_of_every_role_reads_clean_on_a_phone(live_server, browser, request, lang):
    base, _cycle_id = live_server
    findings: list[str] = []
    seen: set[str] = set()
    for role in ROLES:
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
        page.on("pageerror", lambda e, p=problems: p.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r, p=problems: p.append(f"http {r.status}: {r.url}") if r.status >= 400 else None,
        )
        page.goto(f"{base}/login?lang={lang}")
        page.locator("input[name=username]").fill(role)
        page.locator("input[name=password]").fill("winback-demo")
        page.locator("form[action='/login'] button, form:has(input[name=password]) button").first.click()
        page.wait_for_load_state()
        nav = page.locator("header.top nav a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        assert nav, f"{role} has no navigation"
        todo = list(dict.fromkeys(nav))
        visited = 0
        # 14 pages, and the three the workbench added to the navigation (appointments,
        # complaint cases, vouchers) without pushing out a page reached before
        while todo and visited < 17:
            path = todo.pop(0)
            key = f"{role} {path}"
            if key in seen:
                continue
            seen.add(key)
            problems.clear()
            response = page.goto(base + path)
            page.wait_for_load_state()
            visited += 1
            where = f"[{lang} {role} {path}]"
            if response is None or response.status >= 400:
                findings.append(f"{where} answered {response.status if response else 'nothing'}")
                continue
            findings += [f"{where} {p}" for p in problems]
            findings += [f"{where} CSP {v}" for v in page.evaluate("window.__csp")]
            if page.evaluate("document.scrollingElement.scrollWidth") > 375:
                widest = page.evaluate(WIDEST)
                findings.append(f"{where} scrolls sideways: {widest}")
            text = page.evaluate(SHOWN)
            raw = sorted({c for c in CODES if re.search(rf"(?<![\w/.-]){c}(?![\w/.-])", text)})
            if raw:
                findings.append(f"{where} raw codes {raw}")
            if JSON.search(text):
                findings.append(f"{where} JSON {JSON.search(text).group(0)}")
            if UUID.search(text):
                findings.append(f"{where} UUID")
            if path in nav:  # one level down: the first few links of a page in the navigation
                links = page.locator("main a[href^='/']").evaluate_all(
                    "as => as.map(a => a.getAttribute('href'))"
                )
                for href in [h for h in dict.fromkeys(links) if not SKIP.search(h)][:3]:
                    if urlsplit(href).path not in {urlsplit(t).path for t in todo}:
                        todo.append(href)
        ctx.close()
    assert findings == [], "\n".join(findings)
