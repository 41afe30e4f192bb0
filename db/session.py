"""Engine and session handling. Commit at the edge: services only flush.

``session_scope()`` is the one transaction boundary for tasks, the CLI and requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None
_url: str | None = None


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            # WAL lets the web server read while a flow writes; FKs are off by default in SQLite.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def configure(url: str | None = None) -> Engine:
    """(Re)bind the process-wide engine, by default to ``settings.database_url``."""
    global _engine, _factory, _url
    if url is None:
        from winback.config import get_settings

        url = get_settings().database_url
    if _engine is not None and url == _url:
        return _engine
    if _engine is not None:
        _engine.dispose()
    _engine = _make_engine(url)
    _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    _url = url
    return _engine


def is_configured() -> bool:
    return _engine is not None


def get_engine() -> Engine:
    return _engine if _engine is not None else configure()


def new_session() -> Session:
    if _factory is None:
        configure()
    assert _factory is not None
    return _factory()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
