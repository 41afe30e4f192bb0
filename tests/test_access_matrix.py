"""The role x route matrix: every route of the app, tried as each role of the demo store, as
an advisor who is not assigned, as a user of another store holding every role, and logged
out. Each answer is asserted. The routes come from the app itself: a route without a rule
here (or a rule without a route) fails the test.

Codes: "ok" allowed (any answer but 401/403/404 and 5xx); 403 refused; 404 refused without
saying whether the thing exists (another store's ids); "in" log in first (API 401, pages
303 to /login); "any" a public route (no 5xx); "L" allowed but starts a Prefect flow, so not
called here (who may start flows is asserted by the refusals; the flows have their own tests).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from winback import clock, stores
from winback.accounts import service as accounts
from winback.accounts import tokens as api_tokens
from winback.accounts.models import Role
from winback.actor import Actor

WHO = ("admin", "supervisor", "advisor1", "advisor2", "manager", "auditor", "intruder", "anon")
PASSWORD = "winback-demo"

# method path: ((admin, supervisor, advisor1 = assignee, advisor2, manager, auditor, intruder, anon), body)
# Bodies are valid where a check inside the handler must be reached; {ids} are filled in.
READ_CYCLE = ("ok", "ok", 403, 403, "ok", "ok", 404, "in")

RULES: dict[str, tuple[tuple, object]] = {
    "POST /api/auth/login": (("any",) * 8, "login"),
    "POST /api/auth/logout": (("ok",) * 8, None),
    "POST /api/auth/password": (("ok",) * 7 + ("in",), {}),
    "GET /api/me": (("ok",) * 7 + ("in",), None),
    "PATCH /api/me": (("ok",) * 7 + ("in",), {"locale": None}),
    "GET /api/cycles": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "POST /api/cycles": (("L", 403, 403, 403, 403, 403, "L", "in"), None),
    "GET /api/cycles/{cycle}": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "GET /api/cycles/{cycle}/targets": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "GET /api/cycles/{cycle}/tasks": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "GET /api/cycles/{cycle}/plan": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    # not evaluated yet: 404 for those who may read it
    "GET /api/cycles/{cycle}/evaluation": ((404, 404, 403, 403, 404, 404, 404, "in"), None),
    "POST /api/watch": (("L", 403, 403, 403, 403, 403, "L", "in"), None),
    "GET /api/tasks/mine": (("ok",) * 7 + ("in",), None),
    "GET /api/tasks/{task}": (("ok", "ok", "ok", 403, "ok", "ok", 404, "in"), None),
    "POST /api/tasks/{task}/attempts": (
        (403, 403, "ok", 403, 403, 403, 404, "in"),
        {"method": "phone", "outcome": "no_answer"},
    ),
    "POST /api/tasks/{task}/close": ((403, "ok", "ok", 403, 403, 403, 404, "in"), {"reasons": []}),
    "POST /api/tasks/{task}/reassign": (
        (403, "ok", 403, 403, 403, 403, 404, "in"),
        {"assignee_id": "{advisor1}"},
    ),
    "GET /api/reason-codes": (("ok",) * 7 + ("in",), None),
    "PATCH /api/measures/{measure}": ((403, 403, 403, 403, "ok", 403, 404, "in"), {"expected_effect": "x"}),
    "POST /api/plans/{plan}/measures": (
        (403, 403, 403, 403, "ok", 403, 404, "in"),
        {"title": "matrix", "area": "service", "owner_id": "{advisor1}", "due_date": "2030-01-01"},
    ),
    "PUT /api/plans/{plan}/measure-order": (
        (403, 403, 403, 403, "ok", 403, 404, "in"),
        {"measure_ids": ["{measure}"]},
    ),
    "POST /api/plans/{plan}/submit": (("ok", "ok", 403, 403, "ok", 403, 404, "in"), None),
    "POST /api/plans/{plan}/approve": ((403, 403, 403, 403, "L", 403, 404, "in"), {}),
    "POST /api/plans/{plan}/reject": ((403, 403, 403, 403, "ok", 403, 404, "in"), {"comment": "no"}),
    "POST /api/visits": (
        ("ok", 403, 403, 403, 403, 403, 404, "in"),
        {
            "vin": "{vin}",
            "ro_number": "RO-MATRIX-{who}",
            "visit_date": "2026-11-01",
            "category": "maintenance",
        },
    ),
    "GET /api/audit/{entity_type}/{entity_id}": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /": (("any",) * 8, None),
    "GET /login": (("any",) * 8, None),
    "POST /login": (("any",) * 8, "login"),
    "POST /logout": (("any",) * 8, None),
    "GET /cycles": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "POST /cycles": (("L", 403, 403, 403, 403, 403, "L", "in"), None),
    "POST /watch": (("L", "L", 403, 403, 403, 403, "L", "in"), None),
    "GET /cycles/{cycle}": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "GET /tasks": (("ok",) * 7 + ("in",), None),
    "GET /tasks/{task}": (("ok", "ok", "ok", 403, "ok", "ok", 404, "in"), None),
    "POST /tasks/{task}/close": ((403, "ok", "ok", 403, 403, 403, 404, "in"), "form:"),
    "POST /tasks/{task}/attempts": ((403, 403, "ok", 403, 403, 403, 404, "in"), "form:outcome=no_answer"),
    "POST /tasks/{task}/reassign": (
        (403, "ok", 403, 403, 403, 403, 404, "in"),
        "form:assignee_id={advisor1}",
    ),
    "GET /plans/{plan}": (("ok", "ok", "ok", "ok", "ok", "ok", 404, "in"), None),
    "POST /measures/{measure}": (
        (403, 403, 403, 403, "ok", 403, 404, "in"),
        "form:plan_id={plan}&expected_effect=y",
    ),
    "POST /plans/{plan}/submit": (("ok", "ok", 403, 403, "ok", 403, 404, "in"), None),
    # the whole plan in one form: only its manager
    "POST /plans/{plan}/measures": ((403, 403, 403, 403, "ok", 403, 404, "in"), "form:action=save"),
    # no file uploaded yet: the plan's readers are told there is none, as is another store
    "GET /measures/{measure}/attachments/{attachment_id}": ((404,) * 7 + ("in",), None),
    "GET /favicon.ico": (("any",) * 8, None),
    "POST /plans/{plan}/decide": (
        (403, 403, 403, 403, "ok", 403, 404, "in"),
        "form:decision=reject&comment=no",
    ),
    "GET /customers/{customer}": (("ok", "ok", "ok", 403, "ok", "ok", 404, "in"), None),
    "GET /audit": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /audit/{entity_type}/{entity_id}": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /audit-lookup": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /audit/export.xlsx": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /audit/complaints": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "POST /audit/verify": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /admin/staff": (("ok", 403, 403, 403, 403, 403, "ok", "in"), None),
    "POST /admin/staff": (("ok", 403, 403, 403, 403, 403, "ok", "in"), "form:"),
    "POST /admin/staff/{staff}": (
        ("ok", 403, 403, 403, 403, 403, 404, "in"),
        "form:roles=advisor&active=yes",
    ),
    "POST /admin/tokens": (("ok", 403, 403, 403, 403, 403, 404, "in"), "form:staff_id={staff}&name=DMS"),
    "POST /admin/tokens/{token}/revoke": (("ok", 403, 403, 403, 403, 403, 404, "in"), None),
    "GET /account/password": (("ok",) * 7 + ("in",), None),
    "POST /account/password": (("ok",) * 7 + ("in",), "form:"),
    "POST /account/language": (("ok",) * 7 + ("in",), "form:locale="),
    # survey work (issue 5)
    "PUT /api/tasks/{task}/draft": ((403, "ok", "ok", 403, 403, 403, 404, "in"), {"notes": "draft"}),
    "POST /api/tasks/reassign": (
        (403, "ok", 403, 403, 403, 403, 404, "in"),
        {"task_ids": ["{task}"], "assignee_id": "{advisor1}"},
    ),
    "POST /api/tasks/{task}/exclude": ((403, "ok", 403, 403, 403, 403, 404, "in"), {"reason": "matrix"}),
    "POST /api/tasks/{task}/complaint-answer": (
        (403, "ok", 403, 403, "ok", 403, 404, "in"),
        {"answer": "matrix"},
    ),
    "POST /api/staff/{staff}/hand-over": (
        ("ok", "ok", 403, 403, 403, 403, 404, "in"),
        {"to_staff_id": "{advisor1}"},
    ),
    "POST /tasks/reassign": (
        (403, "ok", 403, 403, 403, 403, 404, "in"),
        "form:task_ids={task}&assignee_id={advisor1}",
    ),
    "POST /tasks/{task}/exclude": ((403, "ok", 403, 403, 403, 403, 404, "in"), "form:reason=matrix"),
    "POST /tasks/{task}/answer": ((403, "ok", 403, 403, "ok", 403, 404, "in"), "form:answer=matrix"),
    "POST /staff/{staff}/hand-over": (
        ("ok", "ok", 403, 403, 403, 403, 404, "in"),
        "form:to_staff_id={advisor1}",
    ),
    # churn analytics (issue 6)
    "GET /analytics": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /cycles/{cycle}/profile": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "GET /cycles/{cycle}/profile.xlsx": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    # the customer archive (issue 4)
    "GET /api/archive/quality": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    # a store's own words for closed-list values (issue 16): read like the archive, changed by the admin
    "GET /api/archive/value-mappings": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "PUT /api/archive/value-mappings/{field}": (("ok", 403, 403, 403, 403, 403, "ok", "in"), {"mapping": {}}),
    "POST /archive/value-mappings": (("ok", 403, 403, 403, 403, 403, "ok", "in"), "form:field={field}"),
    # the first-run page is gone once the store has an admin: 404 for everyone
    "GET /setup": ((404,) * 8, None),
    "POST /setup": ((404,) * 8, "form:"),
    # month after month (issue 17): the admin cancels before the surveys start (this cycle's have:
    # refused, nothing changes); the manager records "no action" for a plan without measures
    "POST /cycles/{cycle}/cancel": (
        ("ok", 403, 403, 403, 403, 403, 404, "in"),
        "form:reason=matrix&confirm=yes",
    ),
    "POST /api/cycles/{cycle}/cancel": (("ok", 403, 403, 403, 403, 403, 404, "in"), {"reason": "matrix"}),
    "POST /cycles/{cycle}/no-action": ((403, 403, 403, 403, "ok", 403, 404, "in"), "form:reason=matrix"),
    "POST /api/cycles/{cycle}/no-action": ((403, 403, 403, 403, "ok", 403, 404, "in"), {"reason": "matrix"}),
    "GET /api/imports/{batch_id}": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "GET /api/imports/{batch_id}/errors.xlsx": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "POST /api/imports": (("ok", 403, 403, 403, 403, 403, "ok", "in"), None),
    "GET /archive": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /archive/customers": (("ok", 403, 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /archive/imports/{batch_id}": (("ok", 403, 403, 403, "ok", "ok", 404, "in"), None),
    "GET /archive/imports/{batch_id}/errors.xlsx": (("ok", 403, 403, 403, "ok", "ok", 404, "in"), None),
    "GET /archive/merges": (("ok", 403, 403, 403, 403, 403, "ok", "in"), None),
    "POST /archive/cleanup": (("ok", 403, 403, 403, 403, 403, "ok", "in"), None),
    "POST /archive/imports": (("ok", 403, 403, 403, 403, 403, "ok", "in"), "form:"),
    "POST /archive/mappings": (("ok", 403, 403, 403, 403, 403, "ok", "in"), "form:kind=customers"),
    "POST /archive/merges/{proposal_id}": (
        ("ok", 403, 403, 403, 403, 403, 404, "in"),
        "form:decision=reject&note=matrix",
    ),
    "POST /customers/{customer}/notes": (
        ("ok", "ok", "ok", 403, "ok", 403, 404, "in"),
        "form:kind=preference&text=matrix",
    ),
    # plans, execution and evaluation (issue 7)
    "GET /api/cycles/{cycle}/evaluation.xlsx": ((404, 404, 403, 403, 404, 404, 404, "in"), None),
    "GET /api/cycles/{cycle}/plans": (READ_CYCLE, None),
    "GET /api/cycles/{cycle}/vouchers": (READ_CYCLE, None),
    "GET /api/evaluation/trend": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /api/measure-library": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "POST /api/measure-library": (
        (403, 403, 403, 403, "ok", 403, "ok", "in"),
        {"reason_code": "high_price", "title": "矩阵"},
    ),
    "PUT /api/measure-library/{template_id}": (
        (403, 403, 403, 403, "ok", 403, 404, "in"),
        {"reason_code": "high_price", "title": "矩阵"},
    ),
    "GET /api/measures/mine": (("ok",) * 7 + ("in",), None),
    "GET /api/plans/{old_id}/compare/{new_id}": (READ_CYCLE, None),
    "POST /api/measures/{measure}/status": (
        (403, 403, 403, 403, "ok", 403, 404, "in"),
        {"status": "in_progress"},
    ),
    "POST /api/plans/{plan}/amend": ((403, 403, 403, 403, "ok", 403, 404, "in"), None),
    "POST /api/targets/{target_id}/callback": (
        ("ok", "ok", "ok", 403, "ok", 403, 404, "in"),
        {"satisfaction": 4},
    ),
    "POST /api/targets/{target_id}/vouchers": (("ok", "ok", "ok", 403, "ok", 403, 404, "in"), {}),
    "GET /cycles/{cycle}/followup": (("ok", "ok", "ok", "ok", "ok", "ok", 404, "in"), None),
    # not evaluated yet: 404 for those who may read it
    "GET /cycles/{cycle}/report": ((404, 404, 403, 403, 404, 404, 404, "in"), None),
    "GET /cycles/{cycle}/report.xlsx": ((404, 404, 403, 403, 404, 404, 404, "in"), None),
    "GET /reason-codes": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "POST /reason-codes": (
        ("ok", 403, 403, 403, "ok", 403, "ok", "in"),
        "form:code=r_{who}&label_zh=yuanyin&label_en=reason",
    ),
    "GET /measure-library": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "POST /measure-library": (
        (403, 403, 403, 403, "ok", 403, "ok", "in"),
        "form:reason_code=high_price&title=x",
    ),
    "GET /measures": (("ok",) * 7 + ("in",), None),
    "GET /plans/{plan}/compare/{other_id}": (("ok", "ok", "ok", "ok", "ok", "ok", 404, "in"), None),
    "POST /measures/{measure}/status": (
        (403, 403, 403, 403, "ok", 403, 404, "in"),
        "form:status=in_progress",
    ),
    "POST /plans/{plan}/amend": ((403, 403, 403, 403, "ok", 403, 404, "in"), None),
    "POST /targets/{target_id}/callback": (
        ("ok", "ok", "ok", 403, "ok", 403, 404, "in"),
        "form:cycle_id={cycle}&satisfaction=4",
    ),
    "POST /targets/{target_id}/vouchers": (
        ("ok", "ok", "ok", 403, "ok", 403, 404, "in"),
        "form:cycle_id={cycle}",
    ),
    "POST /vehicles/{vehicle}/status": (
        ("ok", "ok", "ok", 403, 403, 403, 404, "in"),
        "form:status=active&note=matrix",
    ),
    # live progress fragments (issue 10): the page's readers, the full page without HX-Request
    "GET /cycles/{cycle}/progress": (READ_CYCLE, None),
    "GET /archive/imports/{batch_id}/progress": (("ok", 403, 403, 403, "ok", "ok", 404, "in"), None),
    # the care calendar (issue 19)
    "GET /api/care": (("ok", "ok", "ok", "ok", "ok", 403, "ok", "in"), None),
    "GET /care": (("ok",) * 7 + ("in",), None),
    "POST /care/export": (("ok", "ok", 403, 403, 403, 403, "ok", "in"), None),
    "GET /care/calls": (("ok", "ok", "ok", "ok", "ok", 403, "ok", "in"), None),
    "POST /care/calls/{touch_id}": (("ok", "ok", "ok", 403, "ok", 403, 404, "in"), "form:outcome=done"),
    "GET /care/report": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /care/report.xlsx": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /care/settings": (("ok", 403, 403, 403, "ok", 403, "ok", "in"), None),
    "POST /care/settings": (("ok", 403, 403, 403, "ok", 403, "ok", "in"), "form:"),
    "POST /care/schedules": (
        ("ok", 403, 403, 403, "ok", 403, "ok", "in"),
        "form:model=m_{who}&first_km=5000&first_months=6&interval_km=10000&interval_months=12",
    ),
    # the admin removes it first: the manager then finds it gone
    "POST /care/schedules/{schedule_id}/delete": (("ok", 403, 403, 403, 404, 403, 404, "in"), None),
    # every notification reaches a person (issue 16): one's own inbox; one's own channel, or
    # (an admin) anyone's of the store; the admin's delivery figures
    "GET /api/inbox": (("ok",) * 7 + ("in",), None),
    "POST /api/inbox/{notification}/read": ((404, 404, "ok", 404, 404, 404, 404, "in"), None),
    "POST /api/inbox/read-all": (("ok",) * 7 + ("in",), None),
    "GET /api/staff/{staff}/channel": (("ok", 403, 403, "ok", 403, 403, 404, "in"), None),
    "PUT /api/staff/{staff}/channel": (("ok", 403, 403, "ok", 403, 403, 404, "in"), {"url": ""}),
    "POST /api/staff/{staff}/channel/test": (("ok", 403, 403, "ok", 403, 403, 404, "in"), None),
    "GET /api/notifications/report": (("ok", 403, 403, 403, 403, 403, "ok", "in"), None),
    "GET /inbox": (("ok",) * 7 + ("in",), None),
    "POST /inbox/{notification}/read": ((404, 404, "ok", 404, 404, 404, 404, "in"), None),
    "POST /inbox/read-all": (("ok",) * 7 + ("in",), None),
    "POST /account/channel": (("ok",) * 7 + ("in",), "form:apprise_url="),
    "POST /account/channel/test": (("ok",) * 7 + ("in",), None),
    "GET /admin/staff/{staff}/channel": (("ok", 403, 403, 403, 403, 403, 404, "in"), None),
    "POST /admin/staff/{staff}/channel": (("ok", 403, 403, 403, 403, 403, 404, "in"), "form:apprise_url="),
    "POST /admin/staff/{staff}/channel/test": (("ok", 403, 403, 403, 403, 403, 404, "in"), None),
    "GET /admin/notifications": (("ok", 403, 403, 403, 403, 403, "ok", "in"), None),
    # the advisor's workbench on the phone (issue 18): the personal line, a task's call guide,
    # the store's call scripts (the manager writes them), contact data corrected from a task
    "GET /api/tasks/my-day": (("ok",) * 7 + ("in",), None),
    "GET /api/tasks/{task}/call-guide": (("ok", "ok", "ok", 403, "ok", "ok", 404, "in"), None),
    "GET /api/call-scripts": (("ok",) * 7 + ("in",), None),
    "PUT /api/call-scripts/{band}": (
        (403, 403, 403, 403, "ok", 403, "ok", "in"),
        {"opening": "matrix {who}", "questions": "q"},
    ),
    "GET /call-scripts": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "POST /call-scripts/{band}": (
        (403, 403, 403, 403, "ok", 403, "ok", "in"),
        "form:opening=matrix&questions=q",
    ),
    "POST /api/tasks/{task}/phone": (
        ("ok", "ok", "ok", 403, "ok", 403, 404, "in"),
        {"phone": "+86 139 1234 5678"},
    ),
    "PUT /api/tasks/{task}/second-contact": (
        ("ok", "ok", "ok", 403, "ok", 403, 404, "in"),
        {"name": "matrix", "phone": "138-0000-1111"},
    ),
    "POST /tasks/{task}/phone": (("ok", "ok", "ok", 403, "ok", 403, 404, "in"), "form:phone=13912345679"),
    "POST /tasks/{task}/second-contact": (
        ("ok", "ok", "ok", 403, "ok", 403, 404, "in"),
        "form:second_name=matrix&second_phone=13800001111",
    ),
    # near the end: do-not-contact takes the task off the list
    "POST /api/tasks/{task}/do-not-contact": (("ok", "ok", "ok", 403, "ok", 403, 404, "in"), {}),
    "POST /tasks/{task}/do-not-contact": (("ok", "ok", "ok", 403, "ok", 403, 404, "in"), "form:note=matrix"),
    # the advisor's workbench (issue 18): appointments booked from the task, the front desk's
    # day list (booking on the task excluded above is a 409); complaint cases (the handlers assign and resolve; a second resolve is a 409);
    # vouchers looked up and redeemed at the service desk (a second redemption is a 409)
    "POST /api/tasks/{task}/appointment": (
        (403, "ok", "ok", 403, "ok", 403, 404, "in"),
        {"day": "2030-01-02", "slot": "08:30-10:00"},
    ),
    # the matrix's task was excluded above: no visit is booked on it (409), so none is found
    "GET /api/tasks/{task}/appointment": ((404, 404, 404, 403, 404, 404, 404, "in"), None),
    "POST /tasks/{task}/appointment": (
        (403, "ok", "ok", 403, "ok", 403, 404, "in"),
        "form:day=2030-01-03&slot=10:00-11:30&service_type=repair",
    ),
    # nothing is booked on the matrix's (excluded) task: nothing to cancel (404 / the form again)
    "POST /api/tasks/{task}/appointment/cancel": (
        (403, 404, 404, 403, 404, 403, 404, "in"),
        {"reason": "matrix"},
    ),
    "POST /tasks/{task}/appointment/cancel": (
        (403, 404, 404, 403, 404, 403, 404, "in"),
        "form:reason=matrix",
    ),
    "GET /api/appointments": (("ok",) * 7 + ("in",), None),
    "GET /appointments": (("ok",) * 7 + ("in",), None),
    "GET /api/complaints": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /complaints": (("ok", "ok", 403, 403, "ok", "ok", "ok", "in"), None),
    "GET /api/complaints/{case_id}": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "GET /complaints/{case_id}": (("ok", "ok", 403, 403, "ok", "ok", 404, "in"), None),
    "POST /complaints/{case_id}/owner": (
        (403, "ok", 403, 403, "ok", 403, 404, "in"),
        "form:owner_id={advisor3}",
    ),
    "POST /api/complaints/{case_id}/owner": (
        (403, "ok", 403, 403, "ok", 403, 404, "in"),
        {"owner_id": "{advisor3}"},
    ),
    "POST /complaints/{case_id}/resolve": (
        (403, "ok", 403, 403, "ok", 403, 404, "in"),
        "form:resolution=matrix",
    ),
    "POST /api/complaints/{case_id}/resolve": (
        (403, "ok", 403, 403, "ok", 403, 404, "in"),
        {"resolution": "matrix"},
    ),
    "GET /api/vouchers/{code}": (("ok", "ok", "ok", "ok", "ok", "ok", 404, "in"), None),
    "GET /vouchers": (("ok", "ok", "ok", "ok", "ok", 403, "ok", "in"), None),
    "POST /api/vouchers/{code}/redeem": (
        ("ok", "ok", "ok", "ok", "ok", 403, 404, "in"),
        {"ro_number": "RO-MATRIX-V"},
    ),
    "POST /vouchers/redeem": (
        ("ok", "ok", "ok", "ok", "ok", 403, 404, "in"),
        "form:code={code}&ro_number=RO-MATRIX-V",
    ),
    # last: the manager takes the measure out of the plan (the intruder then finds nothing either)
    "DELETE /api/measures/{measure}": ((403, 403, 403, 403, "ok", 403, 404, "in"), None),
}
# Framework routes: the docs and the schema are public and read-only.
PUBLIC = {"GET /openapi.json", "GET /api/docs", "GET /docs/oauth2-redirect"}


def app_routes(app) -> set[str]:
    """'METHOD /path' of every route, with the placeholders renamed as in RULES."""
    found = set()
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for ctx in contexts:
            for method in getattr(ctx, "methods", None) or ():
                if method != "HEAD":
                    found.add(f"{method} {ctx.path}")
    return found


def _normalise(key: str) -> str:
    method, path = key.split(" ", 1)
    for name in ("cycle", "task", "plan", "measure", "customer", "staff", "token", "vehicle", "notification"):
        path = path.replace(f"{{{name}_id}}", f"{{{name}}}")
    return f"{method} {path}"


def test_every_route_has_a_rule():
    from app import create_app

    routes = {_normalise(k) for k in app_routes(create_app())} - PUBLIC
    assert routes - set(RULES) == set(), "routes without a rule in the access matrix"
    assert set(RULES) - routes == set(), "rules for routes that no longer exist"


@pytest.fixture
def world(session, surveying_cycle, staff) -> dict[str, object]:
    from winback.plans import service as plans
    from winback.surveys.models import SurveyTask

    task = session.scalar(
        select(SurveyTask)
        .where(SurveyTask.cycle_id == surveying_cycle, SurveyTask.assignee_id == staff("advisor1").id)
        .limit(1)
    )
    plan = plans.draft_plan(session=session, cycle_id=surveying_cycle, actor=Actor.system())
    if not plan.measures:
        from winback.surveys.models import ReasonArea

        plans.add_measure(
            session=session,
            plan_id=plan.id,
            actor_staff=staff("manager"),
            title="matrix",
            area=list(ReasonArea)[0],
            owner_id=staff("manager").id,
            due_date=clock.today(),
        )
    admin = staff("admin")
    token, _ = api_tokens.create_api_token(
        session=session, staff_id=admin.id, name="matrix", actor_staff=admin
    )
    other = stores.create_store(session=session, code="S99", name="another store", actor=Actor.system())
    accounts.create_staff(
        session=session,
        store_id=other.id,
        username="intruder",
        display_name="intruder",
        password=PASSWORD,
        roles=list(Role),
        actor=Actor.system(),
    )
    from winback.customers.models import Customer, MergeProposal

    a, b = session.scalars(select(Customer.id).where(Customer.store_id == task.store_id).limit(2)).all()
    proposal = MergeProposal(
        store_id=task.store_id, keep_id=a, merge_id=b, rule="same_phone", created_at=clock.now()
    )
    session.add(proposal)
    batch = _import_batch(session, task.store_id, admin)
    from winback.care import planning, schedule_edits
    from winback.care.models import CareTouch, TouchChannel

    planning.plan(session=session, store_id=task.store_id, actor=Actor.system())
    care_touch = session.scalar(
        select(CareTouch.id)
        .where(CareTouch.channel == TouchChannel.call, CareTouch.advisor_id == staff("advisor1").id)
        .limit(1)
    )
    schedule = schedule_edits.save_schedule(
        session=session,
        store_id=task.store_id,
        model="matrix",
        grade=None,
        first_km=5000,
        first_months=6,
        interval_km=10000,
        interval_months=12,
        actor=Actor.system(),
    )
    from winback.notifications import service as notifications
    from winback.notifications.models import Notification

    notifications.enqueue(
        session=session, recipient=staff("advisor1"), kind="tasks_overdue", dedupe_key="matrix", count=1
    )
    case_id, code = _case_and_voucher(session, surveying_cycle, task, staff)
    session.commit()
    return {
        "notification": session.scalar(select(Notification.id).where(Notification.dedupe_key == "matrix")),
        "batch_id": batch.id,
        "touch_id": care_touch,
        "schedule_id": schedule.id,
        "proposal_id": proposal.id,
        "vehicle": task.target.vehicle_id,
        "target_id": task.target_id,
        "old_id": plan.id,
        "new_id": plan.id,
        "other_id": plan.id,
        "template_id": plans.measure_library_page(
            session=session, store_id=task.store_id, page_size=None, active_only=True
        )
        .items[0]
        .id,
        "cycle": surveying_cycle,
        "task": task.id,
        "customer": task.customer_id,
        "plan": plan.id,
        "measure": plan.measures[0].id,
        "staff": staff("advisor2").id,
        "token": token.id,
        "advisor1": staff("advisor1").id,
        "advisor3": staff("advisor3").id,
        "vin": task.target.vehicle.vin,
        "entity_type": "cycle",
        "entity_id": surveying_cycle,
        "attachment_id": 999999,
        "field": "customer_type",
        "band": "lost",
        "case_id": case_id,
        "code": code,
    }


def _case_and_voucher(session, cycle_id, task, staff) -> tuple[int, str]:
    """A complaint case on another task than the matrix's (answering it there changes nothing
    here), and a coded voucher of the matrix's task, valid for a month."""
    from datetime import timedelta
    from decimal import Decimal

    from winback.cases import complaints
    from winback.plans.models import Voucher
    from winback.surveys.models import SurveyTask

    other = session.scalar(
        select(SurveyTask).where(SurveyTask.cycle_id == cycle_id, SurveyTask.id != task.id).limit(1)
    )
    other.complaint = "matrix complaint"
    case = complaints.open_case(session=session, task=other, actor_staff=staff("supervisor"))
    voucher = Voucher(
        store_id=task.store_id,
        cycle_id=cycle_id,
        target_id=task.target_id,
        customer_id=task.customer_id,
        task_id=task.id,
        code="WBMATRIX22",
        kind="工时券",
        amount=Decimal("500"),
        offered_at=clock.now(),
        expires_on=clock.today() + timedelta(days=30),
    )
    session.add(voucher)
    session.flush()
    return case.id, voucher.code


def _import_batch(session, store_id, admin):
    """One finished import, through the real importer (a two-row customer CSV)."""
    import tempfile
    from pathlib import Path

    from winback.customers import imports

    path = Path(tempfile.mkdtemp()) / "customers.csv"
    path.write_text("客户编号,客户姓名,手机\nM1,王五,13800138000\nM2,赵六,bad\n", encoding="utf-8")
    batch, _ = imports.import_file(
        session=session, store_id=store_id, kind="customers", source=path, actor=Actor.person(admin)
    )
    return batch


def _fill(value, ids, who):
    if isinstance(value, str):
        for k, v in {**ids, "who": who}.items():
            value = value.replace(f"{{{k}}}", str(v))
        return int(value) if value.isdigit() else value
    if isinstance(value, dict):
        return {k: _fill(v, ids, who) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids, who) for v in value]
    return value


def _request(c: TestClient, key: str, body, ids: dict, who: str):
    """Call ``key`` (RULES' spelling) with ``body`` filled from ``ids`` as the client ``c``."""
    method, path = key.split(" ", 1)
    url = str(_fill(path, ids, ""))
    if key == "GET /audit-lookup":
        url += f"?entity_type=cycle&entity_id={ids['cycle']}"
    kwargs = {}
    if body == "login":
        kwargs = {
            "json" if path.startswith("/api") else "data": {
                "username": who,
                "password": PASSWORD if who != "anon" else "wrong-pass",
            }
        }
    elif isinstance(body, str) and body.startswith("form:"):
        pairs = (
            [p.split("=", 1) for p in _fill(body[5:], ids, who).split("&") if p] if body != "form:" else []
        )
        kwargs = {
            "content": "&".join(f"{k}={v}" for k, v in pairs),
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        }
    elif body is not None:
        kwargs = {"json": _fill(body, ids, who)}
    elif method != "GET":
        kwargs = {"json": {}} if path.startswith("/api") else {}
    return c.request(method, url, **kwargs)


# ---- the staff rules (issue 15): nobody locks a store out -------------------------------


def _staff_state(session) -> dict[str, tuple[bool, frozenset, int]]:
    """username -> (active, roles, home store), read afresh from the database."""
    from winback.accounts.models import Staff

    session.expire_all()
    return {
        s.username: (s.active, frozenset(r.value for r in s.roles), s.store_id)
        for s in session.scalars(select(Staff))
    }


def _broken_staff_rules(before: dict, after: dict, who: str, key: str) -> list[str]:
    """What a call as ``who`` did against the staff rules: only an admin deactivates; nobody
    deactivates themself; a store keeps an active admin; the hand-over takes out advisors only."""
    problems = []
    caller_roles = before.get(who, (False, frozenset(), 0))[1]
    for name, (active, roles, _store) in after.items():
        if before[name][0] and not active:
            if "admin" not in caller_roles:
                problems.append(f"{who} (not an admin) deactivated {name}")
            if name == who:
                problems.append(f"{who} deactivated themself")
            if "hand-over" in key and "advisor" not in before[name][1]:
                problems.append(f"{who} handed over {name}, who is not an advisor")
    for store in {s for _a, _r, s in before.values()}:
        had = any(a and "admin" in r and s == store for a, r, s in before.values())
        has = any(a and "admin" in r and s == store for a, r, s in after.values())
        if had and not has:
            problems.append(f"{who} left store {store} without an active admin")
    return problems


def _restore_staff(session, before: dict) -> None:
    """Put every staff member's active flag and roles back as in ``before``."""
    from winback.accounts.models import Staff, StaffRole

    changed = False
    for member in session.scalars(select(Staff)):
        active, roles, _store = before[member.username]
        if member.active != active or frozenset(r.value for r in member.roles) != roles:
            member.active = active
            have = {r.role.value for r in member.role_rows}
            member.role_rows = [r for r in member.role_rows if r.role.value in roles] + [
                StaffRole(role=Role(r)) for r in sorted(roles - have)
            ]
            changed = True
    if changed:
        session.commit()


def _login_clients(app):
    clients: dict[str, TestClient] = {}

    def client_for(who: str) -> TestClient:
        if who not in clients:
            c = TestClient(app, follow_redirects=False, headers={"Origin": "http://testserver"})
            if who != "anon":
                r = c.post("/api/auth/login", json={"username": who, "password": PASSWORD})
                assert r.status_code == 200, (who, r.text)
            clients[who] = c
        return clients[who]

    return client_for, clients


def test_role_route_matrix(world, staff, session):
    """Every route as every role; after every state-changing call the staff rules still hold."""
    from app import create_app

    client_for, clients = _login_clients(create_app())
    failures = []
    for key, (expected, body) in RULES.items():
        method, path = key.split(" ", 1)
        # hand-over takes the advisor's work: do it to one nobody else in the matrix needs
        ids = {**world, "staff": world["advisor3"]} if "hand-over" in key else world
        for who, want in zip(WHO, expected):
            if want == "L":
                continue
            before = _staff_state(session) if method != "GET" else None
            r = _request(client_for(who), key, body, ids, who)
            got = r.status_code
            to_login = got in (302, 303, 307) and r.headers["location"].startswith("/login")
            if want == "any":
                ok = got < 500
            elif want == "ok":
                ok = got < 500 and got not in (401, 403, 404) and not to_login
            elif want == "in":
                ok = got == 401 if path.startswith("/api") else to_login
            else:
                ok = got == want
            if not ok:
                failures.append(f"{key} as {who}: expected {want}, got {got} {r.text[:120]!r}")
            if before is not None:
                failures += [
                    f"{key}: {p}" for p in _broken_staff_rules(before, _staff_state(session), who, key)
                ]
            if key in ("POST /logout", "POST /api/auth/logout") or body == "login":
                clients.pop(who, None)  # logged out (or in again): a fresh client next time
    assert not failures, "\n".join(failures)


VICTIMS = ("self", "admin", "supervisor", "manager", "auditor", "advisor2")


def _names_staff(key: str, body) -> bool:
    """A route that takes a staff member: in its path or its body (a new such route has a RULES
    entry, hence is probed here)."""
    text = f"{key} {body!r}"
    return "{staff}" in text or "{advisor1}" in text or "staff_id" in text


def _variants(body):
    """The body as in RULES and, for a form with a yes/no flag, the flag left out (unticked)."""
    out = [body]
    if isinstance(body, str) and "=yes" in body:
        out.append("&".join(p for p in body.split("&") if not p.endswith("=yes")))
    return out


def test_no_route_breaks_the_staff_rules(world, staff, session):
    """Every state-changing route that takes a staff member, as every role, aimed at the caller
    themself and at each role of the store (the admin, the supervisor, the manager, the auditor,
    an advisor): only an admin deactivates, nobody deactivates themself, the store keeps an
    active admin, the hand-over takes out advisors only. The state is put back after each call."""
    from app import create_app

    probes = [
        (key, variant, expected)
        for key, (expected, body) in RULES.items()
        if not key.startswith("GET ") and _names_staff(key, body)
        for variant in _variants(body)
    ]
    assert {
        "POST /api/staff/{staff}/hand-over",
        "POST /staff/{staff}/hand-over",
        "POST /admin/staff/{staff}",
    } <= {key for key, _b, _e in probes}
    client_for, clients = _login_clients(create_app())
    failures, deactivated = [], []
    for key, body, expected in probes:
        for who, want in zip(WHO, expected):
            if want == "L" or who == "anon":
                continue
            for victim in VICTIMS:
                target = staff(who if victim == "self" else victim).id
                # the staff member in the path; else the one named in the body (an assignee)
                ids = {**world, "staff": target} if "{staff}" in key else {**world, "advisor1": target}
                before = _staff_state(session)
                r = _request(client_for(who), key, body, ids, who)
                if r.status_code >= 500:
                    failures.append(f"{key} as {who} on {victim}: {r.status_code}")
                after = _staff_state(session)
                failures += [f"{key} on {victim}: {p}" for p in _broken_staff_rules(before, after, who, key)]
                deactivated += [(key, who, n) for n in after if before[n][0] and not after[n][0]]
                _restore_staff(session, before)
    assert not failures, "\n".join(failures)
    # the rules refuse what they must, not everything: an admin still hands over an advisor
    # and deactivates staff on the staff page
    assert ("POST /api/staff/{staff}/hand-over", "admin", "advisor2") in deactivated
    assert ("POST /admin/staff/{staff}", "admin", "manager") in deactivated
