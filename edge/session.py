"""The request's database session: one request, one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from db.session import session_scope


def get_session() -> Iterator[Session]:
    """Commit on success, roll back on any error (a form error included)."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent. With the default ("request") the
# commit ran after the answer had gone out, so a browser following a redirect after a POST
# could read the page before the change was committed (the flaky browser test).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
