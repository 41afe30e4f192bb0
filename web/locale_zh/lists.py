"""Chinese texts of the long lists (search, pager, empty states), the breadcrumbs and the error page."""

ZH = {
    # breadcrumbs, search, pager, empty states
    "Breadcrumb": "页面位置", "Home": "首页", "Cycle": "循环",
    "Nothing matches your search.": "没有符合搜索条件的结果。", "Clear the search": "清除搜索条件",
    "Customer list": "客户列表", "Find a customer": "查找客户", "DMS code": "DMS编号",
    "Back to the list": "返回列表",
    # error page
    "Please try again in a moment": "请稍后再试",
    "There is nothing at this address: it may be mistyped, or what it showed was removed or belongs to another store.":
        "此地址没有内容：可能输入有误，或者内容已被删除，或属于其他门店。",
    "Your role does not allow this page or action. If your work needs it, ask the administration to give you the role.":
        "您的角色无权访问此页面或执行此操作。如工作需要，请联系行政部为您分配相应角色。",
    "Something in the address or the form could not be read. Go back, correct it and try again.":
        "地址或表单中有内容无法识别。请返回修改后重试。",
    # cycles and their tasks
    "Month, e.g. 2026-11": "月份，如 2026-11",
    "No cycle yet — start this month's cycle with the form above.": "还没有循环——请用上方表单启动本月循环。",
    "Screening, profiles and the survey tasks then follow by themselves.": "之后筛选、对象分析和调查任务会自动进行。",
    "No cycle yet.": "还没有循环。",
    "The administration starts one each month; its targets and tasks appear here.": "行政部每月启动一次循环，调查对象和任务会显示在这里。",
    "Customer, phone, plate or VIN": "客户、电话、车牌或车架号", "All statuses": "全部状态",
    "No tasks yet — they are handed to the advisors once the targets are screened.": "还没有任务——筛选出调查对象后会分配给服务顾问。",
    "This page shows them as soon as the survey stage starts.": "调查阶段开始后任务会显示在这里。",
    "No survey tasks in this cycle.": "本循环没有调查任务。",
    "Every target was held out or excluded.": "所有调查对象都被列入对照组或已排除。",
    # my tasks, my measures, library, follow-up
    "No tasks — all done this week.": "没有任务——本周的任务都完成了。",
    "New customers to call arrive with next month's cycle.": "下个月的循环会带来新的待回访客户。",
    "Search the measure's title": "搜索措施名称",
    "When a rectification plan is approved, the measures you own appear here with their due dates.":
        "整改方案批准后，由您负责的措施会连同截止日期显示在这里。",
    "Title, reason or effect": "名称、原因或预期效果", "The library is empty.": "措施库是空的。",
    "A manager's first visit fills it with the typical measures; add your own below.": "服务经理首次打开时会填入常用措施；也可以在下方添加。",
    "A manager's first visit fills it with the typical measures.": "服务经理首次打开时会填入常用措施。",
    "Customer, phone or advisor": "客户、电话或服务顾问", "Nobody to follow up yet.": "暂时没有需要跟进的客户。",
    "Customers appear here once their survey is closed.": "客户的调查完成后会显示在这里。",
    # archive
    "Name, plate, VIN or phone": "姓名、车牌、车架号或电话", "Name, plate, VIN or DMS code": "姓名、车牌、车架号或DMS编号",
    "The archive holds no customers yet.": "档案中还没有客户。", "Import the DMS export of customers first.": "请先导入DMS导出的客户文件。",
    "The administration imports the DMS exports.": "由行政部导入DMS导出文件。",
    "The administration imports the DMS exports here.": "行政部在这里导入DMS导出文件。",
    "File name": "文件名",
    "Export customers, then vehicles, then repair orders from the DMS and import them above.": "从DMS依次导出客户、车辆和维修工单，然后在上方导入。",
    "Name, phone or DMS code": "姓名、电话或DMS编号",
    "The cleanup proposes new ones after each import; run it now from the archive page.": "每次导入后档案整理会提出新的合并建议；也可以在档案页立即整理。",
    # audit, staff, analytics
    "Customer, phone or complaint": "客户、电话或投诉内容", "No complaints recorded.": "没有记录到投诉。",
    "Complaints the advisors hear during surveys are listed here with what was done about them.": "服务顾问在调查中听到的投诉及其处理情况会列在这里。",
    "Nothing has been recorded yet.": "还没有任何记录。",
    "Every change made by a person or a flow is listed here as it happens.": "人员或流程所做的每一项更改都会即时列在这里。",
    "Nothing recorded for this yet.": "此项还没有记录。",
    "Name or username": "姓名或用户名", "No staff yet.": "还没有员工。", "Add the first staff member below.": "请在下方添加第一位员工。",
    "Customer, plate or model": "客户、车牌或车型", "No customer is drifting away at the moment.": "目前没有正在流失的客户。",
    "Customers whose visits have stopped earlier than their own rhythm appear here before they cross the red line.":
        "比自己平时的进厂节奏更早停止来店的客户，会在越过红线之前显示在这里。",
}
