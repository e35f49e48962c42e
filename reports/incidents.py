"""The incident report (风险事件报告) for the bureau: alerts grouped by risk and pattern, the
orders and subsidy involved, the actions taken, masked identities only.

"Pattern" is the detector that raised the alert and its evidence: the truth of a case is not
known when the report is due.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from reports.document import Report, Section
from reports.frames import read_alert_orders, read_alerts
from reports.labels import Lang, name
from reports.masking import mask_key, mask_pseudonyms
from reports.period import Period
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
    return ", ".join(
        f"{name('action', a, lang)} {int(counts[a])}" for a in ACTION_ORDER if a in counts
    )


def _by_pattern(alerts: pd.DataFrame, orders: pd.DataFrame, lang: Lang) -> Section:
    rows = []
    alerts = alerts.assign(
        risk_rank=alerts["risk"].map({r: i for i, r in enumerate(RISK_ORDER)}).fillna(9)
    )
    for (_, risk, detector), group in alerts.groupby(["risk_rank", "risk", "detector"]):
        involved = orders[orders["alert_id"].isin(group["alert_id"])].drop_duplicates("order_id")
        decided = involved["decision"].value_counts()
        worst = max(group["severity"], key=lambda s: SEVERITY_ORDER.index(s), default="")
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
                "subsidy_at_risk": int(group["subsidy_at_risk"].sum()),
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
        "涉及订单按订单去重;审核结果与核定补贴取自各订单的决定。个人身份信息仅以脱敏形式出现。"
        if lang == "zh"
        else "Orders involved are counted once each; decisions and allowed subsidy are each "
        "order's own. Identities appear masked only."
    )
    return Section("by_pattern", pd.DataFrame(rows, columns=columns), kinds, note)  # type: ignore[arg-type]


def _incident_list(
    alerts: pd.DataFrame, orders: pd.DataFrame, rules: ProgrammeRules, lang: Lang
) -> Section:
    by_alert = orders.groupby("alert_id")["order_id"].apply(list).to_dict()
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
        evidence = mask_pseudonyms(str(alert.evidence))
        if len(evidence) > EVIDENCE_CHARS:
            evidence = evidence[: EVIDENCE_CHARS - 1] + "…"
        rows.append(
            {
                "time": at,
                "risk": name("risk", str(alert.risk), lang),
                "detector": name("detector", str(alert.detector), lang),
                "severity": name("severity", str(alert.severity), lang),
                "action": name("action", str(alert.action), lang),
                "entity": f"{alert.entity_type}: {mask_key(alert.entity_type, alert.entity_key)}",
                "orders": len(ids),
                "order_sample": sample,
                "subsidy_at_risk": int(alert.subsidy_at_risk),
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
