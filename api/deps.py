"""Request dependencies shared by the JSON API and the web pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from db.session import session_scope
from winback.accounts import sessions
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_for_token


def get_session() -> Iterator[Session]:
    """One request, one transaction: commit on success, roll back on any error."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent. With the default ("request") the
# commit ran after the answer had gone out, so a browser following a redirect after a POST
# could read the page before the change was committed (the flaky browser test).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


class NotLoggedIn(Exception):
    """Raised when a page or API call needs a log-in; the app turns it into 401 or a redirect."""


def optional_user(request: Request, session: SessionDep) -> Staff | None:
    """The person logged in by the session cookie, or (API only) by a per-store API token."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and request.url.path.startswith("/api/"):
        staff = staff_for_token(session=session, token=auth[7:].strip())
    else:
        # ended by log-out elsewhere, a password change, idleness or age: None
        staff = sessions.resume(session=session, data=request.session)
    # The error handlers answer in this person's language (api/errors.py).
    request.state.user_locale = staff.locale if staff is not None else None
    return staff


def current_user(user: Annotated[Staff | None, Depends(optional_user)]) -> Staff:
    if user is None:
        raise NotLoggedIn()
    return user


CurrentUser = Annotated[Staff, Depends(current_user)]


def require(*roles: Role):
    """Dependency: the user holds one of ``roles`` (403 otherwise)."""

    def check(user: CurrentUser) -> Staff:
        if not user.has_role(*roles):
            raise HTTPException(status_code=403, detail="forbidden")
        return user

    return Depends(check)


def store_ids(user: Staff) -> list[int]:
    """The stores a person may see and act in: every store they work in (home store first),
    or only the token's store when the request came with a per-store API token. Every
    store-scoped query of the API and the pages takes its store ids from here."""
    return user.all_store_ids


# Role aliases for route signatures.
Admin = Annotated[Staff, require(Role.admin)]
Supervisor = Annotated[Staff, require(Role.supervisor)]
Manager = Annotated[Staff, require(Role.manager)]
Reader = Annotated[Staff, require(Role.admin, Role.supervisor, Role.manager, Role.auditor)]
