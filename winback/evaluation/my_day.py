"""The advisor's day on the phone: the figures of the personal line above "My tasks" (done this
week, due today, call-backs today, my win-back rate against the store's target), in one place.

The win-back rate counts as the evaluation's per-advisor figure does (``assigned_rate_pct`` of
``evaluation.calculation.advisor_rows``): every customer assigned to the advisor, reached or not
(intention to treat), is back when their vehicle has a repair order after the task was assigned.
Here it runs over the cycles not yet evaluated (the ones the advisor is still working on)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Date, case, func, literal, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff, Store
from winback.accounts.service import effective_settings
from winback.customers.models import ServiceVisit
from winback.cycles.models import Target
from winback.evaluation.calculation import pct
from winback.evaluation.models import Evaluation
from winback.surveys.lists import end_of_today
from winback.surveys.models import SurveyStatus, SurveyTask


@dataclass(frozen=True)
class MyDay:
    """The personal line: each figure says what it counts (the page words it)."""

    done_this_week: int  # surveys closed as done since Monday (business week)
    due_today: int  # open tasks whose deadline is today
    overdue: int  # open tasks past their deadline
    callbacks_today: int  # open tasks with a call-back time (约定回电) today or earlier
    assigned: int  # customers assigned to me in the cycles not yet evaluated
    assigned_back: int  # of them, back with a repair order after the assignment
    winback_rate_pct: float | None  # assigned_back / assigned
    target_pct: float  # the store's win-back target (winback_target_pct)


def my_day(*, session: Session, advisor: Staff) -> MyDay:
    now, end = clock.now(), end_of_today()
    start = end - timedelta(days=1)
    week = start - timedelta(days=clock.today().weekday())
    mine = SurveyTask.assignee_id == advisor.id
    is_open = SurveyTask.status == SurveyStatus.open
    counts = session.execute(
        select(
            func.count().filter(SurveyTask.status == SurveyStatus.done, SurveyTask.closed_at >= week),
            func.count().filter(is_open, SurveyTask.due_at >= start, SurveyTask.due_at < end),
            func.count().filter(is_open, SurveyTask.due_at < now),
            func.count().filter(is_open, SurveyTask.follow_up_at.is_not(None), SurveyTask.follow_up_at < end),
        ).where(mine)
    ).one()
    assigned, back = _assigned_and_back(session, advisor.id)
    target = float(effective_settings(session.get(Store, advisor.store_id)).winback_target_pct)
    return MyDay(
        done_this_week=int(counts[0]),
        due_today=int(counts[1]),
        overdue=int(counts[2]),
        callbacks_today=int(counts[3]),
        assigned=assigned,
        assigned_back=back,
        winback_rate_pct=pct(back, assigned),
        target_pct=target,
    )


def _assigned_and_back(session: Session, advisor_id: int) -> tuple[int, int]:
    """My tasks in cycles without an evaluation, and how many of their vehicles came back
    (a repair order dated after the task was assigned, business day).

    Counted by the database: each task's vehicle's last repair order comes from one grouped
    pass over those vehicles' repair orders by the per-vehicle index, and is compared with
    its assignment's business day. A cycle's tasks share their assignment time (one per
    assignment run), so those days are worked out here for the few times there are and handed
    to the count. (Compared here task by task, an advisor's ~2,000 tasks were ~40 % of the
    task list page's time.)"""
    mine = (SurveyTask.assignee_id == advisor_id, SurveyTask.cycle_id.not_in(select(Evaluation.cycle_id)))
    times = session.scalars(select(SurveyTask.assigned_at).where(*mine).distinct()).all()
    if not times:
        return 0, 0
    per_task = (
        select(SurveyTask.assigned_at, func.max(ServiceVisit.visit_date).label("last_visit"))
        .join(Target, Target.id == SurveyTask.target_id)
        .outerjoin(ServiceVisit, ServiceVisit.vehicle_id == Target.vehicle_id)
        .where(*mine)
        .group_by(SurveyTask.id, SurveyTask.assigned_at)
        .subquery()
    )
    assigned_on = case(
        {at: literal(clock.local(at).date(), Date) for at in times}, value=per_task.c.assigned_at
    )
    assigned, back = session.execute(
        select(func.count(), func.count().filter(per_task.c.last_visit > assigned_on))
    ).one()
    return int(assigned), int(back)
