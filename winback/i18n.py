"""The one translation system: gettext catalogs read with Babel, for every package.

Message ids are the English texts; ``winback/locale/<locale>/LC_MESSAGES/messages.po`` holds the
translations (``zh``; English is the identity and has no catalog). Everything a person reads goes
through here: the pages (``_`` in the templates), notifications (rendered when queued, in the
recipient's language), the workbooks' column titles, the CLI and the API's error ``detail``.

- ``gettext(msgid, locale)`` / ``ngettext(singular, plural, n, locale)``: one text.
- ``N_("text")`` marks a text defined at import time (a table of titles, an error raised later):
  it returns the text unchanged; ``pybabel extract`` finds it.
- ``Message(msgid, **params)`` (``lazy``): a text with its parameters, translated later, where the
  reader's language is known. It *is* the English text (a ``str``), so code that only logs or
  compares it still reads English; ``.translate(locale)`` gives any language. Domain errors
  (``winback.errors``) carry one.
- ``translate(msgid, locale, **params)``: translate, then fill the ``{placeholders}`` with the
  parameters, each in the same language (dates, months, lists, nested messages: ``localize``).

The catalog is updated with one command (README "Languages"): ``pybabel extract`` with the mapping
of ``[tool.babel]`` in pyproject.toml, then ``pybabel update``. tests/test_i18n.py fails on an
extracted text without a Chinese translation and on Chinese text in Python code.
The domain imports neither FastAPI nor Prefect, so this module is usable anywhere.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.pofile import read_po

from winback import clock

SUPPORTED = ("zh", "en")
DEFAULT = "zh"
CATALOG_DIR = Path(__file__).parent / "locale"
CATALOG = CATALOG_DIR / "zh" / "LC_MESSAGES" / "messages.po"
BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_GB"}


def N_(msgid: str) -> str:
    """Mark a text for extraction; it is translated where it is shown."""
    return msgid


@cache
def _catalog(locale: str) -> dict[Any, Any]:
    """msgid (or (singular, plural)) -> translation (or the tuple of plural forms)."""
    path = CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():  # English: the msgids are the texts
        return {}
    with open(path, "rb") as f:
        catalog = read_po(f, locale=locale)
    found: dict[Any, Any] = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple):
            if all(m.string):
                found[m.id] = tuple(m.string)
        elif m.string:
            found[_key(m.context, m.id)] = m.string
    return found


def _key(context: str | None, msgid: str) -> str:
    """gettext's key of a text in a context: "context\x04msgid"."""
    return f"{context}\x04{msgid}" if context else msgid


def translations(locale: str = "zh") -> dict[str, str]:
    """The singular entries of a catalog: English -> translation."""
    return {k: v for k, v in _catalog(locale).items() if isinstance(k, str)}


def normalize(locale: str | None) -> str:
    return locale if locale in SUPPORTED else DEFAULT


def gettext(msgid: str, locale: str | None) -> str:
    if not msgid:
        return msgid
    return _catalog(normalize(locale)).get(msgid, msgid)


def pgettext(context: str, msgid: str, locale: str | None) -> str:
    """A text whose translation depends on where it stands (the same English, two meanings)."""
    return _catalog(normalize(locale)).get(_key(context, msgid), msgid)


def ngettext(singular: str, plural: str, n: int, locale: str | None) -> str:
    forms = _catalog(normalize(locale)).get((singular, plural))
    if forms:  # Chinese has one form
        return forms[0] if len(forms) == 1 else forms[0 if n == 1 else 1]
    return singular if n == 1 else plural


class Month(str):
    """A cycle's month "YYYY-MM", written 2026年11月 or Nov 2026."""


class Lines(list):
    """Values shown one per line (a digest)."""


class Label(str):
    """A store's own name of a thing in each language (data, not a catalog text: a measure's
    title from the store's library): ``Label(zh_title, en=english_title)``."""

    en: str

    def __new__(cls, text: str, *, en: str | None = None) -> Label:
        self = super().__new__(cls, text)
        self.en = en or text
        return self

    def __reduce__(self):
        return (Label, (str(self),), {"en": self.en})


class Message(str):
    """A text to translate with its parameters, e.g. ``Message("task {id} not found", id=7)``.

    The ``str`` value is the English text with the parameters filled in; ``msgid`` and
    ``params`` keep what is needed to say it in another language."""

    msgid: str
    params: dict[str, Any]

    context: str | None = None

    def __new__(cls, msgid: str, **params: Any) -> Message:
        self = super().__new__(cls, _fill(msgid, params, "en"))
        self.msgid, self.params = msgid, params
        return self

    def translate(self, locale: str | None) -> str:
        return translate(self, locale)

    def stored(self) -> str:
        """The form kept in a text column (an import's failure): JSON of the id and parameters."""
        params = {k: v if isinstance(v, (int, float)) else str(v) for k, v in self.params.items()}
        return json.dumps({"msgid": self.msgid, "params": params}, ensure_ascii=False)

    def __reduce__(self):  # pickles (Prefect results, sessions) keep the parameters
        return (_message, (self.msgid, self.params, self.context))


def stored_text(stored: str | None, locale: str | None) -> str | None:
    """A text kept with ``Message.stored()`` in ``locale``; one kept as plain text (older rows)
    as it was."""
    if stored and stored.startswith('{"msgid"'):
        try:
            data = json.loads(stored)
            msgid, params = data["msgid"], data.get("params", {})
            return translate(msgid, locale, **params)
        except (ValueError, KeyError, TypeError):
            pass
    return stored


def _message(msgid: str, params: dict[str, Any], context: str | None = None) -> Message:
    message = Message(msgid, **params)
    message.context = context
    return message


def pmessage(context: str, msgid: str, **params: Any) -> Message:
    """A ``Message`` whose text is translated in ``context`` (see ``pgettext``)."""
    return _message(msgid, params, context)


lazy = Message


def _fill(template: str, params: dict[str, Any], locale: str) -> str:
    if not params:  # a plain text may hold braces (a measure's title)
        return template
    try:
        return template.format(**{k: localize(v, locale) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):  # a parameter missing (an odd stored row): the words
        return template


def translate(msgid: str, locale: str | None, **params: Any) -> str:
    """``msgid`` in ``locale``, its ``{placeholders}`` filled with the parameters in that language."""
    locale = normalize(locale)
    context = None
    if isinstance(msgid, Message):
        params = {**msgid.params, **params}
        msgid, context = msgid.msgid, msgid.context
    text = pgettext(context, msgid, locale) if context else gettext(msgid, locale)
    return _fill(text, params, locale)


def localize(value: Any, locale: str) -> str:
    """One value put into a text, in the reader's language: a nested message translated, dates
    and times with Babel (in business time), a month as 2026年11月 / Nov 2026, a list joined with
    、 or ", ", decimals with the locale's separators; anything else as it is."""
    babel_locale = BABEL_LOCALE.get(locale, BABEL_LOCALE[DEFAULT])
    if isinstance(value, Message):
        return value.translate(locale)
    if isinstance(value, Label):
        return value.en if locale == "en" else str(value)
    if isinstance(value, Month):
        year, month = value.split("-")
        return babel_dates.format_skeleton("yMMM", date(int(year), int(month), 1), locale=babel_locale)
    if isinstance(value, Lines):
        return "\n".join(localize(v, locale) for v in value)
    if isinstance(value, (list, tuple)):
        return gettext(", ", locale).join(localize(v, locale) for v in value)
    if isinstance(value, datetime):
        return babel_dates.format_datetime(clock.local(value), "short", locale=babel_locale)
    if isinstance(value, date):
        return babel_dates.format_date(value, "medium", locale=babel_locale)
    if value is None:
        return "-"
    if isinstance(value, (float, Decimal)):  # ints (counts, ids, versions) stay as they are
        return babel_numbers.format_decimal(value, locale=babel_locale)
    return str(value)


def translator(locale: str | None):
    """``_`` for one reader: ``_("text")``, ``_(message)`` (with its parameters), ``_("{n} rows", n=3)``."""
    locale = normalize(locale)

    def _(text: Any, **params: Any) -> Any:
        if isinstance(text, Message) or params:
            return translate(text, locale, **params)
        if not isinstance(text, str):
            return text
        return gettext(text, locale)

    return _


def locale_from_env(environ: dict[str, str] | None = None) -> str:
    """The CLI's language: English when LC_ALL, LC_MESSAGES or LANG (first set) says English."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "en" if value.lower().startswith("en") else "zh"
    return DEFAULT
