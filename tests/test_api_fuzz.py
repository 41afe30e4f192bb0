"""schemathesis against /openapi.json, logged in as a person holding every role in the demo
store (so every check is passed and the handlers run): whatever the input, no 500, and every
answer is one the OpenAPI declares: its status code, its content type and its body's schema
(the routes' response models and the ErrorOut of the error answers).

Bounded: a few generated examples per operation (FUZZ_EXAMPLES). The operations that start
Prefect flows (starting a cycle, the watcher, approving a plan) are left out: the flow tests
cover them, and a fuzzer must not start real cycles."""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor

FUZZ_EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
STARTS_FLOWS = {("POST", "/api/cycles"), ("POST", "/api/watch"), ("POST", "/api/plans/{plan_id}/approve")}


def test_no_input_makes_the_api_fail(session, surveying_cycle):
    from app import create_app

    accounts.create_staff(
        session=session,
        store_id=1,
        username="everyone",
        display_name="all roles",
        password="fuzz-pass-1",
        roles=list(Role),
        actor=Actor.system(),
    )
    session.commit()
    app = create_app()
    login = TestClient(app).post("/api/auth/login", json={"username": "everyone", "password": "fuzz-pass-1"})
    assert login.status_code == 200
    cookie = {"winback_session": login.cookies["winback_session"]}
    headers = {"Origin": "http://testserver"}

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    statuses: set[int] = set()
    checked: set[int] = set()
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 20
    for op in operations:
        if (op.method.upper(), op.path) in STARTS_FLOWS or op.path == "/api/auth/logout":
            continue

        @given(case=op.as_strategy())
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            response = case.call(headers=headers, cookies=cookie)
            if not op.path.startswith("/api/auth/"):  # log-in answers 401/429 to made-up credentials
                statuses.add(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # schemathesis' FailureGroup: every check that failed, said
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{str(exc)[:400]} {response.text[:200]}"
                )
            checked.add(response.status_code)

        run()
    assert not failures, "\n".join(failures[:20])
    assert 200 in statuses and 401 not in statuses  # the calls ran logged in, and some got through
    assert {404, 422} <= checked  # error answers were checked against their schema too
