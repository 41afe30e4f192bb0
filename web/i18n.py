"""UI language: Simplified Chinese by default, English on request.

Message ids are the English texts; ``ZH`` translates them. A text missing here shows in
English, so add it here when you add it to a template. (Babel catalogs: see the issue list.)
"""
from __future__ import annotations

from fastapi import Request

SUPPORTED = ("zh", "en")

ZH: dict[str, str] = {
    "winback": "客户流失挽回",
    "Log in": "登录", "Log out": "退出", "Username": "用户名", "Password": "密码",
    "Wrong username or password.": "用户名或密码错误。",
    "Cycles": "月度循环", "My tasks": "我的任务", "Audit": "审计", "Plans": "整改方案",
    "Monthly cycles": "月度流失调查", "Start the cycle": "启动本月循环", "Month": "月份", "Store": "门店",
    "Stage": "阶段", "Targets": "调查对象", "Tasks": "回访任务", "Plan": "整改方案", "Evaluation": "效果评估",
    "Flow runs": "流程运行", "Flow": "流程", "State": "状态", "Started": "开始", "Finished": "结束",
    "Run the watcher now": "立即运行到期检查",
    "No cycles yet.": "还没有月度循环。", "Start one for this month.": "请启动本月的循环。",
    "started": "已启动", "cleaned": "档案已整理", "screened": "已筛选", "profiled": "已分析",
    "surveying": "调查中", "tallied": "已统计", "planning": "方案制定中", "executing": "措施执行中",
    "evaluated": "已评估",
    "scheduled": "排队中", "running": "运行中", "completed": "已完成", "failed": "失败", "crashed": "崩溃",
    "cancelled": "已取消",
    "at_risk": "流失风险", "lost": "已流失",
    "open": "待回访", "done": "已完成", "unreachable": "无法联系",
    "Overdue": "已逾期", "Due": "截止", "days left": "天剩余", "overdue": "逾期",
    "Customer": "客户", "Phone": "电话", "Vehicle": "车辆", "Plate": "车牌", "Model": "车型", "Band": "类别",
    "Last visit": "最后进厂", "Months since": "未进厂月数", "Visits": "进厂次数", "Spend": "消费金额",
    "Assignee": "服务顾问", "Status": "状态", "Reassign": "改派", "Open": "打开",
    "No tasks — all done.": "没有待办任务——全部完成。",
    "Profile": "客户档案", "Visit history": "进厂记录", "Date": "日期", "Category": "类别", "Items": "项目",
    "Amount": "金额", "Mileage": "里程", "District": "区域", "Customer type": "客户类型", "Warranty": "保修",
    "in warranty": "保修期内", "out of warranty": "已过保修期",
    "Survey": "流失原因调查", "Method": "方式", "phone": "电话回访", "store_event": "邀请到店活动",
    "home_visit": "上门拜访", "Reasons": "流失原因", "Serviced elsewhere?": "是否在别处维修保养？",
    "Yes": "是", "No": "否", "What was done": "做了什么", "Where": "在哪里", "Why there": "为什么去那里",
    "Complaint": "投诉/不满", "Notes": "备注", "Close the task": "提交并关闭任务",
    "Customer could not be reached": "无法联系到客户",
    "Contact attempts": "联系记录", "Record an attempt": "记录一次联系", "Outcome": "结果",
    "reached": "已接通", "no_answer": "无人接听", "busy": "占线", "wrong_number": "号码错误",
    "left_message": "已留言", "Save": "保存", "Contact note": "联系备注",
    "Task closed.": "任务已关闭。", "Saved.": "已保存。",
    "Tally": "原因统计", "Reason": "原因", "Count": "数量", "Progress": "进度", "Advisor": "服务顾问",
    "Measures": "整改措施", "Area": "领域", "Title": "措施", "Owner": "责任人", "Due date": "完成期限",
    "Expected effect": "预期效果", "Estimated cost": "预计成本",
    "Submit for approval": "提交审批", "Approve": "批准", "Reject": "驳回", "Comment": "意见",
    "draft": "草稿", "submitted": "待审批", "approved": "已批准", "rejected": "已驳回",
    "todo": "待办", "in_progress": "进行中",
    "service": "服务", "repair_quality": "维修质量", "price": "价格", "distance": "距离", "other": "其他",
    "Decision": "审批意见", "by": "由",
    "Timeline": "时间线", "When": "时间", "Who": "操作人", "Action": "操作", "Details": "详情",
    "Flow run": "流程运行",
    "Look up": "查询", "Entity": "对象", "customer": "客户", "task": "任务", "plan": "方案", "cycle": "循环",
    "Recent events": "最近事件",
    "Page not found": "页面不存在", "You may not do this": "您无权执行此操作",
    "Something went wrong": "出错了", "Back to the start": "返回首页",
    "The input is not valid": "输入有误",
    "Contacted": "已联系", "Came back": "已回厂", "Rate": "回厂率", "Target": "目标",
    "Shortfall": "差额", "Workshop entries": "进厂台次", "Output value": "产值",
    "Vehicles back": "回厂车辆数", "Win-back rate": "挽回率", "Customers back": "回厂客户",
    "Cleanup": "档案整理", "Profile analysis": "对象分析", "Share": "占比", "Base share": "基盘占比",
    "Index": "指数",
    "previous": "上一页", "next": "下一页", "of": "/", "Search": "搜索", "Show closed": "显示已完成",
    "Due soon": "即将到期", "Language": "语言",
    "Deadline": "调查截止", "Evaluation due": "评估日期", "Serviced elsewhere": "在别处维修",
    "complaints": "投诉", "Not yet": "尚未",
    "The cycle has started; its stages run as Prefect flows.": "循环已启动，各阶段作为 Prefect 流程运行。",
    "This page refreshes itself while flows run.": "流程运行期间本页自动刷新。",
    "Choose at least one reason.": "请至少选择一个原因。",
    "Plan submitted.": "方案已提交审批。", "Plan approved.": "方案已批准。", "Plan rejected.": "方案已驳回。",
    "Task reassigned.": "任务已改派。",
    "Roles": "角色", "admin": "行政/客服", "supervisor": "前台主管", "advisor": "服务顾问",
    "manager": "服务经理", "auditor": "审计",
    # messages of winback.errors raised by the services
    "choose at least one reason": "请至少选择一个流失原因",
    "say where the car was serviced": "请填写在哪里维修保养",
    "say why the plan is rejected": "驳回时请填写原因",
    "the plan has no measures": "方案还没有任何措施",
    "the due date lies in the past": "完成期限不能早于今天",
    "a measure needs a title": "措施需要名称",
    "the cost must not be negative": "成本不能为负数",
    "choose an active advisor of this store": "请选择本店在职的服务顾问",
    "choose an active staff member of this store as owner": "请选择本店在职员工作为责任人",
    "only the assigned advisor records contacts": "只有负责的服务顾问可以记录联系",
    "you may not do this": "您无权执行此操作",
}


def _merge_area_catalogs() -> None:
    import importlib
    import pkgutil

    from web import locale_zh

    for info in pkgutil.iter_modules(locale_zh.__path__):
        ZH.update(importlib.import_module(f"web.locale_zh.{info.name}").ZH)


_merge_area_catalogs()


def pick_locale(request: Request, user_locale: str | None = None) -> str:
    """?lang= (remembered in the session), then the person's setting, then Accept-Language."""
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
    return "zh"


def translator(locale: str):
    if locale == "zh":
        return lambda text: ZH.get(text, text)
    return lambda text: text
