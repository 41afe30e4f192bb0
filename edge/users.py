"""The person asking: by the session cookie (pages and API) or a per-store API token (API
only); their roles and stores; starting and ending a log-in session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from edge.session import SessionDep
from winback.accounts import authentication, sessions
from winback.accounts import tokens as api_tokens
from winback.accounts.models import Role, Staff
from winback.errors import Forbidden


class NotLoggedIn(Exception):
    """Raised when a page or API call needs a log-in; the app turns it into 401 or a redirect."""


class MustChangePassword(Exception):
    """A person logged in with a first password someone else chose or generated: every page
    but the password page leads there until they have chosen their own."""


# The pages a person with a first password still reaches (the API answers as usual).
FIRST_PASSWORD_PAGES = frozenset({"/account/password", "/account/language", "/logout", "/login"})


def optional_user(request: Request, session: SessionDep) -> Staff | None:
    """The person logged in by the session cookie, or (API only) by a per-store API token."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and request.url.path.startswith("/api/"):
        staff = api_tokens.staff_for_token(session=session, token=auth[7:].strip())
    else:
        # ended by log-out elsewhere, a password change, idleness or age: None
        staff = sessions.resume(session=session, data=request.session)
    # Errors are answered in this person's language (edge.locale), also before a page has them.
    request.state.user_locale = staff.locale if staff is not None else None
    path = request.url.path
    if (
        staff is not None
        and staff.must_change_password
        and path not in FIRST_PASSWORD_PAGES
        and not path.startswith("/api/")
    ):
        raise MustChangePassword()
    return staff


# The checks below only look at the person already loaded: ``async`` so that FastAPI runs
# them on the event loop instead of handing each to its thread pool (a thread switch apiece).
async def current_user(user: Annotated[Staff | None, Depends(optional_user)]) -> Staff:
    if user is None:
        raise NotLoggedIn()
    return user


CurrentUser = Annotated[Staff, Depends(current_user)]


def require(*roles: Role):
    """Dependency: the user holds one of ``roles`` (403 otherwise)."""

    async def check(user: CurrentUser) -> Staff:
        if not user.has_role(*roles):
            raise HTTPException(status_code=403, detail="forbidden")
        return user

    return Depends(check)


def need(user: Staff, *roles: Role) -> None:
    """Inside a route: the person holds one of ``roles`` (403 otherwise)."""
    if not user.has_role(*roles):
        raise Forbidden("you may not do this")


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


def client_address(request: Request) -> str:
    """The client's address (behind a proxy, run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


def log_in(request: Request, session: Session, *, username: str, password: str) -> Staff | None:
    """Check the credentials and, when they hold, start the log-in session (a fresh one: the
    old cookie's content is dropped, the language chosen before logging in is kept). A failed
    attempt is committed at once: it counts towards the rate limit even though the request
    fails. Too many attempts raise ``authentication.TooManyAttempts``.

    The password is checked (slow by design) between two transactions, holding no pooled
    connection: the first reads, the second records (``winback.accounts.authentication``)."""
    attempt = authentication.look_up(session=session, username=username, address=client_address(request))
    session.commit()  # reads only: ends the transaction, the connection goes back to the pool
    ok = authentication.check_password(attempt, password)
    staff = authentication.record(session=session, attempt=attempt, ok=ok)
    if staff is None:
        session.commit()
        return None
    lang = request.session.get("lang")
    request.session.clear()
    request.session.update(sessions.start(staff))
    if lang:
        request.session["lang"] = lang
    return staff


def log_out(request: Request, session: Session) -> None:
    """Ends every session of the person logged in by this cookie (all their browsers)."""
    user = sessions.resume(session=session, data=request.session)
    if user is not None:
        sessions.end_all(session=session, staff=user)
    request.session.clear()


def change_password(
    request: Request, session: Session, user: Staff, *, old_password: str, new_password: str
) -> None:
    """One's own password: the old one checked and the new one hashed (slow by design) with
    no pooled connection held, then stored in a new short transaction. Every other session of
    the person ends; the one that changed it goes on (a request made with an API token has
    no session to go on)."""
    session.commit()  # nothing written yet: the connection goes back to the pool
    change = authentication.prepare_password_change(
        staff=user, old_password=old_password, new_password=new_password
    )
    authentication.change_password(session=session, staff=user, change=change)
    if request.session.get("staff_id") == user.id:
        request.session.update(sessions.start(user))
