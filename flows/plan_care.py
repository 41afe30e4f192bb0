"""The daily care pass (prevention): before the watcher, for every store (or the codes given),
make the care items due in the look-ahead window and today's touches, close the items a repair
order fulfilled, and send the messages through each store's channel.

Idempotent: the same day twice makes nothing new (items and touches have natural keys)."""

from __future__ import annotations

from prefect import flow

from flows.common import HOOKS, apply_as_of
from tasks import care, cycles


@flow(name="plan_care", flow_run_name="plan care", **HOOKS)
def plan_care(store_codes: list[str] | None = None, as_of: str | None = None) -> dict:
    apply_as_of(as_of)
    from winback import clock

    day = clock.today().isoformat()
    totals: dict[str, int] = {}
    for store_id in cycles.store_ids(store_codes):
        for key, n in care.plan_care(store_id, day).items():
            totals[key] = totals.get(key, 0) + n
        for key, n in care.deliver_messages(store_id).items():
            totals[f"messages_{key}"] = totals.get(f"messages_{key}", 0) + n
    return totals
