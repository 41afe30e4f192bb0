"""What the advisor's queue and task page show besides the tasks (issue 18): the personal line,
and the call guide (script, story, suggested next action, attempt policy, phone history)."""

from __future__ import annotations

from edge.locale import page_locale
from winback.customers import contacts
from winback.evaluation import my_day
from winback.plans import call_guide
from winback.surveys import service as surveys


def queue_context(session, user) -> dict:
    return {"day": my_day.my_day(session=session, advisor=user), "end_of_today": surveys.end_of_today()}


def task_context(request, user, session, task) -> dict:
    about = call_guide.story(session=session, task=task)
    return {
        "script": surveys.task_script(session=session, task=task, locale=page_locale(request, user)),
        "about": about,
        "next_actions": call_guide.next_actions(session=session, task=task, about=about),
        "policy": surveys.unreachable_policy(session, task),
        "phone_history": contacts.phone_history(session=session, customer_id=task.customer_id),
    }
