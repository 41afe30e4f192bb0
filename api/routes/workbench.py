"""JSON API: the advisor's workbench on the phone (issue 18): the personal line, the call guide
of a task (script, story, suggested next action, attempt policy), the store's call scripts, and
correcting the contact data from a task."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from api import serializers as out
from api.deps import CurrentUser, SessionDep, store_ids
from api.schemas import Out, TaskOut, Timestamp
from edge.locale import api_locale
from winback.customers import contacts
from winback.evaluation import my_day as figures
from winback.i18n import translate
from winback.plans import call_guide as guide
from winback.surveys import service as surveys
from winback.surveys.schemas import CallScriptIn, DoNotContactIn, PhoneCorrectionIn, SecondContactIn

router = APIRouter()


class MyDayOut(Out):
    done_this_week: int  # surveys closed as done since Monday (business week)
    due_today: int  # open tasks whose deadline is today
    overdue: int
    callbacks_today: int  # open tasks with a call-back time (约定回电) before today ends
    assigned: int  # customers assigned to me in the cycles not yet evaluated
    assigned_back: int  # of them, back with a repair order after the assignment
    winback_rate_pct: float | None
    target_pct: float
    counts: str  # what the win-back rate counts, in words


class ScriptOut(Out):
    band: str
    opening: str
    questions: list[str]
    custom: bool
    updated_at: Timestamp | None


class StoryOut(Out):
    in_warranty: bool
    warranty_end: str | None
    last_visit: str | None
    last_category: str | None
    last_advisor: str | None
    visit_count: int
    total_spend: Decimal
    earlier_task_ids: list[int]
    complaints: list[str]


class NextActionOut(Out):
    kind: str
    text: str
    measures: list[str]


class PolicyOut(Out):
    failed: int
    days: int
    limit: int
    min_days: int
    reached: bool
    met: bool
    outlook: str | None


class CallGuideOut(Out):
    script: ScriptOut
    story: StoryOut
    next_actions: list[NextActionOut]
    policy: PolicyOut


class PhoneChangeOut(Out):
    old_phone: str | None
    new_phone: str
    old_reported_wrong: bool  # the old number had been reported wrong (空号/错号)
    note: str | None
    changed_at: str


class ContactOut(Out):
    customer_id: int
    phone: str | None
    phone_valid: bool
    second_contact_name: str | None
    second_contact_phone: str | None
    do_not_call: bool
    phone_history: list[PhoneChangeOut]  # the replaced numbers, newest first


def _script(s: surveys.Script) -> dict[str, Any]:
    return {
        "band": s.band.value,
        "opening": s.opening,
        "questions": s.questions,
        "custom": s.custom,
        "updated_at": s.updated_at,
    }


@router.get("/tasks/my-day", response_model=MyDayOut, tags=["workbench"])
def my_day(user: CurrentUser, session: SessionDep, request: Request) -> dict[str, Any]:
    """The personal line above the advisor's queue (``GET /api/tasks/mine`` is the queue, in
    working order: today's call-backs, then overdue tasks, then the rest by deadline)."""
    day = figures.my_day(session=session, advisor=user)
    counts = translate(
        "counted over the {assigned} customers assigned to me: {back} back",
        api_locale(request),
        assigned=day.assigned,
        back=day.assigned_back,
    )
    return {**day.__dict__, "counts": counts}


@router.get("/tasks/{task_id}/call-guide", response_model=CallGuideOut, tags=["workbench"])
def call_guide(task_id: int, user: CurrentUser, session: SessionDep, request: Request) -> dict[str, Any]:
    locale = api_locale(request)
    task = surveys.get_task(session=session, task_id=task_id, viewer=user)
    about = guide.story(session=session, task=task)
    policy = surveys.unreachable_policy(session, task)
    outlook = policy.outlook()
    return {
        "script": _script(surveys.task_script(session=session, task=task, locale=locale)),
        "story": {
            "in_warranty": about.in_warranty,
            "warranty_end": about.warranty_end.isoformat() if about.warranty_end else None,
            "last_visit": about.last_visit.isoformat() if about.last_visit else None,
            "last_category": about.last_category,
            "last_advisor": about.last_advisor,
            "visit_count": about.visit_count,
            "total_spend": about.total_spend,
            "earlier_task_ids": [t.id for t in about.earlier],
            "complaints": [t.complaint for t in about.complaints],
        },
        "next_actions": [
            {"kind": a.kind, "text": translate(a.text, locale), "measures": a.measures}
            for a in guide.next_actions(session=session, task=task, about=about)
        ],
        "policy": {
            "failed": policy.failed,
            "days": policy.days,
            "limit": policy.limit,
            "min_days": policy.min_days,
            "reached": policy.reached,
            "met": policy.met,
            "outlook": translate(outlook, locale) if outlook else None,
        },
    }


@router.get("/call-scripts", response_model=list[ScriptOut], tags=["workbench"])
def call_scripts(user: CurrentUser, session: SessionDep, request: Request) -> list[dict[str, Any]]:
    """The store's scripts per band, with their placeholders ({customer}, {advisor}, {store}, {model})."""
    rows = surveys.call_scripts(session=session, store_id=store_ids(user)[0], locale=api_locale(request))
    return [_script(s) for s in rows]


@router.put("/call-scripts/{band}", response_model=list[ScriptOut], tags=["workbench"])
def save_call_script(
    band: str, body: CallScriptIn, user: CurrentUser, session: SessionDep, request: Request
) -> list[dict[str, Any]]:
    """The manager writes the store's script for ``at_risk`` or ``lost`` (both texts empty: back
    to the default); answers every band's script."""
    store_id = store_ids(user)[0]
    surveys.save_call_script(
        session=session,
        store_id=store_id,
        band=band,
        opening=body.opening,
        questions=body.questions,
        actor_staff=user,
    )
    return [
        _script(s)
        for s in surveys.call_scripts(session=session, store_id=store_id, locale=api_locale(request))
    ]


def _contact(session, customer, viewer, task_id: int) -> dict[str, Any]:
    task = surveys.get_task(session=session, task_id=task_id, viewer=viewer)
    history = contacts.phone_history(session=session, customer_id=customer.id)
    return out.contact_data(customer, history, viewer, task)


@router.post("/tasks/{task_id}/phone", response_model=ContactOut, tags=["workbench"])
def correct_phone(
    task_id: int, body: PhoneCorrectionIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    customer = surveys.correct_phone(
        session=session, task_id=task_id, phone=body.phone, note=body.note, actor_staff=user
    )
    return _contact(session, customer, user, task_id)


@router.put("/tasks/{task_id}/second-contact", response_model=ContactOut, tags=["workbench"])
def second_contact(
    task_id: int, body: SecondContactIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    customer = surveys.second_contact(
        session=session, task_id=task_id, name=body.name, phone=body.phone, actor_staff=user
    )
    return _contact(session, customer, user, task_id)


@router.post("/tasks/{task_id}/do-not-contact", response_model=TaskOut, tags=["workbench"])
def do_not_contact(
    task_id: int, body: DoNotContactIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    task = surveys.do_not_contact(session=session, task_id=task_id, note=body.note, actor_staff=user)
    return out.task(task, user)
