"""Chinese texts of the profile analysis page, its XLSX export and the churn outlook."""

ZH = {
    "Churn outlook": "流失预警", "Abnormal churn this month": "本月异常流失",
    "Segment": "细分", "This month": "本月", "Expected so far": "按基线应有", "Ratio": "倍数",
    "Last 12 months": "近12个月",
    "A survey is most worth running now: churn in these segments stands clearly above their own last 12 months.":
        "现在最值得开展流失调查：以下细分的流失明显高于其近12个月的水平。",
    "No segment stands out: churn is at its usual level.": "没有细分出现异常：流失处于平常水平。",
    "Likely lost, not yet past the red line": "预测流失（尚未超过红线）",
    "likely_lost": "预测流失", "Vehicles": "车辆", "Expected visits, 12 months": "未来12个月预计进厂",
    "Yearly spend": "年均消费", "Value × risk": "价值×风险", "None at the moment.": "目前没有。",
    "Active base": "有效基盘", "As of": "截至", "Download XLSX": "下载 XLSX", "Back to the cycle": "返回循环",
    "Groups at 1.5× their base share or more are highlighted.": "占比达到基盘占比1.5倍及以上的组别以红色标出。",
    "Charts against the active base": "与有效基盘对比图表", "Complaints": "投诉", "Reasons overall": "流失原因总体",
    "Reasons by": "流失原因 按", "The tally comes after the surveys.": "调查结束后统计原因。", "Summary": "概要",
    "band": "类别", "model": "车型", "grade": "车辆级别", "age_band": "年龄段", "gender": "性别", "district": "区域",
    "customer_type": "客户类型", "warranty": "保修", "visits_per_year": "年进厂次数", "spend_per_year": "年消费（元）",
    "last_category": "最近进厂类别", "last_visit": "距最近进厂", "advisor": "服务顾问",
    "in_warranty": "保修期内", "out_of_warranty": "保修期外",
    "private": "私家车", "company": "单位用车", "insurance": "保险事故车", "taxi": "出租车",
    "luxury": "豪华", "mid": "中级", "lower_mid": "中低级", "economy": "经济型",
    "maintenance": "保养", "repair": "维修", "accident": "事故", "warranty_repair": "保修",
    "<6m": "6个月内", "6-12m": "6-12个月", "12-24m": "12-24个月", "24m+": "24个月以上",
    "Red line digest": "流失红线提醒",
}
