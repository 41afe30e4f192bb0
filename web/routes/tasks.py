"""Survey tasks: the advisor's list and task page, the supervisor's reassignment."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError

from api.deps import CurrentUser, SessionDep
from web import flash, render
from web.routes.archive import notes_context
from web.routes.common import see_other as _see_other
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.customers import service as customers
from winback.errors import DomainError, InvalidInput
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod
from winback.surveys.schemas import ContactAttemptIn, SurveyResultIn

router = APIRouter(include_in_schema=False)


# ---- survey tasks -----------------------------------------------------------------------

@router.get("/tasks")
def task_list(request: Request, user: CurrentUser, session: SessionDep, q: str = "", closed: bool = False):
    rows = surveys.my_tasks(session=session, advisor_id=user.id, include_closed=closed, search=q or None)
    return render(request, "tasks/list.html", user=user, tasks=rows, q=q, closed=closed)


def _task_page(request, user, session, task_id: int, form=None, error: str | None = None, status_code: int = 200):
    task = surveys.get_task(session=session, task_id=task_id, viewer=user)
    return render(
        request, "tasks/detail.html", user=user, task=task, status_code=status_code,
        customer=task.target.customer, vehicle=task.target.vehicle,
        visits=customers.visits_of(session=session, customer_id=task.customer_id),
        reasons=surveys.reason_codes(session=session, store_id=task.store_id),
        methods=list(ContactMethod), outcomes=["reached", "no_answer", "busy", "left_message", "wrong_number"],
        advisors=accounts.staff_with_role(session=session, store_id=task.store_id, role=Role.advisor),
        form=form or {}, error=error,
        **notes_context(request, session, task.customer_id, f"/tasks/{task.id}"),
    )


@router.get("/tasks/{task_id}")
def task_page(request: Request, task_id: int, user: CurrentUser, session: SessionDep):
    return _task_page(request, user, session, task_id)


@router.post("/tasks/{task_id}/close")
async def task_close(request: Request, task_id: int, user: CurrentUser, session: SessionDep):
    form = await request.form()
    data = {
        "method": form.get("method") or "phone",
        "reasons": form.getlist("reasons"),
        "serviced_elsewhere": form.get("serviced_elsewhere") == "yes",
        "elsewhere_what": form.get("elsewhere_what"), "elsewhere_where": form.get("elsewhere_where"),
        "elsewhere_why": form.get("elsewhere_why"), "complaint": form.get("complaint"),
        "notes": form.get("notes"), "unreachable": form.get("unreachable") == "yes",
    }
    try:
        body = SurveyResultIn.model_validate(data)
        payload = body.model_dump()
        surveys.close_task(session=session, task_id=task_id, reason_codes_=payload.pop("reasons"),
                           actor_staff=user, **payload)
    except ValidationError as exc:
        session.rollback()
        return _task_page(request, user, session, task_id, form=data, status_code=422,
                          error="; ".join(e["msg"] for e in exc.errors()))
    except (InvalidInput, DomainError) as exc:
        session.rollback()
        if exc.status in (403, 404):
            raise
        return _task_page(request, user, session, task_id, form=data, error=exc.message, status_code=exc.status)
    flash(request, "Task closed.")
    return _see_other("/tasks")


@router.post("/tasks/{task_id}/attempts")
def task_attempt(
    request: Request, task_id: int, user: CurrentUser, session: SessionDep,
    method: Annotated[str, Form()] = "phone", outcome: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
):
    try:
        body = ContactAttemptIn.model_validate({"method": method, "outcome": outcome, "note": note or None})
    except ValidationError as exc:
        return _task_page(request, user, session, task_id, error="; ".join(e["msg"] for e in exc.errors()),
                          status_code=422)
    surveys.record_attempt(session=session, task_id=task_id, method=body.method, outcome=body.outcome,
                           note=body.note, actor_staff=user)
    flash(request, "Saved.")
    return _see_other(f"/tasks/{task_id}")


@router.post("/tasks/{task_id}/reassign")
def task_reassign(
    request: Request, task_id: int, user: CurrentUser, session: SessionDep,
    assignee_id: Annotated[int, Form()], back: Annotated[str, Form()] = "",
):
    try:
        task = surveys.reassign(session=session, task_id=task_id, to_staff_id=assignee_id, actor_staff=user)
    except InvalidInput as exc:
        flash(request, exc.message, "error")
        return _see_other(back or f"/tasks/{task_id}")
    flash(request, "Task reassigned.")
    return _see_other(back if back.startswith("/") else f"/cycles/{task.cycle_id}")
