"""Notification texts, rendered in the recipient's language when queued.

A message is rendered once, when it is queued, in the language of the person it goes to
(``Staff.locale``, else the default), from the one catalog (``winback.i18n``): the English title
and body below are the message ids. Not only the template is translated: the values put into it
are too (``winback.i18n.localize``): dates and times per locale (2026年11月9日 / 9 Nov 2026, in
business time), a cycle's month as 2026年11月 / Nov 2026, numbers with the locale's separators;
a word the code chooses (the plan decision, why a task moved) is a ``Message``; a store's own
name of a thing (a measure's title) is a ``Label``; a list is joined with 、 or ", ".
"""

from __future__ import annotations

from winback.i18n import N_, Label, Lines, Message, Month, normalize, pmessage, translate

__all__ = ["MESSAGES", "Label", "Lines", "Message", "Month", "pmessage", "render"]

MESSAGES: dict[str, tuple[str, str]] = {
    # kind: (title, body); bodies are str.format templates, translated with the catalog.
    "tasks_assigned": (
        N_("New callback tasks"),
        N_("{month} churn survey: {count} new callback tasks for you, due {due}."),
    ),
    "task_reassigned": (N_("Callback task changed"), N_("Callback task #{task_id} ({customer}): {change}.")),
    "tasks_due_soon": (N_("Callback tasks due soon"), N_("{count} of your callback tasks are due by {due}.")),
    "tasks_overdue": (N_("Callback tasks overdue"), N_("{count} of your callback tasks are overdue.")),
    "tasks_escalated": (
        N_("Overdue callback tasks"),
        N_("{month}: {count} callback tasks are overdue ({advisors}):\n{lines}"),
    ),
    "complaint_raised": (
        N_("Complaint heard on a callback"),
        N_("Task #{task_id} ({customer}, {advisor}) recorded a complaint: {complaint}"),
    ),
    "complaint_case_assigned": (
        N_("Complaint assigned to you"),
        N_("Complaint case #{case_id} ({customer}) is yours to resolve: {complaint}"),
    ),
    "complaint_recall_assigned": (
        N_("Complaint re-call to make"),
        N_("The complaint of {customer} was resolved ({resolution}); call the customer again by {due}."),
    ),
    "complaint_recall_due": (
        N_("Complaint re-call due"),
        N_("Call {customer} again about the resolved complaint by {due}."),
    ),
    "plan_submitted": (
        N_("Plan awaits approval"),
        N_("The {month} rectification plan (version {version}) awaits your approval."),
    ),
    "plan_decided": (N_("Plan decision"), N_("{month} rectification plan: {decision}. {comment}")),
    "measure_assigned": (N_("Measure assigned to you"), N_('You own the measure "{title}", due {due}.')),
    "measure_due_soon": (
        N_("Measure due soon"),
        N_('The measure "{title}" is due {due}; report it done with evidence.'),
    ),
    "measure_overdue": (N_("Measure overdue"), N_('The measure "{title}" was due {due} and is overdue.')),
    "measures_escalated": (N_("Overdue measures"), N_("{count} measures are overdue: {measures}.")),
    "evaluation_ready": (
        N_("Evaluation ready"),
        N_("{month} evaluation: {back} of {contacted} customers came back ({rate}%)."),
    ),
    "channel_test": (
        N_("Test message"),
        N_("A test message from winback for {name}: your notifications arrive here."),
    ),
    "redline_digest": (
        N_("Red line digest"),
        N_("{date}: {at_risk} customers crossed the at-risk red line, {lost} the lost red line. {names}"),
    ),
}


def render(kind: str, locale: str, **params) -> tuple[str, str]:
    """The title and body of a ``kind`` message in ``locale`` (zh when unknown)."""
    title, body = MESSAGES[kind]
    return translate(title, normalize(locale)), translate(body, normalize(locale), **params)
