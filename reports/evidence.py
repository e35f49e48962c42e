"""An alert's evidence as a sentence with its figures, in the reader's language.

Each detector puts its own figures in `evidence` (detectors/*.py, detectors/learning/); this
module says them as an analyst would: "同一设备 72 小时内关联 6 个身份购买手机,阈值 5".
The JSON stays with the alert for whoever wants it; a detector this module does not know is
shown as its keys and values (never hidden), and a test checks every detector is known.

>>> alert = {"detector": "device_ring", "entity": {"type": "device", "key": "dv-1"},
...          "evidence": {"distinct_consumers": 6, "window_hours": 72,
...                       "category": "mobile_phone", "min_identities": 5}}
>>> evidence_sentence(alert, "zh")
'同一设备 72 小时内关联 6 个身份购买手机,阈值 5'
>>> evidence_sentence(alert, "en")
'the same device: 6 identities bought mobile phone within 72 hours (threshold 5)'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import orjson

from detectors.alerts import Alert
from reports.formats import count, day_text, days_text, hours_text, money, share
from reports.vocabulary import Lang, pair, reason, word

Facts = Mapping[str, Any]
Render = Callable[[Facts, str, float, Lang], str]


def _about(alert: Alert | Mapping[str, Any]) -> tuple[str, str, Facts, float]:
    """(detector, entity kind, evidence, score) of an Alert or of an `alerts` record."""
    if isinstance(alert, Alert):
        return alert.detector, alert.entity_type, alert.evidence, alert.score
    entity = alert.get("entity") or {}
    kind = entity.get("type", "") if isinstance(entity, Mapping) else ""
    kind = kind or alert.get("entity_type", "")
    evidence = alert.get("evidence") or {}
    if isinstance(evidence, str | bytes):  # the store keeps it as JSON text
        evidence = orjson.loads(evidence)
    return (
        str(alert.get("detector", "")),
        str(kind),
        evidence if isinstance(evidence, Mapping) else {"evidence": evidence},
        float(alert.get("score", 1.0) or 0.0),
    )


def _join(parts: list[str], lang: Lang) -> str:
    return ("、" if lang == "zh" else "; ").join(parts)


def _ring(e: Facts, entity: str, _: float, lang: Lang) -> str:
    what = word(f"entity:{entity}", lang)
    category = word(f"category:{e['category']}", lang)
    hours, n = hours_text(e["window_hours"], lang), count(e["distinct_consumers"])
    limit = e.get("min_identities")
    if lang == "zh":
        text = f"同一{what} {hours}内关联 {n} 个身份购买{category}"
        return text if limit is None else f"{text},阈值 {count(limit)}"
    text = f"the same {what}: {n} identities bought {category} within {hours}"
    return text if limit is None else f"{text} (threshold {count(limit)})"


def _farm(e: Facts, entity: str, _: float, lang: Lang) -> str:
    what = word(f"entity:{entity}", lang)
    hours, n = hours_text(e["window_hours"], lang), count(e["new_accounts"])
    young = days_text(e["new_account_days"], lang)
    if lang == "zh":
        return f"同一{what} {hours}内有 {n} 个新账户(注册不满 {young})下单"
    return f"{n} accounts younger than {young} ordered from the same {what} within {hours}"


def _split(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    n, least = count(e["orders_near_minimum"]), money(e["min_order_amount"])
    if "allowed_per_period" in e:  # by calendar day, beyond the count the quota allows
        when, allowed = str(e["period"]), count(e["allowed_per_period"])
        if when.endswith("h"):  # no daily quota: a window of hours
            when = hours_text(float(when[:-1]), lang)
        if lang == "zh":
            return f"{when} {n} 笔订单金额略高于起补金额 {least},超过允许的 {allowed} 笔"
        return f"{n} orders just above the {least} minimum on {when}, beyond the {allowed} allowed"
    hours = hours_text(e["window_hours"], lang)
    if lang == "zh":
        return f"{hours}内 {n} 笔订单金额略高于起补金额 {least}"
    return f"{n} orders just above the {least} minimum within {hours}"


def _period(key: str, lang: Lang) -> str:
    """A quota period key (detectors.context.period_key) in words."""
    if key == "all":
        return "项目期内" if lang == "zh" else "the programme"
    if "-W" in key:
        year, week = key.split("-W")
        return f"{year}年第{int(week)}周" if lang == "zh" else f"week {int(week)} of {year}"
    try:
        return day_text(date.fromisoformat(key), lang)
    except ValueError:
        return key


def _quota(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    parts = []
    for breach in e.get("breaches", []):
        _, scope, period = (str(breach["quota"]).split("|") + ["", "", ""])[:3]
        family = "category" if pair(f"category:{scope}") else "line"
        named = word(f"{family}:{scope}", lang) if scope else ""
        limit, used = count(breach["limit"]), breach.get("used")
        when = _period(period, lang) if period else ""
        if lang == "zh":
            text = f"{named} {when}限购 {limit}"
            parts.append(text if used is None else f"{text},此前已用 {count(used)}")
        else:
            text = f"{named}: quota {limit} for {when}"
            parts.append(text if used is None else f"{text}, {count(used)} used before")
    head = "超出限购:" if lang == "zh" else "over the quota: "
    return head + _join(parts, lang)


def _eligibility(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    problems = _join([reason(str(p), lang) for p in e.get("problems", [])], lang)
    tail = []
    if "live_orders" in e:
        live = e["live_orders"]
        n = count(len(live) if isinstance(live, list) else live)
        tail.append(f"已有 {n} 个有效订单" if lang == "zh" else f"{n} live orders hold it")
    if "claimed" in e:
        claimed, allowed = money(e["claimed"]), money(e["allowed_by_rules"])
        tail.append(
            f"申领补贴 {claimed},规则核定 {allowed}"
            if lang == "zh"
            else f"claimed {claimed}, the rules allow {allowed}"
        )
    sep = "," if lang == "zh" else "; "
    return sep.join([problems, *tail])


def _exhausted(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    budget, used = money(e["budget"]), money(e["used"])
    if lang == "zh":
        return f"预算 {budget} 已用 {used},剩余不足以支付本单补贴"
    return f"budget {budget}, {used} used: too little left for this order's subsidy"


def _threshold(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    budget, used, ratio = money(e["budget"]), money(e["used"]), share(e["ratio"])
    limit = share(e["threshold"], 0)
    if lang == "zh":
        return f"预算已使用 {used} / {budget}({ratio}),达到 {limit} 阈值"
    return f"{used} of the {budget} budget used ({ratio}), past the {limit} threshold"


def _refund_arbitrage(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    paid, refunded, excess = (money(e[k]) for k in ("paid_amount", "refunded_total", "excess"))
    if lang == "zh":
        return f"退款 {refunded} 超过实付 {paid},多退 {excess}"
    return f"refunded {refunded} against {paid} paid: {excess} too much"


def _refund_cycling(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    days = days_text(e["window_days"], lang)
    category = word(f"category:{e['category']}", lang)
    if "released_before" in e:
        n = count(e["released_before"])
        if lang == "zh":
            return f"{days}内同一品类({category})已取消或退款 {n} 次后再次购买"
        return f"bought {category} again after {n} cancellations or refunds within {days}"
    n = count(e["released"])
    if lang == "zh":
        return f"{days}内同一品类({category})取消或退款 {n} 次"
    return f"{n} cancellations or refunds of {category} within {days}"


def _code_reuse(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    live, ids = count(e["live_orders"]), count(e["identities"])
    if lang == "zh":
        return f"同一资格码已有 {live} 个有效订单,涉及 {ids} 个身份"
    orders = "live order" if live == "1" else "live orders"
    return f"the same qualification code: {live} {orders}, {ids} identities"


def _code_shared(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    ids = count(e["identities"])
    if lang == "zh":
        return f"同一资格码由 {ids} 个身份使用"
    return f"the same qualification code used by {ids} identities"


def _device_codes(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    hours, codes, ids = (
        hours_text(e["window_hours"], lang),
        count(e["distinct_codes"]),
        count(e["identities"]),
    )
    if lang == "zh":
        return f"同一设备 {hours}内使用 {codes} 个资格码,涉及 {ids} 个身份"
    return f"the same device used {codes} qualification codes of {ids} identities within {hours}"


def _fake_orders(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    hours = hours_text(e["window_hours"], lang)
    n, new = count(e["suspicious_orders"]), count(e["new_account_orders"])
    devices, accounts = count(e["shared_devices"]), count(e["shared_payment_accounts"])
    if lang == "zh":
        return (
            f"{hours}内 {n} 笔可疑订单:新账户订单 {new} 笔,共用设备 {devices} 台,"
            f"共用支付账户 {accounts} 个"
        )
    return (
        f"{n} suspicious orders within {hours}: {new} from new accounts, {devices} shared "
        f"devices, {accounts} shared payment accounts"
    )


def _inflation(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    parts = []
    for item in e.get("items", []):
        price, ref = money(item["unit_price"]), item.get("reference_price")
        if ref is None:
            parts.append(
                f"{item['sku']} 单价 {price}" if lang == "zh" else f"{item['sku']} {price}"
            )
            continue
        over = share(item["markup"])
        parts.append(
            f"{item['sku']} 单价 {price},备案价 {money(ref)},高出 {over}"
            if lang == "zh"
            else f"{item['sku']} at {price} against {money(ref)} registered, {over} above"
        )
    text = ";".join(parts) if lang == "zh" else "; ".join(parts)
    limit = e.get("max_markup")
    if limit is None:
        return text
    return (
        f"{text}(上限 {share(limit, 0)})" if lang == "zh" else f"{text} (limit {share(limit, 0)})"
    )


# the features the learning stage keeps on a log scale, and how a reader sees them
_LOG_MONEY, _LOG_COUNT, _LOG_DAYS = {"amount"}, {"units"}, {"account_age"}
_SHARES = {"subsidy_share", "markup", "merchant_refund_rate", "merchant_subsidy_share"}


def _feature(name: str, value: float, lang: Lang) -> str:
    if name in _LOG_MONEY:
        return money(round(math.expm1(value), 2))
    if name in _LOG_COUNT:
        return count(round(math.expm1(value), 1))
    if name in _LOG_DAYS:
        return days_text(round(math.expm1(value), 1), lang)
    if name in _SHARES:
        return share(value)
    if name == "hour":
        return f"{int(value):02d}:{int(round(value % 1 * 60)) % 60:02d}"
    return f"{value:g}"


def _anomaly(e: Facts, _entity: str, score: float, lang: Lang) -> str:
    drivers = []
    for d in e.get("drivers", []):
        feature = str(d["feature"])
        named = word(f"feature:{feature}", lang)
        value = _feature(feature, float(d["value"]), lang)
        typical = _feature(feature, float(d["typical"]), lang)
        drivers.append(
            f"{named} {value}(通常 {typical})"
            if lang == "zh"
            else f"{named} {value} (usually {typical})"
        )
    limit = f"{float(e['threshold']):.2f}"
    # the anomaly score itself (the alert's `score` is scaled to 0-1; alerts before the
    # evidence carried it have only that)
    own = float(e.get("score", score))
    head = (
        f"订单异常分 {own:.2f},超过阈值 {limit}"
        if lang == "zh"
        else f"anomaly score {own:.2f}, above the {limit} threshold"
    )
    if "classifier_probability" in e:
        p = share(e["classifier_probability"])
        head += f",欺诈概率 {p}" if lang == "zh" else f", fraud probability {p}"
    if not drivers:
        return head
    return head + (";主要偏离:" if lang == "zh" else "; mainly: ") + _join(drivers, lang)


def _classifier(e: Facts, _entity: str, score: float, lang: Lang) -> str:
    p, limit, n = share(score), share(e["threshold"], 0), count(e["labels_learnt"])
    if lang == "zh":
        return f"模型判定欺诈概率 {p},阈值 {limit}(已学习 {n} 条分析员结论)"
    return f"fraud probability {p}, threshold {limit} (learnt from {n} analysts' verdicts)"


def _edge_burst(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    what = word(f"entity:{e['node']}", lang)
    n, burst, limit = count(e["distinct_consumers"]), f"{float(e['score']):.2f}", e["threshold"]
    if lang == "zh":
        return f"同一{what}关联身份突增:{n} 个身份,突增分 {burst},阈值 {limit}"
    return f"a burst of identities on one {what}: {n} identities, score {burst}, threshold {limit}"


def _long_ring(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    n, limit, days = count(e["identities"]), count(e["threshold"]), count(e["window_days"])
    orders = count(e["orders"])
    if lang == "zh":
        return (
            f"同一设备和支付账户在 {days} 天内为 {n} 个身份下单(阈值 {limit},"
            f"超过一户人家),涉及 {orders} 笔订单"
        )
    return (
        f"one device and one payment account used by {n} identities within {days} days "
        f"(threshold {limit}, more than a household); {orders} orders"
    )


def _young_burst(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    n, limit, orders = count(e["categories"]), count(e["threshold"]), count(e["orders"])
    minutes, days = count(e["window_minutes"]), e["account_age_days"]
    thin = bool(e.get("thin_hour"))
    if lang == "zh":
        when = ",低峰时段" if thin else ""
        return (
            f"注册 {days} 天的新账户在 {minutes} 分钟内分 {orders} 笔订单购买 {n} 个补贴品类"
            f"(阈值 {limit}{when})"
        )
    when = ", at a thin hour" if thin else ""
    return (
        f"an account {days} days old bought {n} subsidised categories in {orders} orders "
        f"within {minutes} minutes (threshold {limit}{when})"
    )


def _drift(e: Facts, _entity: str, _s: float, lang: Lang) -> str:
    stream = word(f"stream:{e['stream']}", lang)
    before, after, peers = (share(e[k]) for k in ("before", "after", "peers_median"))
    if lang == "zh":
        return f"商户{stream}由 {before} 升至 {after},同行中位数 {peers}"
    return f"the merchant's {stream} rose from {before} to {after}; its peers' median {peers}"


RENDERERS: dict[str, Render] = {
    "address_ring": _ring,
    "device_ring": _ring,
    "phone_ring": _ring,
    "payment_ring": _ring,
    "pickup_pipeline": _ring,
    "account_farm": _farm,
    "split_orders": _split,
    "quota_breach": _quota,
    "consumer_eligibility": _eligibility,
    "product_eligibility": _eligibility,
    "subsidy_amount": _eligibility,
    "budget_exhausted": _exhausted,
    "budget_threshold": _threshold,
    "refund_arbitrage": _refund_arbitrage,
    "refund_cycling": _refund_cycling,
    "qualification_reuse": _code_reuse,
    "qualification_shared": _code_shared,
    "device_many_codes": _device_codes,
    "merchant_fake_orders": _fake_orders,
    "price_inflation": _inflation,
    "anomaly": _anomaly,
    "classifier": _classifier,
    "edge_burst": _edge_burst,
    "merchant_drift": _drift,
    "long_ring": _long_ring,
    "young_burst": _young_burst,
}


def raw_evidence(evidence: Facts) -> str:
    """The evidence as its keys and values: what is shown when no sentence fits."""
    return "; ".join(f"{k}={v}" for k, v in evidence.items())


def evidence_sentence(alert: Alert | Mapping[str, Any], lang: Lang) -> str:
    """The alert's evidence in words; its raw keys and values when the detector is unknown
    or its evidence lacks a figure the sentence needs (a newer detector's, say)."""
    detector, entity, evidence, score = _about(alert)
    render = RENDERERS.get(detector)
    if render is None or not evidence:
        return raw_evidence(evidence)
    try:
        return render(evidence, entity, score, lang)
    except (KeyError, TypeError, ValueError):
        return raw_evidence(evidence)
