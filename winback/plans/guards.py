"""Checks the plan services share: the manager's role, a plan still editable."""

from __future__ import annotations

from winback.accounts.models import Role, Staff
from winback.errors import Conflict, Forbidden
from winback.notifications.messages import Message
from winback.plans.models import (
    PlanStatus,
    RectificationPlan,
)

EDITABLE = {PlanStatus.draft, PlanStatus.rejected}


def require_manager(staff: Staff) -> None:
    if not staff.has_role(Role.manager):
        raise Forbidden("only a manager may do this")


def editable(plan: RectificationPlan) -> None:
    if plan.status not in EDITABLE:
        raise Conflict(
            "the plan is {status} and can no longer be edited",
            status=Message(plan.status.value),
            code="plan_locked",
        )
