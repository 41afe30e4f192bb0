"""What the customer receives: one short SMS per touch, in Chinese (customers have no language
setting; dealers text in Chinese). English is kept beside it for the English page preview."""

from __future__ import annotations

from datetime import date

from winback.care.models import CareKind

TEXTS: dict[str, dict[str, str]] = {
    CareKind.maintenance.value: {
        "zh": "【{store}】{name}您好，您的爱车{plate}预计于{due}前后需要进行{what}，欢迎来电预约，我们为您预留工位。",
        "en": "[{store}] Dear {name}, your car {plate} is due for its {what} around {due}. Call us to book a slot.",
    },
    CareKind.inspection.value: {
        "zh": "【{store}】{name}您好，您的爱车{plate}的年检将于{due}到期，我店可代办年检，欢迎预约。",
        "en": "[{store}] Dear {name}, the annual inspection of {plate} is due on {due}. We can handle it for you.",
    },
    CareKind.insurance.value: {
        "zh": "【{store}】{name}您好，您的爱车{plate}的保险将于{due}到期，欢迎来店续保，享受专属服务。",
        "en": "[{store}] Dear {name}, the insurance of {plate} expires on {due}. Renew with us.",
    },
    CareKind.warranty_end.value: {
        "zh": "【{store}】{name}您好，您的爱车{plate}的整车质保将于{due}到期，建议到期前来店做一次全面检查。",
        "en": "[{store}] Dear {name}, the warranty of {plate} ends on {due}. Come in for a full check before it does.",
    },
}

WHAT = {
    "zh": {1: "首次保养", 2: "第二次保养", 3: "第三次保养"},
    "en": {1: "first service", 2: "second service", 3: "third service"},
}


def what(number: int | None, target_km: int | None, locale: str = "zh") -> str:
    """第二次保养（15,000公里）: the service by its number and its mileage."""
    name = WHAT[locale].get(number) or ("保养" if locale == "zh" else "service")
    if not target_km:
        return name
    return f"{name}（{target_km:,}公里）" if locale == "zh" else f"{name} ({target_km:,} km)"


def fmt_due(day: date, locale: str = "zh") -> str:
    return f"{day.year}年{day.month}月{day.day}日" if locale == "zh" else day.isoformat()


def render(
    kind: str, *, store: str, name: str, plate: str | None, due: date, forecast: dict, locale: str = "zh"
) -> str:
    template = TEXTS[kind][locale]
    polite = (name or "")[:1] + ("先生/女士" if locale == "zh" else "") if name else ""
    return template.format(
        store=store,
        name=polite if locale == "zh" else name,
        plate=plate or "",
        due=fmt_due(due, locale),
        what=what(forecast.get("number"), forecast.get("target_km"), locale),
    )
