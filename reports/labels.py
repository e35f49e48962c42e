"""Headings in the bureau's language (Chinese, the default) or in English; the names of
values (risks, detectors, decisions...) come from the shared vocabulary (reports/vocabulary.py).

>>> label("budget_line", "zh"), label("budget_line", "en")
('预算线', 'budget line')
>>> name("risk", "hoarding", "zh"), name("risk", "unheard_of", "zh")
('囤货', 'unheard_of')
"""

from __future__ import annotations

from reports.vocabulary import LANGS, Lang, name
from schemas.rules import ProgrammeRules

__all__ = ["LANGS", "TOTAL", "Lang", "Names", "label", "name"]
TOTAL = "\x00total"  # a budget-line key for a programme's total row

_LABELS: dict[str, tuple[str, str]] = {
    # reports and sheets
    "daily": ("补贴资金使用进度日报", "Subsidy fund-use progress report"),
    "incidents": ("风险事件报告", "Incident report"),
    "ledger": ("台账导出", "Ledger export"),
    "reconciliation": ("立减账单核对", "Subsidy bill reconciliation"),
    "sales_ledger": ("销售台账", "Sales ledger"),
    "fund_ledger": ("补贴资金使用明细台账", "Subsidy-fund ledger"),
    "progress": ("资金使用进度", "Fund-use progress"),
    "daily_spend": ("逐日资金使用", "Spend by day"),
    "decisions_summary": ("订单审核结果", "Order decisions"),
    "by_pattern": ("按风险与模式汇总", "By risk and pattern"),
    "incident_list": ("风险事件明细", "Incidents"),
    "differences": ("差异明细", "Differences"),
    "summary": ("汇总", "Summary"),
    "chart_cumulative": ("累计使用占预算比例", "Cumulative spend, share of budget"),
    "chart_daily": ("逐日净使用金额(元)", "Net spend per day (yuan)"),
    "chart_performance": ("带动销售(元)与杠杆率", "Sales driven (yuan) and leverage"),
    # facts
    "period": ("统计期间", "Period"),
    "period_basis": ("期间说明", "Period chosen"),
    "store_held": ("存储中的记录", "The store holds"),
    "nothing_booked": ("本期记录", "This period"),
    "generated_at": ("生成时间", "Generated at"),
    "source": ("数据来源", "Source"),
    "rules": ("规则版本", "Rules"),
    "privacy": ("个人信息", "Personal data"),
    "masking_note": (
        "个人身份信息仅以脱敏形式出现(假名前8位)。",
        "Identities appear masked only (first 8 characters of a pseudonym).",
    ),
    # columns
    "programme": ("项目", "programme"),
    "budget_line": ("预算线", "budget line"),
    "budget": ("预算(元)", "budget (yuan)"),
    "granted": ("发放(元)", "granted (yuan)"),
    "held": ("冻结待审(元)", "held (yuan)"),
    "clawed_back": ("退回(元)", "clawed back (yuan)"),
    "rejected": ("拒付(元)", "rejected (yuan)"),
    "net_in_period": ("期间净使用(元)", "net spend in period (yuan)"),
    "used": ("累计使用(元)", "used to date (yuan)"),
    "used_share": ("使用进度", "share used"),
    "remaining": ("剩余(元)", "remaining (yuan)"),
    "burn_rate": ("近7日日均使用(元/日)", "burn rate, last 7 days (yuan/day)"),
    "exhaustion": ("预计用尽日期", "projected exhaustion"),
    "programme_end": ("项目结束日期", "programme ends"),
    "day": ("日期", "day"),
    "time": ("时间", "time"),
    "order_id": ("订单号", "order"),
    "line_no": ("行号", "line"),
    "merchant_id": ("商户", "merchant"),
    "consumer": ("消费者(脱敏)", "consumer (masked)"),
    "sku": ("商品编码", "SKU"),
    "category": ("品类", "category"),
    "energy_grade": ("能效等级", "energy grade"),
    "unit_price": ("单价(元)", "unit price (yuan)"),
    "quantity": ("数量", "quantity"),
    "amount": ("金额(元)", "amount (yuan)"),
    "decision": ("审核结果", "decision"),
    "kind": ("类型", "kind"),
    "line_total": ("预算线累计(元)", "line running total (yuan)"),
    "programme_total": ("项目累计(元)", "programme running total (yuan)"),
    "orders": ("订单数", "orders"),
    "approve_n": ("通过", "approved"),
    "review_n": ("待复核", "in review"),
    "reject_n": ("拒绝", "rejected"),
    "claimed": ("申领补贴(元)", "claimed (yuan)"),
    "allowed": ("核定补贴(元)", "allowed (yuan)"),
    "risk": ("风险类别", "risk"),
    "detector": ("模式(检测器)", "pattern (detector)"),
    "alerts": ("事件数", "alerts"),
    "orders_involved": ("涉及订单", "orders involved"),
    "subsidy_at_risk": ("涉险补贴(元)", "subsidy at risk (yuan)"),
    "subsidy_allowed": ("涉及订单核定补贴(元)", "allowed subsidy of those orders (yuan)"),
    "actions": ("处置", "actions"),
    "severity": ("严重程度", "severity"),
    "action": ("处置", "action"),
    "entity": ("对象(脱敏)", "entity (masked)"),
    "evidence": ("证据", "evidence"),
    "order_sample": ("订单(前5)", "orders (first 5)"),
    "claimed_in_bill": ("账单申报(元)", "billed (yuan)"),
    "ledger_net": ("台账净额(元)", "ledger net (yuan)"),
    "difference": ("差额(元)", "difference (yuan)"),
    "count": ("笔数", "count"),
    "bill_line": ("账单行", "bill line"),
    # the fund ledger's states, the claim and the holds (reports.claim, reports.holds)
    "claim": ("补贴资金申报清单", "Subsidy claim"),
    "claim_lines": ("申报明细", "Claim lines"),
    "held_orders": ("冻结订单(不申报)", "Held orders (not claimed)"),
    "forfeited_orders": ("核减订单(不申报)", "Forfeited orders (not claimed)"),
    "recoveries": ("应追回资金", "Recoveries due"),
    "holds_aged": ("超期冻结订单", "Holds past their age"),
    "holds": ("冻结订单", "Held orders"),
    "metric": ("指标", "item"),
    "state": ("资金状态", "state"),
    "cause": ("事由", "cause"),
    "subsidy": ("补贴(元)", "subsidy (yuan)"),
    "platform_share": ("平台配资(元)", "platform share (yuan)"),
    "public_share": ("财政资金(元)", "public money (yuan)"),
    "since": ("起始时间", "since"),
    "hours_held": ("已冻结(小时)", "hours held"),
    "by": ("经办人", "by"),
    "why": ("原因", "why"),
    "recovery_due": ("应追回(元)", "recovery due (yuan)"),
    "claimable_start": ("期初可申报余额(元)", "claimable at the start (yuan)"),
    "claimable_end": ("期末可申报余额(元)", "claimable at the end (yuan)"),
    "claim_total": ("本期申报净额(元)", "net claim of the period (yuan)"),
    "claim_added": ("新增可申报(元)", "newly claimable (yuan)"),
    "claim_deducted": ("扣减(元)", "deductions (yuan)"),
    "claim_public": ("向财政申报(元)", "claimed from the bureau (yuan)"),
    "held_total": ("期末冻结(元)", "held at the end (yuan)"),
    "forfeited_total": ("本期核减(元)", "forfeited in the period (yuan)"),
    "recovery_total": ("应追回合计(元)", "recoveries due (yuan)"),
    # reconcile's lines (English headings are the CSV's column names)
    "bill_lines": ("逐行核对", "Bill lines"),
    "bill_order_id": ("订单号", "order_id"),
    "claimed_subsidy": ("申报补贴(元)", "claimed_subsidy"),
    "status": ("核对结果", "status"),
    "payable": ("应付(元)", "payable"),
    "ledger_state": ("台账资金状态", "ledger_state"),
}


def label(key: str, lang: Lang) -> str:
    """A heading; an unknown key is its own heading (a new column is never lost)."""
    pair = _LABELS.get(key)
    return key if pair is None else pair[0 if lang == "zh" else 1]


class Names:
    """Programme and budget-line names in the report's language (titles in Chinese)."""

    def __init__(self, rules: ProgrammeRules, lang: Lang) -> None:
        self.rules = rules
        self.lang = lang

    def programme(self, programme: str) -> str:
        found = self.rules.programmes.get(programme)
        return found.title if found is not None and self.lang == "zh" else programme

    def line(self, programme: str, line: str | None) -> str:
        if line is None:
            return "—"
        if line == TOTAL:
            return "合计" if self.lang == "zh" else "total"
        found = self.rules.programmes.get(programme)
        budget_line = found.budget_lines.get(line) if found is not None else None
        return budget_line.title if budget_line is not None and self.lang == "zh" else line
