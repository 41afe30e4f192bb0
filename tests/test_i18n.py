"""One translation system: the catalog covers every package, and no Chinese sits in the code.

The extraction is the documented command (README "Languages"): ``pybabel extract`` with the
mapping of ``[tool.babel]`` in pyproject.toml, over winback, api, web (code and templates),
flows, tasks and app.py.
"""

from __future__ import annotations

import ast
import pickle
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from winback import i18n
from winback.i18n import CATALOG, Message, gettext, translate, translations

ROOT = Path(__file__).resolve().parent.parent
PYBABEL = Path(sys.executable).parent / "pybabel"
PACKAGES = ("winback", "api", "web", "flows", "tasks")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[tuple[str | None, str], list[str]]:
    """(context, msgid) -> where it was found, by the documented command."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [PYBABEL, "-q", "extract", "-F", "pyproject.toml", "--sort-output", "-o", pot, "."],
        cwd=ROOT,
        check=True,
    )
    with open(pot, "rb") as f:
        return {
            (m.context, m.id if isinstance(m.id, str) else m.id[0]): [f"{p}:{n}" for p, n in m.locations]
            for m in read_po(f)
            if m.id
        }


def _catalog():
    with open(CATALOG, "rb") as f:
        return read_po(f, locale="zh")


def test_the_extraction_covers_every_package():
    mappings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["babel"]["mappings"]
    patterns = [
        p for m in mappings for p in ([m["pattern"]] if isinstance(m["pattern"], str) else m["pattern"])
    ]
    for package in PACKAGES:
        assert f"{package}/**.py" in patterns, package
    assert "web/templates/**.html" in patterns


def test_every_extracted_text_has_a_chinese_translation(extracted):
    assert len(extracted) > 700
    places = {where.split(":")[0] for found in extracted.values() for where in found}
    assert {p.split("/")[0] for p in places} >= {"winback", "api", "web", "app.py"}
    assert any(p.startswith("web/templates/") for p in places) and any(
        p.startswith("web/routes/") for p in places
    )
    # a page text, a notification, a domain error, a workbook title, a CLI line, an API error
    for msgid in (
        "Log in",
        "{count} of your callback tasks are overdue.",
        "no survey task {task_id}",
        "Rows not imported",
        "  row {row}, {column}: {reason}",
        "log in first",
    ):
        assert (None, msgid) in extracted, msgid
    zh = _catalog()
    missing = [
        f"{found[0]}: {msgid!r}" + (f" (context {context!r})" if context else "")
        for (context, msgid), found in sorted(extracted.items(), key=lambda kv: kv[1])
        if not (zh.get(msgid, context=context) and zh.get(msgid, context=context).string)
    ]
    assert not missing, "untranslated (run the command of README 'Languages', then translate):\n" + "\n".join(
        missing
    )


def test_every_catalog_entry_is_still_in_use(extracted):
    """The update command would drop an entry no code marks (mark a run-time code in winback/labels.py)."""
    unused = [m.id for m in _catalog() if m.id and (m.context, m.id) not in extracted]
    assert not unused, unused


def test_the_catalog_is_clean_sorted_and_says_the_same_things():
    entries = [m for m in _catalog() if m.id]
    assert entries and not [m.id for m in entries if m.fuzzy or not m.string]
    keys = [(m.id, m.context or "") for m in entries]
    assert keys == sorted(keys), "keep messages.po sorted (the update command does)"
    for m in entries:
        # the same placeholders in both languages
        assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), m.id
        # full-width punctuation in Chinese (placeholders, times, numbers and paths aside)
        if CJK.search(m.string):
            text = re.sub(r"\{[^}]*\}|\d[,:.]\d|\(/[^)]*\)", "", m.string)
            assert not re.search(r"[,;:?!()]", text), f"half-width punctuation: {m.string!r}"
    assert gettext("Log in", "zh") == "登录" and gettext("Log in", "en") == "Log in"


def test_the_update_command_changes_nothing(tmp_path):
    """Extract + update (README "Languages") on a copy of the committed catalog changes no byte."""
    import shutil

    pot = tmp_path / "messages.pot"
    subprocess.run(
        [PYBABEL, "-q", "extract", "-F", "pyproject.toml", "--no-location", "--sort-output", "-o", pot, "."],
        cwd=ROOT,
        check=True,
    )
    copy = tmp_path / "locale"
    shutil.copytree(CATALOG.parents[2], copy, ignore=shutil.ignore_patterns("*.pot"))
    subprocess.run(
        [PYBABEL, "-q", "update", "-i", pot, "-d", copy, "-l", "zh"]
        + ["--no-fuzzy-matching", "--ignore-obsolete", "--ignore-pot-creation-date"],
        cwd=ROOT,
        check=True,
    )
    assert (copy / "zh" / "LC_MESSAGES" / "messages.po").read_bytes() == CATALOG.read_bytes()


# ---- no Chinese in the code outside the catalog ------------------------------------------------

# Files whose Chinese is data, not words of the program.
ALLOWED_FILES = {
    "winback/demo.py": "the demo store's people, customers and places",
    "winback/customers/import_columns.py": "the DMS files' Chinese column headers (header synonyms)",
    "winback/customers/import_values.py": "the Chinese values DMS columns hold (男/女, 私家车...)",
    "winback/customers/identifiers.py": "licence-plate provinces and special plate characters (patterns)",
    "winback/customers/merges.py": "name honorifics ignored when comparing names (a pattern)",
    "winback/surveys/reasons.py": "the churn reasons each new store is seeded with (editable per store)",
    "winback/plans/library.py": "the measures each new store's library is seeded with (editable per store)",
    "winback/customers/import_errors.py": "the Chinese values a DMS column must hold (男/女, 私家车...), named"
    " in the English messages that old stored rows are matched against",
}
# Single values that are data wherever they stand.
ALLOWED_LITERALS = {
    "工时券": "a voucher's kind as stored (the store's own word), the form's default",
    "保养": "the DMS repair-order category of a maintenance visit",
    "首保": "a DMS repair-order category (the first, free maintenance)",
    "定保": "a DMS repair-order category (scheduled maintenance)",
    "年检": "a DMS repair-order category (annual inspection)",
    "年审": "a DMS repair-order category (annual inspection, another spelling)",
    "其他": "the DMS repair-order category stored when the file has none",
    **dict.fromkeys(
        ("短信", "手机号码", "短信内容", "客户姓名", "车牌号", "提醒类型", "到期日"),
        "a bulk-SMS platform's own sheet and column headers (its file format, whatever the reader's language)",
    ),
    "，": "a full-width comma a person may type between list items (parsed, not shown)",
    "、": "the Chinese enumeration comma a person may type between list items (parsed, not shown)",
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _python_files():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))
    yield ROOT / "app.py"


def test_no_chinese_text_in_python_code_outside_the_catalog():
    """String literals only: comments and docstrings may name the business terms (流失原因调查)."""
    found = []
    for path in _python_files():
        name = path.relative_to(ROOT).as_posix()
        if name in ALLOWED_FILES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
                and CJK.search(node.value)
                and node.value not in ALLOWED_LITERALS
            ):
                found.append(f"{name}:{node.lineno}: {node.value!r}")
    assert not found, "move these into the catalog (an English msgid + messages.po):\n" + "\n".join(found)
    for name in ALLOWED_FILES:
        assert (ROOT / name).exists(), name


def test_domain_errors_carry_a_message_id_not_a_formatted_sentence():
    """``raise NotFound("no plan {plan_id}", plan_id=...)``, never an f-string the catalog cannot hold."""
    errors = {
        "DomainError",
        "NotFound",
        "Forbidden",
        "Conflict",
        "InvalidInput",
        "NotATable",
        "TooManyAttempts",
    }
    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in errors
                and node.args
                and (
                    isinstance(node.args[0], (ast.JoinedStr, ast.BinOp))
                    or (
                        isinstance(node.args[0], ast.Call)
                        and getattr(node.args[0].func, "attr", "") == "format"
                    )
                )
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


# ---- the module ------------------------------------------------------------------------------


def test_a_message_is_english_until_translated_with_its_parameters():
    from datetime import date

    m = Message("no survey task {task_id}", task_id=7)
    assert m == "no survey task 7" and m.translate("zh") == "找不到回访任务 7" and m.translate("en") == m
    assert pickle.loads(pickle.dumps(m)).translate("zh") == "找不到回访任务 7"
    # nested messages, dates and lists are put in in the same language
    moved = Message("handed to {to}", to="张伟")
    assert translate(
        "Callback task #{task_id} ({customer}): {change}.", "zh", task_id=1, customer="王伟", change=moved
    ) == ("回访任务 #1（王伟）：已转交给 张伟。")
    assert i18n.localize(["a", "b"], "zh") == "a、b" and i18n.localize(["a", "b"], "en") == "a, b"
    assert i18n.localize(date(2026, 11, 2), "zh") == "2026年11月2日"
    # a context tells two meanings of one English word apart
    assert (
        i18n.pgettext("plan decision", "rejected", "zh") == "被驳回" and gettext("rejected", "zh") == "已驳回"
    )
    # a stored parameter missing: the words without it, never an exception
    assert translate("no plan {plan_id}", "zh") == "找不到整改方案 {plan_id}"
    assert i18n.ngettext("one row", "{n} rows", 2, "en") == "{n} rows"


def test_the_domain_imports_no_web_framework():
    source = (ROOT / "winback" / "i18n.py").read_text()
    assert "fastapi" not in source and "prefect" not in source
    assert translations("zh")["Log in"] == "登录"


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
