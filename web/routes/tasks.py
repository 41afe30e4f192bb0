"""Survey tasks: the advisor's list and task page, the supervisor's reassignment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from edge.session import SessionDep
from edge.users import CurrentUser
from web import flash, forms, render
from web.routes.archive import notes_context
from web.routes.call_context import queue_context, task_context
from web.routes.cases import cases_context
from web.routes.common import PAGE, is_htmx, safe_back
from web.routes.common import see_other as _see_other
from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.cases import service as cases
from winback.customers import service as customers
from winback.cycles import service as cycles
from winback.errors import InvalidInput
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, Disposition, ShopKind, SurveyStatus
from winback.surveys.schemas import ComplaintAnswerIn, ContactAttemptIn, ExcludeIn, ReassignIn, SurveyResultIn

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
    shown = {"tasks": rows, "q": q, "closed": closed, "band": band, "overdue": overdue}
    return render(request, "tasks/list.html", user=user, **shown, **queue_context(session, user))


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
        advisors=accounts.names_with_role(session=session, store_id=task.store_id, role=Role.advisor),
        form=form,
        error=error,
        history=surveys.carried_history(session=session, task=task),
        reaching_outcomes=[
            d.value for d in Disposition if d.reached_customer and d != Disposition.do_not_call
        ],
        rules=cycles.get_cycle(session=session, cycle_id=task.cycle_id).rules,
        today_iso=clock.today().isoformat(),
        **task_context(request, user, session, task),
        now_local=clock.local(clock.now()).strftime("%Y-%m-%dT%H:%M"),
        **notes_context(request, session, task.customer_id, f"/tasks/{task.id}"),
        **cases_context(session, task),
    )


@router.get("/tasks/{task_id}")
def task_page(request: Request, task_id: int, user: CurrentUser, session: SessionDep):
    return _task_page(request, user, session, task_id)


def _yes_no(value):
    return {"yes": True, "no": False}.get(value or "")


def _survey_input(posted) -> dict:
    """The survey form's fields as SurveyResultIn reads them (and as the form shows them again)."""
    return {
        # A question left unanswered stays unanswered (None): nothing is assumed for the advisor.
        "method": posted.get("method") or None,
        "reasons": posted.getlist("reasons"),
        "reason_other": posted.get("reason_other"),
        "serviced_elsewhere": _yes_no(posted.get("serviced_elsewhere")),
        "elsewhere_kind": posted.get("elsewhere_kind") or None,
        "elsewhere_what": posted.get("elsewhere_what"),
        "elsewhere_where": posted.get("elsewhere_where"),
        "elsewhere_why": posted.get("elsewhere_why"),
        "complaint": posted.get("complaint"),
        "would_return": _yes_no(posted.get("would_return")),
        "appointment_on": posted.get("appointment_on") or None,
        "voucher_offered": True if posted.get("voucher_offered") == "yes" else None,
        "notes": posted.get("notes"),
        "unreachable": posted.get("unreachable") == "yes",
        "contact_outcome": posted.get("contact_outcome") or None,
        "expected_version": posted.get("version") or None,
    }


def _survey_again(request, user, session, *, error, status, form, task_id):
    return _task_page(
        request, user, session, int(task_id), form=_survey_input(form), error=error, status_code=status
    )


@router.post("/tasks/{task_id}/close")
@forms.form(_survey_again)
async def task_close(request: Request, task_id: int, user: CurrentUser, session: SessionDep):
    """One form, two buttons: "save" keeps a half-finished survey, "close" validates and closes."""
    posted = await request.form()
    payload = SurveyResultIn.model_validate(_survey_input(posted)).model_dump()
    codes = payload.pop("reasons")
    if posted.get("action") == "save":
        cases.save_survey_draft(
            session=session, task_id=task_id, reason_codes_=codes, actor_staff=user, **payload
        )
        flash(request, "Draft saved.")
        return _see_other(f"/tasks/{task_id}")
    cases.close_survey(session=session, task_id=task_id, reason_codes_=codes, actor_staff=user, **payload)
    flash(request, "Task closed.")
    return _see_other("/tasks")


def _attempt_again(request, user, session, *, error, status, form, task_id):
    shown = {
        "att_method": form.get("method", "phone"),
        "att_outcome": form.get("outcome", ""),
        "att_note": form.get("note", ""),
        "call_back_at": form.get("call_back_at", ""),
    }
    page = _attempts_section if is_htmx(request) else _task_page
    return page(request, user, session, int(task_id), form=shown, error=error, status_code=status)


@router.post("/tasks/{task_id}/attempts")
@forms.form(_attempt_again)
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
    if not outcome:
        raise InvalidInput("choose the outcome of the attempt", field="outcome")
    body = ContactAttemptIn.model_validate(
        {
            "method": method,
            "outcome": outcome,
            "note": note or None,
            "call_back_at": call_back_at or None,
            "expected_version": version or None,
        }
    )
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
    task = surveys.get_task(session=session, task_id=task_id, viewer=user)
    policy = surveys.unreachable_policy(session, task)
    if task.status == SurveyStatus.unreachable:
        flash(
            request,
            "{failed} attempts without reaching the customer: marked unreachable.",
            failed=policy.failed,
        )
    elif body.outcome.failed or body.outcome == Disposition.wrong_number:
        flash(
            request,
            "Not reached: {failed} of {limit} attempts, on {days} of at least {min_days} different days, before the task counts as unreachable.",
            failed=policy.failed,
            limit=policy.limit,
            days=policy.days,
            min_days=policy.min_days,
        )
    else:
        flash(request, "Saved.")
    if is_htmx(request):
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
        policy=surveys.unreachable_policy(session, task),
    )


def _answer_again(request, user, session, *, error, status, form, task_id):
    shown = {"answer": form.get("answer", "")}
    return _task_page(request, user, session, int(task_id), form=shown, error=error, status_code=status)


@router.post("/tasks/{task_id}/answer")
@forms.form(_answer_again, messages={"answer.missing": "write the answer"})
def task_answer(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[ComplaintAnswerIn, Form()],
):
    cases.answer_task_complaint(session=session, task_id=task_id, answer=body.answer, actor_staff=user)
    flash(request, "Saved.")
    return _see_other(f"/tasks/{task_id}")


def _exclude_again(request, user, session, *, error, status, form, task_id):
    shown = {"exclude_reason": form.get("reason", "")}
    return _task_page(request, user, session, int(task_id), form=shown, error=error, status_code=status)


@router.post("/tasks/{task_id}/exclude")
@forms.form(_exclude_again, messages={"reason.missing": "say why the target is excluded"})
def task_exclude(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[ExcludeIn, Form()],
):
    task = surveys.exclude_task(session=session, task_id=task_id, reason=body.reason, actor_staff=user)
    flash(request, "Saved.")
    return _see_other(f"/cycles/{task.cycle_id}")


def _back_with_message(default: str):
    """For a list's inline form: the message on the list it was posted from."""

    def back(request, user, session, *, error, status, form, **_params):
        flash(request, error, "error")
        return _see_other(safe_back(form.get("back"), default))

    return back


@router.post("/tasks/reassign")
@forms.form(_back_with_message("/cycles"))
async def tasks_reassign_many(request: Request, user: CurrentUser, session: SessionDep):
    form = await request.form()
    back = form.get("back") or "/cycles"
    try:
        ids = [int(i) for i in form.getlist("task_ids")]
        to_staff_id = int(form.get("assignee_id") or 0)
    except ValueError:
        raise forms.FormError("choose at least one task") from None
    surveys.reassign_many(session=session, task_ids=ids, to_staff_id=to_staff_id, actor_staff=user)
    flash(request, "Task reassigned.")
    return _see_other(safe_back(back, "/cycles"))


@router.post("/staff/{staff_id}/hand-over")
@forms.form(_back_with_message("/cycles"))
def staff_hand_over(
    request: Request,
    staff_id: int,
    user: CurrentUser,
    session: SessionDep,
    back: Annotated[str, Form()] = "/cycles",
    to_staff_id: Annotated[str, Form()] = "",
):
    try:
        to = int(to_staff_id) if to_staff_id.strip() else None
    except ValueError:
        raise forms.FormError("The input is not valid") from None
    result = surveys.hand_over_advisor(session=session, advisor_id=staff_id, actor_staff=user, to_staff_id=to)
    counts = {"tasks": result["tasks"], "customers": result["customers"]}
    if result["deactivated"]:
        flash(request, "Handed over and deactivated: {tasks} tasks, {customers} customers.", **counts)
    else:
        flash(
            request,
            "Work handed over: {tasks} tasks, {customers} customers. An admin deactivates the account.",
            **counts,
        )
    return _see_other(safe_back(back, "/cycles"))


def _reassign_again(request, user, session, *, error, status, form, task_id):
    flash(request, error, "error")
    back = safe_back(form.get("back"), "")
    if is_htmx(request):
        return _cycle_row(request, user, session, int(task_id), back, status_code=status)
    return _see_other(back or f"/tasks/{task_id}")


class ReassignForm(ReassignIn):
    back: str = ""  # the page the form was posted from


@router.post("/tasks/{task_id}/reassign")
@forms.form(_reassign_again)
def task_reassign(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[ReassignForm, Form()],
):
    back = safe_back(body.back, "")
    task = surveys.reassign(
        session=session,
        task_id=task_id,
        to_staff_id=body.assignee_id,
        expected_version=body.expected_version,
        actor_staff=user,
    )
    flash(request, "Task reassigned.")
    if is_htmx(request):
        return _cycle_row(request, user, session, task.id, back)
    return _see_other(back or f"/cycles/{task.cycle_id}")


def _cycle_row(request, user, session, task_id: int, back: str, status_code: int = 200):
    """The cycle page's row of a task after a reassignment from it (htmx), with the board and
    the status message out of band."""
    task = surveys.view_of(surveys.get_task(session=session, task_id=task_id, viewer=user))
    advisors = accounts.names_with_role(session=session, store_id=task.store_id, role=Role.advisor)
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
