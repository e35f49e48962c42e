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
    "cofunding": ("物流仓补贴资金来源", "Logistics subsidy, public and platform money"),
    "cofunding_note": (
        "平台配资比例:{shares}。每笔台账记录按比例拆分(平台部分四舍五入到分,其余为财政资金),"
        "两者之和与补贴资金台账一致到分。净额 = 发放 + 冻结待审 − 退回。",
        "The platform's share: {shares}. Each ledger entry is split by it (the platform's "
        "part rounded half up to the fen, the rest public money), so the two add up to the "
        "fund ledger to the fen. Net = granted + held − clawed back.",
    ),
    "co_programme": ("项目", "programme"),
    "co_day": ("日期", "day"),
    "co_source": ("资金来源", "source"),
    "co_public": ("财政资金", "public money"),
    "co_platform": ("平台配资", "platform co-funding"),
    "co_granted": ("发放(元)", "granted (yuan)"),
    "co_held": ("冻结待审(元)", "held (yuan)"),
    "co_clawed_back": ("退回(元)", "clawed back (yuan)"),
    "co_net": ("净额(元)", "net (yuan)"),
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
    # console pages: complaints
    "nav_complaints": ("咨询投诉", "Complaints"),
    "nav_merchants": ("商户管理", "Merchants"),
    "complaints_title": ("咨询投诉", "Complaints and enquiries"),
    "register_complaint": ("登记咨询投诉", "Register a complaint or enquiry"),
    "f_kind": ("类型", "kind"),
    "f_party": ("来源", "from"),
    "f_channel": ("渠道", "channel"),
    "f_category": ("类别", "category"),
    "f_contact": ("手机号或身份证号(登记时即脱敏)", "mobile or ID number (masked on entry)"),
    "f_merchant_contact": ("商户填商户编号", "for a merchant: its merchant id"),
    "f_summary": ("内容摘要", "summary"),
    "f_orders": ("关联订单号", "linked orders"),
    "f_alerts": ("关联预警编号", "linked alerts"),
    "f_status": ("状态", "status"),
    "f_identity": ("身份(脱敏)", "identity (masked)"),
    "f_assignee": ("承办人", "assignee"),
    "f_created": ("登记时间", "registered"),
    "f_due": ("答复时限", "answer due"),
    "f_first_answer": ("首次答复", "first answer"),
    "f_escalated": ("已升级", "escalated"),
    "f_closed": ("办结时间", "closed"),
    "f_answer": ("答复内容", "answer"),
    "f_note": ("备注", "note"),
    "f_links": ("关联", "linked"),
    "f_history": ("处理记录", "history"),
    "f_when": ("时间", "when"),
    "f_who": ("操作人", "who"),
    "f_what": ("操作", "what"),
    "any": ("全部", "any"),
    "filter": ("筛选", "filter"),
    "submit_register": ("登记", "Register"),
    "assign_to": ("分派给", "Assign to"),
    "take_it": ("由我承办", "Take it"),
    "submit_answer": ("提交答复", "Answer"),
    "submit_close": ("办结", "Close"),
    "overdue_badge": ("逾期已升级", "overdue, escalated"),
    "none_yet": ("暂无", "none yet"),
    "register": ("登记", "register"),
    "assign": ("分派", "assign"),
    "answer": ("答复", "answer"),
    "close": ("办结", "close"),
    "escalate": ("逾期升级", "escalate"),
    # console pages: merchants
    "merchants_title": ("入驻商户管理", "Merchant register"),
    "merchant_apply": ("商户入驻申请", "A merchant's application"),
    "m_id": ("商户编号", "merchant id"),
    "m_name": ("商户名称", "name"),
    "m_licence": ("统一社会信用代码", "unified social credit code"),
    "m_categories": ("经营品类", "categories"),
    "m_status": ("状态", "status"),
    "m_applied": ("申请时间", "applied"),
    "m_checklist": ("审核清单", "vetting checklist"),
    "m_licence_checked": ("营业执照已核验", "licence verified"),
    "m_categories_checked": ("经营品类已核验", "categories verified"),
    "m_training_done": ("已完成培训", "training done"),
    "m_save_checklist": ("保存审核清单", "Save the checklist"),
    "m_decision": ("主管决定", "Supervisor's decision"),
    "m_reason": ("理由", "reason"),
    "m_history": ("状态历史", "status history"),
    "m_risk": ("风险档案", "risk record"),
    "m_orders": ("订单数", "orders"),
    "m_allowed": ("核定补贴(元)", "subsidy allowed (yuan)"),
    "m_refund_rate": ("退款率", "refund rate"),
    "m_peer_refund_rate": ("全体商户退款率", "all merchants' refund rate"),
    "m_alerts": ("预警(按风险)", "alerts by risk"),
    "m_confirmed": ("确认案件", "confirmed cases"),
    "m_markup": ("平均加价率(相对备案价)", "mean mark-up over the reference price"),
    "m_above_limit": ("超备案价10%的商品行", "lines more than 10 % above the reference"),
    "m_no_catalog": ("未加载商品备案目录", "no catalog loaded"),
    "m_vetted_by": ("审核人", "vetted by"),
    "m_approved_by": ("批准人", "approved by"),
    "m_control_note": (
        "暂停或退出即向 controls 主题发出拦截指令,该商户订单不再享受补贴;恢复即解除。",
        "A suspension or an exit sends a block on the controls topic: the merchant's orders "
        "get no subsidy; a reactivation lifts it.",
    ),
    "m_controls_waiting": (
        "条管控指令待发送(未连接消息队列)",
        "control record(s) wait for the broker",
    ),
    "approve": ("批准", "approve"),
    "reject": ("驳回", "reject"),
    "suspend": ("暂停", "suspend"),
    "reactivate": ("恢复", "reactivate"),
    "exit": ("退出", "exit"),
    "application": ("入驻申请", "application"),
    "checklist": ("审核清单", "checklist"),
}


def word(key: str, lang: Lang) -> str:
    pair = WORDS.get(key)
    return key if pair is None else pair[0 if lang == "zh" else 1]
