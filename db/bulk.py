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
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Row, Table, insert
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
    dialect = session.get_bind().dialect
    cols = list(rows[0])
    # Columns the rows leave out take their Python-side default, as SQLAlchemy's insert does.
    defaults = {c.name: c.default for c in table.c if c.name not in cols and c.default is not None}
    if dialect.name not in ("sqlite", "postgresql") or any(not d.is_scalar for d in defaults.values()):
        session.execute(insert(table), rows)
        return
    cols = list(defaults) + cols
    columns = []
    for c in cols:
        values = [defaults[c].arg] * len(rows) if c in defaults else [row[c] for row in rows]
        process = table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        if process and all(v is values[0] for v in values):
            # one value for every row (the cycle, "now", the deadline): converted once
            columns.append([process(values[0])] * len(values))
        else:
            columns.append([process(v) for v in values] if process else values)
    quote = dialect.identifier_preparer
    names = ", ".join(quote.quote(c) for c in cols)
    if dialect.name == "sqlite":
        marks = ", ".join("?" * len(cols))
        sql = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({marks})"
        session.connection().exec_driver_sql(sql, list(zip(*columns)))
        return
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cur, cur.copy(f"COPY {quote.format_table(table)} ({names}) FROM STDIN") as copy:
            for values in zip(*columns):
                copy.write_row(values)
    except raw.Error as exc:  # psycopg's own error: told as SQLAlchemy tells the others
        raise DBAPIError(f"COPY {table.name}", None, exc) from exc
