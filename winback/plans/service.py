"""Rectification plans (整改措施): the area's public functions, one import for the edges.

Each job lives in its own module; this module only names them for callers (pages, API, tasks,
flows, tests) that say ``plans.draft_plan``:

* ``versions.py`` the plan of a cycle, its versions, comparing and amending them;
* ``measure_library.py`` the store's library of typical measures;
* ``drafting.py`` the draft from the tally and editing its measures;
* ``approval.py`` submitting, approving or rejecting, starting execution;
* ``measures.py`` owners' reports, lists, reminders and escalation of measures;
* ``incentives.py`` vouchers, the satisfaction callback, follow-ups;
* ``seeding.py`` (a store's reasons and measures), ``complaints.py`` (complaints and the
  measures answering them), ``guards.py`` (shared checks).
"""

from __future__ import annotations

from winback.plans.approval import (
    can_record_no_action,
    decide_plan,
    execute_plan,
    record_no_action,
    submit_plan,
)
from winback.plans.drafting import add_measure, draft_plan, update_measure
from winback.plans.incentives import (
    followups_page,
    offer_voucher,
    record_callback,
    redeem_vouchers,
    vouchers_of,
)
from winback.plans.measure_library import english_titles, measure_library_page, save_template
from winback.plans.measures import (
    MAX_ATTACHMENT_BYTES,
    attachments_of,
    measures_owned_page,
    remind_measures,
    set_measure_status,
)
from winback.plans.versions import (
    amend_plan,
    compare_versions,
    current_plan,
    get_plan,
    plan_count,
    plan_in_force,
    plan_versions,
)

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "add_measure",
    "amend_plan",
    "attachments_of",
    "can_record_no_action",
    "compare_versions",
    "current_plan",
    "decide_plan",
    "draft_plan",
    "english_titles",
    "execute_plan",
    "followups_page",
    "get_plan",
    "measure_library_page",
    "measures_owned_page",
    "offer_voucher",
    "plan_count",
    "plan_in_force",
    "plan_versions",
    "record_callback",
    "record_no_action",
    "redeem_vouchers",
    "remind_measures",
    "save_template",
    "set_measure_status",
    "submit_plan",
    "update_measure",
    "vouchers_of",
]
