"""Notification texts in Simplified Chinese (default) and English, in the recipient's language.

A message is rendered once, when it is queued, in the language of the person it goes to
(``Staff.locale``, else the default). Not only the template is translated: the values put into
it are too. Dates and times are formatted with Babel per locale (2026年11月9日 / 9 Nov 2026,
in business time), a cycle's month as 2026年11月 / Nov 2026, numbers with the locale's
separators; a word the code chooses (the plan decision, why a task moved) is a ``Text`` with
both languages; a list is joined with 、 or ", ".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from winback import clock

BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_GB"}

MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    # kind: {locale: (title, body)}; bodies are str.format templates.
    "tasks_assigned": {
        "zh": ("新的回访任务", "{month} 流失原因调查：您有 {count} 个新的回访任务，请在 {due} 前完成。"),
        "en": ("New callback tasks", "{month} churn survey: {count} new callback tasks for you, due {due}."),
    },
    "task_reassigned": {
        "zh": ("回访任务调整", "回访任务 #{task_id}（{customer}）：{change}。"),
        "en": ("Callback task changed", "Callback task #{task_id} ({customer}): {change}."),
    },
    "tasks_due_soon": {
        "zh": ("回访任务即将到期", "您有 {count} 个回访任务将于 {due} 前到期。"),
        "en": ("Callback tasks due soon", "{count} of your callback tasks are due by {due}."),
    },
    "tasks_overdue": {
        "zh": ("回访任务已逾期", "您有 {count} 个回访任务已逾期，请尽快完成。"),
        "en": ("Callback tasks overdue", "{count} of your callback tasks are overdue."),
    },
    "tasks_escalated": {
        "zh": ("逾期回访任务上报", "{month}：{count} 个回访任务已逾期（{advisors}）：\n{lines}"),
        "en": (
            "Overdue callback tasks",
            "{month}: {count} callback tasks are overdue ({advisors}):\n{lines}",
        ),
    },
    "complaint_raised": {
        "zh": ("回访中客户投诉", "回访任务 #{task_id}（{customer}，{advisor}）记录了投诉：{complaint}"),
        "en": (
            "Complaint heard on a callback",
            "Task #{task_id} ({customer}, {advisor}) recorded a complaint: {complaint}",
        ),
    },
    "plan_submitted": {
        "zh": ("整改方案待审批", "{month} 整改方案（第 {version} 版）已提交，请审批。"),
        "en": (
            "Plan awaits approval",
            "The {month} rectification plan (version {version}) awaits your approval.",
        ),
    },
    "plan_decided": {
        "zh": ("整改方案审批结果", "{month} 整改方案{decision}。{comment}"),
        "en": ("Plan decision", "{month} rectification plan: {decision}. {comment}"),
    },
    "measure_assigned": {
        "zh": ("整改措施责任分配", "您负责整改措施「{title}」，完成期限 {due}。"),
        "en": ("Measure assigned to you", 'You own the measure "{title}", due {due}.'),
    },
    "measure_due_soon": {
        "zh": ("整改措施即将到期", "整改措施「{title}」将于 {due} 到期，请按时完成并上传证明。"),
        "en": ("Measure due soon", 'The measure "{title}" is due {due}; report it done with evidence.'),
    },
    "measure_overdue": {
        "zh": ("整改措施已逾期", "整改措施「{title}」已于 {due} 逾期，请尽快完成。"),
        "en": ("Measure overdue", 'The measure "{title}" was due {due} and is overdue.'),
    },
    "measures_escalated": {
        "zh": ("逾期整改措施上报", "{count} 项整改措施已逾期：{measures}。"),
        "en": ("Overdue measures", "{count} measures are overdue: {measures}."),
    },
    "evaluation_ready": {
        "zh": ("效果评估完成", "{month} 效果评估：{back}/{contacted} 位客户回厂，回厂率 {rate}%。"),
        "en": (
            "Evaluation ready",
            "{month} evaluation: {back} of {contacted} customers came back ({rate}%).",
        ),
    },
    "redline_digest": {
        "zh": (
            "流失红线提醒",
            "{date}：{at_risk} 位客户超过流失风险红线，{lost} 位客户超过流失红线。{names}",
        ),
        "en": (
            "Red line digest",
            "{date}: {at_risk} customers crossed the at-risk red line, {lost} the lost red line. {names}",
        ),
    },
}


class Month(str):
    """A cycle's month "YYYY-MM", written 2026年11月 or Nov 2026."""


@dataclass(frozen=True)
class Text:
    """A phrase in both languages, itself a template: ``Text("已转交给 {to}", "handed to {to}", to=name)``."""

    zh: str
    en: str
    params: dict[str, Any] = field(default_factory=dict)

    def __init__(self, zh: str, en: str, **params: Any) -> None:
        object.__setattr__(self, "zh", zh)
        object.__setattr__(self, "en", en)
        object.__setattr__(self, "params", params)


@dataclass(frozen=True)
class Lines:
    """Values shown one per line (a digest)."""

    items: list[Any]


def localize(value: Any, locale: str) -> str:
    """One inserted value in the recipient's language."""
    babel_locale = BABEL_LOCALE.get(locale, BABEL_LOCALE["zh"])
    if isinstance(value, Text):
        template = value.en if locale == "en" else value.zh
        if not value.params:  # a plain phrase (a measure's title may hold braces)
            return template
        return template.format(**{k: localize(v, locale) for k, v in value.params.items()})
    if isinstance(value, Lines):
        return "\n".join(localize(v, locale) for v in value.items)
    if isinstance(value, (list, tuple)):
        return ("、" if locale == "zh" else ", ").join(localize(v, locale) for v in value)
    if isinstance(value, Month):
        year, month = value.split("-")
        return babel_dates.format_skeleton("yMMM", date(int(year), int(month), 1), locale=babel_locale)
    if isinstance(value, datetime):
        return babel_dates.format_datetime(clock.local(value), "short", locale=babel_locale)
    if isinstance(value, date):
        return babel_dates.format_date(value, "medium", locale=babel_locale)
    if value is None:
        return "-"
    if isinstance(value, (float, Decimal)):  # ints (counts, ids, versions) stay as they are
        return babel_numbers.format_decimal(value, locale=babel_locale)
    return str(value)


def render(kind: str, locale: str, **params) -> tuple[str, str]:
    """The title and body of a ``kind`` message in ``locale`` (zh when unknown)."""
    locale = locale if locale in BABEL_LOCALE else "zh"
    texts = MESSAGES[kind].get(locale) or MESSAGES[kind]["zh"]
    return texts[0], texts[1].format(**{k: localize(v, locale) for k, v in params.items()})
