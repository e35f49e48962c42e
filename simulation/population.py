"""Synthetic people: pseudonyms only (hashes of counters), never a raw identifier."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


def pseudonym(seed: int, kind: str, n: int) -> str:
    return hashlib.sha256(f"sim:{seed}:{kind}:{n}".encode()).hexdigest()


@dataclass
class Person:
    n: int
    id_hash: str
    phone_hash: str
    pay_hash: str
    addr_hash: str
    device: str
    ip: str
    account_id: str
    account_created: datetime
    birth_year: int = 1985
    region: str = "440310"
    real_name: bool = True
    checksum_ok: bool = True
    pickup: bool = False
    codes: list[str] = field(default_factory=list)


class People:
    """Makes people with their own everything; callers then share what a pattern shares."""

    def __init__(self, seed: int, rng: random.Random) -> None:
        self.seed = seed
        self.rng = rng
        self.count = 0
        self.codes = 0

    def ip(self) -> str:
        r = self.rng
        return f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def person(self, first_order: datetime, *, new_account: bool | None = None) -> Person:
        self.count += 1
        n = self.count
        rng = self.rng
        if new_account is None:
            new_account = rng.random() < 0.15  # people sign up for the subsidy
        if new_account:
            created = first_order - timedelta(days=rng.uniform(0.05, 6.0))
        else:
            created = first_order - timedelta(days=rng.uniform(30, 1500))
        return Person(
            n=n,
            id_hash=pseudonym(self.seed, "id", n),
            phone_hash=pseudonym(self.seed, "phone", n),
            pay_hash=pseudonym(self.seed, "pay", n),
            addr_hash=pseudonym(self.seed, "addr", n),
            device=f"dv-{self.seed}-{n:07d}",
            ip=self.ip(),
            account_id=f"A{self.seed}{n:08d}",
            account_created=created.replace(microsecond=0),
            birth_year=rng.randint(1950, 2006),
        )

    def code(self) -> str:
        self.codes += 1
        return f"GDQ-2026-{self.seed % 100:02d}{self.codes:07d}"

    def shared(self, kind: str) -> str:
        """A fresh value of one attribute, to be shared by several people."""
        self.count += 1
        if kind == "device":
            return f"dv-{self.seed}-{self.count:07d}"
        return pseudonym(self.seed, kind, self.count)
