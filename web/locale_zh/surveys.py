"""Chinese texts of the survey pages (tasks, dispositions, the supervisor's board)."""

ZH = {
    "pages": "分页",
    "appointment_booked": "已预约进店", "call_back": "约定回电", "not_interested": "不感兴趣",
    "serviced_elsewhere": "已在别处保养", "do_not_call": "拒绝再联系", "excluded": "已排除",
    # kinds of shop where the car was serviced instead (prefixed: "insurance" is also a customer type)
    "shop:independent": "社会修理厂", "shop:other_4s": "其他4S店", "shop:chain": "连锁快修",
    "shop:insurance": "保险公司指定", "shop:other": "其他",
    "other": "其他",
    "Call back at": "约定回电时间", "Excluded": "已排除", "Do not call": "拒绝回访", "invalid number": "号码无效",
    "Answer": "答复", "Answer the complaint": "答复投诉", "Draft saved": "草稿已保存", "Draft saved.": "草稿已保存。",
    "Other reason": "其他原因（请说明）", "Kind of shop": "维修场所类型", "Would they come back?": "是否愿意回来？",
    "Not sure": "不确定", "Appointment booked for": "预约进店日期", "Voucher offered": "已赠送代金券",
    "Save draft": "保存草稿", "Exclusion reason": "排除原因", "Exclude the target": "排除该对象",
    "Contact rate": "接通率", "Reasons so far": "目前的原因", "Reassign selected": "改派所选",
    "Hand over and deactivate": "离职交接并停用", "Only overdue": "仅逾期", "All bands": "全部类别",
    "Search name, plate or phone": "姓名/车牌/电话",
    "describe the other reason": "请说明其他原因",
    "say where the car was serviced": "请填写在哪里维修保养",
    "say when to call back": "请填写约定回电时间",
    "the call-back time must lie in the future": "回电时间必须晚于现在",
    "a recorded complaint cannot be changed or removed; it can only be answered": "已记录的投诉不能修改或删除，只能答复",
    "say why the target is excluded": "请填写排除原因",
    "write the answer": "请填写答复",
    "Task reassigned.": "任务已改派。",
    "this task was changed by someone else meanwhile; your input is kept below, check it and save again":
        "该任务刚被他人修改；您的输入保留在下方，请核对后重新保存",
    "this task was changed by someone else just now; nothing of yours was saved": "该任务刚被他人修改，您的内容未保存",
}
