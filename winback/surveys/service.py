"""Reason surveys (流失原因调查): the area's public functions, one import for the edges.

Each job lives in its own module; this module only names them for callers (pages, API, tasks,
flows, tests) that say ``surveys.close_task``:

* ``reason_codes.py`` a store's churn reasons and their edits;
* ``lists.py`` reading tasks: one task, the advisor's list, a cycle's list, progress;
* ``attempts.py`` contact attempts and the attempt policy (unreachable);
* ``work.py`` the survey's result: the draft, closing with the result;
* ``assignment.py`` distribution, reassignment, exclusion, hand-over of a departing advisor;
* ``carry.py`` month after month: a task still open when its cycle ends is carried over;
* ``complaints.py`` answering complaints;
* ``deadlines.py`` reminders, escalation, the survey window and the tally;
* ``guards.py`` the checks every change goes through;
* ``scripts.py`` the store's call scripts (the customer's story and the suggested next action
  read the plans: ``winback.plans.call_guide``; the personal line's figures read the
  evaluation's: ``winback.evaluation.my_day``);
* ``contact_data.py`` correcting the contact data from a task (new phone, second contact,
  do-not-contact).
"""

from __future__ import annotations

from winback.surveys.assignment import (
    assign_surveys,
    exclude_task,
    hand_over_advisor,
    reassign,
    reassign_many,
)
from winback.surveys.attempts import UnreachablePolicy, record_attempt, unreachable_policy
from winback.surveys.carry import carried_history, carry_over_open_tasks
from winback.surveys.complaints import answer_complaint, open_complaints
from winback.surveys.contact_data import correct_phone, do_not_contact, second_contact
from winback.surveys.deadlines import escalate_overdue, remind_due_soon, survey_window_closed, tally_reasons
from winback.surveys.lists import (
    TaskSummary,
    cycle_tasks_page,
    end_of_today,
    get_task,
    my_tasks_page,
    progress,
    reasons_so_far,
    require_customer_access,
    task_of_customer,
)
from winback.surveys.reason_codes import OTHER_REASON, reason_codes, reasons_by_code, save_reason_code
from winback.surveys.scripts import Script, call_script, call_scripts, save_call_script, task_script
from winback.surveys.task_view import TaskView, view_of
from winback.surveys.work import close_task, save_draft

__all__ = [
    "end_of_today",
    "Script",
    "call_script",
    "call_scripts",
    "correct_phone",
    "do_not_contact",
    "save_call_script",
    "second_contact",
    "task_script",
    "OTHER_REASON",
    "TaskSummary",
    "UnreachablePolicy",
    "answer_complaint",
    "assign_surveys",
    "close_task",
    "carried_history",
    "carry_over_open_tasks",
    "cycle_tasks_page",
    "escalate_overdue",
    "exclude_task",
    "get_task",
    "TaskView",
    "view_of",
    "hand_over_advisor",
    "my_tasks_page",
    "open_complaints",
    "progress",
    "reason_codes",
    "reasons_by_code",
    "reasons_so_far",
    "reassign",
    "reassign_many",
    "record_attempt",
    "remind_due_soon",
    "require_customer_access",
    "save_draft",
    "save_reason_code",
    "survey_window_closed",
    "tally_reasons",
    "task_of_customer",
    "unreachable_policy",
]
