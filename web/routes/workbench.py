"""The advisor's workbench on the phone (issue 18): correcting the contact data from a task (a
new phone after 号码错误, a second contact, do-not-contact) and the manager's call scripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from edge.locale import page_locale
from edge.session import SessionDep
from edge.users import CurrentUser
from web import flash, forms, render
from web.routes.common import see_other
from web.routes.tasks import _task_page
from winback.accounts.models import Role
from winback.errors import Forbidden, InvalidInput
from winback.surveys import service as surveys
from winback.surveys.schemas import CallScriptIn, DoNotContactIn, PhoneCorrectionIn, SecondContactIn

router = APIRouter(include_in_schema=False)


def _contact_again(request, user, session, *, error, status, form, task_id):
    shown = {key: form.get(key, "") for key in ("phone", "phone_note", "second_name", "second_phone")}
    return _task_page(request, user, session, int(task_id), form=shown, error=error, status_code=status)


@router.post("/tasks/{task_id}/phone")
@forms.form(_contact_again)
def task_phone(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    phone: Annotated[str, Form()] = "",
    phone_note: Annotated[str, Form()] = "",
):
    if not phone.strip():
        raise InvalidInput("write the new phone number", field="phone")
    body = PhoneCorrectionIn.model_validate({"phone": phone, "note": phone_note or None})
    surveys.correct_phone(
        session=session, task_id=task_id, phone=body.phone, note=body.note, actor_staff=user
    )
    flash(request, "The new number is saved; the old one is kept in the history.")
    return see_other(f"/tasks/{task_id}#contact-data")


@router.post("/tasks/{task_id}/second-contact")
@forms.form(_contact_again)
def task_second_contact(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    second_name: Annotated[str, Form()] = "",
    second_phone: Annotated[str, Form()] = "",
):
    body = SecondContactIn.model_validate({"name": second_name or None, "phone": second_phone or None})
    surveys.second_contact(
        session=session, task_id=task_id, name=body.name, phone=body.phone, actor_staff=user
    )
    flash(request, "Saved.")
    return see_other(f"/tasks/{task_id}#contact-data")


@router.post("/tasks/{task_id}/do-not-contact")
@forms.form(_contact_again)
def task_do_not_contact(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[DoNotContactIn, Form()],
):
    surveys.do_not_contact(session=session, task_id=task_id, note=body.note, actor_staff=user)
    flash(request, "The customer will not be contacted again: left out of later screenings and reminders.")
    return see_other(f"/tasks/{task_id}")


def _scripts_page(request, user, session, *, error=None, status=200, form=None, band=None):
    if not user.has_role(Role.manager, Role.supervisor, Role.admin, Role.auditor):
        raise Forbidden("only the store's manager edits the call scripts")
    scripts = surveys.call_scripts(session=session, store_id=user.store_id, locale=page_locale(request, user))
    return render(
        request,
        "tasks/call_scripts.html",
        user=user,
        status_code=status,
        scripts=scripts,
        error=error,
        error_band=band,
        form=form or {},
    )


@router.get("/call-scripts")
def call_scripts_page(request: Request, user: CurrentUser, session: SessionDep):
    return _scripts_page(request, user, session)


def _script_again(request, user, session, *, error, status, form, band):
    return _scripts_page(request, user, session, error=error, status=status, form=dict(form), band=band)


@router.post("/call-scripts/{band}")
@forms.form(_script_again)
def call_script_save(
    request: Request,
    band: str,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[CallScriptIn, Form()],
):
    surveys.save_call_script(
        session=session,
        store_id=user.store_id,
        band=band,
        opening=body.opening,
        questions=body.questions,
        actor_staff=user,
    )
    flash(request, "Saved.")
    return see_other("/call-scripts")
