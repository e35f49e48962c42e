"""The incident report (风险事件报告) for the bureau: alerts grouped by risk and pattern, the
orders and subsidy involved, the actions taken, masked identities only.

"Pattern" is the detector that raised the alert and its evidence: the truth of a case is not
known when the report is due.

涉险补贴 (subsidy at risk) of a pattern is counted per order, never per alert: an order named by
several alerts (a ring re-raised as it grows names the same orders again) counts once, at the
most any of its alerts puts at risk and never above the subsidy the order claimed. So the
column never exceeds the claimed subsidy of the orders it names (`at_risk_by_order`).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from reports.document import Report, Section
from reports.evidence import evidence_sentence
from reports.frames import read_alert_orders, read_alerts
from reports.masking import mask_key, mask_pseudonyms
from reports.period import Period
from reports.vocabulary import Lang, name, word
from schemas.rules import ProgrammeRules

RISK_ORDER = ("fraud", "arbitrage", "hoarding", "compliance", "budget")
SEVERITY_ORDER = ("low", "medium", "high", "critical")
ACTION_ORDER = ("block", "hold", "review", "notify")
EVIDENCE_CHARS = 300
SAMPLE_ORDERS = 5


def build(engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang) -> Report:
    alerts = read_alerts(engine, period)
    orders = read_alert_orders(engine, list(alerts["alert_id"]))
    report = Report("incidents", lang)
    report.sections.append(_by_pattern(alerts, orders, lang))
    report.sections.append(_incident_list(alerts, orders, rules, lang))
    return report


def _actions(values: pd.Series, lang: Lang) -> str:
    counts = values.value_counts()
    return ("、" if lang == "zh" else ", ").join(
        f"{name('action', a, lang)} {int(counts[a])}" for a in ACTION_ORDER if a in counts
    )


def at_risk_by_order(alerts: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """(alert_id, order_id, at_risk fen) per order an alert names: the alert's own figure,
    capped by the order's claimed subsidy (an alert about many orders puts each order's claim
    at risk, never more).

    >>> a = pd.DataFrame({"alert_id": ["r1", "r2"], "subsidy_at_risk": [900, 900]})
    >>> o = pd.DataFrame({"alert_id": ["r1", "r1", "r2"], "order_id": ["A", "B", "A"],
    ...                   "claimed_subsidy": [500, 400, 500]})
    >>> at_risk_by_order(a, o)["at_risk"].tolist()
    [500, 400, 500]
    """
    figures = alerts.set_index("alert_id")["subsidy_at_risk"]
    named = orders.assign(alert_risk=orders["alert_id"].map(figures).fillna(0).astype("int64"))
    claimed = named["claimed_subsidy"].fillna(0).astype("int64")
    capped = named["alert_risk"].where(named["alert_risk"] < claimed, claimed)
    return named.assign(at_risk=capped.astype("int64"))[["alert_id", "order_id", "at_risk"]]


def _by_pattern(alerts: pd.DataFrame, orders: pd.DataFrame, lang: Lang) -> Section:
    rows = []
    per_order = at_risk_by_order(alerts, orders)
    alerts = alerts.assign(
        risk_rank=alerts["risk"].map({r: i for i, r in enumerate(RISK_ORDER)}).fillna(9)
    )
    for (_, risk, detector), group in alerts.groupby(["risk_rank", "risk", "detector"]):
        involved = orders[orders["alert_id"].isin(group["alert_id"])].drop_duplicates("order_id")
        decided = involved["decision"].value_counts()
        worst = max(group["severity"], key=lambda s: SEVERITY_ORDER.index(s), default="")
        risked = per_order[per_order["alert_id"].isin(group["alert_id"])]
        at_risk = int(risked.groupby("order_id")["at_risk"].max().sum())
        rows.append(
            {
                "risk": name("risk", str(risk), lang),
                "detector": name("detector", str(detector), lang),
                "alerts": len(group),
                "severity": name("severity", worst, lang),
                "orders_involved": len(involved),
                "approve_n": int(decided.get("approve", 0)),
                "review_n": int(decided.get("review", 0)),
                "reject_n": int(decided.get("reject", 0)),
                "claimed": int(involved["claimed_subsidy"].sum()),
                "subsidy_allowed": int(involved["allowed_subsidy"].sum()),
                "subsidy_at_risk": at_risk,
                "actions": _actions(group["action"], lang),
            }
        )
    columns = [
        "risk",
        "detector",
        "alerts",
        "severity",
        "orders_involved",
        "approve_n",
        "review_n",
        "reject_n",
        "claimed",
        "subsidy_allowed",
        "subsidy_at_risk",
        "actions",
    ]
    counts = ("alerts", "orders_involved", "approve_n", "review_n", "reject_n")
    kinds = {c: "int" for c in counts} | {
        c: "money" for c in ("claimed", "subsidy_allowed", "subsidy_at_risk")
    }
    note = (
        "涉及订单按订单去重;审核结果与核定补贴取自各订单的决定。涉险补贴 = 预警认定有风险的"
        "申领补贴,按订单去重计:每张订单取其各预警认定金额的最大值,且不超过该订单的申领补贴,"
        "故不大于“申领补贴”列。个人身份信息仅以脱敏形式出现。"
        if lang == "zh"
        else "Orders involved are counted once each; decisions and allowed subsidy are each "
        "order's own. Subsidy at risk = the claimed subsidy the alerts put at risk, counted "
        "once per order: each order at the most any of its alerts names, never above what the "
        "order claimed, so never above the claimed column. Identities appear masked only."
    )
    return Section("by_pattern", pd.DataFrame(rows, columns=columns), kinds, note)  # type: ignore[arg-type]


def _incident_list(
    alerts: pd.DataFrame, orders: pd.DataFrame, rules: ProgrammeRules, lang: Lang
) -> Section:
    by_alert = orders.groupby("alert_id")["order_id"].apply(list).to_dict()
    # an alert's own figure, capped by the claims of the orders it names (as the summary)
    risked = at_risk_by_order(alerts, orders).groupby("alert_id")["at_risk"].sum().to_dict()
    times = (
        pd.to_datetime(alerts["raised_at"], utc=True)
        .dt.tz_convert(rules.timezone)
        .dt.strftime("%Y-%m-%d %H:%M:%S")
        if len(alerts)
        else alerts["raised_at"]
    )
    rows = []
    for alert, at in zip(alerts.itertuples(index=False), times, strict=True):
        ids = by_alert.get(alert.alert_id, [])
        sample = ", ".join(ids[:SAMPLE_ORDERS]) + (" …" if len(ids) > SAMPLE_ORDERS else "")
        evidence = mask_pseudonyms(
            evidence_sentence(
                {
                    "detector": alert.detector,
                    "entity_type": alert.entity_type,
                    "evidence": alert.evidence,
                    "score": getattr(alert, "score", 1.0),
                },
                lang,
            )
        )
        if len(evidence) > EVIDENCE_CHARS:
            evidence = evidence[: EVIDENCE_CHARS - 1] + "…"
        rows.append(
            {
                "time": at,
                "risk": name("risk", str(alert.risk), lang),
                "detector": name("detector", str(alert.detector), lang),
                "severity": name("severity", str(alert.severity), lang),
                "action": name("action", str(alert.action), lang),
                "entity": f"{word(f'entity:{alert.entity_type}', lang)} "
                f"{mask_key(alert.entity_type, alert.entity_key)}",
                "orders": len(ids),
                "order_sample": sample,
                "subsidy_at_risk": int(risked.get(alert.alert_id, 0)),
                "evidence": evidence,
            }
        )
    columns = [
        "time",
        "risk",
        "detector",
        "severity",
        "action",
        "entity",
        "orders",
        "order_sample",
        "subsidy_at_risk",
        "evidence",
    ]
    kinds = {
        "orders": "int",
        "subsidy_at_risk": "money",
        "order_sample": "long",
        "evidence": "long",
    }
    return Section("incident_list", pd.DataFrame(rows, columns=columns), kinds)  # type: ignore[arg-type]
