"""The language of a request: Simplified Chinese or English.

``?lang=`` (remembered in the session), then the person's stored setting, then the
Accept-Language header, then the edge's default: Chinese for the pages, English for the API
(API clients are programs unless they say otherwise)."""

from __future__ import annotations

from fastapi import Request

from winback.i18n import SUPPORTED


def pick_locale(request: Request, user_locale: str | None = None, default: str = "zh") -> str:
    """?lang= (remembered in the session), then the person's setting, then Accept-Language.

    The person's setting is their stored preference (account page); a ``?lang=`` switch in
    the session is a deliberate choice for this session and goes first; saving the
    preference clears it."""
    asked = request.query_params.get("lang")
    if asked in SUPPORTED:
        request.session["lang"] = asked
        return asked
    if request.session.get("lang") in SUPPORTED:
        return request.session["lang"]
    if user_locale in SUPPORTED:
        return user_locale
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh"
    return default


def user_locale_of(request: Request) -> str | None:
    """The stored language of the person the request was authenticated as (edge.users puts it
    on ``request.state``), also when an error ends the request before a page has its user."""
    return getattr(request.state, "user_locale", None)


def page_locale(request: Request, user=None) -> str:
    """A page's language (Chinese unless asked otherwise)."""
    return pick_locale(request, getattr(user, "locale", None) or user_locale_of(request))


def api_locale(request: Request) -> str:
    """An API answer's language (English unless asked otherwise)."""
    return pick_locale(request, user_locale_of(request), default="en")
