"""The request's database session: one request, one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from db.session import new_session
from edge.audit_sealer import sealer
from winback.audit import chain


def _finish(session: Session, ok: bool) -> None:
    """Commit (``ok``) or roll back, then close: ``db.session.session_scope``'s ending. The
    audit events a commit left waiting go to the process's sealer (``edge.audit_sealer``)."""
    try:
        if ok:
            session.commit()
            waiting = session.info.pop(chain.WAITING, None)
            if waiting:
                sealer.request(waiting)
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(chain.WAITING, None)
        session.close()


async def get_session() -> AsyncIterator[Session]:
    """Commit on success, roll back on any error (a form error included).

    ``async`` so that opening the session (no I/O: the connection is taken at the first
    statement) costs no trip to the thread pool; the commit or rollback runs there, shielded
    from cancellation so that the connection always goes back to the pool."""
    session = new_session()
    chain.seal_later(session)  # its audit events are chained after the commit, not in it
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_finish, session, False)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_finish, session, True)


# scope="function": commit before the response is sent. With the default ("request") the
# commit ran after the answer had gone out, so a browser following a redirect after a POST
# could read the page before the change was committed (the flaky browser test).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
