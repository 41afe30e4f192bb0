"""Engine and session handling. Commit at the edge: services only flush.

``session_scope()`` is the one transaction boundary for tasks, the CLI and requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

_engine: Engine | None = None
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
_factory: sessionmaker[Session] | None = None
_url: str | None = None
_options: dict[str, Any] = {}


def _make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            # WAL lets the web server read while a flow writes; FKs are off by default in SQLite.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # The grouped passes over a store's repair orders read the file through the OS's page
            # cache mapped into the process instead of a read() per page into SQLite's 2 MB
            # cache (about a sixth less CPU for the profile analysis and the model's summary at
            # store scale; shared by every connection, unlike cache_size). Temporary b-trees (a
            # materialized CTE, a sort) stay in memory.
            cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        return engine
    engine = create_engine(url, **{"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20, **options})
    if engine.dialect.name == "postgresql":
        from db.bulk import plan_for_values

        plan_for_values(engine)

        @event.listens_for(engine, "connect")
        def _no_jit(dbapi_conn, _record):
            # No JIT compilation of our statements: the server compiles any statement it
            # estimates costly, in every parallel worker, and the grouped passes over a store's
            # repair orders (~1 s each) spent 80-100 ms of each run on it (group of 30 stores on
            # two workers: PostgreSQL's CPU 147 -> 136 s; bench/README.md). Outside a
            # transaction, so that the pool's rollback does not undo it.
            autocommit = dbapi_conn.autocommit
            dbapi_conn.autocommit = True
            with dbapi_conn.cursor() as cur:
                cur.execute("SET jit = off")
            dbapi_conn.autocommit = autocommit

    return engine


def configure(url: str | None = None, **options: Any) -> Engine:
    """(Re)bind the process-wide engine, by default to ``settings.database_url``. ``options``
    go to ``create_engine`` over the defaults (a test's small pool: ``pool_size=2``)."""
    global _engine, _factory, _url, _options
    if url is None:
        from winback.config import get_settings

        url = get_settings().database_url
    if _engine is not None and url == _url and options == _options:
        return _engine
    if _engine is not None:
        _engine.dispose()
    _engine = _make_engine(url, **options)
    _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    _url, _options = url, options
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


# SQLite samples this many rows per index when analysing: statistics for a store-scale archive
# in a fraction of a second instead of reading every row (PostgreSQL samples by itself).
SQLITE_ANALYSIS_LIMIT = 1000


def refresh_statistics(bind: Session | Connection) -> None:
    """Bring the query planner's statistics up to date after the data changed in bulk (an
    import, a migration). SQLite never gathers statistics by itself and PostgreSQL's
    autovacuum only some time after a bulk load. Sampled, so cheap at any size. The queries
    on the repair orders are written to plan well without statistics too
    (``winback/customers/visits.py``); this keeps every other query honest."""
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if dialect == "sqlite":
        bind.execute(text(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}"))
        bind.execute(text("ANALYZE"))
    elif dialect == "postgresql":
        bind.execute(text("ANALYZE"))
