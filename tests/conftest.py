"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when asked), the demo
store on a frozen clock, the Prefect test harness and a real JSON webhook receiver.

PostgreSQL runs when ``WINBACK_TEST_POSTGRES_URL`` is set, e.g.
``WINBACK_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test``; every
database test then runs twice, ``test_x[sqlite]`` and ``test_x[postgres]``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before anything imports prefect or reads the settings (both read the environment once).
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "CRITICAL"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ["WINBACK_DATA_DIR"] = _DATA_DIR = tempfile.mkdtemp(prefix="winback-test-")
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)
# Nothing from the developer's shell may leak into the tests' settings.
for _name in ("WINBACK_DATABASE_URL", "WINBACK_NOW", "WINBACK_FALLBACK_NOTIFY_URL", "WINBACK_TIMEZONE"):
    os.environ.pop(_name, None)

import json  # noqa: E402
import sqlite3  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import db.migrate  # noqa: E402
import db.session  # noqa: E402
import winback.models  # noqa: E402,F401  (every table in Base.metadata)
from db.base import Base  # noqa: E402
from edge.audit_sealer import sealer  # noqa: E402
from winback import clock  # noqa: E402

POSTGRES_URL = os.environ.get("WINBACK_TEST_POSTGRES_URL", "").strip()
DEMO_NOW = "2026-11-02T09:00"

_DB_PARAMS = [pytest.param("sqlite", id="sqlite")]
if POSTGRES_URL:
    _DB_PARAMS.append(pytest.param("postgres", id="postgres"))


# ---- speed ------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 at production cost takes ~0.15 s a hash, most of the demo's load time.

    The tests hash with the cheapest Argon2 parameters instead; verification reads the
    parameters from the hash, so logging in works the same way.
    """
    from argon2 import PasswordHasher

    from winback.accounts import passwords

    saved = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    try:
        yield
    finally:
        passwords._hasher = saved


@pytest.fixture(autouse=True)
def _one_event_loop_for_test_clients() -> Iterator[None]:
    """Every Starlette ``TestClient`` request of a test runs on one event loop (one thread)
    started at the first request and stopped after the test.

    A client not entered as a context manager starts a thread with a new event loop for each
    request and stops it after: ~15 % of a test that makes a thousand requests. One loop for
    the test is also how the app runs in production (uvicorn). A client entered as a context
    manager keeps its own loop as before; the app's lifespan still runs only then.
    """
    from anyio.from_thread import start_blocking_portal
    from starlette.testclient import TestClient

    loops = ExitStack()
    portal = None
    own = TestClient._portal_factory

    @contextmanager
    def shared(self):
        nonlocal portal
        if self.portal is not None:
            yield self.portal
            return
        if portal is None:
            portal = loops.enter_context(start_blocking_portal(**self.async_backend))
        yield portal

    TestClient._portal_factory = shared
    try:
        with loops:
            yield
    finally:
        TestClient._portal_factory = own


# ---- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """One SQLite file migrated to head; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db.migrate.upgrade(f"sqlite:///{path}")
    # The migration bound the app's engine to the template: let go of it, fold the WAL into
    # the main file and leave a single self-contained file to copy.
    db.session.get_engine().dispose()
    _single_file(path)
    return path


def _single_file(path: Path) -> None:
    """Fold the WAL into the main file: a single self-contained file to copy."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()


def _worker_postgres_url(url: str) -> str:
    """Under pytest-xdist each worker gets its own database ``<base>_<worker>``."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    # Named after the base database, so two checkouts testing at once (test, h1…) never share one.
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_url() -> str:
    """The PostgreSQL test database, emptied and migrated to head once per session."""
    url = _worker_postgres_url(POSTGRES_URL)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            # A commit need not wait for the disk (the data is seen by every client as before;
            # only a crash of the machine could lose the last ones): the tests commit thousands
            # of times, ~4 ms each on this disk.
            conn.execute(text(f'ALTER DATABASE "{make_url(url).database}" SET synchronous_commit = off'))
    finally:
        engine.dispose()
    db.migrate.upgrade(url)
    return url


def _truncate_all(url: str) -> None:
    """Empty every table of the models (not ``alembic_version``) and reset the ids."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    own = db.session._url != url  # the test rebound the app's engine elsewhere
    engine = create_engine(url) if own else db.session.get_engine()
    try:
        with engine.begin() as conn:
            # A test that left a transaction open would otherwise make this wait for ever.
            conn.execute(text("SET LOCAL lock_timeout = '15s'"))
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        if own:
            engine.dispose()


@pytest.fixture(params=_DB_PARAMS)
def db_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty database; the app's engine (``db.session``) is bound to it.

    A test that asks for ``demo_store`` (or ``surveying_cycle``) gets the database already
    holding the demo store (or its cycle at the surveys): a copy of a snapshot this worker made
    the first time, instead of loading the demo again (seconds a test). See ``_snapshot_for``.

    Yields the SQLAlchemy URL. The clock override is cleared after the test.
    """
    wanted = _snapshot_for(request)
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        if wanted:
            template = _sqlite_snapshot(wanted, template, request.getfixturevalue("tmp_path_factory")).path
        path = tmp_path / "winback.db"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("_postgres_url")
        if wanted:
            _postgres_snapshot(wanted, url).restore(url)
    if wanted:
        request.node.stash[_LOADED] = _SNAPSHOTS[(request.param, wanted)].ids
        request.node.stash[_LOADED_NAME] = wanted
    db.session.configure(url)
    try:
        yield url
    finally:
        clock.set_now(None)
        # The web's audit events are chained by a thread after each request's commit
        # (edge.audit_sealer): it is done before the database is emptied or let go.
        sealer.wait_idle()
        if request.param == "postgres":
            _truncate_all(url)
        else:
            # Release the per-test file (the next test binds the engine to another one).
            db.session.get_engine().dispose()


# ---- snapshots of the demo store ------------------------------------------------------------
#
# Two of every three database tests start from the demo store, a third from its cycle at the
# surveys; building them takes seconds of a test's time. Each worker builds each starting point
# once, with the same code as the fixtures below always ran, and copies it for every test that
# asks for it: the SQLite file, or for PostgreSQL the rows of every table (COPY, kept in memory)
# and the sequences' positions. The test's database holds exactly what the fixture would have
# built (the password hashes' salts aside); only the ``session`` starts with nothing loaded.

_LOADED = pytest.StashKey[dict[str, Any]]()
_LOADED_NAME = pytest.StashKey[str]()


def _loaded(request, name: str) -> dict[str, Any] | None:
    """The ids of the snapshot the test's database started from if it holds ``name``'s state
    (``name`` or one built on it), else None: the fixture builds its state itself."""
    have = request.node.stash.get(_LOADED_NAME, None)
    while have is not None and have != name:
        have = _PARENT[have]
    return request.node.stash[_LOADED] if have else None


def _snapshot_for(request) -> str | None:
    """The snapshot the test starts from, if any (by the fixtures it uses)."""
    names = request.fixturenames
    for fixture, snapshot in _BY_FIXTURE:
        if fixture in names:
            return snapshot
    return None


def _load_demo(session: Session) -> dict[str, int]:
    from winback.demo import load_demo

    clock.set_now(DEMO_NOW)
    store = load_demo(session=session)
    session.commit()
    return {"store": store.id}


def _run_to_surveys(session: Session, store_id: int) -> int:
    """The demo store's 2026-11 cycle started by the admin, screened, profiled and assigned."""
    from sqlalchemy import select

    from winback.accounts.models import Staff, Store
    from winback.actor import Actor
    from winback.cycles import profiles, screening
    from winback.cycles import service as cycles
    from winback.surveys import service as surveys

    admin = session.scalar(select(Staff).where(Staff.username == "admin"))
    assert admin is not None
    actor = Actor.person(admin)
    store = session.get(Store, store_id)
    cycle, created = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    assert created
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    profiles.analyze_profiles(session=session, cycle_id=cycle.id, actor=actor)
    surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)
    session.commit()
    return cycle.id


def _plan_after_surveys(session: Session, cycle_id: int) -> None:
    """12 surveys of the cycle closed (reasons high_price / too_far alternating) at the clock's
    time, then one week later the reasons tallied and the plan drafted (the clock moves on)."""
    from datetime import timedelta

    from sqlalchemy import select

    from winback.accounts.models import Staff
    from winback.actor import Actor
    from winback.plans import service as plans
    from winback.surveys import service as surveys
    from winback.surveys.models import ContactMethod, SurveyTask

    tasks = list(
        session.scalars(select(SurveyTask).where(SurveyTask.cycle_id == cycle_id).order_by(SurveyTask.id))
    )
    for i, t in enumerate(tasks[:12]):
        surveys.close_task(
            contact_outcome="reached",
            session=session,
            task_id=t.id,
            method=ContactMethod.phone,
            reason_codes_=["high_price" if i % 2 == 0 else "too_far"],
            serviced_elsewhere=False,
            actor_staff=t.assignee,
        )
    session.commit()
    clock.set_now(clock.now() + timedelta(days=8))
    actor = Actor.person(session.scalar(select(Staff).where(Staff.username == "admin")))
    surveys.tally_reasons(session=session, cycle_id=cycle_id, actor=actor)
    plans.draft_plan(session=session, cycle_id=cycle_id, actor=actor)
    session.commit()


def _plan_care(session: Session, store_id: int) -> None:
    """One care pass over the store (as ``tests/test_care.py``'s system actor)."""
    from winback.actor import Actor
    from winback.care import planning

    planning.plan(session=session, store_id=store_id, actor=Actor.system(label="test"))
    session.commit()


def _build(name: str, session: Session, parent: dict[str, Any]) -> dict[str, Any]:
    """Build snapshot ``name`` on ``session``'s database, which holds its parent's rows; the
    clock is where the parent's fixture left it. ``now``: where this one leaves it."""
    clock.set_now(parent.get("now", DEMO_NOW))
    if name == "demo":
        ids = _load_demo(session)
    elif name == "surveying":
        ids = {**parent, "cycle": _run_to_surveys(session, parent["store"])}
    elif name == "planning":
        _plan_after_surveys(session, parent["cycle"])
        ids = dict(parent)
    else:
        assert name == "planned"
        _plan_care(session, parent["store"])
        ids = dict(parent)
    return {**ids, "now": clock.now()}


# The most built-upon first: a test that asks for ``planning_cycle`` starts from "planning".
_BY_FIXTURE = [
    ("planning_cycle", "planning"),
    ("planned_demo", "planned"),
    ("surveying_cycle", "surveying"),
    ("demo_store", "demo"),
]
_PARENT = {"demo": None, "surveying": "demo", "planning": "surveying", "planned": "demo"}


@dataclass
class _Snapshot:
    ids: dict[str, Any]
    path: Path | None = None  # SQLite: the file to copy
    # PostgreSQL: (table, its columns, COPY data); the columns are named because a test that
    # migrates down and up again may leave them in another order.
    tables: list[tuple[str, str, bytes]] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)

    def restore(self, url: str) -> None:
        """Load the rows into the (emptied) PostgreSQL database at ``url``."""
        engine = create_engine(url)
        try:
            raw = engine.raw_connection()
            try:
                conn = raw.driver_connection
                with conn.cursor() as cur:
                    for table, columns, data in self.tables:
                        with cur.copy(f'COPY "{table}" ({columns}) FROM STDIN (FORMAT binary)') as copy:
                            copy.write(data)
                    for seq, value in self.sequences.items():
                        cur.execute("SELECT setval(%s, %s, true)", (seq, value))
                conn.commit()
            finally:
                raw.close()
        finally:
            engine.dispose()


_SNAPSHOTS: dict[tuple[str, str], _Snapshot] = {}


def _session_on(url: str) -> Session:
    db.session.configure(url)
    return db.session.new_session()


def _sqlite_snapshot(name: str, template: Path, tmp_path_factory) -> _Snapshot:
    key = ("sqlite", name)
    if key not in _SNAPSHOTS:
        parent = _sqlite_snapshot(_PARENT[name], template, tmp_path_factory) if _PARENT[name] else None
        path = tmp_path_factory.mktemp(f"sqlite-{name}") / "snapshot.db"
        shutil.copyfile(parent.path if parent else template, path)
        s = _session_on(f"sqlite:///{path}")
        try:
            ids = _build(name, s, parent.ids if parent else {})
        finally:
            s.close()
            clock.set_now(None)
        db.session.get_engine().dispose()
        _single_file(path)
        _SNAPSHOTS[key] = _Snapshot(ids=ids, path=path)
    return _SNAPSHOTS[key]


def _postgres_snapshot(name: str, url: str) -> _Snapshot:
    """Built in the worker's (empty) database, read out, and the database emptied again."""
    key = ("postgres", name)
    if key not in _SNAPSHOTS:
        parent = _postgres_snapshot(_PARENT[name], url) if _PARENT[name] else None
        if parent:
            parent.restore(url)
        s = _session_on(url)
        try:
            ids = _build(name, s, parent.ids if parent else {})
        finally:
            s.close()
            clock.set_now(None)
        snap = _Snapshot(ids=ids)
        engine = create_engine(url)
        try:
            raw = engine.raw_connection()
            try:
                with raw.driver_connection.cursor() as cur:
                    for t in Base.metadata.sorted_tables:
                        columns = ", ".join(f'"{c.name}"' for c in t.columns)
                        buf = bytearray()
                        with cur.copy(f'COPY "{t.name}" ({columns}) TO STDOUT (FORMAT binary)') as copy:
                            for chunk in copy:
                                buf += chunk
                        snap.tables.append((t.name, columns, bytes(buf)))
                    cur.execute(
                        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value"
                        " FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                    )
                    snap.sequences = dict(cur.fetchall())
                raw.driver_connection.commit()
            finally:
                raw.close()
        finally:
            engine.dispose()
        _truncate_all(url)
        _SNAPSHOTS[key] = snap
    return _SNAPSHOTS[key]


SMALL_CSV_CELL = 150_000  # characters: the CSV reader's limit under ``small_csv_limit``


@pytest.fixture
def small_csv_limit(monkeypatch) -> Iterator[int]:
    """The CSV reader refuses a cell over ``SMALL_CSV_CELL`` characters (64 MB in use): a file
    with a longer one breaks where it is, as a damaged export does."""
    import csv

    from winback.customers import import_cells

    monkeypatch.setattr(import_cells, "CSV_READ_LIMIT", SMALL_CSV_CELL)
    limit = csv.field_size_limit(SMALL_CSV_CELL)
    try:
        yield SMALL_CSV_CELL
    finally:
        csv.field_size_limit(limit)


@pytest.fixture
def session(db_url) -> Iterator[Session]:
    """A session of the app's factory on the test database (closed, not committed, after)."""
    s = db.session.new_session()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def demo_store(request, session) -> int:
    """The demo store (S01, 240 customers) loaded on the clock frozen at 2026-11-02 09:00
    business time, committed. Returns the store id; the clock stays frozen for the test."""
    loaded = _loaded(request, "demo")
    if loaded is None:  # asked for by name in the test's body: load it here
        return _load_demo(session)["store"]
    clock.set_now(DEMO_NOW)
    return loaded["store"]


# ---- Prefect -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server (own SQLite database) for tests that run whole flows.

    Flow-run heartbeats are off: the heartbeat thread is joined at the end of every flow run
    and costs up to a second each; crash detection has no use in a test.
    """
    from prefect.testing.utilities import prefect_test_harness

    from flows.common import without_heartbeats

    with without_heartbeats():
        with prefect_test_harness(server_startup_timeout=90):
            yield


# ---- Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, through Playwright) for all the browser tests of a
    worker: each test opens its own contexts in it (cookies, storage and pages are per context).
    Starting it costs a second or two; it was once per module."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# ---- a real webhook receiver -------------------------------------------------------------


@dataclass
class Webhook:
    """A JSON HTTP receiver on 127.0.0.1 for Apprise's ``json://`` notifications.

    ``messages``: every POST body received (parsed JSON, in order), whatever the answer;
    ``requests``: ``(status answered, body)`` pairs; ``delivered``: bodies answered 2xx.
    ``down()`` makes it answer 500 (a broken receiver), ``up()`` 200 again.
    """

    host: str
    port: int
    status: int = 200
    messages: list[Any] = field(default_factory=list)
    requests: list[tuple[int, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"json://{self.host}:{self.port}/"

    @property
    def delivered(self) -> list[Any]:
        with self.lock:
            return [body for status, body in self.requests if 200 <= status < 300]

    def down(self, status: int = 500) -> None:
        self.status = status

    def up(self) -> None:
        self.status = 200

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.requests.clear()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(host="127.0.0.1", port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = raw.decode("utf-8", "replace")
            status = hook.status
            with hook.lock:
                hook.messages.append(body)
                hook.requests.append((status, body))
            payload = b'{"ok": true}' if status < 300 else b'{"ok": false}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook", daemon=True
    )
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---- small helpers shared by the domain tests --------------------------------------------


@pytest.fixture
def staff(session):
    """``staff("advisor1")``: the demo staff member with that username, in ``session``."""
    from sqlalchemy import select

    from winback.accounts.models import Staff

    def get(username: str, in_session: Session | None = None):
        s = in_session or session
        member = s.scalar(select(Staff).where(Staff.username == username))
        assert member is not None, f"no staff member {username!r}"
        return member

    return get


@pytest.fixture
def surveying_cycle(request, session, demo_store) -> int:
    """The demo store's 2026-11 cycle run by the services up to the survey tasks (committed).

    Started by the admin, screened, profiled and assigned at the frozen demo clock.
    Returns the cycle id.
    """
    loaded = _loaded(request, "surveying")
    if loaded is None:  # asked for by name in the test's body
        return _run_to_surveys(session, demo_store)
    return loaded["cycle"]


@pytest.fixture
def planning_cycle(request, session, surveying_cycle) -> int:
    """The surveying cycle with 12 closed surveys (reasons high_price / too_far alternating),
    tallied and its plan drafted, one week later (the clock stays there)."""
    loaded = _loaded(request, "planning")
    if loaded is None:
        _plan_after_surveys(session, surveying_cycle)
    else:
        clock.set_now(loaded["now"])
    return surveying_cycle


@pytest.fixture
def planned_demo(request, session, demo_store) -> int:
    """The demo store after one care pass (committed)."""
    if _loaded(request, "planned") is None:
        _plan_care(session, demo_store)
    return demo_store


@pytest.fixture
def client(demo_store):
    """The web app on the demo store, redirects not followed, writes from its own origin (log
    in with ``tests.pages.login``)."""
    from fastapi.testclient import TestClient

    from app import create_app

    return TestClient(create_app(), follow_redirects=False, headers={"Origin": "http://testserver"})
