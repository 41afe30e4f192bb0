"""Plans that cannot go quadratic (issue 17): every statement that reads the repair orders
during screening, profile analysis, assignment, the churn alarm, the red-line digest and the
evaluation is explained on a fresh database with no statistics (SQLite's ``EXPLAIN QUERY
PLAN``, PostgreSQL's ``EXPLAIN``), and none may walk the store's history once per car.

A statement fails the check when it
* reads ``service_visits`` through the store-wide ``(store_id, visit_date)`` index (the plan
  that made screening quadratic: per car, the store's history back to the car's last visit);
* evaluates a correlated sub-query over ``service_visits`` once per row;
* scans ``service_visits`` in full on the inner side of a loop (once per outer row);
* reads ``service_visits`` other than by primary key without the per-vehicle index
  ``(vehicle_id, visit_date)`` (SQLite; on PostgreSQL, asked to prefer indexes, where the
  store's own range of the store-wide index, read once outside any loop, is the plan meant:
  the per-vehicle passes are grouped over it first there).
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, text

from db.session import refresh_statistics
from tests.test_imports import _archive, run, store  # noqa: F401  (store: a fixture)
from winback import clock
from winback.accounts.models import Store
from winback.actor import Actor
from winback.analytics import alarm, redline
from winback.customers import visits as vehicle_visits
from winback.customers.models import ServiceVisit, Vehicle
from winback.cycles import profiles, screening
from winback.cycles import service as cycles
from winback.evaluation import my_day
from winback.evaluation import service as evaluation
from winback.surveys import service as surveys

VEHICLE_INDEX = "ix_service_visits_vehicle_date"
STORE_INDEX = "ix_service_visits_store_date"
PRIMARY_KEYS = ("pk_service_visits", "service_visits_pkey")


@contextmanager
def selects_run(session, keep=lambda statement: True):
    """Collect (statement, parameters) of every SELECT run inside the block that ``keep``
    accepts (tests/test_list_order.py uses it too)."""
    seen: list[tuple[str, object]] = []
    engine = session.get_bind()

    def before(conn, cursor, statement, parameters, context, executemany):
        if not executemany and statement.lstrip().upper().startswith("SELECT") and keep(statement):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def reading_visits(session):
    """Collect (statement, parameters) of every SELECT that reads ``service_visits``."""
    return selects_run(session, lambda statement: "service_visits" in statement)


# ---- SQLite ------------------------------------------------------------------------------


def sqlite_problems(session, statement: str, parameters, *, fresh: bool) -> list[str]:
    raw = session.connection().connection.dbapi_connection
    rows = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
    names = {"service_visits", *re.findall(r"service_visits AS (\w+)", statement)}
    touches = re.compile(r"^(SCAN|SEARCH) (\w+)")
    children: dict[int, list[tuple[int, str]]] = {}
    for node, parent, _, detail in rows:
        children.setdefault(parent, []).append((node, detail))

    def subtree_reads_visits(node: int) -> bool:
        for child, detail in children.get(node, []):
            m = touches.match(detail)
            if (m and m.group(2) in names) or subtree_reads_visits(child):
                return True
        return False

    problems = []
    reads_other_than_by_key = uses_vehicle_index = False
    for siblings in children.values():
        loop = 0
        for node, detail in siblings:
            m = touches.match(detail)
            if detail.startswith("CORRELATED") and subtree_reads_visits(node):
                problems.append(f"per-row sub-query over the repair orders: {detail}")
            if not m:
                continue
            loop += 1
            if m.group(2) not in names:
                continue
            if STORE_INDEX in detail and (fresh or loop > 1):
                problems.append(f"store-wide index: {detail}")
            if m.group(1) == "SCAN" and loop > 1:
                problems.append(f"full scan inside a loop: {detail}")
            if "INTEGER PRIMARY KEY" not in detail:
                reads_other_than_by_key = True
                uses_vehicle_index |= VEHICLE_INDEX in detail
    if fresh and reads_other_than_by_key and not uses_vehicle_index:
        problems.append("the repair orders are read without the per-vehicle index")
    return problems


# ---- PostgreSQL --------------------------------------------------------------------------


# Nodes that keep their input: rescanned by a loop without new parameters, they replay it
# instead of running the scan below them again.
_KEEPS_ITS_INPUT = {"Sort", "Hash", "Materialize"}


def plan_nodes(plan: dict):
    yield plan
    for kid in plan.get("Plans", []):
        yield from plan_nodes(kid)


def _parameterised(plan: dict) -> bool:
    """Whether the subtree depends on the outer row (a condition naming a relation that is
    not scanned inside it)."""
    inside = {n.get("Alias") for n in plan_nodes(plan)}
    for node in plan_nodes(plan):
        for key in ("Index Cond", "Filter", "Join Filter", "Hash Cond", "Recheck Cond"):
            for alias in re.findall(r"\b(\w+)\.\w+", node.get(key, "")):
                if alias not in inside:
                    return True
    return False


def _nodes(plan: dict, relationship: str = "", inner_of_loop: bool = False):
    """Every node of the plan with its relationship to its parent and whether it runs once
    per row of a nested loop's outer side."""
    yield plan, relationship, inner_of_loop
    for kid in plan.get("Plans", []):
        inner = inner_of_loop or (
            plan["Node Type"] == "Nested Loop" and kid.get("Parent Relationship") == "Inner"
        )
        keeps = kid["Node Type"] in _KEEPS_ITS_INPUT or kid.get("Strategy") == "Hashed"
        if keeps and not _parameterised(kid):
            inner = False
        yield from _nodes(kid, kid.get("Parent Relationship", ""), inner)


def _reads_visits(plan: dict) -> bool:
    return any(n.get("Relation Name") == "service_visits" for n in plan_nodes(plan))


def postgres_problems(session, statement: str, parameters) -> list[str]:
    raw = session.connection().connection.dbapi_connection
    with raw.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = cur.fetchone()[0][0]["Plan"]
        cur.execute("SET LOCAL enable_seqscan = off")
        try:
            cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            prefer_indexes = cur.fetchone()[0][0]["Plan"]
        finally:
            cur.execute("SET LOCAL enable_seqscan = on")
    if isinstance(plan, str):  # some drivers hand back the JSON text
        plan, prefer_indexes = json.loads(plan), json.loads(prefer_indexes)
    problems = []
    for node, relationship, inner in _nodes(plan):
        if node.get("Index Name") == STORE_INDEX and inner:
            problems.append(f"store-wide index: {node['Node Type']}")
        if (
            relationship == "SubPlan"
            and node.get("Subplan Name", "").startswith("SubPlan")
            and _reads_visits(node)
        ):
            problems.append(f"per-row sub-plan over the repair orders: {node.get('Subplan Name')}")
        if inner and node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "service_visits":
            problems.append("full scan of the repair orders inside a nested loop")
    for node, _, inner in _nodes(prefer_indexes):
        name = node.get("Index Name")
        if node.get("Relation Name") == "service_visits" and name not in (None, VEHICLE_INDEX, *PRIMARY_KEYS):
            if name == STORE_INDEX and not inner:
                continue  # the store's own range, read once (winback.customers.visits, PostgreSQL)
            problems.append(f"indexed by {node['Index Name']}, not per vehicle")
    return problems


def plan_problems(session, statement: str, parameters, *, fresh: bool = True) -> list[str]:
    """What is wrong with the statement's plan. ``fresh``: on a database without statistics
    (SQLite) the repair orders must be read per vehicle; with statistics the planner may
    prefer a range of the store-wide index as the outer loop of a windowed query (linear,
    one pass), never inside a loop."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite_problems(session, statement, parameters, fresh=fresh)
    return postgres_problems(session, statement, parameters)


def _no_statistics(session) -> None:
    """SQLite gathers none until ``ANALYZE``; a migrated test database has had none run on
    data. (PostgreSQL's autovacuum may have analysed the shared test database in an earlier
    test: its check runs on whatever statistics there are.)"""
    if session.get_bind().dialect.name == "sqlite":
        assert not _statistics_of(session, "service_visits") and not _statistics_of(session, "vehicles")


# ---- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("statistics", ["none", "current"])
def test_every_query_on_the_repair_orders_is_linear(session, demo_store, staff, statistics):
    if statistics == "none":
        _no_statistics(session)
    else:
        refresh_statistics(session)
    actor = Actor.person(staff("admin"))
    store = session.get(Store, demo_store)
    with reading_visits(session) as seen:
        cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
        result = screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
        profiles.analyze_profiles(session=session, cycle_id=cycle.id, actor=actor)
        surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)
        # the advisor's own line above "my tasks": their customers' last repair orders
        day = my_day.my_day(session=session, advisor=staff("advisor1"))
        alarm.churn_alarm(session=session, store_id=store.id)
        redline.redline_crossings(
            session=session, store_id=store.id, since=clock.today() - timedelta(days=7), until=clock.today()
        )
        evaluation.evaluate_cycle(session=session, cycle_id=cycle.id, actor=actor)
    assert result["total"] > 0 and day.assigned > 0
    statements = dict(seen)
    # screening's one read (totals and last repair order), the profile, the alarm, the digest
    # and the KPIs (two of which may be one statement text)
    assert len(statements) >= 4
    fresh = statistics == "none"
    found = {s[:120]: plan_problems(session, s, p, fresh=fresh) for s, p in statements.items()}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_check_catches_the_per_car_walk(session, demo_store):
    """The old shape (a correlated sub-query with the redundant store condition, ordered by
    date) is what the check exists for: it must be refused, so the test above can fail."""
    store_id = demo_store
    old = (
        select(ServiceVisit.id)
        .where(
            ServiceVisit.vehicle_id == Vehicle.id,
            ServiceVisit.store_id == store_id,
            ServiceVisit.visit_date <= date(2026, 11, 2),
        )
        .order_by(ServiceVisit.visit_date.desc(), ServiceVisit.id.desc())
        .limit(1)
        .correlate(Vehicle)
        .scalar_subquery()
    )
    stmt = select(Vehicle.id, old).where(Vehicle.store_id == store_id)
    with reading_visits(session) as seen:
        session.execute(stmt).all()
    assert seen and plan_problems(session, *seen[0])


@pytest.mark.parametrize("with_statistics", [False, True])
def test_last_visits_match_the_per_car_answer(session, demo_store, with_statistics):
    """The grouped last repair order is the one ordering each car's history by date, then id."""
    if with_statistics:
        refresh_statistics(session)
    as_of = clock.today()
    postgresql = session.get_bind().dialect.name == "postgresql"
    last = vehicle_visits.last_visits(store_id=demo_store, as_of=as_of, postgresql=postgresql)
    grouped = {
        v: (d, i)
        for v, d, i in session.execute(select(last.c.vehicle_id, last.c.last_visit, last.c.visit_id))
    }
    expected: dict[int, tuple[date, int]] = {}
    for vehicle_id, visit_date, visit_id in session.execute(
        select(ServiceVisit.vehicle_id, ServiceVisit.visit_date, ServiceVisit.id)
        .where(ServiceVisit.store_id == demo_store, ServiceVisit.visit_date <= as_of)
        .order_by(ServiceVisit.vehicle_id, ServiceVisit.visit_date, ServiceVisit.id)
    ):
        expected[vehicle_id] = (visit_date, visit_id)
    assert grouped == expected and len(grouped) > 100


def _statistics_of(session, table: str) -> int:
    if session.get_bind().dialect.name == "sqlite":
        if not session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
            return 0
        return session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = :t"), {"t": table})
    return session.scalar(text("SELECT count(*) FROM pg_stats WHERE tablename = :t"), {"t": table})


def test_an_import_leaves_the_statistics_current(session, store):
    """SQLite never gathers statistics by itself: an import of repair orders does. PostgreSQL
    gathers its own (autovacuum); the migrations analyse it once the schema changed."""
    if session.get_bind().dialect.name == "sqlite":
        assert not _statistics_of(session, "service_visits")
        _archive(session, store)
        run(session, store, "visits", "visits.csv")
        assert _statistics_of(session, "service_visits") > 0 and _statistics_of(session, "vehicles") > 0
    else:
        analysed = session.scalar(
            text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'service_visits'")
        )
        assert analysed


@pytest.mark.parametrize("with_statistics", [False, True])
def test_both_shapes_of_the_per_vehicle_passes_agree(session, demo_store, with_statistics):
    """PostgreSQL's shape (the store's range grouped first) gives what the per-vehicle shape
    gives, figure for figure, and the last repair order taken in the same pass is the right one."""
    if with_statistics:
        refresh_statistics(session)
    as_of = clock.today()
    postgresql = session.get_bind().dialect.name == "postgresql"

    def read(sub) -> set[tuple]:
        return {tuple(r) for r in session.execute(select(*sub.c))}

    for kwargs in ({}, {"maintenance": "保养"}):
        per_vehicle = read(vehicle_visits.totals(store_id=demo_store, as_of=as_of, **kwargs))
        grouped_first = read(
            vehicle_visits.totals(store_id=demo_store, as_of=as_of, postgresql=True, **kwargs)
        )
        assert per_vehicle == grouped_first and len(per_vehicle) > 100
    assert read(vehicle_visits.last_visit_dates(store_id=demo_store, as_of=as_of)) == read(
        vehicle_visits.last_visit_dates(store_id=demo_store, as_of=as_of, postgresql=True)
    )
    # The last repair order taken in the totals' own pass (PostgreSQL: a max over a bigint
    # packing the day and the id; SQLite: a max over "date|id" strings) is the one the
    # two-pass last_visits finds: the latest date, then the highest id, also when a car came
    # twice on its last day and the ids differ in their number of digits, and for repair
    # orders dated before PostgreSQL's day zero (2000-01-01: negative days).
    car, old_car = session.scalars(
        select(Vehicle).where(Vehicle.store_id == demo_store).order_by(Vehicle.id).limit(2)
    )
    old_day = date(1999, 12, 31)
    for target, ro_id, day in (
        (car, 9_999_998, as_of),  # as plain text, "9999998" sorts last
        (car, 10_000_001, as_of),
        (car, 999_999, as_of),
        (old_car, 20_000_001, old_day),
        (old_car, 20_000_003, old_day - timedelta(days=1)),  # the highest id, on an earlier day
        (old_car, 20_000_002, old_day),
    ):
        session.add(
            ServiceVisit(
                id=ro_id,
                store_id=demo_store,
                ro_number=f"TIE{ro_id}",
                vehicle_id=target.id,
                customer_id=target.customer_id,
                visit_date=day,
                category="保养",
                created_at=clock.now(),
            )
        )
    session.flush()
    before_2000 = vehicle_visits.totals(
        store_id=demo_store, as_of=old_day, last_order=True, postgresql=postgresql
    )
    assert [tuple(r) for r in session.execute(select(before_2000.c.vehicle_id, before_2000.c.visit_id))] == [
        (old_car.id, 20_000_002)
    ]
    last = vehicle_visits.last_visits(store_id=demo_store, as_of=as_of)
    last_by_car = {
        (r.vehicle_id, r.visit_id) for r in session.execute(select(last.c.vehicle_id, last.c.visit_id))
    }
    assert (car.id, 10_000_001) in last_by_car
    with_last = read(
        vehicle_visits.totals(store_id=demo_store, as_of=as_of, last_order=True, postgresql=postgresql)
    )
    assert {(r[0], r[-1]) for r in with_last} == last_by_car
    plain = read(vehicle_visits.totals(store_id=demo_store, as_of=as_of, postgresql=postgresql))
    assert {r[:-1] for r in with_last} == plain
    if postgresql:
        assert read(last) == read(
            vehicle_visits.last_visits(store_id=demo_store, as_of=as_of, postgresql=True)
        )


def test_an_array_look_up_is_planned_for_its_values(session, demo_store):
    """``one_of``'s array parameter on PostgreSQL: its statement is planned for its values
    (psycopg prepares a statement run five times; a generic plan tested a cycle's 22,000
    customer ids row by row over a group's tasks, for minutes), and only that statement: a bulk
    insert later in the transaction keeps the plans of its rows' foreign-key checks (planned
    again per row, 22,000 tasks took 0.7 s more)."""
    from db.bulk import FOR_VALUES, one_of

    postgresql = session.get_bind().dialect.name == "postgresql"
    during: list[str] = []

    def look(conn, cursor, statement, *_args) -> None:  # after the engine's own listener
        if postgresql and FOR_VALUES in statement:
            during.append(cursor.connection.execute("SHOW plan_cache_mode").fetchone()[0])

    customers = list(session.scalars(select(Vehicle.customer_id).where(Vehicle.store_id == demo_store)))
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", look)
    try:
        for _ in range(7):  # past psycopg's threshold for preparing the statement
            found = session.scalars(
                select(ServiceVisit.id).where(one_of(session, ServiceVisit.customer_id, customers))
            ).all()
    finally:
        event.remove(engine, "before_cursor_execute", look)
    assert len(found) == session.scalar(
        select(func.count()).select_from(ServiceVisit).where(ServiceVisit.store_id == demo_store)
    )
    if not postgresql:
        return
    assert during == ["force_custom_plan"] * 7
    assert session.scalar(text("SHOW plan_cache_mode")) == "auto"  # the next statements, as before


def test_postgresql_compiles_no_statement_just_in_time(session):
    """Every connection of the app's engine runs with ``jit = off`` on PostgreSQL, set outside
    a transaction so that a rollback (the pool's, on every return) keeps it."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite has no JIT
    assert session.scalar(text("SHOW jit")) == "off"
    session.rollback()
    assert session.scalar(text("SHOW jit")) == "off"
    engine = session.get_bind()
    with engine.connect() as other:  # a second pooled connection, made after the first
        assert other.scalar(text("SHOW jit")) == "off"
