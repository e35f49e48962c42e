"""The platform's claim to the bureau (申报清单) for a period, from the fund ledger's states.

An order's money is claimable while it is `granted` or `released` (`reports.fund_states`),
net of its claw-backs. A period's claim is the change in claimable money over the period, order
by order: the claimable money at the end of its last day less that at the end of the day before
it. So an order granted or released in the period is a positive line; an order claimed in an
earlier period and since refunded, held again or forfeited is a negative line (a deduction: a
recovery due when refunded or forfeited, money withheld when held); claims of successive
periods add up to what is claimable at the end of the last, to the fen.

Held and forfeited orders are listed apart and never claimed. Of a co-funded programme only
the public part is claimed from the bureau (`reports.cofunding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from reports.cofunding import Shares, platform_part
from reports.document import Report, Section
from reports.frames import read_fund, yuan
from reports.fund_states import (
    CLAIMABLE,
    FORFEITED,
    HELD,
    OrderMoney,
    entries_of,
    money_by_order,
)
from reports.holds import KINDS as HOLD_KINDS
from reports.holds import end_of, holds_frame
from reports.labels import Lang, Names, label, name
from reports.period import Period
from schemas.rules import ProgrammeRules


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """One order's change in claimable money over the period, in fen."""

    order_id: str
    programme: str
    cause: str  # settled (newly claimable), refund, held, forfeited, clawed_back
    since: datetime | None  # when the order's money entered its state
    subsidy: int
    platform_share: int
    public_share: int


@dataclass
class Claim:
    """A period's claim, money in fen."""

    period: Period
    start: dict[str, OrderMoney]  # each order's money at the end of the day before the period
    end: dict[str, OrderMoney]  # and at the end of its last day
    lines: list[ClaimLine] = field(default_factory=list)

    @property
    def claimable_start(self) -> int:
        return sum(m.claimable for m in self.start.values())

    @property
    def claimable_end(self) -> int:
        return sum(m.claimable for m in self.end.values())

    @property
    def total(self) -> int:
        return sum(line.subsidy for line in self.lines)

    @property
    def added(self) -> int:
        return sum(line.subsidy for line in self.lines if line.subsidy > 0)

    @property
    def public(self) -> int:
        return sum(line.public_share for line in self.lines)

    @property
    def held(self) -> list[OrderMoney]:
        found = [m for m in self.end.values() if m.state == HELD and m.net > 0]
        return sorted(found, key=lambda m: (m.since_day or self.period.end, m.order_id))

    @property
    def forfeited(self) -> list[OrderMoney]:
        """Orders forfeited in the period."""
        found = [
            m
            for m in self.end.values()
            if m.state == FORFEITED
            and m.since_day is not None
            and self.period.start <= m.since_day <= self.period.end
        ]
        return sorted(found, key=lambda m: m.order_id)

    def recovery(self, order_id: str) -> int:
        """What the period takes back of this order's money claimed before it: a refund or a
        forfeit of claimed money is a recovery due; a new hold only withholds it (0)."""
        before = self.start.get(order_id)
        after = self.end.get(order_id)
        if before is None or after is None or after.state == HELD:
            return 0
        return max(before.claimable - after.claimable, 0)

    @property
    def recoveries(self) -> list[ClaimLine]:
        return [x for x in self.lines if x.subsidy < 0 and self.recovery(x.order_id) > 0]


def make_claim(engine: Engine, period: Period, shares: Shares) -> Claim:
    entries = entries_of(read_fund(engine, until=period.end))
    start = money_by_order(entries, until=period.start - timedelta(days=1))
    end = money_by_order(entries, until=period.end)
    claim = Claim(period, start, end)
    for order_id in sorted(end):
        after = end[order_id]
        before = start.get(order_id)
        change = after.claimable - (before.claimable if before is not None else 0)
        if change == 0:
            continue
        if change > 0:
            cause = "settled"
        elif after.state in CLAIMABLE:
            cause = "refund"  # a partial refund of an order claimed before
        else:
            cause = str(after.state)
        # the platform's part of what is claimable, then its change: so the parts of
        # successive periods add up to the part of the whole, to the fen, as the claims do
        share = shares.get(after.programme)
        platform = 0
        if share is not None:
            was = platform_part(before.claimable, share) if before is not None else 0
            platform = platform_part(after.claimable, share) - was
        claim.lines.append(
            ClaimLine(
                order_id, after.programme, cause, after.since, change, platform, change - platform
            )
        )
    return claim


def report(
    claim: Claim,
    rules: ProgrammeRules,
    lang: Lang,
    *,
    source: str = "riskmon",
    now: datetime | None = None,
) -> Report:
    names = Names(rules, lang)
    out = Report("claim", lang)
    generated = (now or datetime.now(rules.timezone)).astimezone(rules.timezone)
    out.facts = [
        ("period", str(claim.period)),
        ("generated_at", generated.strftime("%Y-%m-%d %H:%M:%S %z")),
        ("rules", f"{rules.version}: {rules.title}"),
        ("source", source),
        ("claim_total", f"{yuan(claim.total):,}"),
        ("claim_public", f"{yuan(claim.public):,}"),
    ]
    lines = pd.DataFrame(
        [
            {
                "order_id": x.order_id,
                "programme": names.programme(x.programme),
                "cause": name("state", x.cause, lang),
                "since": _local(x.since, rules),
                "subsidy": x.subsidy,
                "platform_share": x.platform_share,
                "public_share": x.public_share,
            }
            for x in claim.lines
        ],
        columns=[
            "order_id",
            "programme",
            "cause",
            "since",
            "subsidy",
            "platform_share",
            "public_share",
        ],
    )
    money = {"subsidy": "money", "platform_share": "money", "public_share": "money"}
    out.sections.append(Section("claim_lines", lines, money))  # type: ignore[arg-type]
    held = claim.held
    forfeited = claim.forfeited
    recoveries = claim.recoveries
    summary = [
        ("claimable_start", None, claim.claimable_start),
        ("claimable_end", None, claim.claimable_end),
        ("claim_added", sum(1 for x in claim.lines if x.subsidy > 0), claim.added),
        (
            "claim_deducted",
            sum(1 for x in claim.lines if x.subsidy < 0),
            claim.total - claim.added,
        ),
        ("claim_total", len(claim.lines), claim.total),
        ("platform_share", None, claim.total - claim.public),
        ("claim_public", None, claim.public),
        ("held_total", len(held), sum(m.net for m in held)),
        ("forfeited_total", len(forfeited), sum(m.net for m in forfeited)),
        (
            "recovery_total",
            len(recoveries),
            sum(claim.recovery(x.order_id) for x in recoveries),
        ),
    ]
    frame = pd.DataFrame(
        [(label(key, lang), count, amount) for key, count, amount in summary],
        columns=["metric", "count", "amount"],
    )
    out.sections.append(Section("summary", frame, {"count": "int", "amount": "money"}))
    now = end_of(claim.period, rules)
    out.sections.append(Section("held_orders", holds_frame(held, rules, now, lang), HOLD_KINDS))  # type: ignore[arg-type]
    forfeit_rows = [
        {
            "order_id": m.order_id,
            "programme": names.programme(m.programme),
            "subsidy": m.net,
            "since": _local(m.since, rules),
            "by": m.by or "",
            "why": m.why or "",
            "recovery_due": claim.recovery(m.order_id),
        }
        for m in forfeited
    ]
    out.sections.append(
        Section(
            "forfeited_orders",
            pd.DataFrame(
                forfeit_rows,
                columns=["order_id", "programme", "subsidy", "since", "by", "why", "recovery_due"],
            ),
            {"subsidy": "money", "recovery_due": "money", "why": "long"},
        )
    )
    recovery_rows = [
        {
            "order_id": x.order_id,
            "programme": names.programme(x.programme),
            "cause": name("state", x.cause, lang),
            "recovery_due": claim.recovery(x.order_id),
        }
        for x in recoveries
    ]
    out.sections.append(
        Section(
            "recoveries",
            pd.DataFrame(recovery_rows, columns=["order_id", "programme", "cause", "recovery_due"]),
            {"recovery_due": "money"},
        )
    )
    return out


def _local(at: datetime | None, rules: ProgrammeRules) -> str:
    return "" if at is None else at.astimezone(rules.timezone).strftime("%Y-%m-%d %H:%M:%S")
