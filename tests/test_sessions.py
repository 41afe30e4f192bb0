"""Sessions end on the server (issue 15, item 7): log-out and a password change end every
session of the person, wherever its cookie is; idle and absolute timeouts on the business clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.pages import store_with_staff
from winback import clock
from winback.accounts.models import Role
from winback.config import get_settings

PASSWORD = "secret-pass-1"
ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def people(session) -> None:
    store_with_staff(session, {"advisor_a": Role.advisor, "admin_a": Role.admin}, password=PASSWORD)


def _client() -> TestClient:
    from app import create_app

    return TestClient(create_app(), follow_redirects=False, headers=ORIGIN)


def _logged_in(username: str, password: str = PASSWORD, page: bool = False) -> TestClient:
    c = _client()
    if page:
        assert c.post("/login", data={"username": username, "password": password}).status_code == 303
    else:
        r = c.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
    return c


def _captured(client: TestClient) -> TestClient:
    """Another browser (or an attacker) holding a copy of ``client``'s session cookie."""
    thief = _client()
    thief.cookies.set("winback_session", client.cookies.get("winback_session"))
    assert thief.get("/api/me").status_code == 200
    return thief


def test_a_captured_cookie_stops_working_after_logout_elsewhere(people):
    laptop = _logged_in("advisor_a", page=True)
    phone = _logged_in("advisor_a")
    copied = _captured(laptop)
    other_person = _logged_in("admin_a")

    assert phone.post("/api/auth/logout").json() == {"ok": True}  # log-out on the phone

    for c in (laptop, copied, phone):
        assert c.get("/api/me").status_code == 401
        r = c.get("/cycles")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert other_person.get("/api/me").status_code == 200  # someone else's session goes on
    # the page's log-out too
    again = _logged_in("advisor_a")
    copied = _captured(again)
    assert again.post("/logout").status_code == 303
    assert copied.get("/api/me").status_code == 401
    # a new log-in works as before
    assert _logged_in("advisor_a").get("/api/me").json()["username"] == "advisor_a"


def test_a_password_change_ends_every_other_session(people):
    here = _logged_in("advisor_a")
    elsewhere = _logged_in("advisor_a", page=True)
    copied = _captured(here)
    r = here.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "brand-new-pass-2"})
    assert r.status_code == 200
    assert here.get("/api/me").status_code == 200  # the session that changed it goes on
    assert elsewhere.get("/api/me").status_code == 401
    assert copied.get("/api/me").status_code == 401

    # the page's form the same way
    page = _logged_in("advisor_a", "brand-new-pass-2", page=True)
    copied = _captured(page)
    r = page.post(
        "/account/password", data={"old_password": "brand-new-pass-2", "new_password": "third-pass-word-3"}
    )
    assert r.status_code == 303
    assert page.get("/api/me").status_code == 200
    assert copied.get("/api/me").status_code == 401
    assert here.get("/api/me").status_code == 401


def test_idle_and_absolute_timeouts_follow_the_frozen_clock(people):
    settings = get_settings()
    idle = timedelta(minutes=settings.session_idle_minutes)
    start = clock.now()
    c = _logged_in("advisor_a")

    # just under the idle limit: still in, and the request counts as activity
    clock.set_now(start + idle - timedelta(minutes=1))
    assert c.get("/api/me").status_code == 200
    clock.set_now(start + 2 * idle - timedelta(minutes=2))
    assert c.get("/api/me").status_code == 200
    # then idle one minute too long: out, on the API and the pages alike
    clock.set_now(start + 3 * idle)
    assert c.get("/api/me").status_code == 401
    assert c.get("/tasks").status_code == 303

    # active all the time, but the absolute limit still ends the session
    clock.set_now(start)
    c = _logged_in("advisor_a")
    step = idle - timedelta(minutes=1)
    limit = timedelta(hours=settings.session_max_hours)
    at = start
    while at + step <= start + limit:
        at += step
        clock.set_now(at)
        assert c.get("/api/me").status_code == 200, at
    clock.set_now(start + limit + timedelta(minutes=1))
    assert c.get("/api/me").status_code == 401
    clock.set_now(start)  # even back in time, an ended session stays ended
    assert c.get("/api/me").status_code == 401


def test_log_out_is_in_the_audit_trail(people, session):
    from sqlalchemy import select

    from winback.audit.models import AuditEvent

    c = _logged_in("advisor_a")
    c.post("/api/auth/logout")
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "staff")).all()
    assert "staff.logged_out" in actions
