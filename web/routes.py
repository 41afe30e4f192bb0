"""Staff pages: parse the form, authorize, call the service, render. No business rules here."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.deps import CurrentUser, SessionDep, optional_user, store_ids
from flows import launcher
from web import flash, render
from winback.accounts import service as accounts
from winback.accounts.models import Role, Staff
from winback.audit import service as audit
from winback.customers import service as customers
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, FlowRunState
from winback.errors import DomainError, Forbidden, InvalidInput
from winback.evaluation import service as evaluation
from winback.plans import service as plans
from winback.plans.schemas import MeasureUpdate
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod
from winback.surveys.schemas import ContactAttemptIn, SurveyResultIn

router = APIRouter(include_in_schema=False)
PAGE = 50


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _need(user: Staff, *roles: Role) -> None:
    if not user.has_role(*roles):
        raise Forbidden("you may not do this")


@router.get("/")
def home(request: Request, session: SessionDep):
    user = optional_user(request, session)
    if user is None:
        return _see_other("/login")
    if user.has_role(Role.advisor) and not user.has_role(Role.admin, Role.supervisor, Role.manager):
        return _see_other("/tasks")
    if user.has_role(Role.auditor) and len(user.roles) == 1:
        return _see_other("/audit")
    return _see_other("/cycles")


@router.get("/login")
def login_form(request: Request, next: str = "/"):
    return render(request, "login.html", next=next, username="", error=None)


@router.post("/login")
def login(
    request: Request, session: SessionDep,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
):
    staff = accounts.authenticate(session=session, username=username.strip(), password=password)
    if staff is None:
        return render(request, "login.html", status_code=401, next=next, username=username,
                      error="Wrong username or password.")
    lang = request.session.get("lang")
    request.session.clear()
    request.session["staff_id"] = staff.id
    if lang:
        request.session["lang"] = lang
    return _see_other(next if next.startswith("/") and not next.startswith("//") else "/")


@router.post("/logout")
def logout(request: Request):
    request.session.clear()
    return _see_other("/login")


# ---- cycles -----------------------------------------------------------------------------

@router.get("/cycles")
def cycle_list(request: Request, user: CurrentUser, session: SessionDep):
    rows = cycles.list_cycles(session=session, store_ids=store_ids(user))
    from winback import clock

    return render(request, "cycles/list.html", user=user, cycles=rows, this_month=clock.today().strftime("%Y-%m"),
                  runs=cycles.flow_runs_of(session=session, store_ids=store_ids(user), limit=10))


@router.post("/cycles")
def cycle_start(request: Request, user: CurrentUser, month: Annotated[str, Form()] = ""):
    _need(user, Role.admin)
    try:
        run = launcher.start_monthly_cycle(store_code=user.store.code, month=month.strip())
    except InvalidInput as exc:
        flash(request, exc.message, "error")
        return _see_other("/cycles")
    flash(request, "The cycle has started; its stages run as Prefect flows.")
    return _see_other(f"/cycles?run={run.record_id}")


@router.post("/watch")
def watch_now(request: Request, user: CurrentUser):
    _need(user, Role.admin, Role.supervisor)
    launcher.launch("watch_deadlines", {"store_codes": [user.store.code]})
    return _see_other("/cycles")


@router.get("/cycles/{cycle_id}")
def cycle_page(
    request: Request, cycle_id: int, user: CurrentUser, session: SessionDep,
    page: Annotated[int, Query(ge=1)] = 1,
):
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    tasks, total = surveys.tasks_of_cycle(session=session, cycle_id=cycle.id, offset=(page - 1) * PAGE, limit=PAGE)
    runs = cycles.flow_runs_of(session=session, store_ids=store_ids(user), cycle_id=cycle.id)
    running = any(r.state in (FlowRunState.scheduled, FlowRunState.running) for r in runs)
    return render(
        request, "cycles/detail.html", user=user, cycle=cycle, tasks=tasks, total=total, page=page, page_size=PAGE,
        board=surveys.progress(session=session, cycle_id=cycle.id), runs=runs, running=running,
        plan=plans.current_plan(session=session, cycle_id=cycle.id),
        evaluation=evaluation.get_evaluation(session=session, cycle_id=cycle.id),
        advisors=accounts.staff_with_role(session=session, store_id=cycle.store_id, role=Role.advisor),
        reasons={r.code: r for r in surveys.reason_codes(session=session, store_id=cycle.store_id, active_only=False)},
        Stage=CycleStage,
    )


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


# ---- plans ------------------------------------------------------------------------------

@router.get("/plans/{plan_id}")
def plan_page(request: Request, plan_id: int, user: CurrentUser, session: SessionDep, error: str | None = None):
    plan = plans.get_plan(session=session, plan_id=plan_id, store_ids=store_ids(user))
    cycle = cycles.get_cycle(session=session, cycle_id=plan.cycle_id)
    return render(request, "plans/detail.html", user=user, plan=plan, cycle=cycle, error=error,
                  staff=[s for s in accounts.list_staff(session=session, store_id=plan.store_id) if s.active],
                  editable=plan.status.value in ("draft", "rejected") and user.has_role(Role.manager))


@router.post("/measures/{measure_id}")
def measure_update(
    request: Request, measure_id: int, user: CurrentUser, session: SessionDep,
    plan_id: Annotated[int, Form()], title: Annotated[str, Form()] = "", owner_id: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "", expected_effect: Annotated[str, Form()] = "",
    estimated_cost: Annotated[str, Form()] = "",
):
    try:
        body = MeasureUpdate.model_validate({
            "title": title or None, "owner_id": int(owner_id) if owner_id else None,
            "due_date": date.fromisoformat(due_date) if due_date else None,
            "expected_effect": expected_effect,
            "estimated_cost": Decimal(estimated_cost) if estimated_cost.strip() else None,
        })
        plans.update_measure(session=session, measure_id=measure_id, actor_staff=user, **body.model_dump())
    except (ValueError, InvalidOperation, ValidationError) as exc:
        session.rollback()
        msg = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        return plan_page(request, plan_id, user, session, error=msg or "The input is not valid")
    except InvalidInput as exc:
        session.rollback()
        return plan_page(request, plan_id, user, session, error=exc.message)
    flash(request, "Saved.")
    return _see_other(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/submit")
def plan_submit(request: Request, plan_id: int, user: CurrentUser, session: SessionDep):
    try:
        plans.submit_plan(session=session, plan_id=plan_id, actor_staff=user)
    except InvalidInput as exc:
        session.rollback()
        return plan_page(request, plan_id, user, session, error=exc.message)
    flash(request, "Plan submitted.")
    return _see_other(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/decide")
def plan_decide(
    request: Request, plan_id: int, user: CurrentUser, session: SessionDep,
    decision: Annotated[str, Form()], comment: Annotated[str, Form()] = "",
):
    try:
        plan = plans.decide_plan(session=session, plan_id=plan_id, approve=decision == "approve",
                                 comment=comment, actor_staff=user)
    except InvalidInput as exc:
        session.rollback()
        return plan_page(request, plan_id, user, session, error=exc.message)
    session.commit()
    if plan.status.value == "approved":
        launcher.start_execution(cycle_id=plan.cycle_id, store_id=plan.store_id)
        flash(request, "Plan approved.")
    else:
        flash(request, "Plan rejected.")
    return _see_other(f"/plans/{plan_id}")


# ---- customers and audit ----------------------------------------------------------------

@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: int, user: CurrentUser, session: SessionDep):
    customer = customers.get_customer(session=session, customer_id=customer_id, store_ids=store_ids(user))
    if not user.has_role(Role.admin, Role.supervisor, Role.manager, Role.auditor):
        # an advisor sees the customers of their own tasks only
        if not any(t.customer_id == customer.id for t in surveys.my_tasks(session=session, advisor_id=user.id, include_closed=True)):
            raise Forbidden("this customer is not one of yours")
    return render(request, "customers/detail.html", user=user, customer=customer,
                  visits=customers.visits_of(session=session, customer_id=customer.id),
                  events=audit.timeline(session=session, store_ids=store_ids(user), entity_type="customer", entity_id=customer.id))


@router.get("/audit")
def audit_home(request: Request, user: CurrentUser, session: SessionDep):
    _need(user, Role.auditor, Role.admin, Role.manager)
    return render(request, "audit/index.html", user=user,
                  events=audit.recent(session=session, store_ids=store_ids(user), limit=100))


@router.get("/audit/{entity_type}/{entity_id}")
def audit_timeline(request: Request, entity_type: str, entity_id: int, user: CurrentUser, session: SessionDep):
    _need(user, Role.auditor, Role.admin, Role.manager)
    events = audit.timeline(session=session, store_ids=store_ids(user), entity_type=entity_type, entity_id=entity_id)
    runs = []
    if entity_type == "cycle":
        runs = cycles.flow_runs_of(session=session, store_ids=store_ids(user), cycle_id=entity_id)
    return render(request, "audit/timeline.html", user=user, events=events, entity_type=entity_type,
                  entity_id=entity_id, runs=runs)


@router.get("/audit-lookup")
def audit_lookup(user: CurrentUser, entity_type: str = "customer", entity_id: int = 0):
    _need(user, Role.auditor, Role.admin, Role.manager)
    return _see_other(f"/audit/{entity_type}/{entity_id}")
