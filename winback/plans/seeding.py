"""What a store is seeded with, in one place: its churn reasons (``surveys/reasons.py``) and its
library of typical measures per reason (``plans/library.py``), both editable per store later.

``winback.stores.create_store`` seeds a new store; the plan services seed the library of a store
created before the library existed the first time it is needed."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback.plans.library import EXPECTED_VALUE, MEASURE_LIBRARY
from winback.plans.models import MeasureTemplate
from winback.surveys.models import ReasonCode
from winback.surveys.reasons import DEFAULT_REASONS


def seed_reason_codes(*, session: Session, store_id: int) -> int:
    """Give a store the default reasons it lacks; returns how many were added."""
    have = set(session.scalars(select(ReasonCode.code).where(ReasonCode.store_id == store_id)))
    added = 0
    for order, (code, zh, en, area) in enumerate(DEFAULT_REASONS):
        if code not in have:
            session.add(
                ReasonCode(
                    store_id=store_id, code=code, label_zh=zh, label_en=en, area=area, sort_order=order
                )
            )
            added += 1
    session.flush()
    return added


def seed_measure_library(*, session: Session, store_id: int) -> int:
    """Give a store the typical measures of PROCESS.md once (a store that has any keeps its own)."""
    if session.scalar(select(func.count()).where(MeasureTemplate.store_id == store_id)):
        return 0
    for code, (area, zh, en, effect) in MEASURE_LIBRARY.items():
        value, unit = EXPECTED_VALUE.get(code, (None, None))
        session.add(
            MeasureTemplate(
                store_id=store_id,
                reason_code=code,
                area=area,
                title=zh,
                title_en=en,
                expected_effect=effect,
                expected_value=Decimal(value) if value else None,
                expected_unit=unit,
                active=True,
            )
        )
    session.flush()
    return len(MEASURE_LIBRARY)


def seed_store(*, session: Session, store_id: int) -> dict[str, int]:
    """Everything a store starts with: its churn reasons and its library of typical measures.

    Idempotent: what a store already has (or has edited) is kept."""
    return {
        "reasons": seed_reason_codes(session=session, store_id=store_id),
        "measures": seed_measure_library(session=session, store_id=store_id),
    }
