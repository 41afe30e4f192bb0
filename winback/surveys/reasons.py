"""The churn reasons every store starts with (PROCESS.md §4). Stores may edit and add their own.

To add a reason for every new store, add a line here (``plans/seeding.py`` seeds them); for
an existing store, the page ``/reason-codes`` (admin or manager) adds, renames or retires one.
"""

from winback.surveys.models import ReasonArea

# code, 中文, English, area
DEFAULT_REASONS: list[tuple[str, str, str, ReasonArea]] = [
    ("poor_attitude", "服务态度差", "Poor service attitude", ReasonArea.service),
    (
        "low_skill",
        "维修技术差（未一次修好）",
        "Low repair skill (not fixed first time)",
        ReasonArea.repair_quality,
    ),
    ("high_price", "价格高（配件工时贵）", "High price (parts and labour)", ReasonArea.price),
    ("too_far", "距离太远", "Too far away", ReasonArea.distance),
    (
        "insurance_referral",
        "保险公司/交警推荐他处",
        "Sent elsewhere by insurer or traffic police",
        ReasonArea.other,
    ),
    ("promise_broken", "承诺未兑现", "Promises not kept", ReasonArea.service),
    ("advisor_left", "熟悉的服务顾问已离职", "The advisor they knew has left", ReasonArea.service),
    ("slow_service", "等待时间长", "Long waiting time", ReasonArea.service),
    ("sold_car", "车辆已卖/不再使用", "Car sold or no longer used", ReasonArea.other),
    ("other", "其他", "Other", ReasonArea.other),
]
