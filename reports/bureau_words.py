"""Every user-facing word of the bureau's modules (reports/bureau_*.py, the complaints and
merchants pages), Chinese first, English beside it: one place to move into the shared
vocabulary.

>>> word("performance", "zh"), word("performance", "en"), word("no-such-key", "zh")
('绩效指标', 'Performance figures', 'no-such-key')
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

WORDS: dict[str, tuple[str, str]] = {
    # the daily report's performance and complaints sections
    "performance": ("绩效指标", "Performance figures"),
    "performance_note": (
        "带动销售 = 获补贴订单的商品金额;净补贴 = 发放 + 冻结待审 − 退回;杠杆率 = 带动销售 ÷ "
        "净补贴。按预算线记账的资金在同一订单的多个品类间按金额比例分摊(到分)。"
        "挽回 = 经确认欺诈的预警所涉订单的退回金额。",
        "Sales driven = the goods of orders granted a subsidy; net subsidy = granted + held − "
        "clawed back; leverage = sales driven ÷ net subsidy. Money booked per budget line is "
        "split over an order's categories by amount (to the fen). Recovered = claw-backs of "
        "orders named by an alert confirmed as fraud.",
    ),
    "chart_performance": ("带动销售(元)与杠杆率", "Sales driven (yuan) and leverage"),
    "leverage_axis": ("杠杆率(元/元)", "leverage (yuan per yuan)"),
    "pf_programme": ("项目", "programme"),
    "pf_category": ("品类", "category"),
    "pf_day": ("日期", "day"),
    "pf_orders": ("申领订单", "orders claiming"),
    "pf_sales": ("带动销售(元)", "sales driven (yuan)"),
    "pf_granted": ("发放(元)", "granted (yuan)"),
    "pf_held": ("冻结待审(元)", "held (yuan)"),
    "pf_refused": ("拒付(元)", "refused (yuan)"),
    "pf_clawed_back": ("退回(元)", "clawed back (yuan)"),
    "pf_net": ("净补贴(元)", "net subsidy (yuan)"),
    "pf_leverage": ("杠杆率", "leverage"),
    "pf_consumers": ("惠及消费者", "consumers reached"),
    "pf_new_share": ("新消费者占比", "new consumers"),
    "pf_recovered": ("挽回(元)", "recovered (yuan)"),
    "total": ("合计", "total"),
    "complaints_section": ("咨询投诉处理", "Complaints and enquiries"),
    "complaints_note": (
        "按登记日统计;逾期 = 超过首次答复时限仍未答复(已升级)。",
        "Counted by the day registered; overdue = no first answer by the deadline (escalated).",
    ),
    "cp_kind": ("类型", "kind"),
    "cp_category": ("类别", "category"),
    "cp_registered": ("登记", "registered"),
    "cp_answered": ("已答复", "answered"),
    "cp_on_time": ("按时答复", "answered on time"),
    "cp_overdue": ("逾期", "overdue"),
    "cp_closed": ("已办结", "closed"),
    "cp_hours": ("平均首次答复(小时)", "mean hours to first answer"),
    "cofunding": ("物流仓补贴资金来源", "Logistics subsidy: public and platform money"),
    # complaint vocabulary
    "complaint": ("投诉", "complaint"),
    "enquiry": ("咨询", "enquiry"),
    "consumer": ("消费者", "consumer"),
    "merchant": ("商户", "merchant"),
    "phone": ("电话", "phone"),
    "web": ("网站", "web"),
    "app": ("APP", "app"),
    "letter": ("信函", "letter"),
    "visit": ("来访", "visit"),
    "subsidy_not_applied": ("补贴未到账", "subsidy not applied"),
    "eligibility": ("资格问题", "eligibility"),
    "product_quality": ("商品质量", "product quality"),
    "price": ("价格问题", "price"),
    "delivery": ("配送问题", "delivery"),
    "refund": ("退款问题", "refund"),
    "merchant_conduct": ("商户行为", "merchant conduct"),
    "programme_rules": ("活动规则", "programme rules"),
    "other": ("其他", "other"),
    "open": ("待分派", "open"),
    "assigned": ("处理中", "assigned"),
    "answered": ("已答复", "answered"),
    "closed": ("已办结", "closed"),
    # merchant vocabulary
    "applied": ("已申请", "applied"),
    "vetted": ("已审核", "vetted"),
    "active": ("正常", "active"),
    "suspended": ("暂停", "suspended"),
    "exited": ("已退出", "exited"),
    "rejected": ("未通过", "rejected"),
}


def word(key: str, lang: Lang) -> str:
    pair = WORDS.get(key)
    return key if pair is None else pair[0 if lang == "zh" else 1]
