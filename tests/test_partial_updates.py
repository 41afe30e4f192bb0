"""Partial page updates (htmx) through the real app: the progress fragments answer with the
fragment when htmx asks (HX-Request) and with the whole page otherwise; the supervisor's
reassignment and the advisor's contact attempt answer an htmx request with just the changed row
or section and the status message, and still redirect without it (no JavaScript)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import select

from tests.pages import login, record_stage_run
from winback.actor import Actor
from winback.cycles import service as cycles
from winback.cycles.models import FlowRunState
from winback.surveys.models import SurveyStatus, SurveyTask

HX = {"HX-Request": "true"}
ROOT = Path(__file__).resolve().parent.parent


def is_fragment(r) -> bool:
    return "<html" not in r.text and "<header" not in r.text


def test_htmx_is_vendored_and_loaded_without_inline_script(client):
    r = client.get("/login")
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in r.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) is None  # no inline script
    assert '"includeIndicatorStyles":false' in r.text and '"allowEval":false' in r.text
    js = client.get("/static/vendor/htmx.min.js")
    assert js.status_code == 200 and js.content.startswith(b"var htmx=function()")
    # the README states the version and checksum of the file actually served
    readme = (ROOT / "web" / "static" / "vendor" / "README.md").read_text()
    assert hashlib.sha256(js.content).hexdigest() in readme and "2.0.11" in readme
    assert client.get("/static/winback.js").status_code == 200


def test_import_progress_fragment_polls_while_running_and_stops_when_done(client, session, staff, tmp_path):
    from winback.customers import imports
    from winback.customers.models import ImportBatch

    csv = tmp_path / "c.csv"
    csv.write_text(
        "客户编号,客户姓名,手机\n" + "".join(f"P{i},客户{i},1390000{i:04d}\n" for i in range(10)),
        encoding="utf-8",
    )
    actor = Actor.person(staff("admin"))
    batch, _ = imports.start_import(
        session=session,
        store_id=staff("admin").store_id,
        kind="customers",
        source=csv,
        filename="c.csv",
        actor=actor,
    )
    batch.rows_total, batch.rows_done = 10, 4  # half-way through, as the background import commits it
    session.commit()
    login(client, "admin")
    url = f"/archive/imports/{batch.id}/progress"

    r = client.get(url, headers=HX)
    assert r.status_code == 200 and is_fragment(r) and "HX-Request" in r.headers["vary"]
    assert 'id="import-progress"' in r.text
    assert f'hx-get="{url}"' in r.text and 'hx-trigger="every 2s"' in r.text
    assert 'max="10" value="4"' in r.text and "4 / 10 行" in r.text

    # Without htmx: the whole report page, which reloads itself only without JavaScript.
    page = client.get(url)
    assert page.status_code == 200 and "<html" in page.text and 'id="import-progress"' in page.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text
    assert client.get(f"/archive/imports/{batch.id}").text.count('hx-trigger="every 2s"') == 1

    batch.rows_total, batch.rows_done = 0, 0  # the faked progress away; the real import now
    imports.run_import(session=session, batch_id=batch.id, actor=actor)
    session.commit()
    done = client.get(url, headers=HX)
    assert is_fragment(done) and 'id="import-progress"' in done.text
    assert "hx-trigger" not in done.text and "<progress" not in done.text  # finished: no more polling
    assert session.get(ImportBatch, batch.id).rows_total == 10
    assert re.search(r"<dt>行数</dt><dd>10</dd>", done.text)
    assert "refresh" not in client.get(f"/archive/imports/{batch.id}").text


def test_cycle_progress_fragment_shows_stage_and_flow_run_states(client, session, surveying_cycle):
    cycle = cycles.get_cycle(session=session, cycle_id=surveying_cycle)
    record_stage_run(
        session,
        cycle,
        "tally_reasons",
        FlowRunState.running,
        prefect_flow_run_id="11111111-2222-3333-4444-555555555555",
    )
    session.commit()
    login(client, "supervisor")
    url = f"/cycles/{cycle.id}/progress"

    r = client.get(url, headers=HX)
    assert r.status_code == 200 and is_fragment(r) and "HX-Request" in r.headers["vary"]
    assert f'hx-get="{url}?live=1"' in r.text and 'hx-trigger="every 2s"' in r.text
    tallied = re.search(r'<tr class="stage-tallied">(.*?)</tr>', r.text, re.DOTALL).group(1)
    assert "流程运行中" in tallied and 'class="state running">运行中' in tallied
    surveying = re.search(r'<tr class="stage-surveying">(.*?)</tr>', r.text, re.DOTALL).group(1)
    assert (
        "当前阶段" in surveying and 'class="state completed"' not in surveying
    )  # the fixture ran services, not flows
    assert "已完成" in re.search(r'<tr class="stage-screened">(.*?)</tr>', r.text, re.DOTALL).group(1)
    # out of band: the stage badge and the flow runs table
    assert '<span id="cycle-stage" class="stage" hx-swap-oob="true">调查中</span>' in r.text
    assert re.search(r'<div id="flow-runs" hx-swap-oob="true">.*tally_reasons', r.text, re.DOTALL)

    sent = client.get(url)  # without htmx: to the cycle page (its search and pages live there)
    assert sent.status_code == 303 and sent.headers["location"] == f"/cycles/{cycle.id}"
    page = client.get(sent.headers["location"])  # the whole page, polling the same fragment
    assert "<html" in page.text and 'id="cycle-progress"' in page.text and 'id="task-' in page.text
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page.text

    record_stage_run(
        session,
        cycle,
        "tally_reasons",
        FlowRunState.failed,
        prefect_flow_run_id="11111111-2222-3333-4444-555555555555",
        message="boom",
    )
    session.commit()
    last = client.get(url + "?live=1", headers=HX)
    assert "hx-trigger" not in last.text and "流程已运行结束" in last.text
    assert f'href="/cycles/{cycle.id}"' in last.text
    tallied = re.search(r'<tr class="stage-tallied">(.*?)</tr>', last.text, re.DOTALL).group(1)
    assert "流程未完成" in tallied and "boom" in tallied
    assert "refresh" not in client.get(f"/cycles/{cycle.id}").text


def test_a_fragment_after_the_session_ended_sends_the_page_to_log_in(client, surveying_cycle):
    r = client.get(
        f"/cycles/{surveying_cycle}/progress",
        headers={**HX, "HX-Current-URL": f"http://testserver/cycles/{surveying_cycle}?page=2"},
    )
    assert r.status_code == 204 and r.headers["hx-redirect"] == f"/login?next=/cycles/{surveying_cycle}"
    r = client.get(f"/cycles/{surveying_cycle}/progress")  # without htmx, as before
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def _open_task(session, cycle_id, assignee_id):
    return session.scalar(
        select(SurveyTask)
        .where(
            SurveyTask.cycle_id == cycle_id,
            SurveyTask.assignee_id == assignee_id,
            SurveyTask.status == SurveyStatus.open,
        )
        .order_by(SurveyTask.id)
    )


def test_reassign_from_the_cycle_page_swaps_the_row(client, session, surveying_cycle, staff):
    task = _open_task(session, surveying_cycle, staff("advisor1").id)
    advisor2 = staff("advisor2")
    login(client, "supervisor")
    back = f"/cycles/{surveying_cycle}?page=1"
    r = client.post(f"/tasks/{task.id}/reassign", data={"assignee_id": advisor2.id, "back": back}, headers=HX)
    assert r.status_code == 200 and is_fragment(r)
    assert r.text.lstrip().startswith(f'<tr id="task-{task.id}"')
    assert re.search(rf'<option value="{advisor2.id}" selected>', r.text)
    assert f'<input type="hidden" name="back" value="{back}">' in r.text
    # out of band, in a template (the answer starts with a table row): the board and the message
    oob = r.text[r.text.index("<template>") :]
    assert '<section id="board" hx-swap-oob="true">' in oob
    assert re.search(
        r'<div id="flashes" aria-live="polite" hx-swap-oob="innerHTML">\s*<p class="flash ok" role="status">任务已改派',
        oob,
    )
    session.expire_all()
    assert session.get(SurveyTask, task.id).assignee_id == advisor2.id
    assert "任务已改派" not in client.get(back).text  # the message was shown by the partial update

    # an advisor who cannot take it: 422 with the row as it was and the error in the status region
    r = client.post(
        f"/tasks/{task.id}/reassign", data={"assignee_id": staff("supervisor").id, "back": back}, headers=HX
    )
    assert r.status_code == 422 and r.text.lstrip().startswith(f'<tr id="task-{task.id}"')
    assert re.search(rf'<option value="{advisor2.id}" selected>', r.text)
    assert 'class="flash error" role="alert"' in r.text

    # without JavaScript: the form posts and redirects back, as before
    r = client.post(f"/tasks/{task.id}/reassign", data={"assignee_id": staff("advisor1").id, "back": back})
    assert r.status_code == 303 and r.headers["location"] == back
    assert "任务已改派" in client.get(back).text


def test_recording_an_attempt_swaps_the_attempts_section(client, session, surveying_cycle, staff):
    task = _open_task(session, surveying_cycle, staff("advisor1").id)
    login(client, "advisor1")
    page = client.get(f"/tasks/{task.id}").text
    version = int(re.search(r'id="survey-version" name="version" value="(\d+)"', page).group(1))
    assert f'hx-post="/tasks/{task.id}/attempts"' in page

    # "call back tomorrow" changes the task (its follow-up time), so its version moves on
    r = client.post(
        f"/tasks/{task.id}/attempts",
        headers=HX,
        data={
            "method": "phone",
            "outcome": "call_back",
            "call_back_at": "2026-11-03T10:00",
            "note": "明天再打",
            "version": version,
        },
    )
    assert r.status_code == 200 and is_fragment(r)
    assert r.text.count("<li>") == 1 and "明天再打" in r.text
    new_version = int(
        re.search(r'id="survey-version" name="version" value="(\d+)" hx-swap-oob="true"', r.text).group(1)
    )
    assert new_version > version  # the survey form on the page gets the task's new version
    assert re.search(
        r'<div id="flashes" aria-live="polite" hx-swap-oob="innerHTML">\s*<p class="flash ok" role="status">已保存',
        r.text,
    )

    # a mistake: 422, the section again with the error and the input kept, nothing written
    r = client.post(
        f"/tasks/{task.id}/attempts",
        headers=HX,
        data={"method": "phone", "outcome": "call_back", "note": "稍后", "version": new_version},
    )
    assert r.status_code == 422 and is_fragment(r) and 'role="alert"' in r.text
    assert r.text.count("<li>") == 1 and 'value="稍后"' in r.text

    # the survey can still be saved with the version the partial update brought
    r = client.post(
        f"/tasks/{task.id}/close", data={"action": "save", "notes": "草稿", "version": new_version}
    )
    assert r.status_code == 303

    # a stale version (the page was old): 409 with the section brought up to date
    r = client.post(
        f"/tasks/{task.id}/attempts",
        headers=HX,
        data={"method": "phone", "outcome": "no_answer", "version": version},
    )
    assert r.status_code == 409 and 'role="alert"' in r.text and r.text.count("<li>") == 1

    # without JavaScript: post and redirect, as before
    current = int(
        re.search(
            r'id="survey-version" name="version" value="(\d+)"', client.get(f"/tasks/{task.id}").text
        ).group(1)
    )
    r = client.post(
        f"/tasks/{task.id}/attempts", data={"method": "phone", "outcome": "busy", "version": current}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{task.id}"


def test_an_attempt_that_closes_the_task_sends_the_whole_page(client, session, surveying_cycle, staff):
    task = _open_task(session, surveying_cycle, staff("advisor1").id)
    login(client, "advisor1")
    r = client.post(
        f"/tasks/{task.id}/attempts", headers=HX, data={"method": "phone", "outcome": "do_not_call"}
    )
    assert r.status_code == 204 and r.headers["hx-redirect"] == f"/tasks/{task.id}"
    assert "已保存" in client.get(f"/tasks/{task.id}").text  # the message waits for that page
