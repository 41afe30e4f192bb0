"""The JSON error body in the language of the person asking.

``detail`` is in the caller's language: their stored preference (``Staff.locale``, put on
``request.state`` when they are authenticated), else ``?lang=``/the session's choice, else the
Accept-Language header, else English (API clients are programs unless they say otherwise;
the pages default to Chinese). The words come from the one catalog (``winback.i18n``); a domain
error's message is translated with its parameters. A message the catalog does not know (a
framework's) gets the generic text of its code with the English message after it, so nothing is
lost. ``code``
stays the stable, untranslated key; ``detail_en`` carries the English when ``detail`` is not.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from edge.locale import api_locale
from winback.i18n import N_, Message, gettext, translate, translations

# Generic text per error code, for a message the catalog does not know (a framework's own).
CODE_TEXT = {
    "not_found": N_("record not found"),
    "forbidden": N_("forbidden"),
    "conflict": N_("the data was changed by someone else; reload and try again"),
    "invalid": N_("invalid input"),
    "not_logged_in": N_("log in first"),
    "too_many_attempts": N_("too many failed log-ins; try again later"),
    "db_unavailable": N_("the database is not reachable right now; please try again in a moment"),
    "busy": N_("the server is busy right now; please try again in a moment"),
}
STATUS_CODE = {401: "not_logged_in", 403: "forbidden", 404: "not_found", 409: "conflict", 422: "invalid"}


def translate_detail(message: str, code: str | None, locale: str) -> str:
    """``message`` (a domain error's ``Message`` or a plain English text) in ``locale``."""
    if locale == "en" or not isinstance(message, str):
        return str(message) if isinstance(message, str) else message
    known = translations(locale)
    if (message.msgid if isinstance(message, Message) else message) in known:
        return translate(message, locale)
    parts = str(message).split("; ")  # several problems of one form, each a catalog text
    if len(parts) > 1 and all(p in known for p in parts):
        return gettext("; ", locale).join(known[p] for p in parts)
    generic = CODE_TEXT.get(code or "")
    if not generic:
        return str(message)
    return translate("{text} ({detail})", locale, text=gettext(generic, locale), detail=str(message))


def error_body(
    request: Request, message: str, *, code: str | None = None, status: int = 400, **extra: Any
) -> dict[str, Any]:
    code = code or STATUS_CODE.get(status)
    detail = translate_detail(message, code, api_locale(request))
    body: dict[str, Any] = {"detail": detail}
    if code:
        body["code"] = code
    if detail != message:
        body["detail_en"] = str(message)
    body.update(extra)
    return body
