"""What the customer receives: one short SMS per touch, in Chinese (customers have no language
setting; dealers text in Chinese), in English for the English page preview. The words are in the
one catalog (winback/i18n.py)."""

from __future__ import annotations

from datetime import date

from babel import dates as babel_dates

from winback.care.models import CareKind
from winback.i18n import BABEL_LOCALE, N_, gettext, translate

TEXTS: dict[str, str] = {
    CareKind.maintenance.value: N_(
        "[{store}] Dear {name}, your car {plate} is due for its {what} around {due}. Call us to book a slot."
    ),
    CareKind.inspection.value: N_(
        "[{store}] Dear {name}, the annual inspection of {plate} is due on {due}. We can handle it for you."
    ),
    CareKind.insurance.value: N_(
        "[{store}] Dear {name}, the insurance of {plate} expires on {due}. Renew with us."
    ),
    CareKind.warranty_end.value: N_(
        "[{store}] Dear {name}, the warranty of {plate} ends on {due}. Come in for a full check before it does."
    ),
}

# The kind of reminder as the bulk-SMS workbook names it.
KIND_NAMES: dict[str, str] = {
    "maintenance": N_("Maintenance"),
    "inspection": N_("Annual inspection"),
    "insurance": N_("Insurance expiry"),
    "warranty_end": N_("Warranty end"),
    "follow_up_call": N_("Follow-up call"),
    "complaint_recall": N_("Complaint re-call"),
}

WHAT = {1: N_("first service"), 2: N_("second service"), 3: N_("third service")}


def what(number: int | None, target_km: int | None, locale: str = "zh") -> str:
    """第二次保养（15,000公里）: the service by its number and its mileage."""
    name = gettext(WHAT.get(number) or N_("service"), locale)
    if not target_km:
        return name
    return translate("{service} ({km} km)", locale, service=name, km=f"{target_km:,}")


def fmt_due(day: date, locale: str = "zh") -> str:
    """2026年11月2日 / 2 November 2026."""
    return babel_dates.format_date(day, "long", locale=BABEL_LOCALE.get(locale, BABEL_LOCALE["zh"]))


def render(
    kind: str, *, store: str, name: str, plate: str | None, due: date, forecast: dict, locale: str = "zh"
) -> str:
    polite = translate("{initial} Sir/Madam", locale, initial=(name or "")[:1]) if name else ""
    return translate(
        TEXTS[kind],
        locale,
        store=store,
        name=polite if locale == "zh" else (name or ""),
        plate=plate or "",
        due=fmt_due(due, locale),
        what=what(forecast.get("number"), forecast.get("target_km"), locale),
    )
