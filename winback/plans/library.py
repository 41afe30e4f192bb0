"""Typical measures per reason (PROCESS.md §6), used to draft a plan from the tally.

Each entry: reason code -> (area, title 中文, title English, expected effect).
Stores edit the drafted measures; add a line here to suggest a measure for a new reason.
"""

from winback.surveys.models import ReasonArea

MEASURE_LIBRARY: dict[str, tuple[ReasonArea, str, str, str]] = {
    "poor_attitude": (
        ReasonArea.service,
        "服务礼仪培训并将服务质量与绩效挂钩",
        "Service etiquette training; tie service quality to pay",
        "满意度 +5 分",
    ),
    "slow_service": (
        ReasonArea.service,
        "预约分流与接送车服务",
        "Appointment slots and pick-up/delivery for busy customers",
        "等待时间 -20%",
    ),
    "promise_broken": (
        ReasonArea.service,
        "经理回访流失及投诉客户",
        "Manager callbacks to lost and complaining customers",
        "投诉客户回厂 10 台",
    ),
    "advisor_left": (
        ReasonArea.service,
        "离职顾问客户交接并由新顾问致电介绍",
        "Hand over a leaving advisor's customers; new advisor calls to introduce",
        "交接客户联系率 100%",
    ),
    "low_skill": (
        ReasonArea.repair_quality,
        "车间技能培训考核，经理参与终检交车",
        "Workshop skill training and tests; manager at final inspection",
        "一次修复率 +5 个百分点",
    ),
    "high_price": (
        ReasonArea.price,
        "定向保养套餐与会员工时折扣，流失客户回厂工时券 500 元",
        "Targeted maintenance offers, member labour discounts, 500-yuan labour voucher for returning customers",
        "回厂 30 台",
    ),
    "too_far": (
        ReasonArea.distance,
        "高价值客户上门取送车服务",
        "Door-to-door service for valuable customers",
        "远距离客户回厂 10 台",
    ),
    "insurance_referral": (
        ReasonArea.other,
        "与保险公司及交警建立事故车推荐合作",
        "Accident-car referral agreements with insurers and traffic police",
        "事故车进厂 +10 台/月",
    ),
}

# The expected effect as a number and unit, so the evaluation can hold the outcome against it.
EXPECTED_VALUE: dict[str, tuple[str, str]] = {
    "poor_attitude": ("5", "满意度分"),
    "slow_service": ("20", "% 等待时间下降"),
    "promise_broken": ("10", "台回厂"),
    "advisor_left": ("100", "% 交接客户联系率"),
    "low_skill": ("5", "个百分点一次修复率"),
    "high_price": ("30", "台回厂"),
    "too_far": ("10", "台回厂"),
    "insurance_referral": ("10", "台事故车/月"),
}
