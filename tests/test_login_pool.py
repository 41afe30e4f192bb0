"""Logging in under load: checking a password (slow by design) holds no database connection,
so many people logging in at once do not use up the connection pool; and when the pool is used
up all the same, the answer is a 503 "busy, try again" in the person's language, not a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import db.session
from tests.pages import store_with_staff
from winback.accounts.models import Role

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
