"""Words on the staff pages (issue 18): what a clerk reads is a sentence in their language, the
codes behind 详情; the supervisor's hand-over names who takes the work; the cycle's tasks filter
by advisor; a form's length limit is said in Chinese."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from tests.pages import login, record_stage_run
from winback.accounts.models import Staff
from winback.cycles.models import FlowRunState, MonthlyCycle
from winback.plans import service as plans
from winback.surveys.models import SurveyStatus, SurveyTask

RUN_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def _open_tasks(session, cycle_id: int, advisor_id: int) -> int:
    return session.scalar(
        select(func.count(SurveyTask.id)).where(
            SurveyTask.cycle_id == cycle_id,
            SurveyTask.assignee_id == advisor_id,
            SurveyTask.status == SurveyStatus.open,
        )
    )


def test_flow_runs_and_cleanup_in_words_codes_behind_details(session, surveying_cycle, client):
    cycle = session.get(MonthlyCycle, surveying_cycle)
    record_stage_run(session, cycle, "assign_surveys", FlowRunState.completed, prefect_flow_run_id=RUN_ID)
    # a run's message is the program's own text (an exception's, the lease's): behind 详情 too
    why = "the cycles of these stores did not complete: store 1 (Crashed)"
    record_stage_run(session, cycle, "screen_targets", FlowRunState.failed, message=why)
    cycle.cleanup = {"customers": 240, "vehicles": 240, "phones_changed": 29, "vins_changed": 3}
    session.commit()
    login(client, "admin")
    page = client.get(f"/cycles/{cycle.id}").text
    shown = re.sub(r"<details[^>]*>.*?</details>", "", page, flags=re.S)  # read without a click
    assert "分配回访任务" in shown and "assign_surveys" not in shown and RUN_ID not in shown
    assert RUN_ID in page  # behind 详情
    assert why not in shown and why in page and "失败" in shown
    assert "共检查 240 位客户、240 辆车；更正了 29 个电话号码和 3 个车架号。" in shown
    assert "customers=240" not in shown and "phones_changed" not in shown
    # English: no code either
    page = client.get(f"/cycles/{cycle.id}?lang=en").text
    shown = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    assert "Assign the surveys" in shown and "assign_surveys" not in shown
    assert "at_risk" not in shown and "At risk" in shown


def test_audit_timeline_says_what_happened(session, surveying_cycle, staff, client):
    login(client, "auditor")
    page = client.get(f"/audit/cycle/{surveying_cycle}").text.split("<main>")[1]
    shown = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    assert "本月循环已启动" in shown and "回访任务已分配给服务顾问" in shown
    assert "cycle.started" not in shown and '{"' not in shown  # codes and JSON only behind 详情
    assert "cycle.started" in page


def test_hand_over_to_a_chosen_advisor_and_filter_by_advisor(session, surveying_cycle, staff, client):
    advisor1, advisor2 = staff("advisor1"), staff("advisor2")
    had = _open_tasks(session, surveying_cycle, advisor1.id)
    before2 = _open_tasks(session, surveying_cycle, advisor2.id)
    assert had > 0
    login(client, "supervisor")
    page = client.get(f"/cycles/{surveying_cycle}").text
    assert 'data-select-all="task_ids"' in page and 'name="to_staff_id"' in page
    assert "data-confirm=" in page and "已联系上（占分配客户）" in page and "接通率" not in page
    # the list filtered by advisor shows that advisor's tasks only
    page = client.get(f"/cycles/{surveying_cycle}?assignee={advisor2.id}").text
    rows = re.findall(r'<tr id="task-(\d+)"', page)
    assert rows and all(session.get(SurveyTask, int(t)).assignee_id == advisor2.id for t in rows)
    r = client.post(
        f"/staff/{advisor1.id}/hand-over",
        data={"back": f"/cycles/{surveying_cycle}", "to_staff_id": str(advisor2.id)},
    )
    assert r.status_code == 303
    session.expire_all()
    assert _open_tasks(session, surveying_cycle, advisor1.id) == 0
    assert _open_tasks(session, surveying_cycle, advisor2.id) == before2 + had
    assert session.get(Staff, advisor1.id).active  # the supervisor hands over; an admin deactivates


def test_a_length_limit_is_said_in_chinese(session, planning_cycle, staff, client):
    plan = plans.current_plan(session=session, cycle_id=planning_cycle)
    plans.submit_plan(session=session, plan_id=plan.id, actor_staff=staff("manager"))
    session.commit()
    login(client, "manager")
    r = client.post(f"/plans/{plan.id}/decide", data={"decision": "reject", "comment": "太" * 4001})
    assert r.status_code == 200 and "内容太长：最多 4000 个字" in r.text
    assert "String should have" not in r.text
