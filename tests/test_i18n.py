"""The Chinese catalogs of the areas agree: one English text, one Chinese text."""

import importlib
import pkgutil

from web import locale_zh
from web.i18n import ZH


def test_area_catalogs_do_not_contradict_each_other():
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for info in pkgutil.iter_modules(locale_zh.__path__):
        for english, chinese in importlib.import_module(f"web.locale_zh.{info.name}").ZH.items():
            if english in seen and seen[english][1] != chinese:
                clashes.append(f"{english!r}: {seen[english]} vs {(info.name, chinese)}")
            seen.setdefault(english, (info.name, chinese))
    # nor the Babel catalog they are merged over (a module would silently win)
    from web.i18n import read_catalog

    catalog = read_catalog("zh")
    clashes += [
        f"{english!r}: messages.po {catalog[english]!r} vs {seen[english]}"
        for english in seen
        if catalog.get(english) and catalog[english] != seen[english][1]
    ]
    assert not clashes, "\n".join(clashes)


def test_every_text_on_the_pages_has_a_chinese_translation():
    """Babel extracts every _("...") in the templates and code and every flash(request, "...")."""
    from web.i18n import extract_messages

    found = extract_messages()
    assert "Log in" in found and "Task closed." in found  # the extraction sees templates and flash()
    missing = [
        f"{where}: {text!r}" for text, where in sorted(found.items(), key=lambda kv: kv[1]) if text not in ZH
    ]
    assert not missing, "untranslated (add to web/locale/zh/LC_MESSAGES/messages.po):\n" + "\n".join(missing)


def test_the_catalog_is_a_clean_babel_catalog():
    from babel.messages.pofile import read_po

    from web.i18n import CATALOG_DIR, read_catalog

    with open(CATALOG_DIR / "zh" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale="zh")
    entries = [m for m in catalog if m.id]
    assert entries and not [m.id for m in entries if m.fuzzy or not m.string]
    assert read_catalog("zh")["Log in"] == "登录" == ZH["Log in"]


def test_dates_numbers_and_money_follow_the_language():
    from datetime import date
    from decimal import Decimal

    from web.i18n import fmt_date, fmt_money, fmt_number

    assert fmt_date(date(2026, 11, 2), "zh") == "2026年11月2日"
    assert fmt_date(date(2026, 11, 2), "en") == "2 Nov 2026"
    assert fmt_money(Decimal("1234.5"), "zh") == "¥1,234.50"
    assert fmt_money(Decimal("1234.5"), "en") == "¥1,234.50"
    assert fmt_number(12345.6, "en") == "12,345.6"
    assert fmt_date(None, "en") == fmt_money(None, "zh") == ""
