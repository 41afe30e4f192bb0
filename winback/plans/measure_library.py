"""The store's library of typical measures per reason (整改措施库), and the manager's edits."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.errors import InvalidInput, NotFound
from winback.paging import PAGE_SIZE, Page, matches, paginate, words
from winback.plans.guards import require_manager
from winback.plans.models import (
    MeasureTemplate,
)
from winback.plans.seeding import seed_measure_library
from winback.surveys.models import ReasonArea, ReasonCode


def english_titles(*, session: Session, store_ids: list[int]) -> dict[str, str]:
    """The store library's English titles by Chinese title: a measure drafted from the library
    keeps the library's title, and English readers see its English title (until it is edited)."""
    rows = session.execute(
        select(MeasureTemplate.title, MeasureTemplate.title_en).where(
            MeasureTemplate.store_id.in_(store_ids), MeasureTemplate.title_en.is_not(None)
        )
    )
    return {title: title_en for title, title_en in rows if title_en}


def measure_library_page(
    *,
    session: Session,
    store_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
    active_only: bool = False,
) -> Page[MeasureTemplate]:
    """The store's library by reason, a page at a time: every template (retired ones too unless
    ``active_only``), searched by its title in either language, reason code or effect."""
    stmt = (
        select(MeasureTemplate)
        .where(
            MeasureTemplate.store_id == store_id,
            MeasureTemplate.active.is_(True) if active_only else true(),
            matches(
                search,
                MeasureTemplate.title,
                MeasureTemplate.title_en,
                MeasureTemplate.reason_code,
                MeasureTemplate.expected_effect,
            ),
        )
        .order_by(MeasureTemplate.reason_code, MeasureTemplate.id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def save_template(
    *,
    session: Session,
    actor_staff: Staff,
    reason_code: str,
    title: str,
    template_id: int | None = None,
    title_en: str | None = None,
    area: ReasonArea | None = None,
    expected_effect: str | None = None,
    expected_value: Decimal | None = None,
    expected_unit: str | None = None,
    estimated_cost: Decimal | None = None,
    active: bool = True,
) -> MeasureTemplate:
    """Add a typical measure to the store's library, or edit one (manager)."""
    require_manager(actor_staff)
    store_id = actor_staff.store_id
    if template_id is not None:
        existing = session.get(MeasureTemplate, template_id)
        if existing is None or existing.store_id != store_id:
            raise NotFound("no measure template {template_id}", template_id=template_id)
    rc = _valid_reason_and_title(
        session=session,
        store_id=store_id,
        reason_code=reason_code,
        title=title,
        estimated_cost=estimated_cost,
        template_id=template_id,
    )
    if template_id is None:
        t = MeasureTemplate(store_id=store_id, reason_code=rc.code, area=area or rc.area, title=title.strip())
        session.add(t)
        session.flush()
        before = None
    else:
        t = session.get(MeasureTemplate, template_id)
        if t is None or t.store_id != store_id:
            raise NotFound("no measure template {template_id}", template_id=template_id)
        before = {"title": t.title, "active": t.active}
    changes = audit_service.diff(
        t,
        {
            "reason_code": rc.code,
            "area": area or t.area or rc.area,
            "title": title.strip(),
            # None keeps the English title; "" clears it
            "title_en": t.title_en if title_en is None else (title_en.strip() or None),
            "expected_effect": (expected_effect or "").strip() or None,
            "expected_value": expected_value,
            "expected_unit": (expected_unit or "").strip() or None,
            "estimated_cost": estimated_cost,
            "active": active,
        },
    )
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="measure_template.added" if before is None else "measure_template.updated",
        entity_type="store",
        entity_id=store_id,
        store_id=store_id,
        changes={"template_id": t.id, **changes},
    )
    return t


def _valid_reason_and_title(
    *,
    session: Session,
    store_id: int,
    reason_code: str,
    title: str,
    estimated_cost: Decimal | None,
    template_id: int | None,
) -> ReasonCode:
    """The store's reason the template belongs to, once the title and cost are checked and no
    other template of that reason has the same title."""
    seed_measure_library(session=session, store_id=store_id)
    rc = session.scalar(
        select(ReasonCode).where(ReasonCode.store_id == store_id, ReasonCode.code == reason_code)
    )
    if rc is None:
        raise InvalidInput(
            "unknown reason code '{reason_code}'", reason_code=reason_code, field="reason_code"
        )
    if not (title or "").strip():
        raise InvalidInput("a measure needs a title", field="title")
    if estimated_cost is not None and estimated_cost < 0:
        raise InvalidInput("the cost must not be negative", field="estimated_cost")
    clash = session.scalar(
        select(MeasureTemplate.id).where(
            MeasureTemplate.store_id == store_id,
            MeasureTemplate.reason_code == rc.code,
            MeasureTemplate.title == title.strip(),
            MeasureTemplate.id != (template_id or 0),
        )
    )
    if clash is not None:
        raise InvalidInput("the library already has this measure for this reason", field="title")
    return rc
