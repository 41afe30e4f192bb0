"""Chinese texts of the language settings and of the JSON API's common errors."""
ZH = {
    "Language": "语言",
    "Language of pages, notifications and downloads": "页面、通知和下载文件的语言",
    "As the browser asks": "跟随浏览器",
    "Save language": "保存语言",
    "Language saved.": "语言已保存。",
    "choose a language: zh or en": "请选择语言：zh（中文）或 en（英文）",
    # the JSON API's common errors (api/errors.py)
    "log in first": "请先登录",
    "forbidden": "无权执行此操作",
    "wrong username or password": "用户名或密码错误",
    "invalid input": "输入无效",
    "a value is out of range": "数值超出范围",
    "the database is not reachable right now; please try again in a moment": "数据库暂时无法连接，请稍后重试",
    "Not Found": "找不到该地址",
    "Method Not Allowed": "不支持该请求方法",
    # the store's reasons and measure library in both languages
    "Churn reasons and their labels": "流失原因及其名称",
    "The reasons the advisors record, in Chinese and English; each person sees the label in their language.":
        "服务顾问记录的流失原因，中英文各一个名称；每个人看到自己语言的名称。",
    "Code": "代码",
    "Label (Chinese)": "中文名称",
    "Label (English)": "英文名称",
    "Not in use": "已停用",
    "Add a reason": "新增原因",
    "Edit": "编辑",
    "Title (Chinese)": "标题（中文）",
    "Title (English)": "标题（英文）",
    "a reason needs a Chinese and an English label": "原因需要中文和英文名称",
    "a label has at most 120 characters": "名称最多 120 个字符",
    "a reason code is 2-40 lower-case letters, digits or _, starting with a letter":
        "原因代码为 2–40 个小写字母、数字或下划线，以字母开头",
    "the store already has this reason code": "本店已有该原因代码",
    "only the administration or the manager edits the reasons": "只有行政部或服务经理可以修改流失原因",
}
