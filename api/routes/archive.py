"""JSON API: archive."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Admin, SessionDep, store_ids
from winback.actor import Actor
from winback.customers import service as customers
from winback.customers.schemas import VisitIn

router = APIRouter()



# ---- archive ----------------------------------------------------------------------------

@router.post("/visits", status_code=201, tags=["archive"])
def add_visit(body: VisitIn, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Record a repair order (e.g. pushed by the DMS). The same RO number twice is one visit."""
    vehicle = customers.vehicle_by_vin(session=session, store_id=store_ids(user)[0], vin=body.vin)
    visit = customers.add_visit(
        session=session, store_id=store_ids(user)[0], vehicle_id=vehicle.id, ro_number=body.ro_number,
        visit_date=body.visit_date, category=body.category, amount=body.amount, mileage=body.mileage,
        items=body.items, actor=Actor.person(user),
    )
    return {"id": visit.id, "vehicle_id": vehicle.id, "customer_id": visit.customer_id}
