"""JSON API: audit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import serializers as out
from api.deps import Reader, SessionDep, store_ids
from api.schemas import AuditEventOut
from winback.audit import service as audit

router = APIRouter()


# ---- audit ------------------------------------------------------------------------------


@router.get("/audit/{entity_type}/{entity_id}", response_model=list[AuditEventOut], tags=["audit"])
def audit_timeline(
    entity_type: str, entity_id: int, user: Reader, session: SessionDep
) -> list[dict[str, Any]]:
    events = audit.timeline(
        session=session, store_ids=store_ids(user), entity_type=entity_type, entity_id=entity_id
    )
    return [out.audit_event(e, user) for e in events]
