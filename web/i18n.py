"""UI language: Simplified Chinese by default, English on request.

Message ids are the English texts. The Chinese texts live in a Babel catalog,
web/locale/zh/LC_MESSAGES/messages.po (read with ``read_po`` at start, no compile step); the
per-area dicts in web/locale_zh/*.py are merged on top so parallel work keeps its texts.
tests/test_i18n.py extracts every ``_("...")``/``flash(..., "...")`` text with Babel and fails on
one without a Chinese translation. Dates, numbers and money (¥) are formatted per locale with
Babel too (``fmt_date``, ``fmt_number``, ``fmt_money``: the Jinja filters ``date``, ``number``, ``money``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

# The language of a request is negotiated by the shared edge (pages and API alike).
from edge.locale import SUPPORTED, pick_locale  # noqa: F401  (imported from here by the pages)

CATALOG_DIR = Path(__file__).parent / "locale"
EXTRACT_MAP = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
KEYWORDS = {"_": None, "flash": (2,)}  # _("text") in templates and code, flash(request, "text")


def read_catalog(locale: str = "zh") -> dict[str, str]:
    """The translations of a Babel .po catalog (web/locale/<locale>/LC_MESSAGES/messages.po)."""
    with open(CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale=locale)
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def extract_messages(root: Path | None = None) -> dict[str, str]:
    """Every constant text the pages translate: msgid -> first place found ("file:line")."""
    root = root or Path(__file__).parent
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(root), EXTRACT_MAP, keywords=KEYWORDS
    ):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault(text, f"web/{filename}:{lineno}")
    return found


ZH: dict[str, str] = read_catalog("zh")


def _merge_area_catalogs() -> None:
    import importlib
    import pkgutil

    from web import locale_zh

    for info in pkgutil.iter_modules(locale_zh.__path__):
        ZH.update(importlib.import_module(f"web.locale_zh.{info.name}").ZH)


_merge_area_catalogs()


def translator(locale: str):
    if locale == "zh":
        return lambda text: ZH.get(text, text)
    return lambda text: text


BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_GB"}


def fmt_date(value: date | datetime | None, locale: str, fmt: str = "medium") -> str:
    """2026年11月2日 / 2 Nov 2026 (datetimes in business time: see winback.clock.local)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # an ISO date kept in JSON (a cycle's profile, a report)
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        from winback import clock

        return babel_dates.format_datetime(
            clock.local(value),
            "short" if fmt == "medium" else fmt,
            locale=BABEL_LOCALE.get(locale, "zh_Hans_CN"),
        )
    return babel_dates.format_date(value, fmt, locale=BABEL_LOCALE.get(locale, "zh_Hans_CN"))


def fmt_number(value: int | float | Decimal | None, locale: str) -> str:
    return (
        ""
        if value is None
        else babel_numbers.format_decimal(value, locale=BABEL_LOCALE.get(locale, "zh_Hans_CN"))
    )


def fmt_money(value: int | float | Decimal | None, locale: str) -> str:
    """Yuan: ¥1,234.50 in both languages (CNY is spelled CN¥ by CLDR outside China)."""
    if value is None:
        return ""
    return babel_numbers.format_currency(value, "CNY", locale=BABEL_LOCALE.get(locale, "zh_Hans_CN")).replace(
        "CN¥", "¥"
    )
