"""The daily watcher: reminders, escalation, and moving every cycle to its next stage.

No process waits a week: the state is in the database and this flow runs on a schedule
(daily in prefect.yaml, or ``winback watch``), so a restart loses nothing.
"""

from __future__ import annotations

from prefect import flow

from flows.common import HOOKS, apply_as_of, without_heartbeats
from flows.monthly_cycle import resume_cycle
from flows.stages import draft_plan, evaluate_cycle, execute_plan, tally_reasons
from tasks import analytics, cases, cycles, notify, plans, surveys


@flow(name="watch_deadlines", flow_run_name="watch deadlines", **HOOKS)
def watch_deadlines(store_codes: list[str] | None = None, as_of: str | None = None) -> dict:
    apply_as_of(as_of)
    ids = cycles.store_ids(store_codes)
    reminders = {"reminded": 0, "escalated": 0, "measures_reminded": 0, "measures_escalated": 0}
    for store_id in ids:
        for key, n in surveys.remind_and_escalate(store_id).items():
            reminders[key] += n
        for key, n in plans.remind_measures(store_id).items():
            reminders[key] += n
        for key, n in cases.daily_cases(store_id).items():
            reminders[key] = reminders.get(key, 0) + n
    # The red line raises itself: one digest a day to the admins, not one message per customer.
    crossed = {"crossed_at_risk": 0, "crossed_lost": 0}
    for store_id in ids:
        digest = analytics.redline_digest(store_id)
        crossed["crossed_at_risk"] += digest["at_risk"]
        crossed["crossed_lost"] += digest["lost"]
    work = cycles.due_work(ids)
    with without_heartbeats():  # run on a worker, this run sends its own
        for cycle_id in work["resume"]:
            resume_cycle(cycle_id)
        for cycle_id in work["tally"]:
            tally_reasons(cycle_id)
            draft_plan(cycle_id)
        for cycle_id in work["plan"]:
            draft_plan(cycle_id)
        for cycle_id in work["execute"]:
            execute_plan(cycle_id)
        for cycle_id in work["evaluate"]:
            evaluate_cycle(cycle_id)
    delivered = notify.deliver()
    return {**reminders, **crossed, **{k: len(v) for k, v in work.items()}, "notifications": delivered}
