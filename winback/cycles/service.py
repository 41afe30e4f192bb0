"""The monthly cycle: start, screening (筛选), profile analysis (分析), stage moves, flow runs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from winback import clock
from winback.accounts.models import Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.analytics import service as analytics
from winback.audit import service as audit_service
from winback.config import ProcessDefaults, get_settings
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.customers.visits import last_visits
from winback.cycles.flow_runs import flow_runs_of, flows_running
from winback.cycles.models import (
    Band,
    CycleStage,
    FlowRunRecord,
    FlowRunState,
    MonthlyCycle,
    Target,
)
from winback.errors import NotFound
from winback.evaluation import holdout
from winback.months import parse_month  # the one month check (callers import it from here too)
from winback.paging import PAGE_SIZE, Page, matches, paginate, words


def months_between(earlier: date, later: date) -> int:
    return analytics.whole_months(earlier, later)


def start_cycle(*, session: Session, store: Store, month: str, actor: Actor) -> tuple[MonthlyCycle, bool]:
    """Open the store's cycle for ``month`` (or return the open one). Returns (cycle, created)."""
    parse_month(month)
    cycle = session.scalar(
        select(MonthlyCycle).where(MonthlyCycle.store_id == store.id, MonthlyCycle.month == month)
    )
    if cycle is not None:
        return cycle, False
    cycle = MonthlyCycle(
        store_id=store.id,
        month=month,
        stage=CycleStage.started,
        settings=effective_settings(store).model_dump(),
        as_of=clock.today(),
        started_at=clock.now(),
        started_by_id=actor.staff_id,
    )
    session.add(cycle)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.started",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=store.id,
        cycle_id=cycle.id,
        changes={"month": month, "settings": cycle.settings, "as_of": cycle.as_of},
    )
    return cycle, True


def get_cycle(*, session: Session, cycle_id: int, store_ids: list[int] | None = None) -> MonthlyCycle:
    cycle = session.get(MonthlyCycle, cycle_id)
    if cycle is None or (store_ids is not None and cycle.store_id not in store_ids):
        raise NotFound("no cycle {cycle_id}", cycle_id=cycle_id)
    return cycle


def find_cycle(*, session: Session, store_id: int, month: str) -> MonthlyCycle | None:
    return session.scalar(
        select(MonthlyCycle).where(MonthlyCycle.store_id == store_id, MonthlyCycle.month == month)
    )


def list_cycles(*, session: Session, store_ids: list[int], limit: int = 50) -> list[MonthlyCycle]:
    stmt = (
        select(MonthlyCycle)
        .where(MonthlyCycle.store_id.in_(store_ids))
        .order_by(MonthlyCycle.month.desc(), MonthlyCycle.store_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def cycles_page(
    *,
    session: Session,
    store_ids: list[int],
    search: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page[MonthlyCycle]:
    """The cycles list, newest month first; ``search`` matches the month ("2026-1", "11")."""
    stmt = (
        select(MonthlyCycle)
        .where(MonthlyCycle.store_id.in_(store_ids), matches(search, MonthlyCycle.month))
        .order_by(MonthlyCycle.month.desc(), MonthlyCycle.store_id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def advance(*, session: Session, cycle: MonthlyCycle, to: CycleStage, actor: Actor, **facts: Any) -> bool:
    """Move the cycle forward to ``to``; never backwards, so re-running a stage is harmless."""
    if cycle.stage.order >= to.order:
        return False
    before = cycle.stage
    cycle.stage = to
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.stage_changed",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        changes={"stage": {"before": before, "after": to}, **facts},
    )
    session.flush()
    return True


def clean_archive(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """档案整理 for the cycle's store; the cycle keeps the findings of its first cleanup."""
    from winback.customers import service as customers

    cycle = get_cycle(session=session, cycle_id=cycle_id)
    summary = customers.cleanup_archive(session=session, store_id=cycle.store_id, actor=actor)
    if cycle.cleanup is None:
        cycle.cleanup = summary
    advance(session=session, cycle=cycle, to=CycleStage.cleaned, actor=actor, cleanup=summary)
    return summary


def screen_targets(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """Apply the red lines to the archive and add the cycle's targets (set-based, idempotent).

    A vehicle is a target when it is active (not sold/scrapped/moved), its last repair order
    lies ``at_risk_months`` or more before the cycle's as-of date, the customer has not asked
    not to be called, and it is not already a target of another cycle still open.
    """
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    # Cycles started before a setting existed lack it in their snapshot: defaults fill in.
    rules = ProcessDefaults.model_validate({**get_settings().process.model_dump(), **cycle.settings})
    as_of = cycle.as_of
    at_risk_before = as_of - relativedelta(months=rules.at_risk_months)
    lost_before = as_of - relativedelta(months=rules.lost_months)
    # The per-vehicle totals (first/last visit, count, spend) are grouped once, by the model's
    # scoring; the red lines and the model's picks are applied to those arrays in Python.
    scores = analytics.score_store(session=session, store_id=cycle.store_id, as_of=as_of, rules=rules)
    likely = (
        set(analytics.likely_lost(scores=scores, as_of=as_of, rules=rules))
        if rules.screen_likely_lost
        else set()
    )
    candidates = {
        int(v): i
        for i, (v, last) in enumerate(zip(scores.vehicle_id.tolist(), scores.last_visit))
        if last <= at_risk_before or v in likely
    }
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
        session.execute(Target.__table__.insert(), [_enum_values(r) for r in rows])
    counts = Counter(r["band"].value for r in rows)
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
    """The target rows of ``candidates`` (vehicle id -> index into ``scores``), set-based.

    One query reads the store's active vehicles with their owner and last repair order; the
    exclusions (no calls, already a target here, a target of another open cycle) are
    uncorrelated ``NOT IN`` sets evaluated once, not sub-queries re-run for every vehicle.
    """
    # The last repair order of each vehicle, grouped once over the per-vehicle index and
    # joined once (customers/visits.py: a plan linear in the store's history).
    last = last_visits(store_id=cycle.store_id, as_of=as_of)
    # A customer already being surveyed in another open cycle is not called twice.
    open_elsewhere = (
        select(Target.customer_id)
        .join(MonthlyCycle, MonthlyCycle.id == Target.cycle_id)
        .where(
            # a customer belongs to one store: only this store's open cycles can hold them
            MonthlyCycle.store_id == cycle.store_id,
            MonthlyCycle.stage != CycleStage.evaluated,
            Target.cycle_id != cycle.id,
        )
    )
    already = select(Target.vehicle_id).where(Target.cycle_id == cycle.id)
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
        )
        .subquery()
    )
    ro = ServiceVisit.__table__.alias("last_visit_ro")
    stmt = (
        select(
            *(c for c in base.c if c.name != "last_ro_id"),
            ro.c.category,
            ro.c["items"].label("last_items"),
            ro.c.advisor_id,
        )
        .select_from(base)
        .join(ro, ro.c.id == base.c.last_ro_id)
    )
    now = clock.now()
    first_visit, spend, visits = scores.first_visit, scores.spend, scores.visits
    p_alive, expected = scores.p_alive, scores.expected_visits
    rows = []
    for r in session.execute(stmt):
        i = candidates.get(r.id)
        if i is None:
            continue
        last, first, n = scores.last_visit[i], first_visit[i], int(visits[i])
        # Lost is *more than* lost_months without a visit; exactly 12 months is still at risk.
        if last > at_risk_before:
            band = Band.likely_lost
        else:
            band = Band.lost if last < lost_before else Band.at_risk
        years = max((last - first).days / 365.25, 1.0)
        total = Decimal(spend[i])
        rows.append(
            dict(
                store_id=cycle.store_id,
                cycle_id=cycle.id,
                customer_id=r.customer_id,
                vehicle_id=r.id,
                band=band,
                last_visit_date=last,
                months_since_visit=months_between(last, as_of),
                in_warranty=bool(r.warranty_end and r.warranty_end >= as_of),
                visit_count=n,
                total_spend=total,
                p_alive=round(float(p_alive[i]), 4),
                expected_visits=round(float(expected[i]), 2),
                priority=round(float(priority[i]), 2),
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
        )
    rows.sort(key=lambda row: row["vehicle_id"])
    return rows


def _enum_values(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, Band) else v) for k, v in row.items()}


def _age(birth: date | None, as_of: date) -> int | None:
    return analytics.age_years(birth, as_of) if birth else None


def _age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    for upper, label in ((30, "<30"), (40, "30-39"), (50, "40-49"), (60, "50-59")):
        if age < upper:
            return label
    return "60+"


PROFILE_DIMENSIONS = (
    "band",
    "model",
    "grade",
    "district",
    "customer_type",
    "gender",
    "age_band",
    "warranty",
    "last_category",
    "visits_per_year",
)


def analyze_profiles(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, Any]:
    """Distributions of the targets (分析调研对象), each beside the store's active base."""
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    targets = list(session.scalars(select(Target).where(Target.cycle_id == cycle.id)))
    dist: dict[str, Counter] = {d: Counter() for d in PROFILE_DIMENSIONS}
    spend = Decimal("0")
    for t in targets:
        p = t.profile
        dist["band"][t.band.value] += 1
        dist["model"][p.get("model") or "?"] += 1
        dist["grade"][p.get("grade") or "?"] += 1
        dist["district"][p.get("district") or "?"] += 1
        dist["customer_type"][p.get("customer_type") or "?"] += 1
        dist["gender"][p.get("gender") or "?"] += 1
        dist["age_band"][_age_band(p.get("age"))] += 1
        dist["warranty"]["in_warranty" if t.in_warranty else "out_of_warranty"] += 1
        dist["last_category"][p.get("last_category") or "?"] += 1
        vpy = p.get("visits_per_year") or 0
        dist["visits_per_year"]["<1" if vpy < 1 else "1-2" if vpy < 2 else "2-4" if vpy < 4 else "4+"] += 1
        spend += t.total_spend
    base_models = Counter(
        dict(
            session.execute(
                select(Vehicle.model, func.count())
                .where(Vehicle.store_id == cycle.store_id, Vehicle.status == VehicleStatus.active)
                .group_by(Vehicle.model)
            ).all()
        )
    )
    base_total = sum(base_models.values()) or 1
    n = len(targets) or 1
    # A model over-represented among targets compared with the whole base: a campaign theme.
    model_index = sorted(
        (
            {
                "model": m,
                "targets": c,
                "share_pct": round(100 * c / n, 1),
                "base_share_pct": round(100 * base_models.get(m, 0) / base_total, 1),
                "index": round((c / n) / (base_models.get(m, 0) / base_total), 2)
                if base_models.get(m)
                else None,
            }
            for m, c in dist["model"].items()
        ),
        key=lambda x: -(x["index"] or 0),
    )
    profile = {
        "targets": len(targets),
        "total_spend": str(spend),
        "distributions": {d: dict(c.most_common()) for d, c in dist.items()},
        "model_vs_base": model_index,
    }
    cycle.profile = profile
    advance(session=session, cycle=cycle, to=CycleStage.profiled, actor=actor)
    return profile


def holdout_count(*, session: Session, cycle_id: int) -> int:
    return (
        session.scalar(select(func.count()).where(Target.cycle_id == cycle_id, Target.holdout.is_(True))) or 0
    )


def holdout_targets(*, session: Session, cycle_id: int) -> list[Target]:
    """The cycle's randomized holdout: screened, deliberately not contacted."""
    stmt = (
        select(Target)
        .where(Target.cycle_id == cycle_id, Target.holdout.is_(True))
        .order_by(Target.band, Target.id)
    )
    return list(session.scalars(stmt))


def targets_of(
    *, session: Session, cycle_id: int, offset: int = 0, limit: int = 100
) -> tuple[list[Target], int]:
    total = session.scalar(select(func.count()).where(Target.cycle_id == cycle_id)) or 0
    stmt = (
        select(Target)
        .where(Target.cycle_id == cycle_id)
        # Callbacks ranked by value x risk (the model's priority), then by spend.
        .order_by(Target.priority.desc().nulls_last(), Target.total_spend.desc(), Target.id)
        .offset(offset)
        .limit(limit)
        # Sort the narrow target rows, then load the page's customers and vehicles: the
        # default joined loads joined them to every target of the cycle before the sort.
        .options(selectinload(Target.customer), selectinload(Target.vehicle))
    )
    return list(session.scalars(stmt)), int(total)


# The flow (flows/stages.py) whose run moves a cycle into each stage; "started" is the cycle's creation.
STAGE_FLOWS: dict[CycleStage, str] = {
    CycleStage.cleaned: "archive_cleanup",
    CycleStage.screened: "screen_targets",
    CycleStage.profiled: "analyze_profiles",
    CycleStage.surveying: "assign_surveys",
    CycleStage.tallied: "tally_reasons",
    CycleStage.planning: "draft_plan",
    CycleStage.executing: "execute_plan",
    CycleStage.evaluated: "evaluate_cycle",
}
LIVE_RUN_STATES = (FlowRunState.scheduled, FlowRunState.running)


@dataclass(frozen=True)
class StageProgress:
    stage: CycleStage
    # reached (behind the cycle's stage) / current / running (its flow is running) /
    # failed (its last flow run failed, crashed or was cancelled) / waiting
    state: str
    run: FlowRunRecord | None  # the last run of the stage's flow for this cycle


@dataclass(frozen=True)
class CycleProgress:
    stages: list[StageProgress]
    runs: list[FlowRunRecord]  # newest first
    running: bool  # a flow run of this cycle is scheduled or running: the page keeps polling


def cycle_progress(*, session: Session, cycle: MonthlyCycle, store_ids: list[int]) -> CycleProgress:
    """Each stage's state next to its flow run's state, for the cycle page's live fragment."""
    runs = flow_runs_of(session=session, store_ids=store_ids, cycle_id=cycle.id)
    last: dict[str, FlowRunRecord] = {}
    for run in runs:  # newest first: keep the first seen per flow
        last.setdefault(run.flow_name, run)
    stages = []
    for stage in CycleStage:
        run = last.get(STAGE_FLOWS.get(stage, ""))
        if stage.order < cycle.stage.order:
            state = "reached"
        elif stage == cycle.stage:
            state = "current"
        elif run is not None and run.state in LIVE_RUN_STATES:
            state = "running"
        elif run is not None and run.state != FlowRunState.completed:
            state = "failed"
        else:
            state = "waiting"
        stages.append(StageProgress(stage, state, run))
    return CycleProgress(
        stages, runs, flows_running(session=session, store_ids=[cycle.store_id], cycle_id=cycle.id)
    )


def cycles_in_stage(
    *, session: Session, stage: CycleStage, store_ids: list[int] | None = None
) -> list[MonthlyCycle]:
    stmt = select(MonthlyCycle).where(MonthlyCycle.stage == stage)
    if store_ids is not None:
        stmt = stmt.where(MonthlyCycle.store_id.in_(store_ids))
    return list(session.scalars(stmt.order_by(MonthlyCycle.id)))


def evaluation_due(*, session: Session, now: datetime) -> list[MonthlyCycle]:
    stmt = select(MonthlyCycle).where(
        MonthlyCycle.stage == CycleStage.executing, MonthlyCycle.evaluation_due_at <= now
    )
    return list(session.scalars(stmt.order_by(MonthlyCycle.id)))
