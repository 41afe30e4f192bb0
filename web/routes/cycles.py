"""The monthly cycle pages (admin, supervisor, manager)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request

from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from flows import launcher
from web import flash, render
from web.routes.common import PAGE, fragment_or_page, is_htmx
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.customers import privacy
from winback.cycles import flow_runs
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage
from winback.errors import Conflict, InvalidInput
from winback.evaluation import service as evaluation
from winback.plans import service as plans
from winback.surveys import service as surveys
from winback.surveys.models import SurveyStatus

router = APIRouter(include_in_schema=False)
READERS = (Role.admin, Role.supervisor, Role.manager, Role.auditor)


# ---- cycles -----------------------------------------------------------------------------


@router.get("/cycles")
def cycle_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    _need(user, *READERS)
    rows = cycles.cycles_page(session=session, store_ids=store_ids(user), search=q, page=page, page_size=PAGE)
    from winback import clock

    return fragment_or_page(
        request,
        render(
            request,
            "cycles/list.html",
            user=user,
            cycles=rows,
            q=q,
            this_month=clock.today().strftime("%Y-%m"),
            runs=flow_runs.flow_runs_of(session=session, store_ids=store_ids(user), limit=10),
            running=flow_runs.flows_running(session=session, store_ids=store_ids(user)),
            live=is_htmx(request),
        ),
    )


@router.post("/cycles")
def cycle_start(request: Request, user: CurrentUser, month: Annotated[str, Form()] = ""):
    _need(user, Role.admin)
    try:
        run = launcher.start_monthly_cycle(
            store_code=user.store.code, month=month.strip(), store_id=user.store_id
        )
    except InvalidInput as exc:
        flash(request, exc.message, "error")
        return _see_other("/cycles")
    flash(request, "The cycle has started; its stages run as Prefect flows.")
    return _see_other(f"/cycles?run={run.record_id}")


@router.post("/watch")
def watch_now(request: Request, user: CurrentUser):
    _need(user, Role.admin, Role.supervisor)
    launcher.launch("watch_deadlines", {"store_codes": [user.store.code]}, store_id=user.store_id)
    return _see_other("/cycles")


@router.get("/cycles/{cycle_id}")
def cycle_page(
    request: Request,
    cycle_id: int,
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1)] = 1,
    q: str = "",
    status: str = "",
    assignee: str = "",
):
    return _cycle_page(request, cycle_id, user, session, page, q=q, status=status, assignee=assignee)


@router.post("/cycles/{cycle_id}/cancel")
def cycle_cancel(
    request: Request,
    cycle_id: int,
    user: CurrentUser,
    session: SessionDep,
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
):
    """The admin's cancel button: the reason and a ticked confirmation (no script needed)."""
    _need(user, Role.admin)
    if confirm != "yes":
        flash(request, "Tick the box to confirm that the cycle is to be cancelled.", "error")
        return _see_other(f"/cycles/{cycle_id}")
    try:
        cycles.cancel_cycle(
            session=session,
            cycle_id=cycle_id,
            reason=reason,
            actor=Actor.person(user),
            store_ids=store_ids(user),
        )
    except (InvalidInput, Conflict) as exc:
        flash(request, exc.message, "error")
        return _see_other(f"/cycles/{cycle_id}")
    flash(request, "The cycle was cancelled.")
    return _see_other(f"/cycles/{cycle_id}")


@router.post("/cycles/{cycle_id}/no-action")
def cycle_no_action(
    request: Request,
    cycle_id: int,
    user: CurrentUser,
    session: SessionDep,
    reason: Annotated[str, Form()] = "",
):
    """The manager's "no action" (无需整改) with its reason, for a plan without measures."""
    try:
        plans.record_no_action(session=session, cycle_id=cycle_id, reason=reason, actor_staff=user)
    except (InvalidInput, Conflict) as exc:
        flash(request, exc.message, "error")
        return _see_other(f"/cycles/{cycle_id}")
    flash(request, "No action recorded; the cycle moves on.")
    return _see_other(f"/cycles/{cycle_id}")


@router.get("/cycles/{cycle_id}/progress")
def cycle_progress(
    request: Request,
    cycle_id: int,
    user: CurrentUser,
    session: SessionDep,
    live: bool = False,
):
    """Each stage's state and its flow run's state, polled by the cycle page while a stage flow
    runs (``live``: asked by a poll, so the last answer says the flows finished); asked for
    without htmx, it sends the browser to the cycle page (whose search and pages live there)."""
    _need(user, *READERS)
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    if not is_htmx(request):
        return fragment_or_page(request, _see_other(f"/cycles/{cycle.id}"))
    return fragment_or_page(
        request,
        render(
            request,
            "cycles/_progress.html",
            user=user,
            cycle=cycle,
            live=live,
            fragment=True,
            progress=cycles.cycle_progress(session=session, cycle=cycle, store_ids=store_ids(user)),
        ),
    )


def _cycle_page(
    request: Request,
    cycle_id: int,
    user,
    session,
    page: int,
    q: str = "",
    status: str = "",
    assignee: str = "",
):
    _need(user, *READERS)  # an advisor sees their own tasks only (/tasks)
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    try:
        wanted = SurveyStatus(status) if status else None
    except ValueError:
        raise InvalidInput("unknown status '{status}'", status=status, field="status") from None
    try:
        assignee_id = int(assignee) if assignee.strip() else None
    except ValueError:
        raise InvalidInput("The input is not valid", field="assignee") from None
    tasks = surveys.cycle_tasks_page(
        session=session,
        cycle_id=cycle.id,
        search=q,
        status=wanted,
        assignee_id=assignee_id,
        page=page,
        by_phone=privacy.may_see_contact(user),
        page_size=PAGE,
    )
    progress = cycles.cycle_progress(session=session, cycle=cycle, store_ids=store_ids(user))
    advisors = accounts.names_with_role(session=session, store_id=cycle.store_id, role=Role.advisor)
    return render(
        request,
        "cycles/detail.html",
        user=user,
        cycle=cycle,
        tasks=tasks,
        q=q,
        status=status,
        assignee=assignee_id,
        statuses=list(SurveyStatus),
        board=surveys.progress(session=session, cycle_id=cycle.id),
        progress=progress,
        runs=progress.runs,
        running=progress.running,
        plan=plans.current_plan(session=session, cycle_id=cycle.id),
        holdout=cycles.holdout_targets(session=session, cycle_id=cycle.id),
        evaluation=evaluation.get_evaluation(session=session, cycle_id=cycle.id),
        advisors=advisors,
        active_ids={a.id for a in advisors},
        so_far=surveys.reasons_so_far(session=session, cycle_id=cycle.id),
        reason_by_code=surveys.reasons_by_code(session=session, store_ids=[cycle.store_id]),
        Stage=CycleStage,
        can_cancel=user.has_role(Role.admin) and cycles.can_cancel(cycle),
        can_no_action=user.has_role(Role.manager)
        and plans.can_record_no_action(session=session, cycle=cycle),
    )
