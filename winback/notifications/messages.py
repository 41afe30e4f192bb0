"""Notification texts in Simplified Chinese (default) and English."""
from __future__ import annotations

MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    # kind: {locale: (title, body)}; bodies are str.format templates.
    "tasks_assigned": {
        "zh": ("新的回访任务", "{month} 流失原因调查：您有 {count} 个新的回访任务，请在 {due} 前完成。"),
        "en": ("New callback tasks", "{month} churn survey: {count} new callback tasks for you, due {due}."),
    },
    "task_reassigned": {
        "zh": ("回访任务调整", "回访任务 #{task_id}（{customer}）已{change}。"),
        "en": ("Callback task changed", "Callback task #{task_id} ({customer}) was {change}."),
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
        "en": ("Overdue callback tasks", "{month}: {count} callback tasks are overdue ({advisors}):\n{lines}"),
    },
    "complaint_raised": {
        "zh": ("回访中客户投诉", "回访任务 #{task_id}（{customer}，{advisor}）记录了投诉：{complaint}"),
        "en": ("Complaint heard on a callback", "Task #{task_id} ({customer}, {advisor}) recorded a complaint: {complaint}"),
    },
    "plan_submitted": {
        "zh": ("整改方案待审批", "{month} 整改方案（第 {version} 版）已提交，请审批。"),
        "en": ("Plan awaits approval", "The {month} rectification plan (version {version}) awaits your approval."),
    },
    "plan_decided": {
        "zh": ("整改方案审批结果", "{month} 整改方案：{decision}。{comment}"),
        "en": ("Plan decision", "{month} rectification plan: {decision}. {comment}"),
    },
    "measure_assigned": {
        "zh": ("整改措施责任分配", "您负责整改措施「{title}」，完成期限 {due}。"),
        "en": ("Measure assigned to you", "You own the measure \"{title}\", due {due}."),
    },
    "measure_due_soon": {
        "zh": ("整改措施即将到期", "整改措施「{title}」将于 {due} 到期，请按时完成并上传证明。"),
        "en": ("Measure due soon", "The measure \"{title}\" is due {due}; report it done with evidence."),
    },
    "measure_overdue": {
        "zh": ("整改措施已逾期", "整改措施「{title}」已于 {due} 逾期，请尽快完成。"),
        "en": ("Measure overdue", "The measure \"{title}\" was due {due} and is overdue."),
    },
    "measures_escalated": {
        "zh": ("逾期整改措施上报", "{count} 项整改措施已逾期：{measures}。"),
        "en": ("Overdue measures", "{count} measures are overdue: {measures}."),
    },
    "evaluation_ready": {
        "zh": ("效果评估完成", "{month} 效果评估：{back}/{contacted} 位客户回厂，回厂率 {rate}%。"),
        "en": ("Evaluation ready", "{month} evaluation: {back} of {contacted} customers came back ({rate}%)."),
    },
    "redline_digest": {
        "zh": ("流失红线提醒", "{date}：{at_risk} 位客户超过流失风险红线，{lost} 位客户超过流失红线。{names}"),
        "en": ("Red line digest", "{date}: {at_risk} customers crossed the at-risk red line, {lost} the lost red line. {names}"),
    },
}


def render(kind: str, locale: str, **params) -> tuple[str, str]:
    texts = MESSAGES[kind].get(locale) or MESSAGES[kind]["zh"]
    return texts[0], texts[1].format(**params)
