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
    assert not clashes, "\n".join(clashes)
    assert all(ZH[k] == v for k, (_, v) in seen.items())
