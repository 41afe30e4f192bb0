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
}
