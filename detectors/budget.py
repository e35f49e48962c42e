"""Budget (资金使用进度): each budget line's spend, its exhaustion and the bureau's thresholds.

Spend is what the decisions allow (approved and held alike, since a hold freezes money the line
may still pay); a cancellation or full refund gives it back, a partial refund a proportional
share (the subsidy goes back to the programme, as its refund rule says).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from detectors.alerts import Alert
from detectors.base import Detector
from detectors.context import LaterContext, PaidContext
from detectors.store import Store
from schemas.money import ZERO, to_fen
from schemas.outputs import Severity
from schemas.rules import ProgrammeRules

_SEVERITY: tuple[Severity, ...] = ("low", "medium", "high", "critical")


class Budget(Detector):
    """Spend per budget line and programme; cuts past the budget; notifies at each threshold
    (tested with small budgets in tests/unit/detectors/test_pipeline.py)."""

    name = "budget"
    risk = "budget"
    entities = ("budget_line",)

    def __init__(self, rules: ProgrammeRules) -> None:
        super().__init__(rules)
        # the amount at which each threshold of each budget line and programme is crossed
        self._marks: dict[str, list[tuple[Decimal, Decimal]]] = {}
        for pname, programme in rules.programmes.items():
            budgets = {pname: programme.budget}
            budgets.update(
                {f"{pname}/{n}": line.budget for n, line in programme.budget_lines.items()}
            )
            for key, budget in budgets.items():
                self._marks[key] = [(t, t * budget) for t in rules.budget_alert_thresholds]

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        ctx.settle()
        programme = ctx.programme
        if programme is None or not ctx.lines:
            return
        table = store.table("budget")
        pname = ctx.event.programme
        for name, amount in list(ctx.lines.items()):
            state = table.get(f"{pname}/{name}")
            used = Decimal(state["used"]) if state else ZERO
            left = programme.budget_lines[name].budget - used
            if amount <= left:
                continue
            take = max(left, ZERO)
            ctx.lines[name] = take
            ctx.budget_cut += amount - take
            ctx.alert(
                "budget_exhausted",
                "compliance",
                "high",
                "block",
                ("budget_line", f"{pname}/{name}"),
                [ctx.order_id],
                at_risk=amount - take,
                evidence={"budget": programme.budget_lines[name].budget, "used": used},
            )
        ctx.allowed = sum(ctx.lines.values(), ZERO)

    def on_decided(self, ctx: PaidContext, store: Store) -> None:
        if not ctx.lines or ctx.programme is None:
            return
        pname = ctx.event.programme
        programme = ctx.programme
        total = ctx.allowed
        for name, amount in ctx.lines.items():
            self._spend(ctx, store, f"{pname}/{name}", programme.budget_lines[name].budget, amount)
        if len(programme.budget_lines) > 1:
            # a programme of one line would notify the bureau twice of the same threshold
            self._spend(ctx, store, pname, programme.budget, total)
        ctx.order_state["lines"] = dict(ctx.lines)

    def _spend(
        self, ctx: PaidContext, store: Store, key: str, budget: Decimal, amount: Decimal
    ) -> None:
        table = store.table("budget")
        state: dict[str, Any] = table.get(key) or {"used": ZERO, "sent": []}
        used = Decimal(state["used"]) + amount
        state["used"] = used
        sent: list[str] = state["sent"]
        marks = self._marks[key]
        # thresholds fire in order, once each: only the next one can be crossed now
        while len(sent) < len(marks) and used >= marks[len(sent)][1]:
            i = len(sent)
            threshold = marks[i][0]
            sent = [*sent, str(threshold)]
            ctx.alerts.append(
                _threshold_alert(ctx, key, threshold, used, budget, _SEVERITY[min(i, 3)])
            )
        state["sent"] = sent
        table[key] = state

    def on_later(self, ctx: LaterContext, store: Store) -> None:
        lines: dict[str, Decimal] = ctx.order.get("lines") or {}
        if not lines or ctx.clawback <= 0:
            return
        table = store.table("budget")
        granted = sum((Decimal(v) for v in lines.values()), ZERO)
        pname = ctx.order["programme"]
        back_total = ZERO
        for name, amount in lines.items():
            # the claw-back is shared over the lines in proportion to what each granted
            back = (
                ctx.clawback if granted == 0 else to_fen(ctx.clawback * Decimal(amount) / granted)
            )
            back_total += back
            _give_back(table, f"{pname}/{name}", back)
        _give_back(table, pname, back_total)  # no-op for a one-line programme (not tracked)


def _give_back(table: Any, key: str, amount: Decimal) -> None:
    state = table.get(key)
    if state is None:
        return
    state["used"] = max(Decimal(state["used"]) - amount, ZERO)
    table[key] = state


def _threshold_alert(
    ctx: PaidContext,
    key: str,
    threshold: Decimal,
    used: Decimal,
    budget: Decimal,
    severity: Severity,
) -> Alert:
    return Alert(
        detector="budget_threshold",
        risk="budget",
        severity=severity,
        action="notify",
        entity_type="budget_line",
        entity_key=key,
        order_ids=[ctx.order_id],
        raised_at=ctx.event.occurred_at,
        event_id=f"{ctx.event.event_id}#{threshold}",
        evidence={
            "threshold": float(threshold),
            "used": used,
            "budget": budget,
            "ratio": round(float(used / budget), 6),
        },
    )
