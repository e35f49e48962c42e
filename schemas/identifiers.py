"""Raw resident ID numbers and mobile numbers in text, however they are written.

A careless export or a hand-typed note disguises an identifier without meaning to: full-width
digits, spaces or dashes between groups, a lowercase x, a +86 prefix, letters around it. So
text is first *folded*: NFKC (full-width digits and letters become ASCII), every Unicode
decimal digit becomes its ASCII digit, and in a raw line the JSON escapes are decoded. In the
folded text a *stretch* is a run of digits and of the separators between them (anything that
is neither a letter nor a digit: spaces, dashes, dots, zero-width characters...); letters end a
stretch. Every sequence of consecutive digit groups of a stretch is joined and checked against
the shapes below, so that `138 1234 5678` and `110105 19491231 002X` are found and so is an
ID number followed by a space and an amount.

Shapes (the checksum is not looked at: an ID number with a typo in it is still one):
- 18 characters: a region whose first two digits are a province code, a real birth date between
  1900 and 2099, three digits, then a digit or X;
- 15 digits, the old form: a region, a real date in 19YY as YYMMDD, three digits;
- a mainland mobile number: 11 digits, `1` then `3` to `9`; also behind `86` or `0086`.

Not identifiers: the digits inside a hash or a UUID, that is a run of exactly 32, 40, 64 or 128
hexadecimal characters with a letter among them, or a UUID written 8-4-4-4-12 (about one random
pseudonym in fifty holds an 11-digit run that starts like a mobile number), and a dotted IPv4
address. Order numbers such
as `PS20260701070000037` are one group of 17 digits and no shape; a region-and-date order
number of exactly 18 digits (`440310` + `20260701` + `0001`) would be refused, which is the
price of catching IDs with a wrong check digit.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Iterator
from datetime import date

REDACTED = "[REDACTED]"

# GB/T 2260 province-level codes (and 83, residence permits of Taiwan residents).
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
_MIN_RUN = 11  # the shortest shape: a bare mobile number

# A stretch: digit groups and the separators between them. ASCII text (nearly all) is first
# mapped a byte to a byte, every separator to "-", so that a simple pattern finds the stretches
# of 11 characters or more at C speed; other text is matched as it is, separators as `[\W_]`.
_SEPARATORS = bytes.maketrans(
    bytes(c for c in range(128) if not chr(c).isalnum()), b"-" * (128 - 62)
)
_STRETCH_ASCII = re.compile(rb"[0-9][0-9-]{%d,}[0-9]" % (_MIN_RUN - 2))
_STRETCH_X_ASCII = re.compile(rb"[0-9][0-9-]{%d,}[0-9][Xx]?" % (_MIN_RUN - 2))
_STRETCH = re.compile(r"[0-9]++(?:[\W_]++[0-9]++)*+")
_DIGITS = re.compile(r"[0-9]+")
_DIGITS_ASCII = re.compile(rb"[0-9]+")
_HEX_TOKEN = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32,128})"
    r"(?![0-9A-Fa-f])"
)
_HASH_SIZES = frozenset((32, 40, 64, 128))  # MD5 or a UUID, SHA-1, SHA-256 (a pseudonym), SHA-512
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?<![0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])")
_NOT_ASCII_DIGIT = re.compile(r"(?![0-9])\d")
_SPECIAL = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\u([0-9a-fA-F]{4})"
    r'|\\(["\\/bfnrt])'
    r"|[^\x00-\x7f]"
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _real_date(year: int, month: int, day: int) -> bool:
    if not (1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31):
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _id18(digits: str) -> bool:
    """17 or 18 digits: a plausible region and birth date (the 18th character is free)."""
    return digits[:2] in PROVINCES and _real_date(
        int(digits[6:10]), int(digits[10:12]), int(digits[12:14])
    )


def _id15(digits: str) -> bool:
    return digits[:2] in PROVINCES and _real_date(
        1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    )


def is_mobile(digits: str) -> bool:
    """Whether `digits` (ASCII, no prefix) is a mainland mobile number: 11 digits, 1[3-9]...

    >>> is_mobile("13912345678"), is_mobile("1391234567"), is_mobile("12012345678")
    (True, False, False)
    """
    return len(digits) == 11 and digits.isdigit() and digits[0] == "1" and digits[1] in "3456789"


def _shape(digits: str) -> str | None:
    n = len(digits)
    if n == 11:
        return "mobile number" if is_mobile(digits) else None
    if n == 13:
        return "mobile number" if digits[:2] == "86" and is_mobile(digits[2:]) else None
    if n == 15:
        if digits[:4] == "0086" and is_mobile(digits[4:]):
            return "mobile number"
        return "ID number" if _id15(digits) else None
    if n == 18:
        return "ID number" if _id18(digits) else None
    return None


def _blank(match: re.Match[str]) -> str:
    return "g" * (match.end() - match.start())  # a letter that is neither hex nor X


def _blank_hex(match: re.Match[str]) -> str:
    token = match[0]
    # A hash or a UUID of exactly its size, with a letter in it: digits glued on are not one.
    if ("-" in token or len(token) in _HASH_SIZES) and not token.replace("-", "").isdigit():
        return _blank(match)
    return token


def _exempt(text: str) -> str:
    """`text` with pseudonyms, hashes, UUIDs and IPv4 addresses blanked out (same length)."""
    text = _HEX_TOKEN.sub(_blank_hex, text)
    if "." in text:
        text = _IPV4.sub(_blank, text)
    return text


def _candidates(folded: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every identifier-shaped sequence of digit groups in `folded`.

    Found first without the exemptions (they are rarely needed: a pseudonym's digit runs are
    short), then, if anything was found, again with them.
    """
    found = list(_shapes(folded))
    if found:
        exempt = _exempt(folded)
        if exempt != folded:
            found = list(_shapes(exempt))
    return found


def _shapes(text: str) -> Iterator[tuple[int, int, str]]:
    if text.isascii():
        mapped = text.encode("ascii").translate(_SEPARATORS)
        for stretch in _STRETCH_ASCII.finditer(mapped):
            start, end = stretch.span()
            if end - start - mapped.count(b"-", start, end) < _MIN_RUN:
                continue
            groups = [m.span() for m in _DIGITS_ASCII.finditer(mapped, start, end)]
            yield from _in_stretch(text, groups, mapped[end : end + 1] in (b"X", b"x"))
    else:
        for found in _STRETCH.finditer(text):
            start, end = found.span()
            if end - start < _MIN_RUN:
                continue
            groups = [m.span() for m in _DIGITS.finditer(text, start, end)]
            yield from _in_stretch(text, groups, text[end : end + 1] in ("X", "x"))


def _in_stretch(
    text: str, groups: list[tuple[int, int]], x_follows: bool
) -> Iterator[tuple[int, int, str]]:
    """Every sequence of consecutive digit groups of one stretch that has a shape."""
    last = len(groups) - 1
    if last == 0:  # one group, the common case (an order number)
        start, end = groups[0]
        digits = text[start:end]
        kind = _shape(digits)
        if kind is not None:
            yield start, end, kind
        elif x_follows and len(digits) == 17 and _id18(digits):
            yield start, end + 1, "ID number"
        return
    for i in range(len(groups)):
        joined = ""
        for j in range(i, len(groups)):
            joined += text[groups[j][0] : groups[j][1]]
            if len(joined) > 18:
                break
            kind = _shape(joined)
            if kind is not None:
                yield groups[i][0], groups[j][1], kind
            if j == last and x_follows and len(joined) == 17 and _id18(joined):
                yield groups[i][0], groups[j][1] + 1, "ID number"


def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    return _NOT_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m[0])), folded)


def fold(text: str) -> str:
    """NFKC, then every decimal digit as its ASCII digit.

    >>> fold("１３８\u200b１２３４"), fold("\u0661\u0663")
    ('138\u200b1234', '13')
    """
    if text.isascii():
        return text
    return _NOT_ASCII_DIGIT.sub(
        lambda m: str(unicodedata.decimal(m[0])), unicodedata.normalize("NFKC", text)
    )


_ONE_GROUP = frozenset((11, 13, 15, 18))  # the lengths of a shape written without a break


def _shaped_ascii(text: str) -> bool:
    """Whether ASCII `text` may hold an identifier (the exemptions not yet applied): the
    screening's common case, without positions."""
    for stretch in _STRETCH_X_ASCII.findall(text.encode("ascii").translate(_SEPARATORS)):
        x_follows = stretch[-1] in b"Xx"
        if stretch.find(b"-") < 0:  # one group, the common case (an order number)
            size = len(stretch) - x_follows
            if size in _ONE_GROUP or (x_follows and size == 17):
                digits = stretch[:size].decode("ascii")
                if _shape(digits) is not None or (x_follows and size == 17 and _id18(digits)):
                    return True
            continue
        if len(stretch) - stretch.count(b"-") - x_follows < _MIN_RUN:
            continue
        groups = [g.decode("ascii") for g in stretch.rstrip(b"Xx").split(b"-") if g]
        last = len(groups) - 1
        for i in range(len(groups)):
            joined = ""
            for j in range(i, len(groups)):
                joined += groups[j]
                if len(joined) > 18:
                    break
                if _shape(joined) is not None:
                    return True
                if x_follows and j == last and len(joined) == 17 and _id18(joined):
                    return True
    return False


def raw_identifier_kind(value: str) -> str | None:
    """ "ID number" or "mobile number" if `value` holds one in any disguise, else None.

    >>> raw_identifier_kind("tel:+86 139-1234-5678"), raw_identifier_kind("PS20260701070000037")
    ('mobile number', None)
    """
    if value.isascii() and not _shaped_ascii(value):
        return None
    for _, _, kind in _candidates(fold(value)):
        return kind
    return None


def _fold_mapped(text: str) -> tuple[str, array[int], array[int]]:
    """`text` folded, JSON escapes decoded, with where each folded character came from."""
    pieces: list[str] = []
    starts: array[int] = array("q")
    ends: array[int] = array("q")
    done = 0
    for match in _SPECIAL.finditer(text):
        a, b = match.span()
        if a > done:
            pieces.append(text[done:a])
            starts.extend(range(done, a))
            ends.extend(range(done + 1, a + 1))
        high, low, code, simple = match.groups()
        if high is not None:
            char = chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
        elif code is not None:
            char = chr(int(code, 16))
        elif simple is not None:
            char = _ESCAPES[simple]
        else:
            char = match[0]
        out = _fold_char(char)
        pieces.append(out)
        starts.extend([a] * len(out))
        ends.extend([b] * len(out))
        done = b
    if done < len(text):
        pieces.append(text[done:])
        starts.extend(range(done, len(text)))
        ends.extend(range(done + 1, len(text) + 1))
    return "".join(pieces), starts, ends


def _spans(text: str) -> list[tuple[int, int]]:
    """Where the identifiers of `text` are, merged, in `text`'s own positions."""
    if text.isascii() and "\\" not in text:
        found = [(a, b) for a, b, _ in _candidates(text)]
    else:
        folded, starts, ends = _fold_mapped(text)
        found = [(starts[a], ends[b - 1]) for a, b, _ in _candidates(folded)]
    merged: list[tuple[int, int]] = []
    for a, b in sorted(found):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def looks_like_raw_identifier(text: str) -> bool:
    """Whether `text` (any text: a value, a raw line, a file) holds an ID or mobile number.

    >>> looks_like_raw_identifier("id 110105" + "19491231002X"), looks_like_raw_identifier("138")
    (True, False)
    """
    return bool(_spans(text))


def redact_raw_identifiers(text: str) -> tuple[str, int]:
    """`text` with each ID number and mobile number replaced by [REDACTED], and how many.

    JSON escapes count as the characters they stand for, so a raw line is redacted whole.

    >>> redact_raw_identifiers("id=110105" + "19491231002X tel:+86 138 1234 5678")
    ('id=[REDACTED] tel:+[REDACTED]', 2)
    >>> redact_raw_identifiers('{"order_id": "PS20260701070000037", "ip": "139.200.123.45"}')[1]
    0
    """
    spans = _spans(text)
    if not spans:
        return text, 0
    parts = []
    done = 0
    for a, b in spans:
        parts.append(text[done:a])
        parts.append(REDACTED)
        done = b
    parts.append(text[done:])
    return "".join(parts), len(spans)


def redact_raw_bytes(raw: bytes) -> tuple[bytes, int]:
    """Raw message bytes with their identifiers redacted, read as UTF-8 and, when they are not
    UTF-8, as GB18030 too (a GBK export's full-width digits are other bytes)."""
    text = raw.decode("utf-8", errors="surrogateescape")
    cleaned, count = redact_raw_identifiers(text)
    if count:
        raw = cleaned.encode("utf-8", errors="surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            return raw, count
        cleaned, more = redact_raw_identifiers(text)
        if more:
            raw = cleaned.encode("gb18030")
            count += more
    return raw, count


__all__ = [
    "PROVINCES",
    "REDACTED",
    "fold",
    "is_mobile",
    "looks_like_raw_identifier",
    "raw_identifier_kind",
    "redact_raw_bytes",
    "redact_raw_identifiers",
]
