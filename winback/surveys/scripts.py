"""The call script (回访话术) per band: an opening and the questions, written per store by the
manager; a band the store has not written uses the default below, in the reader's language.

``{customer}``, ``{advisor}``, ``{store}`` and ``{model}`` in a script are replaced on the task
page by the customer's name, the advisor's, the store's and the car's model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, Store
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cycles.models import Band
from winback.errors import Forbidden, InvalidInput
from winback.i18n import N_, gettext
from winback.surveys.models import CallScript, SurveyTask

# The bands a script is written for; likely-lost customers (not yet past the red line) hear
# the at-risk script.
SCRIPT_BANDS = (Band.at_risk, Band.lost)

DEFAULT_SCRIPTS: dict[Band, tuple[str, str]] = {
    Band.at_risk: (
        N_(
            "Hello {customer}, this is {advisor} from {store}. Your {model} has not been in for a "
            "while: may I take two minutes to ask how it is going?"
        ),
        N_(
            "When was the car last serviced, and where?\n"
            "Was anything about our service not right last time?\n"
            "Would a reminder before the next maintenance help you?"
        ),
    ),
    Band.lost: (
        N_(
            "Hello {customer}, this is {advisor} from {store}. We have not seen you and your {model} "
            "for over a year: may I ask what made you stop coming to us?"
        ),
        N_(
            "Why did you stop coming to us?\n"
            "Where is the car serviced now, and why there?\n"
            "What would make you come back to us?"
        ),
    ),
}

PLACEHOLDERS = ("customer", "advisor", "store", "model")


@dataclass(frozen=True)
class Script:
    band: Band
    opening: str
    questions: list[str]
    custom: bool  # written by the store (False: the default)
    updated_at: datetime | None = None


def script_band(band: Band) -> Band:
    return Band.lost if band == Band.lost else Band.at_risk


def _fill(text: str, fill: dict[str, str] | None) -> str:
    for key in PLACEHOLDERS:
        text = text.replace("{" + key + "}", (fill or {}).get(key) or "")
    return text


def call_script(
    *, session: Session, store_id: int, band: Band, locale: str | None, fill: dict[str, str] | None = None
) -> Script:
    """The store's script for ``band`` (the default when it wrote none); ``fill`` replaces the
    placeholders (None keeps them, for the editing page)."""
    band = script_band(band)
    row = session.scalar(select(CallScript).where(CallScript.store_id == store_id, CallScript.band == band))
    if row is not None:
        opening, questions, custom, at = row.opening, row.questions, True, row.updated_at
    else:
        opening, questions = (gettext(t, locale) for t in DEFAULT_SCRIPTS[band])
        custom, at = False, None
    if fill is not None:
        opening, questions = _fill(opening, fill), _fill(questions, fill)
    lines = [q.strip() for q in questions.splitlines() if q.strip()]
    return Script(band=band, opening=opening.strip(), questions=lines, custom=custom, updated_at=at)


def task_script(*, session: Session, task: SurveyTask, locale: str | None) -> Script:
    """The script of the task's band, filled with the customer, the advisor, the store and the car."""
    store = session.get(Store, task.store_id)
    fill = {
        "customer": task.target.customer.name,
        "advisor": task.assignee.display_name,
        "store": store.name if store else "",
        "model": task.target.vehicle.model,
    }
    return call_script(session=session, store_id=task.store_id, band=task.band, locale=locale, fill=fill)


def call_scripts(*, session: Session, store_id: int, locale: str | None) -> list[Script]:
    return [call_script(session=session, store_id=store_id, band=b, locale=locale) for b in SCRIPT_BANDS]


def save_call_script(
    *, session: Session, store_id: int, band: Band | str, opening: str, questions: str, actor_staff: Staff
) -> Script | None:
    """The manager writes the store's script for a band; both texts empty go back to the default."""
    if not actor_staff.has_role(Role.manager):
        raise Forbidden("only the store's manager edits the call scripts")
    try:
        band = Band(band)
    except ValueError:
        raise InvalidInput("unknown band '{band}'", band=band, field="band") from None
    if band not in SCRIPT_BANDS:
        raise InvalidInput("unknown band '{band}'", band=band.value, field="band")
    opening, questions = (opening or "").strip(), (questions or "").strip()
    row = session.scalar(select(CallScript).where(CallScript.store_id == store_id, CallScript.band == band))
    before = {"opening": row.opening, "questions": row.questions} if row else None
    if not opening and not questions:
        if row is not None:
            session.delete(row)
    elif not opening or not questions:
        raise InvalidInput(
            "write the opening and the questions", field="opening" if not opening else "questions"
        )
    else:
        if row is None:
            row = CallScript(store_id=store_id, band=band)
            session.add(row)
        row.opening, row.questions = opening[:4000], questions[:4000]
        row.updated_at, row.updated_by_id = clock.now(), actor_staff.id
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="call_script.saved",
        entity_type="store",
        entity_id=store_id,
        store_id=store_id,
        changes={
            "band": band.value,
            "before": before,
            "opening": opening or None,
            "questions": questions or None,
        },
    )
    return None if not opening else call_script(session=session, store_id=store_id, band=band, locale=None)
