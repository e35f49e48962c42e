"""Every word the analyst console shows, Chinese first, English beside it, and the console's
ways of writing a time and an amount. The names of risks, severities, actions, decisions,
entities, detectors and categories are the shared vocabulary's (reports/vocabulary.py), so the
console and the reports call a thing by one name; the page labels are the console's own.

>>> word("queue_title", "zh"), word("queue_title", "en"), word("no-such-key", "zh")
('预警队列', 'Alert queue', 'no-such-key')
>>> name("risk", "hoarding", "zh"), name("status", "open", "en"), name("risk", "new_one", "zh")
('囤货', 'open', 'new_one')
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Literal

from reports import vocabulary
from reports.bureau_words import word as bureau_word

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"

WORDS: dict[str, tuple[str, str]] = {
    # the page frame
    "brand": ("风险监测台", "riskmon console"),
    "nav_queue": ("预警队列", "Alert queue"),
    "nav_holds": ("冻结订单", "Holds"),
    "nav_incidents": ("上报事件", "Incidents"),
    "nav_reports": ("报表", "Reports"),
    "nav_audit": ("内部监督", "Audit trail"),
    "nav_users": ("用户管理", "Users"),
    "logout": ("退出", "Log out"),
    "language": ("语言", "Language"),
    "footer": (
        "身份信息仅以脱敏形式显示。每次登录、查看预警和处置均记入内部监督日志。",
        "Identities are shown masked only. Every login, alert view and verdict is recorded in "
        "the audit trail.",
    ),
    "copy": ("复制", "Copy"),
    "back": ("返回", "Back"),
    "any": ("全部", "any"),
    "filter": ("筛选", "Filter"),
    "clear": ("清除", "Clear"),
    "page_of": ("第 {page} / {pages} 页", "page {page} of {pages}"),
    "newer": ("‹ 上一页", "‹ previous"),
    "older": ("下一页 ›", "next ›"),
    # login
    "login_title": ("登录", "Log in"),
    "login_name": ("用户名", "Name"),
    "login_password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "unknown user or wrong password"),
    "login_locked": (
        "失败次数过多,请 {minutes} 分钟后再试",
        "too many failed attempts: try again in {minutes} minutes",
    ),
    # the queue
    "queue_title": ("预警队列", "Alert queue"),
    "queue_count": ("{n} 条预警", "{n} alerts"),
    "queue_order_note": (
        "默认显示待处理预警,按涉险补贴金额、严重程度从高到低排列。",
        "Open alerts by default, by subsidy at risk, then severity, highest first.",
    ),
    "f_risk": ("风险类别", "Risk"),
    "f_severity": ("严重程度", "Severity"),
    "f_detector": ("模式", "Pattern"),
    "f_status": ("状态", "Status"),
    "f_from": ("起始日", "From"),
    "f_to": ("截止日", "To"),
    "no_alerts": ("没有预警。", "No alerts."),
    # alert columns and facts
    "c_raised": ("预警时间", "raised"),
    "c_detector": ("模式", "pattern"),
    "c_risk": ("风险", "risk"),
    "c_severity": ("严重程度", "severity"),
    "c_action": ("建议处置", "action asked"),
    "c_entity": ("对象", "entity"),
    "c_at_risk": ("涉险补贴", "subsidy at risk"),
    "c_score": ("评分", "score"),
    "c_status": ("状态", "status"),
    "c_alert": ("预警编号", "alert"),
    "c_open": ("打开", "open"),
    # an alert's page
    "alert_title": ("{detector}预警", "{detector} alert"),
    "verdict": ("处置", "Verdict"),
    "comment": ("说明", "Comment"),
    "comment_hint": (
        "上报主管部门、或排除严重预警时必须填写",
        "required to escalate, and to dismiss a critical alert",
    ),
    "ask_confirm": ("确认提交此处置?", "Record the verdict?"),
    "budget_note": (
        "预算预警仅为通知:处置不会发送标签。",
        "A budget alert is a notification: a verdict on it sends no label.",
    ),
    "no_broker": (
        "未配置消息队列(RISKMON_KAFKA):标签暂存于数据库待发队列。",
        "No broker is configured (RISKMON_KAFKA): labels are kept in the store's outbox.",
    ),
    "outbox_waiting": ("{n} 条标签在待发队列中等待。", "{n} label(s) wait in the store's outbox."),
    "evidence": ("证据", "Evidence"),
    "evidence_json": ("原始数据(JSON)", "The raw evidence (JSON)"),
    "orders": ("订单", "Orders"),
    "o_order": ("订单号", "order"),
    "o_decided": ("审核时间", "decided"),
    "o_merchant": ("商户", "merchant"),
    "o_consumer": ("消费者", "consumer"),
    "o_decision": ("审核结果", "decision"),
    "o_claimed": ("申领补贴", "claimed"),
    "o_allowed": ("核定补贴", "allowed"),
    "o_reasons": ("原因", "reasons"),
    "o_missing": ("库中无此订单", "not in the store"),
    "first_shown": ("仅显示前 {n} 条。", "The first {n} shown."),
    "linked": ("关联对象及其其他预警", "Linked entities and their other alerts"),
    "other_alerts": ("{n} 条其他预警", "{n} other alert(s)"),
    "sharing": ("涉及相同订单的其他预警", "Other alerts naming these orders"),
    "bulk_title": ("批量处置所选关联预警", "Verdict on the linked alerts selected"),
    "bulk_select": ("选择", "select"),
    "bulk_none": ("未选择预警。", "No alert selected."),
    "bulk_done": (
        "已处置 {done} 条关联预警({status});{skipped} 条未处置:{why}",
        "{done} linked alert(s) {status}; {skipped} not: {why}",
    ),
    "bulk_done_all": ("已处置 {done} 条关联预警({status})", "{done} linked alert(s) {status}"),
    "history": ("处置记录", "History"),
    "h_when": ("时间", "when"),
    "h_who": ("处置人", "who"),
    "no_verdict": ("尚未处置。", "No verdict yet."),
    "incident_filed": (
        "已由 {who} 于 {when} 上报主管部门,事件编号 #{n}。",
        "Incident #{n} filed for the bureau by {who} at {when}.",
    ),
    "entity_page": ("查看对象", "entity page"),
    # verdict outcomes
    "given": ("预警{status}", "alert {status}"),
    "given_incident": ("已生成上报事件 #{n}", "incident #{n} filed for the bureau"),
    "labels_sent": ("{n} 条标签已发送至消息队列", "{n} label(s) sent to Kafka (labels topic)"),
    "labels_kept": (
        "{n} 条标签暂存于待发队列:未配置消息队列(RISKMON_KAFKA)",
        "{n} label(s) kept in the store's outbox: no broker is configured (RISKMON_KAFKA)",
    ),
    "labels_waiting": (
        "{n} 条标签在待发队列中等待:消息队列未接收({error}),将随下次处置或重启发送",
        "{n} label(s) wait in the store's outbox: the broker did not take them ({error}); they "
        "go with the next verdict or the next start",
    ),
    "comment_required_escalate": (
        "上报主管部门必须填写说明(主管部门将看到该说明)。",
        "An escalation needs a comment: the bureau reads it.",
    ),
    "comment_required_critical": (
        "排除严重预警必须填写说明。",
        "Dismissing a critical alert needs a comment.",
    ),
    # an entity's page
    "entity_title": ("{kind} {key}", "{kind} {key}"),
    "entity_alerts": ("该对象的预警", "Alerts on this entity"),
    "entity_orders": ("该对象的订单", "Orders of this entity"),
    "entity_orders_note": (
        "设备、地址、支付账户不在订单表中:此处为其预警所涉订单。",
        "Devices, addresses and payment accounts are not in the order table: these are the "
        "orders its alerts name.",
    ),
    "entity_many": (
        "该脱敏编号对应 {n} 个对象,一并列出。",
        "This masked reference matches {n} entities, all listed.",
    ),
    "entity_none": ("库中没有该对象。", "No such entity in the store."),
    "timeline": ("按日统计", "By day"),
    "t_day": ("日期", "day"),
    "t_orders": ("订单数", "orders"),
    "t_alerts": ("预警数", "alerts"),
    # incidents, audit, reports, errors
    "incidents_title": ("已上报主管部门的事件", "Incidents escalated to the bureau"),
    "i_filed": ("上报时间", "filed"),
    "i_by": ("上报人", "by"),
    "no_incidents": ("尚无上报事件。", "No incident escalated."),
    "audit_title": ("内部监督日志", "Audit trail"),
    "audit_rows": ("{n} 条记录", "{n} rows"),
    "a_who": ("操作人", "Who"),
    "a_action": ("操作", "Action"),
    "a_role": ("角色", "role"),
    "a_target": ("对象", "target"),
    "a_detail": ("详情", "detail"),
    "a_from": ("来源地址", "from"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "reports_title": ("主管部门报表", "Reports for the bureau"),
    "reports_holds": ("库中数据期间:{days}。", "The store holds {days}."),
    "reports_empty": ("库中尚无数据。", "The store holds nothing yet."),
    "r_day": ("日期", "Day"),
    "r_daily": ("资金使用进度日报", "Fund-use progress"),
    "r_incidents": ("风险事件报告", "Incident report"),
    # error pages, by HTTP status (the detail below stays as the code says it)
    "error_400": ("请求有误", "Bad request"),
    "error_401": ("需要登录", "Log in first"),
    "error_403": ("无权执行此操作", "Not allowed"),
    "error_404": ("未找到", "Not found"),
    "error_409": ("与当前状态冲突", "Conflicts with the current state"),
    "error_413": ("请求过大", "Too large"),
    "error_422": ("请求内容不符合要求", "Not acceptable as sent"),
    "error_429": ("请求过于频繁", "Too many attempts"),
    "error_500": ("内部错误", "Internal error"),
    # users
    "users_title": ("用户管理", "Users"),
    "u_name": ("用户名", "name"),
    "u_role": ("角色", "role"),
    "u_created": ("创建时间", "created"),
    "u_state": ("状态", "state"),
    "u_lang": ("语言", "language"),
    "u_last_login": ("最近登录", "last login"),
    "u_active": ("启用", "active"),
    "u_disabled": ("已停用", "disabled"),
    "u_disable": ("停用", "Disable"),
    "u_enable": ("启用", "Enable"),
    "u_reset": ("重置密码", "Reset password"),
    "u_new_password": ("新密码", "new password"),
    "u_remove": ("删除", "Remove"),
    "u_ask_remove": ("删除该用户?其登录记录保留在内部监督日志中。", "Remove this user?"),
    "u_done_disable": ("已停用 {name},结束 {n} 个会话", "disabled {name}; {n} session(s) ended"),
    "u_done_enable": ("已启用 {name}", "enabled {name}"),
    "u_done_reset": (
        "已重置 {name} 的密码,结束 {n} 个会话",
        "reset {name}'s password; {n} session(s) ended",
    ),
    "u_done_remove": ("已删除 {name}", "removed {name}"),
    "u_not_self": ("不能停用或删除自己的账号。", "You cannot disable or remove yourself."),
}

# Names of the console's own values (an alert's status and the verdicts as the buttons say
# them, roles, languages, evidence figures); risks, severities, actions, decisions, entities,
# detectors and categories come from the one vocabulary the reports share (reports/vocabulary.py).
NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "status": {
        "open": ("待处理", "open"),
        "confirmed": ("已确认欺诈", "confirmed"),
        "dismissed": ("已排除", "dismissed"),
        "escalated": ("已上报", "escalated"),
    },
    "verdict": {  # what an analyst does
        "confirm": ("确认欺诈", "Confirm fraud"),
        "dismiss": ("排除", "Dismiss"),
        "escalate": ("上报主管部门", "Escalate to the bureau"),
    },
    "role": {
        "analyst": ("分析员", "analyst"),
        "supervisor": ("主管", "supervisor"),
        "bureau": ("商务局", "bureau"),
    },
    "lang": {"zh": ("中文", "Chinese"), "en": ("English", "English")},
    # the figures of an alert's evidence, by their key in the JSON
    "evidence": {
        "identities": ("关联身份数", "identities"),
        "distinct_consumers": ("不同消费者数", "distinct consumers"),
        "within_window": ("窗口内身份数", "identities within the window"),
        "min_identities": ("阈值(身份数)", "threshold (identities)"),
        "allowed_per_period": ("允许笔数", "orders allowed"),
        "period": ("期间", "period"),
        "distinct_codes": ("不同资格码数", "distinct codes"),
        "window_hours": ("时间窗口(小时)", "window (hours)"),
        "window_days": ("时间窗口(天)", "window (days)"),
        "threshold": ("阈值", "threshold"),
        "budget": ("预算(元)", "budget (yuan)"),
        "used": ("已使用(元)", "used (yuan)"),
        "ratio": ("使用比例", "share used"),
        "breaches": ("超限情况", "breaches"),
        "programme": ("项目", "programme"),
        "category": ("品类", "category"),
        "excess": ("超出金额(元)", "excess (yuan)"),
        "merchant_id": ("商户", "merchant"),
        "paid_amount": ("实付金额(元)", "paid (yuan)"),
        "refunded_total": ("累计退款(元)", "refunded in all (yuan)"),
        "released": ("释放额度(元)", "released (yuan)"),
        "released_before": ("此前释放(元)", "released before (yuan)"),
        "allowed_by_rules": ("按规则应补(元)", "allowed by the rules (yuan)"),
        "claimed": ("申领补贴(元)", "claimed (yuan)"),
        "items": ("商品明细", "items"),
        "max_markup": ("最大涨价幅度", "largest mark-up"),
        "problems": ("问题", "problems"),
        "new_account_days": ("新账户定义(天)", "new account (days)"),
        "burst_hours": ("集中下单窗口(小时)", "burst window (hours)"),
        "evidence": ("判定依据", "basis"),
        "new_accounts": ("新账户数", "new accounts"),
        "new_account_orders": ("新账户订单数", "orders by new accounts"),
        "shared_devices": ("共用设备数", "shared devices"),
        "shared_payment_accounts": ("共用支付账户数", "shared payment accounts"),
        "suspicious_orders": ("可疑订单数", "suspicious orders"),
        "live_orders": ("未完结订单数", "live orders"),
        "min_order_amount": ("订单金额下限(元)", "minimum order amount (yuan)"),
        "orders_near_minimum": ("接近下限的订单数", "orders near the minimum"),
        "after": ("之后", "after"),
        "before": ("之前", "before"),
        "anomaly_score": ("异常分", "anomaly score"),
        "labels_learnt": ("已学习标签数", "labels learnt"),
        "node": ("节点", "node"),
        "peers_median": ("同类中位数", "peers' median"),
        "score": ("评分", "score"),
        "stream": ("数据流", "stream"),
        "watching": ("观察中", "watching"),
        "orders": ("订单数", "orders"),
        "count": ("次数", "count"),
        "limit": ("上限", "limit"),
        "quantity": ("数量", "quantity"),
        "sku": ("商品编码", "SKU"),
        "price": ("价格(元)", "price (yuan)"),
        "markup": ("涨价幅度", "mark-up"),
    },
}


def word(key: str, lang: str, **figures: object) -> str:
    """A label in `lang` ("zh" or "en"), with its figures filled in; an unknown key is looked
    up in the bureau pages' words, then shown as it is (a new label is never lost)."""
    pair = WORDS.get(key)
    text = bureau_word(key, "en" if lang == "en" else "zh") if pair is None else _pick(pair, lang)
    return text.format(**figures) if figures else text


def name(family: str, value: str, lang: str) -> str:
    """A value's name (a risk, a status, a detector...); an unknown one as it is."""
    pair = NAMES.get(family, {}).get(value) or vocabulary.pair(f"{family}:{value}")
    return value if pair is None else _pick(pair, lang)


def lang_of(value: object) -> Lang:
    """A known language, Chinese for anything else (a stored value, a form field)."""
    return "en" if value == "en" else "zh"


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def when(value: datetime | None, timezone: tzinfo) -> str:
    """A time as the console shows it: 24 h, to the minute, in the programme's time zone.

    >>> from datetime import UTC
    >>> from zoneinfo import ZoneInfo
    >>> when(datetime(2026, 12, 5, 6, 3, 59, tzinfo=UTC), ZoneInfo("Asia/Shanghai"))
    '2026-12-05 14:03'
    """
    if value is None:
        return ""
    return value.astimezone(timezone).strftime("%Y-%m-%d %H:%M")


def yuan(value: Decimal | float | int | None) -> str:
    """An amount in yuan, to the fen, with thousands separators.

    >>> yuan(Decimal("1234.5")), yuan(Decimal("-3")), yuan(None)
    ('¥1,234.50', '-¥3.00', '')
    """
    if value is None:
        return ""
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    text = f"¥{abs(amount):,.2f}"
    return "-" + text if amount < 0 else text
