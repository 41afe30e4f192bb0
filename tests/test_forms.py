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
