"""Raw ID numbers and mobile numbers in disguise, made at run time: none is stored in clear.

`disguises(seed)` gives the forms a careless export or a hand-typed note produces (and a few
a determined one would): letters around the number, spaces, dashes, dots or slashes between
its groups, full-width and other Unicode digits, a lowercase or full-width X, a wrong check
digit, the old 15-digit form, zero-width and other invisible characters, +86 and 0086. Each
comes with its `core`, the digits that must never reach an output; `leaked` looks for them
with its own normalisation, independent of the code under test.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
REGIONS = ("440310", "440303", "110105", "310115", "510104", "650102")


def check_char(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def make_id(rng: random.Random, *, ending_in_x: bool = False) -> str:
    """A resident ID number of a plausible region and birth date, its check char computed."""
    while True:
        born = f"{rng.randrange(1950, 2006)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
        first17 = rng.choice(REGIONS) + born + f"{rng.randrange(1000):03d}"
        if not ending_in_x or check_char(first17) == "X":
            return first17 + check_char(first17)


def make_phone(rng: random.Random) -> str:
    return rng.choice(("139", "138", "158", "186", "177", "199")) + f"{rng.randrange(10**8):08d}"


def _full(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _mixed(text: str) -> str:
    return "".join(_full(c) if i % 2 else c for i, c in enumerate(text))


def _digits(text: str, zero: int) -> str:
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)


def _groups(id_number: str, sep: str) -> str:
    return sep.join((id_number[:6], id_number[6:14], id_number[14:]))


def _phone_groups(phone: str, sep: str) -> str:
    return sep.join((phone[:3], phone[3:7], phone[7:]))


@dataclass(frozen=True)
class Disguise:
    name: str
    text: str
    core: str  # the digits that give the person away


def disguises(seed: int = 0) -> list[Disguise]:
    """34 forms: 20 of ID numbers, 14 of mobile numbers."""
    rng = random.Random(seed)
    id_number, with_x, phone = make_id(rng), make_id(rng, ending_in_x=True), make_phone(rng)
    core = id_number[:17]
    wrong = core + ("0" if id_number[17] != "0" else "1")
    old = id_number[:6] + id_number[8:14] + id_number[14:17]  # 15 digits: YYMMDD, no check
    forms = [
        ("ID plain", id_number, core),
        ("ID wrapped in letters", f"ID{id_number}abc", core),
        ("ID with spaces between region, date, serial", _groups(id_number, " "), core),
        ("ID with dashes", _groups(id_number, "-"), core),
        ("ID with dots", _groups(id_number, "."), core),
        ("ID with slashes", _groups(id_number, "/"), core),
        ("ID in full-width digits", _full(id_number), core),
        ("ID in mixed full and half width", _mixed(id_number), core),
        ("ID with a wrong check digit", wrong, core),
        ("ID with a lowercase x", with_x[:17] + "x", with_x[:17]),
        ("ID with a full-width X", with_x[:17] + "Ｘ", with_x[:17]),
        ("ID with zero-width spaces", _groups(id_number, "\u200b"), core),
        ("ID with ideographic spaces", _groups(id_number, "\u3000"), core),
        ("ID with no-break spaces", _groups(id_number, "\u00a0"), core),
        ("ID with soft hyphens", _groups(id_number, "\u00ad"), core),
        ("ID in mathematical bold digits", _digits(id_number, 0x1D7CE), core),
        ("ID in Arabic-Indic digits", _digits(id_number, 0x0660), core),
        ("ID after a label", f"身份证号:{id_number}", core),
        ("old 15-digit ID", old, old),
        ("old 15-digit ID with spaces", f"{old[:6]} {old[6:12]} {old[12:]}", old),
        ("mobile plain", phone, phone),
        ("mobile with +86 and spaces", "+86 " + _phone_groups(phone, " "), phone),
        ("mobile with 0086 and dashes", "0086-" + _phone_groups(phone, "-"), phone),
        ("mobile with 86", "86" + phone, phone),
        ("mobile in full-width digits", _full(phone), phone),
        ("mobile in mixed full and half width", _mixed(phone), phone),
        ("mobile 3-4-4 with dashes", _phone_groups(phone, "-"), phone),
        ("mobile with dots", _phone_groups(phone, "."), phone),
        ("mobile with zero-width spaces", _phone_groups(phone, "\u200b"), phone),
        ("mobile wrapped in letters", f"tel{phone}ext", phone),
        ("mobile with (+86)", "(+86)" + _phone_groups(phone, " "), phone),
        ("mobile with underscores", _phone_groups(phone, "_"), phone),
        ("mobile with word joiners", _phone_groups(phone, "\u2060"), phone),
        ("mobile in full width with +86", _full("+86 " + phone), phone),
    ]
    return [Disguise(name, text, digits) for name, text, digits in forms]


def _unescape(text: str) -> str:
    pairs = re.sub(
        r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})",
        lambda m: chr(0x10000 + ((int(m[1], 16) - 0xD800) << 10) + int(m[2], 16) - 0xDC00),
        text,
        flags=re.IGNORECASE,
    )
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), pairs)


def digits_of(text: str) -> str:
    """Every digit of `text`, in order, whatever its script or width (JSON escapes decoded)."""
    folded = unicodedata.normalize("NFKC", _unescape(text))
    return "".join(str(d) for d in (unicodedata.decimal(c, None) for c in folded) if d is not None)


def leaked(text: str, core: str) -> bool:
    """Whether `core` can be read back from `text` once everything but its digits is dropped."""
    return core in digits_of(text)


__all__ = ["Disguise", "check_char", "digits_of", "disguises", "leaked", "make_id", "make_phone"]
