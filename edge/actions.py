"""What a page and an API call both do beyond one service call, written once."""

from __future__ import annotations

from fastapi.responses import Response
from sqlalchemy.orm import Session

from edge.xlsx import xlsx_response
from flows import launcher
from winback.accounts.models import Staff
from winback.customers import import_reports
from winback.cycles import service as cycles
from winback.errors import NotFound
from winback.evaluation import export
from winback.evaluation import service as evaluation
from winback.plans import service as plans
from winback.plans.models import PlanStatus, RectificationPlan
from winback.surveys import service as surveys


def decide_plan(
    *, session: Session, plan_id: int, approve: bool, comment: str | None, actor_staff: Staff
) -> RectificationPlan:
    """The manager's decision; an approved plan's execution starts at once (the daily watcher
    would also pick it up). The approval is committed first: the execution flow reads it
    from the database."""
    plan = plans.decide_plan(
        session=session, plan_id=plan_id, approve=approve, comment=comment, actor_staff=actor_staff
    )
    session.commit()
    if plan.status == PlanStatus.approved:
        launcher.start_execution(cycle_id=plan.cycle_id, store_id=plan.store_id)
    return plan


def evaluation_workbook(*, session: Session, cycle_id: int, store_ids: list[int], locale: str) -> Response:
    """The cycle's evaluation report as XLSX, reasons named by the store in ``locale``."""
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids)
    ev = evaluation.get_evaluation(session=session, cycle_id=cycle.id)
    if ev is None:
        raise NotFound("this cycle has not been evaluated yet")
    labels = {
        r.code: r.label(locale)
        for r in surveys.reason_codes(session=session, store_id=cycle.store_id, active_only=False)
    }
    body = export.evaluation_xlsx(
        ev,
        month=cycle.month,
        trend=evaluation.trend(session=session, store_id=cycle.store_id),
        locale=locale,
        reason_labels=labels,
    )
    return xlsx_response(body, f"evaluation-{cycle.store.code}-{cycle.month}.xlsx")


def import_errors_workbook(
    *, session: Session, batch_id: int, store_ids: list[int], locale: str, viewer: Staff
) -> Response:
    """An import's row errors as XLSX (row, column, reason, value) in ``locale``."""
    batch = import_reports.get_batch(session=session, batch_id=batch_id, store_ids=store_ids)
    body = import_reports.errors_xlsx(session=session, batch_id=batch.id, locale=locale, viewer=viewer)
    return xlsx_response(body, f"import-{batch.id}-errors.xlsx")
