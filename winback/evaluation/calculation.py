"""The evaluation's arithmetic, on plain data and without a database: who came back after the
contact, the holdout comparison, each advisor's figures and what each measure moved.

``service.evaluate_cycle`` loads a ``CycleFacts`` (``facts.py``), calls these and saves."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from winback.evaluation.stats import newcombe_diff


@dataclass(frozen=True)
class TaskFacts:
    task_id: int
    target_id: int
    assignee_id: int
    done: bool
    contact_day: date | None  # first attempt or close, whichever came first (business day)
    vehicle_id: int


@dataclass(frozen=True)
class MeasureFacts:
    measure_id: int
    title: str
    status: str
    reason: str | None
    reasons: list[str]
    reason_ids: set[int]
    expected_value: Decimal | None
    expected_unit: str | None
    cost: Decimal | None
    done_on: date | None = None  # the business day its owner reported it done (None: not done)


@dataclass
class CycleFacts:
    """Everything the evaluation reads about one cycle, loaded once."""

    targets: list[tuple[int, int, bool]]  # (target id, vehicle id, holdout)
    customer_of: dict[int, int]  # target id -> customer id
    tasks: list[TaskFacts]
    reasons_of: dict[int, set[int]]  # target id -> reason ids its survey recorded
    visits_by_vehicle: dict[int, list[tuple[date, Decimal]]]  # repair orders after screening
    names: dict[int, str]  # staff id -> display name
    start_day: date  # surveys assigned (or as-of): the intention-to-treat window opens
    today: date
    target_pct: float
    per_yuan: float
    measures: list[MeasureFacts] = field(default_factory=list)


@dataclass
class Outcomes:
    """The contacted customers (surveys done) and those who came back after the contact."""

    contacted: int = 0
    back: int = 0
    entries: int = 0
    output: Decimal = Decimal("0")
    per_advisor: dict[int, dict[str, int]] = field(default_factory=dict)
    came_back_on: dict[int, date] = field(default_factory=dict)  # target id -> first repair order


def contact_outcomes(facts: CycleFacts) -> Outcomes:
    """A target came back when its vehicle has a repair order dated after the contact day."""
    out = Outcomes(per_advisor=defaultdict(lambda: {"contacted": 0, "came_back": 0}))
    for task in facts.tasks:
        out.per_advisor[task.assignee_id]  # every advisor with tasks appears, even with none closed
        if not task.done:
            continue
        out.contacted += 1
        out.per_advisor[task.assignee_id]["contacted"] += 1
        after = [(d, a) for d, a in facts.visits_by_vehicle.get(task.vehicle_id, []) if d > task.contact_day]
        if after:
            out.back += 1
            out.entries += len(after)
            out.output += sum((Decimal(a) for _, a in after), Decimal("0"))
            out.per_advisor[task.assignee_id]["came_back"] += 1
            out.came_back_on[task.target_id] = min(d for d, _ in after)
    return out


@dataclass
class Holdout:
    figures: dict[str, Any]
    back: set[int]  # target ids back within the window (intention to treat)
    held_back: int
    held: int


def holdout_comparison(facts: CycleFacts) -> Holdout:
    """Every target given to an advisor, reached or not, against the targets held out, over the
    same window (intention to treat)."""
    back = {
        target_id
        for target_id, vehicle_id, _h in facts.targets
        if any(facts.start_day < d <= facts.today for d, _a in facts.visits_by_vehicle.get(vehicle_id, []))
    }
    held = [t for t, _v, h in facts.targets if h]
    treated = [t for t, _v, h in facts.targets if not h]
    h_back = sum(1 for t in held if t in back)
    t_back = sum(1 for t in treated if t in back)
    figures = {
        "window": [facts.start_day.isoformat(), facts.today.isoformat()],
        "treated": len(treated),
        "treated_back": t_back,
        "treated_rate_pct": pct(t_back, len(treated)),
        "holdout": len(held),
        "holdout_back": h_back,
        "holdout_rate_pct": pct(h_back, len(held)),
        **lift(t_back, len(treated), h_back, len(held)),
    }
    return Holdout(figures, back, h_back, len(held))


def advisor_rows(facts: CycleFacts, outcomes: Outcomes, holdout: Holdout) -> list[dict[str, Any]]:
    """Each advisor's win-back rate against the target, the shortfall, and the lift of the
    targets given to them over the holdout (incremental customers).

    The shortfall counts every target assigned to the advisor, closed or not: the target share
    of them less those back within the window (intention to treat), so tasks left untouched
    cost as much as tasks tried without success."""
    assignee_of = {task.target_id: task.assignee_id for task in facts.tasks}
    assigned: dict[int, list[int]] = defaultdict(list)
    for target_id, assignee_id in assignee_of.items():
        assigned[assignee_id].append(target_id)
    rows = []
    for sid, figures in sorted(outcomes.per_advisor.items()):
        mine = assigned.get(sid, [])
        mine_back = sum(1 for t in mine if t in holdout.back)
        needed = math.ceil(len(mine) * facts.target_pct / 100)
        shortfall = max(0, needed - mine_back)
        mine_lift = lift(mine_back, len(mine), holdout.held_back, holdout.held)
        lift_pct = mine_lift["lift_pct"]
        rows.append(
            {
                "advisor_id": sid,
                "advisor": facts.names.get(sid, str(sid)),
                "contacted": figures["contacted"],
                "came_back": figures["came_back"],
                "rate_pct": round(100 * figures["came_back"] / figures["contacted"], 1)
                if figures["contacted"]
                else 0.0,
                "target_pct": facts.target_pct,
                "needed_customers": needed,
                "shortfall_customers": shortfall,
                "shortfall_yuan": round(shortfall * facts.per_yuan, 2),
                "assigned": len(mine),
                "assigned_back": mine_back,
                "assigned_rate_pct": pct(mine_back, len(mine)),
                **mine_lift,
                "incremental_customers": round(lift_pct * len(mine) / 100, 1)
                if lift_pct is not None
                else None,
                "incremental_meets_target": lift_pct is not None and lift_pct >= facts.target_pct,
            }
        )
    return rows


def measure_rows(facts: CycleFacts, outcomes: Outcomes) -> tuple[list[dict[str, Any]], Decimal]:
    """Each measure credited with the returned customers whose survey gave a reason it
    addresses, only once it is done and only with customers back after the day it was done
    (a measure overdue or never carried out moves nobody); and the measures' estimated cost."""
    rows = []
    cost = Decimal("0")
    vehicle_of = {t: v for t, v, _h in facts.targets}
    for m in facts.measures:
        credited = (
            [
                t
                for t in outcomes.came_back_on
                if facts.reasons_of.get(t, set()) & m.reason_ids
                and any(d > m.done_on for d, _a in facts.visits_by_vehicle.get(vehicle_of[t], []))
            ]
            if m.done_on is not None
            else []
        )
        cost += m.cost or 0
        rows.append(
            {
                "measure_id": m.measure_id,
                "title": m.title,
                "status": m.status,
                "reason": m.reason,
                "reasons": m.reasons,
                "done_on": m.done_on.isoformat() if m.done_on else None,
                "customers_back": len(credited),
                "customer_ids": sorted(facts.customer_of[t] for t in credited),
                "expected_value": str(m.expected_value) if m.expected_value is not None else None,
                "expected_unit": m.expected_unit,
                "cost": str(m.cost) if m.cost is not None else None,
            }
        )
    return rows, cost


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def lift(s1: int, n1: int, s2: int, n2: int) -> dict[str, float | None]:
    """Lift of the return rate (percentage points) over the holdout, with its 95% interval."""
    result = newcombe_diff(s1, n1, s2, n2)
    if result is None:
        return {"lift_pct": None, "lift_ci_low_pct": None, "lift_ci_high_pct": None}
    d, low, high = result
    return {
        "lift_pct": round(100 * d, 1),
        "lift_ci_low_pct": round(100 * low, 1),
        "lift_ci_high_pct": round(100 * high, 1),
    }
