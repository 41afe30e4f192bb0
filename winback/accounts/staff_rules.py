"""Who may take whom out of service: the rules every route obeys (the staff page, the
advisor hand-over of the cycle board, the JSON API), checked here in the domain so a new
route cannot forget them.

- only an admin deactivates a staff member;
- nobody deactivates themself;
- the last active admin of a store cannot be deactivated (the store would be locked out);
- the hand-over moves an advisor's open work to the other advisors: it applies to advisors
  only, never to one's own work. A supervisor hands the work over; the account is deactivated
  by the hand-over only when an admin does it (the supervisor's hand-over leaves the account
  to the admin).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback.accounts.models import Role, Staff, StaffRole
from winback.errors import Conflict, Forbidden, InvalidInput


def active_admins(session: Session, store_id: int) -> int:
    """How many active admins the store has (its home staff)."""
    return session.scalar(
        select(func.count(func.distinct(Staff.id)))
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(Staff.store_id == store_id, Staff.active.is_(True), StaffRole.role == Role.admin)
    )


def check_deactivation(*, session: Session, staff: Staff, actor_staff: Staff) -> None:
    """Raise unless ``actor_staff`` may deactivate ``staff`` (see the module's rules)."""
    if not actor_staff.has_role(Role.admin):
        raise Forbidden("only an admin deactivates staff")
    if staff.id == actor_staff.id:
        raise InvalidInput("you cannot deactivate yourself")
    if staff.active and staff.has_role(Role.admin):
        check_last_admin(session=session, staff=staff)


def check_last_admin(*, session: Session, staff: Staff) -> None:
    """Raise when ``staff`` is the last active admin of their store (deactivating them or
    taking their admin role would leave the store without anyone to manage staff)."""
    if active_admins(session, staff.store_id) <= 1:
        raise Conflict("the store's last active admin cannot be deactivated or lose the admin role")


def check_hand_over(*, session: Session, leaving: Staff, actor_staff: Staff) -> bool:
    """Raise unless ``actor_staff`` may hand over ``leaving``'s work; True when the hand-over
    also deactivates the account (the actor is an admin who may deactivate them)."""
    if leaving.id == actor_staff.id:
        raise InvalidInput("you cannot hand over your own work")
    if not leaving.has_role(Role.advisor):
        raise InvalidInput("the hand-over applies to service advisors only")
    if not actor_staff.has_role(Role.admin):
        return False
    if leaving.active:
        check_deactivation(session=session, staff=leaving, actor_staff=actor_staff)
    return True
