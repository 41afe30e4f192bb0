"""The API's answers are typed: every JSON route declares its response model, every operation
declares its error answers with one body (ErrorOut), and an answer says what the model says
(the draft save shows the advisor their own customer's phone, as every other task answer does)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from edge.xlsx import XLSX
from tests.pages import PASSWORD

ORIGIN = {"Origin": "http://testserver"}


def _app():
    from app import create_app

    return create_app()


def test_every_json_route_declares_its_answer_and_its_errors(demo_store):
    spec = TestClient(_app()).get("/openapi.json").json()
    assert len(spec["paths"]) > 35
    error_ref = "#/components/schemas/ErrorOut"
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for status in ("401", "403", "404", "409", "422"):
                body = op["responses"][status]["content"]["application/json"]["schema"]
                assert body == {"$ref": error_ref}, (method, path, status, body)
            ok = next(s for s in op["responses"] if s.startswith("2"))
            if path.endswith(".xlsx"):
                assert list(op["responses"][ok]["content"]) == [XLSX]
                continue
            # a response model: a named schema, or a list of one (never a bare "object")
            schema = op["responses"][ok]["content"]["application/json"]["schema"]
            assert "$ref" in schema or "$ref" in schema.get("items", {}), (method, path, schema)
    assert set(spec["components"]["schemas"]["ErrorOut"]["properties"]) >= {"detail", "code", "errors"}


def test_an_error_answer_has_the_declared_shape(demo_store):
    client = TestClient(_app(), headers=ORIGIN)
    assert client.get("/api/cycles").json() == {"detail": "log in first", "code": "not_logged_in"}
    client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    r = client.patch("/api/me", json={"locale": 5})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid" and body["errors"][0]["field"] == "locale"
    assert set(body) <= {"detail", "code", "detail_en", "field", "errors"}


def test_the_draft_save_answers_the_advisor_their_own_customers_phone(session, surveying_cycle, staff):
    from winback.surveys.models import SurveyTask

    task = session.scalar(
        select(SurveyTask)
        .where(SurveyTask.assignee_id == staff("advisor1").id, SurveyTask.cycle_id == surveying_cycle)
        .limit(1)
    )
    phone = task.target.customer.phone
    client = TestClient(_app(), headers=ORIGIN)
    client.post("/api/auth/login", json={"username": "advisor1", "password": PASSWORD})
    r = client.put(f"/api/tasks/{task.id}/draft", json={"notes": "call again at noon"})
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == phone == client.get(f"/api/tasks/{task.id}").json()["phone"]
    assert r.json()["notes"] == "call again at noon"
