"""The supervisor's list of a cycle's tasks and the manager's list of its targets: the order each
shows, and a page of it read from an index in that order instead of the whole cycle sorted for
every page (issue 20: ~12 and ~16 ms of PostgreSQL's CPU a page at 50,000 tasks)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from tests.pages import login
from tests.test_query_plans import plan_nodes, selects_run
from winback import clock
from winback.accounts.models import Staff
from winback.cycles import service as cycles
from winback.cycles.models import Target
from winback.evaluation.my_day import my_day
from winback.surveys import service as surveys
from winback.surveys.models import SurveyStatus, SurveyTask
from winback.surveys.task_view import task_views, view_of


def plan_steps(session, statement: str, parameters, *, avoid: tuple[str, ...]) -> list:
    """The statement's plan: SQLite's ``EXPLAIN QUERY PLAN`` details, or PostgreSQL's plan
    nodes with the planner asked to avoid ``avoid`` (``enable_<name> = off``) wherever it can."""
    raw = session.connection().connection.dbapi_connection
    if session.get_bind().dialect.name == "sqlite":
        return [detail for *_, detail in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)]
    with raw.cursor() as cur:
        for name in avoid:
            cur.execute(f"SET LOCAL enable_{name} = off")
        try:
            cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = cur.fetchone()[0]
        finally:
            for name in avoid:
                cur.execute(f"SET LOCAL enable_{name} = on")
    return list(plan_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))


def sorts(session, statement: str, parameters) -> list[str]:
    """The steps of the statement's plan that sort rows (SQLite's temporary b-tree for the
    ORDER BY; PostgreSQL's sort nodes, asked to avoid sorting wherever an index can serve)."""
    steps = plan_steps(session, statement, parameters, avoid=("sort",))
    if session.get_bind().dialect.name == "sqlite":
        return [detail for detail in steps if "TEMP B-TREE" in detail]
    return [n["Node Type"] for n in steps if "Sort" in n["Node Type"]]


def test_the_supervisors_list_shows_overdue_then_open_then_closed_from_its_index(session, surveying_cycle):
    tasks = list(session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle)))
    assert len(tasks) >= 30
    now = clock.now()
    # Shape the list: some tasks overdue, some closed in each way, due dates spread both sides
    # of now (written directly: the order, not the closing, is under test).
    for i, task in enumerate(tasks):
        values = {"due_at": now + timedelta(hours=(i * 37) % 200 - 100)}
        if i % 5 == 1:
            values["status"] = SurveyStatus.done
        elif i % 7 == 2:
            values["status"] = SurveyStatus.excluded
        session.execute(update(SurveyTask).where(SurveyTask.id == task.id).values(**values))
    session.flush()
    session.expire_all()

    def rank(t: SurveyTask) -> tuple:
        if t.status == SurveyStatus.open:
            return (0 if t.due_at < now else 1, t.due_at, t.id)
        return (2, t.due_at, t.id)

    everything = surveys.cycle_tasks_page(session=session, cycle_id=surveying_cycle, page_size=None)
    expected = sorted(everything.items, key=rank)
    assert [rank(t)[0] for t in expected].count(0) >= 3  # overdue ones are there
    assert [rank(t)[0] for t in expected].count(2) >= 6  # and closed ones
    assert [t.id for t in everything.items] == [t.id for t in expected]

    with selects_run(session, lambda statement: "LIMIT" in statement) as seen:
        page = surveys.cycle_tasks_page(session=session, cycle_id=surveying_cycle, page_size=10, offset=5)
    assert [t.id for t in page.items] == [t.id for t in expected[5:15]]
    assert page.total == len(expected)
    (statement, parameters) = next((s, p) for s, p in seen if "survey_tasks" in s.split("FROM")[1])
    assert sorts(session, statement, parameters) == []


def test_the_managers_targets_rank_by_priority_then_spend_from_their_index(session, surveying_cycle):
    targets = list(session.scalars(select(Target).where(Target.cycle_id == surveying_cycle)))
    # Some targets not (yet) ranked by the model: they come after every ranked one.
    for target in targets[::4]:
        target.priority = None
    session.flush()

    def rank(t: Target) -> tuple:
        return (t.priority is None, -(t.priority or 0), -t.total_spend, t.id)

    expected = sorted(targets, key=rank)
    with selects_run(session, lambda statement: "LIMIT" in statement) as seen:
        page, total = cycles.targets_of(session=session, cycle_id=surveying_cycle, offset=3, limit=12)
    assert total == len(targets)
    assert [t.id for t in page] == [t.id for t in expected[3:15]]
    assert page[-1].priority is not None and expected[-1].priority is None
    by_id = {t.id: t for t in targets}
    for line in page:  # each line names its own customer and vehicle
        t = by_id[line.id]
        assert (line.customer, line.vin, line.plate, line.band) == (
            t.customer.name,
            t.vehicle.vin,
            t.vehicle.plate,
            t.band,
        )
    (statement, parameters) = next(
        (s, p) for s, p in seen if s.split("FROM")[1].strip().startswith("targets")
    )
    assert sorts(session, statement, parameters) == []


def read_from_index_alone(session, statement: str, parameters) -> list[str]:
    """How the statement's plan reads ``survey_tasks``: each step that reads it, and whether it
    reads the index alone (SQLite's "COVERING INDEX", PostgreSQL's index-only scan, asked to
    avoid the table and its bitmaps wherever an index can serve)."""
    steps = plan_steps(session, statement, parameters, avoid=("seqscan", "bitmapscan"))
    if session.get_bind().dialect.name == "sqlite":
        steps = [d for d in steps if " survey_tasks" in f" {d}"]
        return [("index alone: " if "COVERING INDEX" in d else "table: ") + d for d in steps]
    return [
        ("index alone: " if n["Node Type"] == "Index Only Scan" else "table: ")
        + f"{n['Node Type']} {n.get('Index Name', '')}"
        for n in steps
        if n.get("Relation Name") == "survey_tasks"
    ]


def test_the_advisors_list_and_day_and_the_progress_board_read_the_tasks_index_alone(
    session, surveying_cycle
):
    """Migration 0045: an advisor's ~2,000 tasks were fetched one by one from the table for
    each list (5 ms of PostgreSQL's time at 50,000 open tasks), and the board scanned the
    whole table."""
    advisor_id = session.scalar(select(SurveyTask.assignee_id).where(SurveyTask.cycle_id == surveying_cycle))
    advisor = session.get(Staff, advisor_id)
    with selects_run(session, lambda s: "survey_tasks" in s) as seen:
        page = surveys.my_tasks_page(
            session=session, advisor_id=advisor_id, offset=0, page_size=10, count=False
        )
        my_day(session=session, advisor=advisor)
        board = surveys.progress(session=session, cycle_id=surveying_cycle)
    assert page.items and board
    list_ids = next(
        (s, p) for s, p in seen if "LIMIT" in s and s.split("FROM")[1].strip().startswith("survey_tasks ")
    )
    day_counts = next((s, p) for s, p in seen if "FILTER" in s and "closed_at" in s)
    board_counts = next(
        (s, p) for s, p in seen if "GROUP BY survey_tasks.assignee_id, survey_tasks.status" in s
    )
    for statement, parameters in (list_ids, day_counts, board_counts):
        steps = read_from_index_alone(session, statement, parameters)
        assert steps and all(step.startswith("index alone") for step in steps), (statement, steps)


def test_a_task_read_as_lines_is_the_task_as_loaded(session, surveying_cycle, staff, client):
    """``task_views`` (the supervisor's list, the API's task) and ``view_of`` (a task just
    changed) give the same view, reasons and attempts included, in the page's order; the
    API's list shows each task as the task's own answer does."""
    tasks = list(session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle)))
    closed, tried, answered = tasks[0], tasks[1], tasks[2]
    for task, outcome in ((tried, "no_answer"), (tried, "busy")):
        surveys.record_attempt(
            session=session,
            task_id=task.id,
            method="phone",
            outcome=outcome,
            note=f"{outcome} 下午再打",
            actor_staff=task.assignee,
        )
    surveys.close_task(
        session=session,
        task_id=closed.id,
        contact_outcome="reached",
        reason_codes_=["too_far", "high_price"],
        serviced_elsewhere=True,
        elsewhere_where="路边店",
        actor_staff=closed.assignee,
    )
    surveys.save_draft(
        session=session,
        task_id=answered.id,
        reason_codes_=["high_price"],
        notes="草稿",
        actor_staff=answered.assignee,
    )
    session.commit()
    session.expire_all()

    ids = [t.id for t in tasks[:6]][::-1]
    views = task_views(session, ids + [10**9])  # an id of no task is left out
    assert [v.id for v in views] == ids
    by_id = {v.id: v for v in views}
    assert by_id[closed.id].reasons == ("too_far", "high_price")
    assert [a.outcome for a in by_id[tried.id].attempts] == ["no_answer", "busy"]
    assert by_id[closed.id].elsewhere_where == "路边店" and by_id[answered.id].notes == "草稿"
    for task_id in ids:
        assert by_id[task_id] == view_of(surveys.get_task(session=session, task_id=task_id))

    # A close that keeps the draft's reason and adds one shows them as a later read does.
    again = surveys.close_task(
        session=session,
        task_id=answered.id,
        contact_outcome="reached",
        reason_codes_=["too_far", "high_price"],
        actor_staff=answered.assignee,
    )
    assert (
        view_of(again).reasons == task_views(session, [answered.id])[0].reasons == ("high_price", "too_far")
    )
    session.commit()

    login(client, "supervisor")
    page = client.get(f"/api/cycles/{surveying_cycle}/tasks", params={"limit": 500}).json()
    assert page["total"] == len(page["items"]) == len(tasks)
    for item in page["items"]:
        if item["id"] in ids:
            assert client.get(f"/api/tasks/{item['id']}").json() == item
