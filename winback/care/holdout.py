"""The care holdout: each month a share of the store's active cars (stratified by grade, like
the win-back holdout, and reproducible: seeded by store and month) gets no reminder, so the
report can say how many visits the reminders caused, not only how many followed them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.care.models import CareHoldout
from winback.config import ProcessDefaults
from winback.cycles import holdout as draw_holdout


def for_month(*, session: Session, store_id: int, month: str, cars: dict, rules: ProcessDefaults) -> set[int]:
    """The month's holdout cars, drawn on the month's first pass and kept (same cars all month)."""
    kept = set(
        session.scalars(
            select(CareHoldout.vehicle_id).where(CareHoldout.store_id == store_id, CareHoldout.month == month)
        )
    )
    if kept or rules.care_holdout_pct <= 0:
        return kept
    rows = [{"vehicle_id": v, "band": "care", "profile": {"grade": c.grade}} for v, c in cars.items()]
    held = draw_holdout.draw(rows, share_pct=float(rules.care_holdout_pct), seed=f"care:{store_id}:{month}")
    if held:
        session.execute(
            CareHoldout.__table__.insert(),
            [{"store_id": store_id, "month": month, "vehicle_id": v} for v in sorted(held)],
        )
    return held
