"""A refused form (web/forms.py): one handler rolls the request back and shows the form again
with the input and the message, whichever way the input was refused."""

from __future__ import annotations

import pytest

from tests.pages import login
from winback.accounts.models import Role


def test_a_refused_form_keeps_nothing_the_service_did_before_it_refused(client, session, staff):
    admin = staff("admin")
    assert Role.manager not in admin.roles
    login(client, "admin")
    # set_roles adds the manager role (flushed), then set_active refuses: one cannot deactivate oneself
    r = client.post(f"/admin/staff/{admin.id}", data={"roles": ["admin", "manager"]})
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert "不能停用自己" in r.text or "cannot deactivate yourself" in r.text
    session.expire_all()
    assert Role.manager not in staff("admin").roles  # rolled back, not committed half-done


def test_the_input_is_shown_again_with_the_message(client):
    login(client, "admin")
    r = client.post("/admin/staff", data={"username": "newbie", "display_name": "", "roles": ["advisor"]})
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert 'value="newbie"' in r.text  # the input is kept
    assert 'value="advisor" checked' in r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_form_that_does_not_parse_is_shown_again_not_an_error_page(client, lang):
    """A field the route's own parameters cannot read (FastAPI's validation, before the route
    runs) shows the same form again, like a refusal by the service."""
    login(client, "admin")
    client.get(f"/admin/staff?lang={lang}")
    r = client.post("/admin/tokens", data={"staff_id": "not-a-number", "name": "x"})
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert 'action="/admin/tokens"' in r.text  # the staff page with its forms, not the error page


def test_a_form_model_speaks_the_services_words_and_keeps_the_input(client, session, surveying_cycle, staff):
    """The exclusion form parses into the API's ExcludeIn: a blank reason is refused before the
    route runs, in the same words as the service, and a too-long one is refused too."""
    from sqlalchemy import select

    from winback.surveys.models import SurveyStatus, SurveyTask

    task = session.scalar(select(SurveyTask).where(SurveyTask.cycle_id == surveying_cycle).limit(1))
    login(client, "supervisor")
    r = client.post(f"/tasks/{task.id}/exclude", data={"reason": ""})
    assert r.status_code == 422 and "请填写排除原因" in r.text
    r = client.post(f"/tasks/{task.id}/exclude", data={"reason": "太" * 301})
    assert r.status_code == 422 and 'role="alert"' in r.text and 'value="' + "太" * 301 + '"' in r.text
    session.expire_all()
    assert session.get(SurveyTask, task.id).status == SurveyStatus.open
    r = client.post(f"/tasks/{task.id}/exclude", data={"reason": "客户已搬家"})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(SurveyTask, task.id).excluded_reason == "客户已搬家"
