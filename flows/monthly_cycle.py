"""The monthly cycle: for each store, open the month's cycle and run it up to the surveys.

What follows the surveys waits in the database: the daily ``watch_deadlines`` flow moves each
cycle on when its condition holds (deadline passed, plan approved, three months elapsed).
"""
from __future__ import annotations

from prefect import flow

from flows.common import HOOKS, apply_as_of
from flows.stages import analyze_profiles, archive_cleanup, assign_surveys, screen_targets
from tasks import cycles
from winback import clock


@flow(name="cycle_for_store", flow_run_name="monthly cycle {month} store {store_id}", **HOOKS)
def cycle_for_store(store_id: int, month: str, as_of: str | None = None) -> int:
    apply_as_of(as_of)
    cycle_id = cycles.open_cycle(store_id, month)
    archive_cleanup(cycle_id)
    screen_targets(cycle_id)
    analyze_profiles(cycle_id)
    assign_surveys(cycle_id)
    return cycle_id


def _current_month() -> str:
    return clock.today().strftime("%Y-%m")


@flow(name="monthly_cycle", flow_run_name="monthly cycle {month}", **HOOKS)
def monthly_cycle(
    month: str | None = None, store_codes: list[str] | None = None, as_of: str | None = None
) -> list[int]:
    """Start the month's cycle for the given stores (all when empty). Returns cycle ids."""
    apply_as_of(as_of)
    month = month or _current_month()
    return [cycle_for_store(store_id, month) for store_id in cycles.store_ids(store_codes)]
