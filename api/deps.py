"""The API's request dependencies: the shared edge's (``edge.session``, ``edge.users``), named
here so route modules read ``from api.deps import CurrentUser, SessionDep``."""

from __future__ import annotations

from edge.session import SessionDep, get_session
from edge.users import (
    Admin,
    CurrentUser,
    Manager,
    NotLoggedIn,
    Reader,
    Supervisor,
    current_user,
    optional_user,
    require,
    store_ids,
)

__all__ = [
    "Admin",
    "CurrentUser",
    "Manager",
    "NotLoggedIn",
    "Reader",
    "SessionDep",
    "Supervisor",
    "current_user",
    "get_session",
    "optional_user",
    "require",
    "store_ids",
]
