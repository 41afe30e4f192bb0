"""Logging in under load: checking a password (slow by design) holds no database connection,
so many people logging in at once do not use up the connection pool; and when the pool is used
up all the same, the answer is a 503 "busy, try again" in the person's language, not a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import db.session
from tests.pages import store_with_staff
from winback.accounts import passwords
from winback.accounts.models import LoginAttempt, Role

PASSWORD = "secret-pass-1"
ORIGIN = {"Origin": "http://testserver"}
# A pool of two connections that gives up after three seconds: a handful of log-ins fill it.
SMALL_POOL = {"pool_size": 2, "max_overflow": 0, "pool_timeout": 3}
HASH_SECONDS = 4  # longer than the pool waits: a log-in holding a connection starves the others


class SlowHasher:
    """The tests' cheap hasher made as slow as a real one (and slower), so that a connection
    held while hashing is held long enough to matter."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.spans: list[tuple[float, float]] = []  # when each hash began and ended
        self.lock = threading.Lock()

    def _wait(self) -> None:
        began = time.monotonic()
        time.sleep(HASH_SECONDS)
        with self.lock:
            self.spans.append((began, time.monotonic()))

    def hash(self, password: str) -> str:
        self._wait()
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self._wait()
        return self.inner.verify(password_hash, password)

    def most_at_once(self) -> int:
        """The most hashes that ran at the same time."""
        edges = sorted([(b, 1) for b, _ in self.spans] + [(e, -1) for _, e in self.spans])
        running = most = 0
        for _, step in edges:
            running += step
            most = max(most, running)
        return most


def _pool(db_url: str, **options) -> Iterator[None]:
    db.session.configure(db_url, **{**SMALL_POOL, **options})
    try:
        yield
    finally:
        db.session.get_engine().dispose()
        db.session.configure(db_url)


@pytest.fixture
def small_pool(db_url) -> Iterator[None]:
    yield from _pool(db_url)


@pytest.fixture
def impatient_pool(db_url) -> Iterator[None]:
    """The small pool waiting half a second for a connection (its connections taken by the test)."""
    yield from _pool(db_url, pool_timeout=0.5)


@pytest.fixture
def people(session) -> list[str]:
    """Eight advisors (and an administrator: the first-run set-up is done)."""
    names = [f"advisor_{i}" for i in range(8)]
    roles = {**dict.fromkeys(names, Role.advisor), "admin_a": Role.admin}
    store_with_staff(session, roles, password=PASSWORD)
    session.close()
    return names


def _client(app=None) -> TestClient:
    from app import create_app

    return TestClient(
        app or create_app(), follow_redirects=False, headers=ORIGIN, raise_server_exceptions=False
    )


def _at_once(calls) -> list:
    """Run every call in its own thread, all released together; their results in order."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_more_log_ins_at_once_than_the_pool_has_connections(people, small_pool, monkeypatch):
    """Nine log-ins at once on a pool of two: the right passwords (pages and API), wrong ones
    and an unknown person, each hash taking longer than the pool waits for a connection.
    Every one gets its proper answer, the hashes run side by side (not two at a time, one per
    pooled connection), and the failures still count towards the rate limit."""
    from app import create_app

    hasher = SlowHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    app = create_app()

    clients = [_client(app) for _ in range(9)]  # one browser or program each

    def api(i: int, username: str, password: str = PASSWORD):
        body = {"username": username, "password": password}
        return lambda: clients[i].post("/api/auth/login", json=body)

    def page(i: int, username: str, password: str = PASSWORD):
        form = {"username": username, "password": password}
        return lambda: clients[i].post("/login", data=form)

    calls = [api(i, people[i]) for i in range(3)] + [page(i, people[i]) for i in range(3, 6)]
    calls += [api(6, people[6], "wrong-pass-1"), page(7, people[7], "wrong-pass-1"), api(8, "nobody")]
    answers = _at_once(calls)

    codes = [a.status_code if hasattr(a, "status_code") else repr(a) for a in answers]
    assert codes == [200, 200, 200, 303, 303, 303, 401, 401, 401], str(codes)
    assert [a.json()["username"] for a in answers[:3]] == people[:3]
    assert all(a.headers["location"] == "/" for a in answers[3:6])
    assert len(hasher.spans) == len(calls)  # an unknown person costs a hash too
    assert hasher.most_at_once() > SMALL_POOL["pool_size"], hasher.spans
    with db.session.session_scope() as s:
        failed = s.scalars(select(LoginAttempt.username).order_by(LoginAttempt.username)).all()
        assert failed == sorted([people[6], people[7], "nobody"])

    # The log-in sessions started work: each person is recognised by their cookie.
    for client, name in zip(clients[:6], people[:6], strict=True):
        assert client.get("/api/me").json()["username"] == name


def test_a_used_up_pool_answers_busy_in_the_persons_language(people, impatient_pool):
    """Every connection taken (by something else, for longer than the pool waits): the page
    and the API say the server is busy, in Chinese or English, with a 503 and Retry-After."""
    engine = db.session.get_engine()
    held = [engine.connect() for _ in range(SMALL_POOL["pool_size"])]
    try:
        client = _client()
        r = client.post("/login", data={"username": people[0], "password": PASSWORD})
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"
        assert "服务器繁忙，请稍后重试" in r.text

        r = client.post("/login?lang=en", data={"username": people[0], "password": PASSWORD})
        assert r.status_code == 503
        assert "the server is busy right now; please try again in a moment" in r.text

        r = _client().post("/api/auth/login", json={"username": people[0], "password": PASSWORD})
        assert r.status_code == 503
        assert r.json() == {
            "detail": "the server is busy right now; please try again in a moment",
            "code": "busy",
        }
        r = _client().post(
            "/api/auth/login",
            json={"username": people[0], "password": PASSWORD},
            headers={"Accept-Language": "zh-CN"},
        )
        assert r.status_code == 503
        assert r.json()["detail"] == "服务器繁忙，请稍后重试"
        assert r.json()["code"] == "busy"
    finally:
        for conn in held:
            conn.close()
    # Once the connections are back, logging in works again.
    assert (
        _client().post("/api/auth/login", json={"username": people[0], "password": PASSWORD}).status_code
        == 200
    )


def test_a_password_changed_while_it_was_being_checked_is_refused(people, session):
    """The steps of a log-in run in two transactions: a person whose password changed (or who
    was deactivated) in between is not logged in with the old one, and it counts as a failure."""
    from winback.accounts import authentication
    from winback.accounts.models import Staff

    for change in ("password", "deactivate"):
        name = people[0] if change == "password" else people[1]
        attempt = authentication.look_up(session=session, username=name, address="10.0.0.1")
        session.commit()
        with db.session.session_scope() as other:
            member = other.scalar(select(Staff).where(Staff.username == name))
            if change == "password":
                member.password_hash = passwords.hash_password("another-pass-2")
            else:
                member.active = False
        assert authentication.check_password(attempt, PASSWORD)
        assert authentication.record(session=session, attempt=attempt, ok=True) is None
        session.commit()
    failed = session.scalars(select(LoginAttempt.username).order_by(LoginAttempt.username)).all()
    assert failed == [people[0], people[1]]


def test_more_password_changes_at_once_than_the_pool_has_connections(people, small_pool, monkeypatch):
    """Changing one's password checks the old one and hashes the new one (two slow hashes)
    with no pooled connection held: six people at once on a pool of two, pages and API, all
    get through, each audited, and a wrong current password is still refused."""
    from app import create_app
    from winback.audit.models import AuditEvent

    app = create_app()
    clients = [_client(app) for _ in range(6)]
    for i, client in enumerate(clients):
        r = client.post("/api/auth/login", json={"username": people[i], "password": PASSWORD})
        assert r.status_code == 200, r.text
    hasher = SlowHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", hasher)

    def api(i: int, old: str = PASSWORD):
        body = {"old_password": old, "new_password": f"new-pass-{i}-xyz"}
        return lambda: clients[i].post("/api/auth/password", json=body)

    def page(i: int):
        form = {"old_password": PASSWORD, "new_password": f"new-pass-{i}-xyz"}
        return lambda: clients[i].post("/account/password", data=form)

    calls = [api(0), api(1), page(2), page(3), page(4), api(5, "wrong-pass-1")]
    answers = _at_once(calls)

    codes = [a.status_code if hasattr(a, "status_code") else repr(a) for a in answers]
    assert codes == [200, 200, 303, 303, 303, 422], str(codes)
    assert hasher.most_at_once() > SMALL_POOL["pool_size"], hasher.spans
    monkeypatch.setattr(passwords, "_hasher", hasher.inner)
    with db.session.session_scope() as s:
        changed = s.scalars(
            select(AuditEvent.entity_id).where(AuditEvent.action == "staff.password_changed")
        ).all()
        assert len(changed) == 5
    for i in range(5):  # the new passwords work, and the session that changed it goes on
        assert clients[i].get("/api/me").json()["username"] == people[i]
        r = _client(app).post(
            "/api/auth/login", json={"username": people[i], "password": f"new-pass-{i}-xyz"}
        )
        assert r.status_code == 200, r.text


def test_a_password_changed_meanwhile_is_not_overwritten(people, session, staff):
    """Two changes of one password raced: the second, checked against the old password,
    is refused instead of overwriting the first."""
    from winback.accounts import authentication
    from winback.errors import Conflict

    member = staff(people[0])
    first = authentication.prepare_password_change(
        staff=member, old_password=PASSWORD, new_password="first-new-pass-1"
    )
    second = authentication.prepare_password_change(
        staff=member, old_password=PASSWORD, new_password="second-new-pass-2"
    )
    authentication.change_password(session=session, staff=member, change=first)
    session.commit()
    with pytest.raises(Conflict):
        authentication.change_password(session=session, staff=member, change=second)
    session.rollback()
    assert passwords.matches(staff(people[0]).password_hash, "first-new-pass-1")
