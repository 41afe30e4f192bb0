"""Chinese texts of the live progress line on the cycle pages (web/static/progress.js)."""

ZH = {
    "The flows have finished.": "流程已运行完毕。",
    "Show the result": "查看结果",
}
