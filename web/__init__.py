"""Server-rendered staff pages (Jinja2)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy.orm import object_session

from edge.locale import page_locale
from web.i18n import fmt_date, fmt_money, fmt_number
from winback import clock, labels
from winback.customers import contact_masking, privacy
from winback.i18n import N_, Message, localize, translator
from winback.notifications import channels, inbox

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@pass_context
def _local_dt(ctx, value, fmt: str | None = None) -> str:
    """A stored (UTC) time in business time, written the page's way with Babel:
    ``|local`` 2026/11/9 09:00 or 09/11/2026, 09:00; ``|local("%Y-%m-%d")`` the date only,
    2026年11月9日 or 9 Nov 2026. Other explicit formats (the audit trail's seconds, form
    values) stay exactly as asked."""
    if not value:
        return ""
    locale = ctx.get("locale", "zh")
    if fmt is None:
        return fmt_date(value, locale)
    if fmt == "%Y-%m-%d":
        return fmt_date(clock.local(value).date(), locale)
    return clock.local(value).strftime(fmt)


templates.env.filters["local"] = _local_dt
# |tojson (the audit trail's changes) keeps Chinese readable: "价格…", not "\\u4ef7…". It still
# escapes < > & ' for HTML, so this is as safe as the default.
templates.env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
# Per the page's language (Babel): {{ task.due_on|ldate }}, {{ n|number }}, {{ cost|money }}.
templates.env.filters["ldate"] = pass_context(
    lambda ctx, v, fmt="medium": fmt_date(v, ctx.get("locale", "zh"), fmt)
)
templates.env.filters["number"] = pass_context(lambda ctx, v: fmt_number(v, ctx.get("locale", "zh")))
templates.env.filters["money"] = pass_context(lambda ctx, v: fmt_money(v, ctx.get("locale", "zh")))
# A dict of counts whose missing or empty entries read 0 (a summary stored before a count existed).
templates.env.filters["counts"] = lambda d: defaultdict(int, {k: v or 0 for k, v in (d or {}).items()})
# {{ customer.phone|phone_for(user, task) }}: masked unless this person may see it.
templates.env.filters["phone_for"] = privacy.phone_for
templates.env.filters["address_for"] = privacy.address_for
templates.env.tests["contact_visible"] = privacy.may_see_contact
# {{ e.changes|changes_for(user, task)|tojson }}: an audit event's contact data masked likewise.
templates.env.filters["changes_for"] = contact_masking.changes_for
templates.env.filters["cell_for"] = contact_masking.cell_for


def flash(request: Request, message: str, kind: str = "ok", **params: Any) -> None:
    """One way to tell what happened: shown once on the next page, translated there;
    ``{name}`` placeholders are filled from ``params`` after translation. A domain error's
    message brings its own parameters (kept in the session cookie as plain values)."""
    if isinstance(message, Message):
        params = {**message.params, **params}
        message = message.msgid
    params = {k: v if isinstance(v, (int, float, str)) else localize(v, "en") for k, v in params.items()}
    request.session.setdefault("flash", []).append([kind, message, params])


def prefect_ui_url() -> str | None:
    """Where the Prefect UI is, to link flow runs: PREFECT_UI_URL, else PREFECT_API_URL without /api
    (not a temporary local server's, which has no UI: flows/prefect_server.py)."""
    import os

    if os.environ.get("WINBACK_PREFECT_LOCAL") == "1" and not os.environ.get("PREFECT_UI_URL"):
        return None
    ui = os.environ.get("PREFECT_UI_URL") or os.environ.get("PREFECT_API_URL", "").removesuffix(
        "/"
    ).removesuffix("/api")
    return ui or None


templates.env.globals["prefect_ui_url"] = prefect_ui_url
# An audit event's code as what happened (winback.labels.EVENTS); None for a code not worded yet.
templates.env.filters["event_words"] = labels.EVENTS.get
# The channel form's examples of notification addresses (the one list, in the domain).
templates.env.globals["examples"] = channels.EXAMPLES


def unread_count(user) -> int | None:
    """The header bell's count: the person's unread messages, read in their request's session
    (None when there is no person, or no session to ask: an error page after a rollback)."""
    session = object_session(user) if user is not None else None
    if session is None:
        return None
    try:
        return inbox.unread_count(session=session, staff_id=user.id)
    except Exception:  # the bell never breaks a page (the database went away meanwhile)
        return None


def render(request: Request, template: str, user=None, status_code: int = 200, **context: Any):
    # The person's stored language; an error page has no user, but the request may have
    # loaded them before the error (edge.locale finds their setting then).
    locale = page_locale(request, user)
    _ = translator(locale)
    messages = request.session.pop("flash", [])
    # {{ reason_label(code) }}: the store's own label of a churn reason in the page's language
    # (pass reason_by_code={code: ReasonCode}); any other text goes through _().
    by_code = context.get("reason_by_code") or {}

    def reason_label(code: str) -> str:
        rc = by_code.get(code)
        return rc.label(locale) if rc is not None else _(code)

    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "_": _,
            "locale": locale,
            "flashes": messages,
            "now": clock.now(),
            # Business time moved for a demo (``winback clock``): every page says so.
            "demo_time": clock.stored(),
            "reason_label": reason_label,
            "unread": unread_count(user),
            **context,
        },
        status_code=status_code,
    )


# The list a missing or forbidden page belongs to (first part of the path), for the error page's link back.
LISTS = {
    "cycles": ("/cycles", N_("Cycles")),
    "plans": ("/cycles", N_("Cycles")),
    "tasks": ("/tasks", N_("My tasks")),
    "measures": ("/measures", N_("My measures")),
    "measure-library": ("/measure-library", N_("Measure library")),
    "customers": ("/archive/customers", N_("Customer list")),
    "archive": ("/archive", N_("Customer archive")),
    "audit": ("/audit", N_("Audit")),
    "admin": ("/admin/staff", N_("Staff")),
    "analytics": ("/analytics", N_("Churn outlook")),
    "care": ("/care", N_("Care calendar")),
    "inbox": ("/inbox", N_("Inbox")),
}


def render_error(request: Request, status: int, message: str | None):
    parts = request.url.path.strip("/").split("/")
    back = LISTS.get(parts[0]) if len(parts) > 1 else None  # /cycles/999 -> the cycles list
    return render(request, "error.html", status_code=status, status=status, message=message, back=back)
