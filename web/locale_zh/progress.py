"""Chinese texts of the live progress parts (import report, cycle list and stages) and partial updates."""

ZH = {
    "rows": "行",
    "Reading the file…": "正在读取文件……",
    "This part of the page updates itself until the import ends.": "导入结束前，此处会自动更新。",
    "Reached": "已完成",
    "Current stage": "当前阶段",
    "Flow running": "流程运行中",
    "Flow did not finish": "流程未完成",
    "Not reached yet": "尚未开始",
    "Stages and their flow runs": "各阶段及其流程运行",
    "Stage state": "阶段状态",
    "This part of the page updates itself while flows run.": "流程运行期间，此处会自动更新。",
    "The flows have finished.": "流程已运行结束。",
    "Reload the page to see the results": "刷新页面查看结果",
    "Show the result": "查看结果",
    "This part of the page updates itself while flows run (the cycles and their flow runs).": "流程运行期间，此处会自动更新（月度循环及其流程运行）。",
}
