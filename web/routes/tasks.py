"""Survey tasks: the advisor's list and task page, the supervisor's reassignment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from edge.session import SessionDep
from edge.users import CurrentUser
from web import flash, render
from web.routes.archive import notes_context
from web.routes.common import PAGE, is_htmx, safe_back
from web.routes.common import see_other as _see_other
from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.customers import service as customers
from winback.cycles import service as cycles
from winback.errors import Conflict, DomainError, InvalidInput
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, Disposition, ShopKind, SurveyStatus
from winback.surveys.schemas import ContactAttemptIn, SurveyResultIn

router = APIRouter(include_in_schema=False)


# ---- survey tasks -----------------------------------------------------------------------


@router.get("/tasks")
def task_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    closed: bool = False,
    band: str = "",
    overdue: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
):
    rows = surveys.my_tasks_page(
        session=session,
        advisor_id=user.id,
        page=page,
        page_size=PAGE,
        include_closed=closed,
        search=q or None,
        band=band or None,
        overdue_only=overdue,
    )
    return render(
        request, "tasks/list.html", user=user, tasks=rows, q=q, closed=closed, band=band, overdue=overdue
    )


def _form_of(task) -> dict:
    """The saved (possibly half-finished) survey, as the form shows it."""
    return {
        "method": task.method.value if task.method else None,
        "reasons": [r.reason_code.code for r in task.reasons],
        "reason_other": task.reason_other,
        "serviced_elsewhere": task.serviced_elsewhere,
        "elsewhere_kind": task.elsewhere_kind.value if task.elsewhere_kind else None,
        "elsewhere_what": task.elsewhere_what,
        "elsewhere_where": task.elsewhere_where,
        "elsewhere_why": task.elsewhere_why,
        "would_return": task.would_return,
        "appointment_on": task.appointment_on,
        "voucher_offered": task.voucher_offered,
        "notes": task.notes,
    }


def _task_page(
    request, user, session, task_id: int, form=None, error: str | None = None, status_code: int = 200
):
    task = surveys.get_task(session=session, task_id=task_id, viewer=user)
    form = {**_form_of(task), **(form or {})}
    return render(
        request,
        "tasks/detail.html",
        user=user,
        task=task,
        status_code=status_code,
        customer=task.target.customer,
        vehicle=task.target.vehicle,
        visits=customers.visits_of(session=session, customer_id=task.customer_id),
        reasons=surveys.reason_codes(session=session, store_id=task.store_id),
        methods=list(ContactMethod),
        outcomes=list(Disposition),
        shop_kinds=list(ShopKind),
        advisors=accounts.staff_with_role(session=session, store_id=task.store_id, role=Role.advisor),
        form=form,
        error=error,
        now_local=clock.local(clock.now()).strftime("%Y-%m-%dT%H:%M"),
        **notes_context(request, session, task.customer_id, f"/tasks/{task.id}"),
    )


@router.get("/tasks/{task_id}")
def task_page(request: Request, task_id: int, user: CurrentUser, session: SessionDep):
    return _task_page(request, user, session, task_id)


def _yes_no(value):
    return {"yes": True, "no": False}.get(value or "")


@router.post("/tasks/{task_id}/close")
async def task_close(request: Request, task_id: int, user: CurrentUser, session: SessionDep):
    """One form, two buttons: "save" keeps a half-finished survey, "close" validates and closes."""
    form = await request.form()
    data = {
        "method": form.get("method") or "phone",
        "reasons": form.getlist("reasons"),
        "reason_other": form.get("reason_other"),
        "serviced_elsewhere": form.get("serviced_elsewhere") == "yes",
        "elsewhere_kind": form.get("elsewhere_kind") or None,
        "elsewhere_what": form.get("elsewhere_what"),
        "elsewhere_where": form.get("elsewhere_where"),
        "elsewhere_why": form.get("elsewhere_why"),
        "complaint": form.get("complaint"),
        "would_return": _yes_no(form.get("would_return")),
        "appointment_on": form.get("appointment_on") or None,
        "voucher_offered": form.get("voucher_offered") == "yes",
        "notes": form.get("notes"),
        "unreachable": form.get("unreachable") == "yes",
        "expected_version": form.get("version") or None,
    }
    draft = form.get("action") == "save"
    try:
        body = SurveyResultIn.model_validate(data)
        payload = body.model_dump()
        codes = payload.pop("reasons")
        if draft:
            surveys.save_draft(
                session=session, task_id=task_id, reason_codes_=codes, actor_staff=user, **payload
            )
            flash(request, "Draft saved.")
            return _see_other(f"/tasks/{task_id}")
        surveys.close_task(session=session, task_id=task_id, reason_codes_=codes, actor_staff=user, **payload)
    except ValidationError as exc:
        session.rollback()
        return _task_page(
            request,
            user,
            session,
            task_id,
            form=data,
            status_code=422,
            error="; ".join(e["msg"] for e in exc.errors()),
        )
    except (InvalidInput, DomainError) as exc:
        session.rollback()
        if exc.status in (403, 404):
            raise
        return _task_page(
            request, user, session, task_id, form=data, error=exc.message, status_code=exc.status
        )
    flash(request, "Task closed.")
    return _see_other("/tasks")


@router.post("/tasks/{task_id}/attempts")
def task_attempt(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    method: Annotated[str, Form()] = "phone",
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    call_back_at: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
):
    raw = {
        "method": method,
        "outcome": outcome,
        "note": note or None,
        "call_back_at": call_back_at or None,
        "expected_version": version or None,
    }
    form = {"att_method": method, "att_outcome": outcome, "att_note": note, "call_back_at": call_back_at}
    try:
        body = ContactAttemptIn.model_validate(raw)
        surveys.record_attempt(
            session=session,
            task_id=task_id,
            method=body.method,
            outcome=body.outcome,
            note=body.note,
            call_back_at=body.call_back_at,
            expected_version=body.expected_version,
            actor_staff=user,
        )
    except ValidationError as exc:
        session.rollback()
        page = _attempts_section if is_htmx(request) else _task_page
        return page(
            request,
            user,
            session,
            task_id,
            form=form,
            status_code=422,
            error="; ".join(e["msg"] for e in exc.errors()),
        )
    except DomainError as exc:
        session.rollback()
        if exc.status in (403, 404):
            raise
        page = _attempts_section if is_htmx(request) else _task_page
        return page(request, user, session, task_id, form=form, error=exc.message, status_code=exc.status)
    flash(request, "Saved.")
    if is_htmx(request):
        task = surveys.get_task(session=session, task_id=task_id, viewer=user)
        if task.status == SurveyStatus.open:
            return _attempts_section(request, user, session, task_id)
        # The attempt closed the task (unreachable, do not call): the whole page changes.
        return Response(status_code=204, headers={"HX-Redirect": f"/tasks/{task_id}"})
    return _see_other(f"/tasks/{task_id}")


def _attempts_section(
    request, user, session, task_id: int, form=None, error: str | None = None, status_code: int = 200
):
    """The task page's contact attempts (list and form) after recording one from it (htmx),
    with the status message and the survey form's new version out of band."""
    task = surveys.get_task(session=session, task_id=task_id, viewer=user)
    return render(
        request,
        "tasks/_attempts.html",
        user=user,
        task=task,
        status_code=status_code,
        fragment=True,
        methods=list(ContactMethod),
        outcomes=list(Disposition),
        form=form or {},
        error=error,
        now_local=clock.local(clock.now()).strftime("%Y-%m-%dT%H:%M"),
    )


@router.post("/tasks/{task_id}/answer")
def task_answer(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    answer: Annotated[str, Form()] = "",
):
    try:
        surveys.answer_complaint(session=session, task_id=task_id, answer=answer, actor_staff=user)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _task_page(
            request,
            user,
            session,
            task_id,
            form={"answer": answer},
            error=exc.message,
            status_code=exc.status,
        )
    flash(request, "Saved.")
    return _see_other(f"/tasks/{task_id}")


@router.post("/tasks/{task_id}/exclude")
def task_exclude(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    reason: Annotated[str, Form()] = "",
):
    try:
        task = surveys.exclude_task(session=session, task_id=task_id, reason=reason, actor_staff=user)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _task_page(
            request,
            user,
            session,
            task_id,
            form={"exclude_reason": reason},
            error=exc.message,
            status_code=exc.status,
        )
    flash(request, "Saved.")
    return _see_other(f"/cycles/{task.cycle_id}")


@router.post("/tasks/reassign")
async def tasks_reassign_many(request: Request, user: CurrentUser, session: SessionDep):
    form = await request.form()
    back = form.get("back") or "/cycles"
    try:
        ids = [int(i) for i in form.getlist("task_ids")]
        surveys.reassign_many(
            session=session, task_ids=ids, to_staff_id=int(form.get("assignee_id") or 0), actor_staff=user
        )
    except ValueError:
        flash(request, "choose at least one task", "error")
        return _see_other(safe_back(back, "/cycles"))
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return _see_other(safe_back(back, "/cycles"))
    flash(request, "Task reassigned.")
    return _see_other(safe_back(back, "/cycles"))


@router.post("/staff/{staff_id}/hand-over")
def staff_hand_over(
    request: Request,
    staff_id: int,
    user: CurrentUser,
    session: SessionDep,
    back: Annotated[str, Form()] = "/cycles",
):
    try:
        result = surveys.hand_over_advisor(session=session, advisor_id=staff_id, actor_staff=user)
    except InvalidInput as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return _see_other(safe_back(back, "/cycles"))
    flash(request, f"Handed over: {result['tasks']} / {result['customers']}")
    return _see_other(safe_back(back, "/cycles"))


@router.post("/tasks/{task_id}/reassign")
def task_reassign(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    assignee_id: Annotated[int, Form()],
    back: Annotated[str, Form()] = "",
):
    back = safe_back(back, "")
    try:
        task = surveys.reassign(session=session, task_id=task_id, to_staff_id=assignee_id, actor_staff=user)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        flash(request, exc.message, "error")
        if is_htmx(request):
            return _cycle_row(request, user, session, task_id, back, status_code=exc.status)
        return _see_other(back or f"/tasks/{task_id}")
    flash(request, "Task reassigned.")
    if is_htmx(request):
        return _cycle_row(request, user, session, task.id, back)
    return _see_other(back or f"/cycles/{task.cycle_id}")


def _cycle_row(request, user, session, task_id: int, back: str, status_code: int = 200):
    """The cycle page's row of a task after a reassignment from it (htmx), with the board and
    the status message out of band."""
    task = surveys.get_task(session=session, task_id=task_id, viewer=user)
    advisors = accounts.staff_with_role(session=session, store_id=task.store_id, role=Role.advisor)
    return render(
        request,
        "cycles/_reassigned.html",
        user=user,
        status_code=status_code,
        t=task,
        cycle=cycles.get_cycle(session=session, cycle_id=task.cycle_id),
        back=back or f"/cycles/{task.cycle_id}",
        advisors=advisors,
        active_ids={a.id for a in advisors},
        board=surveys.progress(session=session, cycle_id=task.cycle_id),
        so_far=surveys.reasons_so_far(session=session, cycle_id=task.cycle_id),
    )
