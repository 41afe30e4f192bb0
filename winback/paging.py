"""Long lists, one way: a page of items with the total, and a word search over columns.

Every list service returns a ``Page`` (``paginate`` for a SELECT, ``paginate_list`` for rows
computed in Python), one function per list; the pages render it with the same pager and empty
state, so the page arithmetic lives here once. A caller that wants every row asks for it:
``page_size=None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, true
from sqlalchemy.orm import Session

T = TypeVar("T")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """``items`` of page ``page`` (1-based) out of ``total`` rows; ``filtered`` tells "nothing
    here" from "nothing matches the search" when the page is empty."""

    items: list[T]
    total: int | None  # None: not counted (``paginate(count=False)``)
    page: int = 1
    page_size: int = PAGE_SIZE
    filtered: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first(self) -> int:
        """Number of the first row shown (1-based; 0 when there is none)."""
        return (self.page - 1) * self.page_size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.page_size + len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def _clamp(page: int, page_size: int, total: int) -> int:
    """A page past the end shows the last one (a link kept after rows went away)."""
    return min(max(1, page), max(1, -(-total // page_size)))


def paginate(
    session: Session,
    stmt: Select,
    *,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
    filtered: bool = False,
    scalars: bool = True,
    offset: int | None = None,
    count: bool = True,
    values: dict[str, Any] | None = None,
) -> Page:
    """One page of ``stmt`` (ordered by the caller) and the count of the same filtered set.

    ``page_size=None`` asks for every row, on one page; ``offset`` starts at that row instead of
    at page ``page`` (the JSON API's ``offset``/``limit``). ``count=False`` (with ``offset``)
    skips the count for a caller that shows none: ``total`` is then None. ``values``: those
    of the statement's bound parameters (a statement built once)."""
    if not count and (offset is None or page_size is None):
        raise ValueError("a page without its count is asked for by offset and size")
    total = (
        int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()), values) or 0)
        if count
        else None
    )
    if page_size is None:
        items = list(session.scalars(stmt, values)) if scalars else list(session.execute(stmt, values).all())
        return Page(items, total, 1, max(total, 1), filtered)
    if offset is None:
        page = _clamp(page, page_size, total)
        offset = (page - 1) * page_size
    else:
        page = offset // page_size + 1
    stmt = stmt.offset(offset).limit(page_size)
    items = list(session.scalars(stmt, values)) if scalars else list(session.execute(stmt, values).all())
    return Page(items, total, page, page_size, filtered)


# The ids a statement of lines is read for (``by_ids``), bound when it runs (``lines_of``).
LINE_IDS = "line_ids"
# How many ids one statement of lines is read for at most (SQLite's limit on parameters).
LINES_AT_ONCE = 2000


def by_ids(column: Any) -> ColumnElement[bool]:
    """``column IN (the ids)``, the ids bound when the statement runs (``lines_of``), so that
    a statement of lines is built once (``functools.cache``) and not for every page: building
    it and its cache key anew was a tenth of an advisor's list call."""
    return column.in_(bindparam(LINE_IDS, expanding=True))


def lines_of(session: Session, stmt: Select, ids: Sequence[int], make: Callable[..., T]) -> list[T]:
    """The lines of a page whose ids were read first (narrow rows, in the list's order, from
    its index; the wide rows joined to every one of an advisor's ~2,000 open tasks before the
    sort cost PostgreSQL 34 ms a call at 50,000 open tasks, against ~5 ms this way): ``stmt``
    selects each line's columns, the id first, ``where(by_ids(...))``;
    each row is made into ``make(*row)``, in the order of ``ids`` (an id of no row is left
    out)."""
    by_id = {}
    for start in range(0, len(ids), LINES_AT_ONCE):
        chunk = list(ids[start : start + LINES_AT_ONCE])
        by_id.update((r[0], make(*r)) for r in session.execute(stmt, {LINE_IDS: chunk}))
    return [by_id[i] for i in ids if i in by_id]


def paginate_list(
    rows: Sequence[T], *, page: int = 1, page_size: int | None = PAGE_SIZE, filtered: bool = False
) -> Page[T]:
    """The same for rows already in memory (reports computed in Python)."""
    if page_size is None:
        return Page(list(rows), len(rows), 1, max(len(rows), 1), filtered)
    page = _clamp(page, page_size, len(rows))
    return Page(list(rows[(page - 1) * page_size : page * page_size]), len(rows), page, page_size, filtered)


def words(text: str | None) -> list[str]:
    return (text or "").split()[:8]


def matches(text: str | None, *columns: Any) -> ColumnElement[bool]:
    """Every word of ``text`` appears (any case) in one of ``columns``: "张 粤B" finds 张伟 with
    plate 粤B12345. No words: always true."""
    terms = words(text)
    if not terms:
        return true()
    return and_(*(or_(*(col.icontains(w, autoescape=True) for col in columns)) for w in terms))


def text_matches(text: str | None, *values: Any) -> bool:
    """``matches`` for rows in memory."""
    hay = " ".join(str(v) for v in values if v is not None).casefold()
    return all(w.casefold() in hay for w in words(text))
