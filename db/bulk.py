"""Many rows in or out at once, the fastest way each database takes or gives them.

``read_rows``: a large read-only result (a store's vehicles with their totals, its customers)
through SQLAlchemy Core. The ORM's execution wraps every row of a column query once more
(~0.2 s per 30,000 rows, a quarter of such a query at store scale) and adds nothing here.

``insert_rows``: many new rows into one table.

The set-based stages insert thousands of rows at once (a cycle's targets and survey tasks, an
import's repair orders). Through SQLAlchemy's executemany every row's parameters were
converted one row at a time, which cost more than the database's own insert (~2.5 s of a
store-scale cycle, under a profiler). Here each column is converted by its type's own bind
processor in one pass, then handed to the driver: one ``executemany`` on SQLite, psycopg's
``COPY`` on PostgreSQL. A row the database refuses raises a ``DBAPIError`` either way, so
callers' savepoints and retries work the same.

``insert_columns`` takes the rows as columns (a list per column, and the columns every row
shares as one value each): an import's parser produces them that way, and a value shared by
every row (the store, the batch, the time) or repeated (a date, parsed once per distinct cell)
is converted once rather than once per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

from sqlalchemy import ColumnElement, Engine, Executable, Row, Table, any_, bindparam, event, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def read_rows(session: Session, stmt: Executable) -> list[Row]:
    """The rows of a column ``select`` in the session's transaction (what it has pending is
    flushed first, as the ORM's autoflush would)."""
    session.flush()
    return session.connection().execute(stmt).all()


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, column names of ``table``)."""
    if not rows:
        return
    cols = list(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name not in ("sqlite", "postgresql") or _callable_defaults(table, cols):
        session.execute(insert(table), rows)
        return
    insert_columns(session, table, {c: [row[c] for row in rows] for c in cols})


def insert_columns(
    session: Session, table: Table, columns: dict[str, Sequence[Any]], shared: dict[str, Any] | None = None
) -> None:
    """Insert rows given by column: ``columns`` maps a column name to its values (one per row,
    all of the same length), ``shared`` a column name to the value every row has."""
    shared = dict(shared or {})
    names = list(columns)
    count = len(columns[names[0]]) if names else 0
    if not count:
        return
    dialect = session.get_bind().dialect
    if dialect.name not in ("sqlite", "postgresql") or _callable_defaults(table, [*names, *shared]):
        rows = [dict(zip(names, values, strict=True)) | shared for values in zip(*columns.values())]
        session.execute(insert(table), rows)
        return
    # Columns the rows leave out take their Python-side default, as SQLAlchemy's insert does.
    for c in table.c:
        if c.name not in columns and c.name not in shared and c.default is not None:
            shared[c.name] = c.default.arg
    lists = [_converted(table, dialect, c, columns[c]) for c in names]
    constants = [_convert(table, dialect, c, v) for c, v in shared.items()]
    cols = names + list(shared)
    rows = zip(*lists, *map(repeat, constants))
    quote = dialect.identifier_preparer
    sql_names = ", ".join(quote.quote(c) for c in cols)
    if dialect.name == "sqlite":
        marks = ", ".join("?" * len(cols))
        sql = f"INSERT INTO {quote.format_table(table)} ({sql_names}) VALUES ({marks})"
        session.connection().exec_driver_sql(sql, list(rows))
        return
    raw = session.connection().connection.driver_connection
    try:
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {quote.format_table(table)} ({sql_names}) FROM STDIN") as copy,
        ):
            write = copy.write_row
            for values in rows:
                write(values)
    except raw.Error as exc:  # psycopg's own error: told as SQLAlchemy tells the others
        raise DBAPIError(f"COPY {table.name}", None, exc) from exc


def one_of(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (values)`` for thousands of values (an import's look-up per chunk). On
    PostgreSQL one array parameter (``= ANY(...)``): an ``IN`` list is a query text of its own
    per length with a parameter and a cast per value, which the driver and the server took
    longer to read than to run the look-up (0.7 s per 10,000 RO numbers, under a profiler). (On SQLite a JSON
    array read by ``json_each`` was no faster than the ``IN`` list.)"""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        # its statement is planned for its values (``plan_for_values``)
        return column == any_(bindparam(FOR_VALUES, list(values), type_=ARRAY(column.type), unique=True))
    return column.in_(values)


# The name of ``one_of``'s array parameter: a statement that carries it is planned for its values.
FOR_VALUES = "one_of_values"


def plan_for_values(engine: Engine) -> None:
    """PostgreSQL: a statement with ``one_of``'s array parameter is planned for its values,
    each time it runs, and only that statement.

    psycopg prepares a statement once one connection has run it five times, and PostgreSQL may
    then keep a generic plan, made without the values. For ``column = ANY(:array)`` that can be
    a scan of another index with the array tested element by element on every row, which a plan
    made for the values never does (it hashes the array or probes the column's index): a
    group's monthly cycle, the assignment's look-up of earlier open tasks (``surveys/carry.py``)
    ran for minutes at the 28th store, the statistics of the tasks table being behind the
    20,000 rows each store had just added.

    The setting is put back right after the statement: set for the rest of the transaction
    (as it was until 2026-12-01), it also made the server plan again, for every row, the
    foreign-key checks of the bulk insert that followed (they are prepared statements of its
    own): the assignment's 22,000 tasks took 0.7 s more, every import chunk likewise. (A
    statement that fails leaves it set, until the rollback of its transaction or savepoint,
    which ends it too.)"""

    @event.listens_for(engine, "before_cursor_execute")
    def _custom(conn, cursor, statement, parameters, context, executemany) -> None:
        if FOR_VALUES in statement:
            cursor.connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")

    @event.listens_for(engine, "after_cursor_execute")
    def _as_before(conn, cursor, statement, parameters, context, executemany) -> None:
        if FOR_VALUES in statement:
            cursor.connection.execute("SET LOCAL plan_cache_mode TO DEFAULT")


# SQLite's limit on a statement's parameters is 32,766; a look-up stays well under it.
_SQLITE_PARAMS = 10_000


def found_among(
    session: Session, table: Table, column: str, values: Sequence[Any], **equal: Any
) -> list[Any]:
    """The ``values`` that ``table.column`` holds in the rows where each column of ``equal``
    has its value (an import's "which of this chunk's RO numbers does the store have?").
    On SQLite a statement of the driver's own with one ``?`` per value: SQLAlchemy renders an
    ``IN`` list anew on every call, a bound name per value (as long as the look-up itself)."""
    if not values:
        return []
    if session.get_bind().dialect.name != "sqlite":
        where = [table.c[k] == v for k, v in equal.items()]
        stmt = select(table.c[column]).where(*where, one_of(session, table.c[column], values))
        return list(session.scalars(stmt))
    session.flush()
    quote = session.get_bind().dialect.identifier_preparer
    conditions = " AND ".join(f"{quote.quote(k)} = ?" for k in equal)
    found: list[Any] = []
    for start in range(0, len(values), _SQLITE_PARAMS):
        part = values[start : start + _SQLITE_PARAMS]
        sql = (
            f"SELECT {quote.quote(column)} FROM {quote.format_table(table)} WHERE {conditions}"
            f"{' AND ' if conditions else ''}{quote.quote(column)} IN ({', '.join('?' * len(part))})"
        )
        found += [v for (v,) in session.connection().exec_driver_sql(sql, (*equal.values(), *part))]
    return found


def _callable_defaults(table: Table, given: list[str]) -> bool:
    """Whether a column left out has a default SQLAlchemy computes per row (then its own insert)."""
    return any(c.default is not None and not c.default.is_scalar for c in table.c if c.name not in given)


def _convert(table: Table, dialect, name: str, value: Any) -> Any:
    process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


def _converted(table: Table, dialect, name: str, values: Sequence[Any]) -> Sequence[Any]:
    """The column's values as the driver takes them, each distinct object converted once (one
    value for every row: the cycle, "now", the deadline; an import's repeated cells are the
    same object; objects in ``values`` are alive, so an ``id`` stands for one of them
    throughout)."""
    process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    distinct = {id(v): v for v in values}
    if len(distinct) * 2 > len(values):
        return [process(v) for v in values]
    done = {k: process(v) for k, v in distinct.items()}
    return [done[id(v)] for v in values]
