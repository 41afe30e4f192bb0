"""Target screening (筛选调查对象): the red lines applied to the archive, set-based.

The model's per-vehicle totals (``analytics.score_store``) are grouped once; the red lines, the
exclusions and the randomized holdout (``holdout.py``) are applied to them, and the targets are
inserted in one statement."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from db.bulk import insert_rows, read_rows
from winback import clock, collector
from winback.actor import Actor
from winback.analytics import service as analytics
from winback.config import ProcessDefaults
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.customers.visits import last_visits
from winback.cycles import holdout
from winback.cycles.models import (
    Band,
    CycleStage,
    MonthlyCycle,
    Target,
)
from winback.cycles.service import advance, get_cycle
from winback.months import age_years, rate_years, whole_months


@collector.young_collections_only()  # a set-based pass: winback/collector.py
def screen_targets(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """Apply the red lines to the archive and add the cycle's targets (set-based, idempotent).

    A vehicle is a target when it is active (not sold/scrapped/moved), its last repair order
    lies ``at_risk_months`` or more before the cycle's as-of date, the customer has not asked
    not to be called, and it is not already a target of another cycle still open (a cancelled
    cycle, or one closed with "no action", holds nobody).
    """
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    rules = cycle.rules
    as_of = cycle.as_of
    at_risk_before = as_of - relativedelta(months=rules.at_risk_months)
    lost_before = as_of - relativedelta(months=rules.lost_months)
    # The per-vehicle totals (first/last visit, count, spend) are grouped once, by the model's
    # scoring; the red lines and the model's picks are applied to those arrays in Python.
    scores = analytics.score_store(session=session, store_id=cycle.store_id, as_of=as_of, rules=rules)
    candidates = _candidates(scores, as_of=as_of, rules=rules, at_risk_before=at_risk_before)
    if not candidates:
        rows: list[dict[str, Any]] = []
    else:
        rows = _target_rows(
            session=session,
            cycle=cycle,
            candidates=candidates,
            scores=scores,
            priority=scores.priority,
            as_of=as_of,
            at_risk_before=at_risk_before,
            lost_before=lost_before,
        )
    held = holdout.draw(
        rows,
        share_pct=float(rules.holdout_pct),
        seed=f"{cycle.store_id}:{cycle.month}",
        segment_key=rules.holdout_segment,
    )
    for r in rows:
        r["holdout"] = r["vehicle_id"] in held
    if rows:
        insert_rows(session, Target.__table__, rows)
    counts = Counter(r["band"] for r in rows)
    total = session.scalar(select(func.count()).where(Target.cycle_id == cycle.id)) or 0
    advance(
        session=session,
        cycle=cycle,
        to=CycleStage.screened,
        actor=actor,
        targets=total,
        at_risk=counts.get("at_risk", 0),
        lost=counts.get("lost", 0),
        likely_lost=counts.get("likely_lost", 0),
        holdout=len(held),
    )
    return {
        "added": len(rows),
        "total": int(total),
        "at_risk": counts["at_risk"],
        "lost": counts["lost"],
        "likely_lost": counts["likely_lost"],
        "holdout": len(held),
    }


_NAMED_PICKS = 2000


def _candidates(
    scores: analytics.Scores, *, as_of: date, rules: ProcessDefaults, at_risk_before: date
) -> dict[int, int]:
    """The vehicles past the at-risk red line, or that the model gives up on when the cycle
    screens the likely lost, each with its index in ``scores``."""
    likely = (
        set(analytics.likely_lost(scores=scores, as_of=as_of, rules=rules))
        if rules.screen_likely_lost
        else set()
    )
    return {
        int(v): i
        for i, (v, last) in enumerate(zip(scores.vehicle_id.tolist(), scores.last_visit))
        if last <= at_risk_before or v in likely
    }


def _target_rows(
    *,
    session: Session,
    cycle: MonthlyCycle,
    candidates: dict[int, int],
    scores: analytics.Scores,
    priority: Any,
    as_of: date,
    at_risk_before: date,
    lost_before: date,
) -> list[dict[str, Any]]:
    """The target rows of ``candidates`` (vehicle id -> index into ``scores``), set-based."""
    now = clock.now()
    # Past the red line is decided in SQL too, so only candidates' rows are fetched; the
    # model's picks this side of the line (few) are named.
    likely = [v for v, i in candidates.items() if scores.last_visit[i] > at_risk_before]
    # The model's figures as Python floats once (a numpy scalar per row costs more than the row).
    figures = _Figures(scores, priority)
    rows = []
    postgresql = session.get_bind().dialect.name == "postgresql"
    for r in read_rows(
        session, _screenable(cycle, as_of, past=at_risk_before, also=likely, postgresql=postgresql)
    ):
        i = candidates.get(r.id)
        if i is not None:
            rows.append(_target_row(r, i, cycle, figures, as_of, at_risk_before, lost_before, now))
    rows.sort(key=lambda row: row["vehicle_id"])
    return rows


class _Figures:
    """``scores``' per-vehicle columns as lists, indexed like ``scores``."""

    def __init__(self, scores: analytics.Scores, priority: Any) -> None:
        self.last_visit, self.first_visit = scores.last_visit, scores.first_visit
        self.visits, self.spend = scores.visits.tolist(), scores.spend
        self.p_alive = scores.p_alive.tolist()
        self.expected_visits = scores.expected_visits.tolist()
        self.priority = priority.tolist()


def _screenable(cycle: MonthlyCycle, as_of: date, *, past: date, also: list[int], postgresql: bool = False):
    """The store's screenable vehicles with their owner and last repair order, in one query:
    those whose last repair order is ``past`` or older, and the vehicles ``also`` names.

    The exclusions (no calls, already a target here, a target of another open cycle) are
    uncorrelated ``NOT IN`` sets evaluated once, not sub-queries re-run for every vehicle.
    """
    # The last repair order of each vehicle, grouped once over the per-vehicle index and
    # joined once (customers/visits.py: a plan linear in the store's history).
    last = last_visits(store_id=cycle.store_id, as_of=as_of, postgresql=postgresql)
    # A customer already being surveyed in another open cycle is not called twice.
    open_elsewhere = (
        select(Target.customer_id)
        .join(MonthlyCycle, MonthlyCycle.id == Target.cycle_id)
        .where(
            # a customer belongs to one store: only this store's open cycles can hold them
            MonthlyCycle.store_id == cycle.store_id,
            MonthlyCycle.stage.not_in([CycleStage.evaluated, CycleStage.cancelled]),
            # the manager found nothing to rectify: its customers are free at once
            MonthlyCycle.no_action_at.is_(None),
            Target.cycle_id != cycle.id,
        )
    )
    already = select(Target.vehicle_id).where(Target.cycle_id == cycle.id)
    # Past the red line, or one of the model's picks (named when they are few; otherwise every
    # vehicle is read and the caller picks, as a long IN list would not fit a statement).
    last_visit_due = last.c.last_visit <= past
    if len(also) > _NAMED_PICKS:
        last_visit_due = true()
    elif also:
        last_visit_due = last_visit_due | Vehicle.id.in_(also)
    base = (
        select(
            Vehicle.id,
            Vehicle.customer_id,
            Vehicle.model,
            Vehicle.grade,
            Vehicle.warranty_end,
            Vehicle.plate,
            Customer.district,
            Customer.customer_type,
            Customer.gender,
            Customer.birth_date,
            Customer.occupation,
            last.c.visit_id.label("last_ro_id"),
        )
        .join(Customer, Customer.id == Vehicle.customer_id)
        .join(last, last.c.vehicle_id == Vehicle.id)
        .where(
            Vehicle.store_id == cycle.store_id,
            Vehicle.status == VehicleStatus.active,
            Customer.do_not_call.is_(False),
            Vehicle.customer_id.not_in(open_elsewhere),
            Vehicle.id.not_in(already),
            last_visit_due,
        )
        .subquery()
    )
    ro = ServiceVisit.__table__.alias("last_visit_ro")
    return (
        select(
            *(c for c in base.c if c.name != "last_ro_id"),
            ro.c.category,
            ro.c["items"].label("last_items"),
            ro.c.advisor_id,
        )
        .select_from(base)
        .join(ro, ro.c.id == base.c.last_ro_id)
    )


def _target_row(r, i, cycle, scores: _Figures, as_of, at_risk_before, lost_before, now) -> dict[str, Any]:
    """One target: its band by the red lines, the model's figures and the profile snapshot
    (column values as the table stores them: the band's value, not the enum)."""
    last, first, n = scores.last_visit[i], scores.first_visit[i], int(scores.visits[i])
    # Lost is *more than* lost_months without a visit; exactly 12 months is still at risk.
    if last > at_risk_before:
        band = Band.likely_lost.value
    else:
        band = Band.lost.value if last < lost_before else Band.at_risk.value
    years = rate_years(first, as_of)
    total = Decimal(scores.spend[i])
    return dict(
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        customer_id=r.customer_id,
        vehicle_id=r.id,
        band=band,
        last_visit_date=last,
        months_since_visit=whole_months(last, as_of),
        in_warranty=bool(r.warranty_end and r.warranty_end >= as_of),
        visit_count=n,
        total_spend=total,
        p_alive=round(scores.p_alive[i], 4),
        expected_visits=round(scores.expected_visits[i], 2),
        priority=round(scores.priority[i], 2),
        profile={
            "model": r.model,
            "grade": r.grade.value if r.grade else None,
            "plate": r.plate,
            "district": r.district,
            "customer_type": r.customer_type.value if r.customer_type else None,
            "gender": r.gender,
            "age": _age(r.birth_date, as_of),
            "occupation": r.occupation,
            "visits_per_year": round(n / years, 2),
            "spend_per_year": round(float(total) / years, 2),
            "last_category": r.category,
            "last_items": r.last_items,
            "last_advisor_id": r.advisor_id,
        },
        created_at=now,
    )


def _age(birth: date | None, as_of: date) -> int | None:
    return age_years(birth, as_of) if birth else None
