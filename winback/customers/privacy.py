"""Customers' phone numbers and addresses are shown masked (138****5678) except to the
advisor assigned to the customer's task and to the roles whose work needs them (the
admin / customer service who keep the archive, the front-desk supervisor who chases tasks).
One helper for the pages (Jinja filters) and the API (serializers)."""

from __future__ import annotations

from typing import Any

from winback.accounts.models import Role

UNMASKED_ROLES = (Role.admin, Role.supervisor)


def may_see_contact(viewer: Any, task: Any = None) -> bool:
    if viewer is None:
        return False
    if viewer.has_role(*UNMASKED_ROLES):
        return True
    if isinstance(task, dict):  # a row of a list (the follow-up page): {"assignee_id": ...}
        return task.get("assignee_id") == viewer.id
    return task is not None and getattr(task, "assignee_id", None) == viewer.id


def mask_phone(phone: str | None) -> str | None:
    """138****5678: the first three and last four digits stay."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_address(address: str | None) -> str | None:
    """The first six characters (the city and district), the rest starred."""
    if not address:
        return address
    return address[:6] + "****"


def phone_for(phone: str | None, viewer: Any, task: Any = None) -> str | None:
    return phone if may_see_contact(viewer, task) else mask_phone(phone)


def address_for(address: str | None, viewer: Any, task: Any = None) -> str | None:
    return address if may_see_contact(viewer, task) else mask_address(address)
