"""JSON API: the care calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, SessionDep, store_ids
from edge.users import need
from winback.accounts.models import Role
from winback.care import lists
from winback.care.models import CareKind, CareStatus
from winback.care.schemas import CareItemOut, CarePage, CareTouchOut

router = APIRouter()

PAGE_SIZE = 50


@router.get("/care", tags=["care"], response_model=CarePage)
def list_care(
    user: CurrentUser,
    session: SessionDep,
    kind: CareKind | None = None,
    due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    status: CareStatus | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> CarePage:
    """Care items, soonest first, 50 a page: filter by ``kind``, ``status`` and
    ``due_within_days`` (open items due within that many days, overdue included, unless a status
    is given). The manager, supervisor and admin read the store's; an advisor their own."""
    need(user, Role.manager, Role.supervisor, Role.admin, Role.advisor)
    pg = lists.items_page(
        session=session,
        store_ids=store_ids(user),
        viewer=user,
        kind=kind,
        status=status,
        due_within_days=due_within_days,
        page=page,
        page_size=PAGE_SIZE,
    )
    items = []
    for r in pg.items:
        t = r.touch
        items.append(
            CareItemOut(
                id=r.item.id,
                kind=r.item.kind,
                due_on=r.item.due_on,
                vehicle_id=r.item.vehicle_id,
                customer_id=r.item.customer_id,
                status=r.item.status,
                basis=r.item.basis,
                forecast=r.item.forecast or {},
                holdout=r.item.holdout,
                created_on=r.item.created_on,
                fulfilled_on=r.item.fulfilled_on,
                preceding_touch_id=r.item.preceding_touch_id,
                last_touch=None
                if t is None
                else CareTouchOut(
                    id=t.id,
                    step=t.step,
                    channel=t.channel.value,
                    status=t.status.value,
                    planned_on=t.planned_on,
                    why=t.why,
                    advisor_id=t.advisor_id,
                    outcome=t.outcome.value if t.outcome else None,
                ),
            )
        )
    return CarePage(items=items, total=pg.total)
