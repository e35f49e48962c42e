"""The platform's co-funding (配资): a co-funded programme's subsidy split into public money (the
bureau's) and the platform's own, entry by entry, to the fen.

Each fund-ledger entry of a co-funded programme is split once: the platform's part is the
entry's amount times the programme's share, rounded half up to the fen, the public part the
rest. Every total of either part is a sum of those splits, so public + platform equals the
ledger exactly, on any day, line or period. The shares come from the bureau configuration
(`[fund] cofunding`, `reports.bureau_config.Fund`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from sqlalchemy import Engine

from reports.frames import read_fund
from reports.period import Period
from reports.rows import CLAWBACK, GRANT, HOLD

Shares = Mapping[str, Decimal]
MONEY = ("granted", "held", "clawed_back", "net")
_COLUMN = {GRANT: "granted", HOLD: "held", CLAWBACK: "clawed_back"}


def platform_part(amount: int, share: Decimal) -> int:
    """The platform's fen of `amount` fen at `share`, half up (a negative amount mirrors).

    >>> platform_part(10000, Decimal("0.8334")), platform_part(1, Decimal("0.5"))
    (8334, 1)
    >>> platform_part(-1, Decimal("0.5")), platform_part(999, Decimal(0))
    (-1, 0)
    """
    sign = -1 if amount < 0 else 1
    part = (Decimal(abs(amount)) * share).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return sign * int(part)


def split_frame(engine: Engine, period: Period, shares: Shares) -> pd.DataFrame:
    """Per co-funded programme, day and source (public, platform): granted, held, clawed back
    and net (granted + held − clawed back, the progress report's spend), in fen."""
    fund = read_fund(engine, until=period.end)
    fund = fund[(fund["day"] >= period.start) & fund["programme"].isin(list(shares))]
    rows: dict[tuple[str, object, str], dict[str, int]] = {}
    for entry in fund.itertuples(index=False):
        column = _COLUMN.get(str(entry.kind))
        if column is None:
            continue
        amount = int(entry.amount)
        platform = platform_part(amount, shares[entry.programme])
        for source, part in (("public", amount - platform), ("platform", platform)):
            row = rows.setdefault((entry.programme, entry.day, source), dict.fromkeys(MONEY, 0))
            row[column] += part
    out = []
    for (programme, day, source), row in sorted(rows.items(), key=lambda kv: str(kv[0])):
        row["net"] = row["granted"] + row["held"] - row["clawed_back"]
        out.append({"programme": programme, "day": day, "source": source, **row})
    frame = pd.DataFrame(out, columns=["programme", "day", "source", *MONEY])
    for column in MONEY:
        frame[column] = frame[column].astype("int64")
    return frame
