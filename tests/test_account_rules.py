"""Issue 15, item 9 (the smaller ones): password rules after NIST SP 800-63B, log-in lock-out
per account with a looser per-address limit, and one month check for the CLI, API and page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.pages import store_with_staff
from winback import clock
from winback.accounts import passwords
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.config import get_settings
from winback.errors import InvalidInput
from winback.months import parse_month

PASSWORD = "secret-pass-1"
ORIGIN = {"Origin": "http://testserver"}


# ---- passwords ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("12345678", passwords.TOO_SHORT),
        (" " * 8, passwords.BLANK),
        (" " * 12, passwords.BLANK),
        ("", passwords.BLANK),
        ("abc      defg", passwords.TOO_SHORT),  # runs of spaces count once: "abc defg"
        ("advisor_s01", passwords.HAS_USERNAME),
        ("ADVISOR_S01-2026", passwords.HAS_USERNAME),
        ("1234567890", passwords.TOO_COMMON),
        ("qwertyuiop", passwords.TOO_COMMON),
        ("Password123", passwords.TOO_COMMON),
        ("woaini1314", passwords.TOO_COMMON),
        ("5201314520", passwords.TOO_COMMON),
    ],
)
def test_weak_passwords_are_refused_with_the_rule_they_break(password, message):
    with pytest.raises(InvalidInput) as exc:
        passwords.check(password, username="advisor_s01")
    assert exc.value.message.msgid == message and exc.value.field == "password"


@pytest.mark.parametrize(
    "password", ["winback-demo", "secret-pass-1", "correct horse battery", "服务顾问的长密码一二三"]
)
def test_good_passwords_pass(password):
    passwords.check(password, username="advisor1")


def test_the_shipped_list_is_a_few_thousand_common_passwords():
    common = passwords.common_passwords()
    assert 2000 < len(common) < 20000 and "password1234" in common and "winback-demo" not in common


@pytest.fixture
def people(session) -> int:
    return store_with_staff(
        session, {"advisor_s01": Role.advisor, "admin_s01": Role.admin}, password=PASSWORD
    )


def _client() -> TestClient:
    from app import create_app

    return TestClient(create_app(), follow_redirects=False, headers=ORIGIN)


def test_the_rules_hold_in_the_api_and_on_the_pages_in_the_readers_language(people, session):
    c = _client()
    assert (
        c.post("/api/auth/login", json={"username": "advisor_s01", "password": PASSWORD}).status_code == 200
    )
    r = c.post(
        "/api/auth/password",
        json={"old_password": PASSWORD, "new_password": " " * 8},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422 and r.json()["field"] == "password" and r.json()["detail"] == "密码不能为空"
    r = c.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "12345678"})
    assert r.status_code == 422 and r.json()["detail"] == "the password must have at least 10 characters"
    r = c.post("/account/password", data={"old_password": PASSWORD, "new_password": "advisor_s01!!"})
    assert r.status_code == 422 and "密码不能是用户名，也不能包含用户名" in r.text
    # an admin creating staff: the same rules
    with pytest.raises(InvalidInput, match="common"):
        accounts.create_staff(
            session=session,
            store_id=people,
            username="new_one",
            display_name="n",
            password="1q2w3e4r5t",
            roles=[Role.advisor],
            actor=Actor.system(label="t"),
        )


# ---- lock-out ----------------------------------------------------------------------------


def _try(c: TestClient, username: str, password: str) -> int:
    return c.post("/api/auth/login", json={"username": username, "password": password}).status_code


def test_bad_log_ins_lock_the_account_not_everyone_behind_the_address(people):
    limit = get_settings().login_max_failures
    c = _client()
    for _ in range(limit):
        assert _try(c, "advisor_s01", "wrong-guess") == 401
    assert _try(c, "advisor_s01", PASSWORD) == 429  # that account is locked, from anywhere
    other_address = TestClient(c.app, follow_redirects=False, headers=ORIGIN, client=("10.0.0.9", 50000))
    assert _try(other_address, "advisor_s01", PASSWORD) == 429
    assert _try(c, "admin_s01", PASSWORD) == 200  # a colleague at the same front desk is not
    clock.set_now("2026-11-02T09:30")  # the window passes
    assert _try(c, "advisor_s01", PASSWORD) == 200


def test_a_right_password_clears_the_accounts_count(people):
    limit = get_settings().login_max_failures
    c = _client()
    for _ in range(limit - 1):
        assert _try(c, "advisor_s01", "wrong-guess") == 401
    assert _try(c, "advisor_s01", PASSWORD) == 200
    for _ in range(limit - 1):
        assert _try(c, "advisor_s01", "wrong-guess") == 401
    assert _try(c, "advisor_s01", PASSWORD) == 200


def test_one_address_guessing_many_accounts_is_stopped(people, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_max_failures_per_address", 8)
    c = _client()
    for n in range(8):
        assert _try(c, f"guess{n}", "wrong-guess") == 401
    assert _try(c, "admin_s01", PASSWORD) == 429
    elsewhere = TestClient(c.app, follow_redirects=False, headers=ORIGIN, client=("10.0.0.9", 50000))
    assert _try(elsewhere, "admin_s01", PASSWORD) == 200


# ---- months ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "month",
    ["0000-01", "9003-06", "1999-12", "2101-01", "2026-13", "2026-00", "2026-1", "2026/11", "", "2026-11-01"],
)
def test_one_month_check_refuses_what_is_not_a_real_month(month):
    with pytest.raises(InvalidInput) as exc:
        parse_month(month)
    assert exc.value.field == "month"


@pytest.mark.parametrize("month", ["2000-01", "2026-11", " 2026-11 ", "2100-12"])
def test_real_months_pass(month):
    assert parse_month(month) == month.strip()


@pytest.mark.parametrize("month", ["0000-01", "9003-06"])
def test_the_api_and_the_page_refuse_the_same_months(people, session, month):
    from sqlalchemy import func, select

    from winback.cycles.models import FlowRunRecord

    c = _client()
    assert c.post("/api/auth/login", json={"username": "admin_s01", "password": PASSWORD}).status_code == 200
    r = c.post("/api/cycles", json={"month": month}, headers={"Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month"
    assert "2000-01 and 2100-12" in r.json()["errors"][0]["message"]
    r = c.post("/cycles", data={"month": month})
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "月份须为 2000-01 至 2100-12 之间的真实月份" in page.text
    assert session.scalar(select(func.count()).select_from(FlowRunRecord)) == 0  # nothing launched
