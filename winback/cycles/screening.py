"""Target screening (筛选调查对象): the red lines applied to the archive, set-based.

Each active vehicle's totals, last repair order and what a target records are read in one
statement (the store's history once); the model (``analytics.score_totals``) scores the totals,
the red lines, the exclusions and the randomized holdout (``holdout.py``) are applied to them,
and the targets are inserted in one statement."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.bulk import insert_rows, read_rows
from winback import clock, collector
from winback.actor import Actor
from winback.analytics import service as analytics
from winback.config import ProcessDefaults
from winback.customers import visits
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
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
    # One read of the store's history: each active vehicle's totals (first/last visit, count,
    # spend: the model's input), its last repair order and what a target records. The model
    # scores the totals; the red lines and its picks are applied to them in Python.
    postgresql = session.get_bind().dialect.name == "postgresql"
    vehicles = read_rows(session, _vehicles_with_history(cycle, as_of, postgresql=postgresql))
    scores = analytics.score_totals(
        [r[: len(analytics.MODEL_INPUT)] for r in vehicles],
        store_id=cycle.store_id,
        as_of=as_of,
        rules=rules,
    )
    candidates = _candidates(scores, as_of=as_of, rules=rules, at_risk_before=at_risk_before)
    rows = _target_rows(
        vehicles,
        cycle=cycle,
        candidates=candidates,
        scores=scores,
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
    vehicles: list[Any],
    *,
    cycle: MonthlyCycle,
    candidates: dict[int, int],
    scores: analytics.Scores,
    as_of: date,
    at_risk_before: date,
    lost_before: date,
) -> list[dict[str, Any]]:
    """The target rows of the screenable ``vehicles`` among ``candidates`` (vehicle id ->
    index into ``scores``), ordered by vehicle."""
    if not candidates:
        return []
    now = clock.now()
    # The model's figures as Python floats once (a numpy scalar per row costs more than the row).
    figures = _Figures(scores, scores.priority)
    rows = []
    for r in vehicles:
        i = candidates.get(r.vehicle_id)
        if i is not None and r.screenable:
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


def _vehicles_with_history(cycle: MonthlyCycle, as_of: date, *, postgresql: bool = False):
    """Every active vehicle of the store with a repair order up to ``as_of``, in one query:
    ``analytics.MODEL_INPUT`` (the model's input, as ``analytics.score_store`` reads it)
    first, then what a target records (the vehicle, its owner, the last repair order) and
    ``screenable``: the owner may be called and is not already a target here or in another
    open cycle.

    The exclusions are uncorrelated ``IN`` sets evaluated once, not sub-queries re-run for
    every vehicle; the history is read once, in the shared per-vehicle pass
    (``customers/visits.py``: a plan linear in the store's history), which also names each
    vehicle's last repair order.
    """
    per = visits.totals(store_id=cycle.store_id, as_of=as_of, postgresql=postgresql, last_order=True)
    if postgresql:  # as in the profile analysis: the grouped pass once, not once per worker
        per = per.element.cte("vehicle_totals").prefix_with("MATERIALIZED")
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
    ro = ServiceVisit.__table__.alias("last_visit_ro")
    screenable = (
        Customer.do_not_call.is_(False)
        & Vehicle.customer_id.not_in(open_elsewhere)
        & Vehicle.id.not_in(already)
    )
    return (
        select(
            *analytics.model_input(per),
            Vehicle.model,
            Vehicle.grade,
            Vehicle.warranty_end,
            Vehicle.plate,
            Customer.district,
            Customer.customer_type,
            Customer.gender,
            Customer.birth_date,
            Customer.occupation,
            ro.c.category,
            ro.c["items"].label("last_items"),
            ro.c.advisor_id,
            screenable.label("screenable"),
        )
        .select_from(per)
        .join(Vehicle, Vehicle.id == per.c.vehicle_id)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .join(ro, ro.c.id == per.c.visit_id)
        .where(Vehicle.status == VehicleStatus.active)
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
        vehicle_id=r.vehicle_id,
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
