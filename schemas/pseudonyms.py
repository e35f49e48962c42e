"""Pseudonyms, ID-number facts, masks and redaction: no raw identifier goes past this module.

The contract (docs/contract.md): resident ID numbers, phone numbers, payment accounts and
addresses are replaced by keyed pseudonyms (HMAC-SHA256, 64 lowercase hex) before anything is
written; only the region, the birth year and the GB 11643 checksum verdict of an ID number are
kept. Errors raised here name the kind of value and the rule, never the value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from schemas.identifiers import (
    PROVINCES,
    REDACTED,
    fold,
    is_mobile,
    looks_like_raw_identifier,
    redact_raw_identifiers,
)

MIN_KEY_BYTES = 16
KEY_VARIABLE = "RISKMON_PSEUDONYM_KEY"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_SPACES = re.compile(r"\s+")
_PHONE_SEPARATORS = re.compile(r"[\s\-.()/_\u00ad\u200b-\u200d\u2060\ufeff]+")


class PseudonymError(ValueError):
    """An identifier or a key that cannot be used; the message never contains the value."""


class MissingKeyError(PseudonymError):
    """No pseudonym key was configured."""


class WeakKeyError(PseudonymError):
    """A pseudonym key that is too short or too easy to guess (see `weak_key_rule`)."""


MIN_DISTINCT_BYTES = 8


def weak_key_rule(key: bytes) -> str | None:
    """Why `key` is too weak to pseudonymise with, or None. A key is refused when it is

    - shorter than 16 bytes;
    - made of fewer than 8 distinct byte values (16 zero bytes, one character repeated, 0101...);
    - a block of at most half its length repeated (`abcdabcd...`, a hex pattern written twice);
    - a sequence where each byte is the one before plus the same amount (`00 01 02 ...`,
      `abcdefgh...`, `ffeedd...`).

    Each catches a placeholder someone typed rather than a secret someone drew: 16 random bytes
    have 8 distinct values or fewer with a probability below 10^-12, and none of the others.

    >>> weak_key_rule(bytes(16)), weak_key_rule(b"0123456789abcdef" * 2)
    ('it has fewer than 8 distinct bytes', 'it is a shorter block repeated')
    >>> weak_key_rule(bytes(range(32))), weak_key_rule(b"correct horse battery staple") is None
    ('it is a sequence of bytes with a constant step', True)
    """
    if len(key) < MIN_KEY_BYTES:
        return f"it must be at least {MIN_KEY_BYTES} bytes long"
    if len(set(key)) < MIN_DISTINCT_BYTES:
        return f"it has fewer than {MIN_DISTINCT_BYTES} distinct bytes"
    for size in range(1, len(key) // 2 + 1):
        if len(key) % size == 0 and key == key[:size] * (len(key) // size):
            return "it is a shorter block repeated"
    step = (key[1] - key[0]) % 256
    if all((b - a) % 256 == step for a, b in zip(key, key[1:], strict=False)):
        return "it is a sequence of bytes with a constant step"
    return None


def _norm_id(raw: str) -> str:
    # NFKC folds full-width digits and Ｘ, which hand-typed exports do contain; the separators
    # are those of a phone number (only values that were refused before read differently).
    return _PHONE_SEPARATORS.sub("", fold(raw)).upper()


def _norm_phone(raw: str) -> str:
    text = _PHONE_SEPARATORS.sub("", fold(raw))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    # A bare "86" is a country code only in front of a full 11-digit mobile number.
    if len(text) == 13 and text.startswith("861"):
        return text[2:]
    return text


def phone_digits(raw: str) -> str:
    """A phone number as it is pseudonymised: full-width digits folded, spaces, dashes, dots,
    brackets and a +86 / 0086 / 86 prefix dropped.

    >>> phone_digits("(+86) １３９-1234.5678"), is_mobile(phone_digits("139 1234 567"))
    ('13912345678', False)
    """
    return _norm_phone(raw)


def _norm_account(raw: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", raw))


def _norm_address(raw: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip()


class Pseudonymiser:
    """Keyed pseudonyms: HMAC-SHA256 of the normalised value, 64 lowercase hex characters.

    Each kind of identifier is normalised (so that one person maps to one pseudonym however the
    value was typed) and prefixed with its kind before hashing, so that an ID number and a
    phone number with the same digits never share a pseudonym.

    >>> p = Pseudonymiser(bytes.fromhex("5f0c9a3e71d24b8866a1f0e3c92d7b14"))
    >>> p.phone("+86 138-1234-5678") == p.phone("13812345678")
    True
    >>> p.phone("13812345678") == p.id_number("13812345678")
    False
    >>> len(p.pseudonym("anything"))
    64
    >>> p
    Pseudonymiser(key=<hidden>)
    """

    __slots__ = ("_mac",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray):
            raise TypeError("the pseudonym key must be bytes (see key_from_env)")
        weakness = weak_key_rule(bytes(key))
        if weakness is not None:
            raise WeakKeyError(f"the pseudonym key is too weak: {weakness}")
        # Only the keyed state is kept, not the key itself.
        self._mac = hmac.new(bytes(key), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Pseudonymiser(key=<hidden>)"

    def pseudonym(self, value: str) -> str:
        """HMAC-SHA256 of `value` exactly as given (UTF-8); the kind methods normalise first."""
        mac = self._mac.copy()
        mac.update(value.encode("utf-8", errors="surrogatepass"))
        return mac.hexdigest()

    def _of(self, kind: str, normalised: str) -> str:
        if not normalised:
            # One shared pseudonym for every blank value would make a giant false ring.
            raise PseudonymError(f"{kind} is empty once spaces and separators are removed")
        return self.pseudonym(f"{kind}:{normalised}")

    def id_number(self, raw: str) -> str:
        """Pseudonym of a resident ID number (spaces dropped, final x upper-cased)."""
        return self._of("id", _norm_id(raw))

    def phone(self, raw: str) -> str:
        """Pseudonym of a phone number (spaces, dashes and a +86 / 0086 / 86 prefix dropped)."""
        return self._of("phone", _norm_phone(raw))

    def payment_account(self, raw: str) -> str:
        """Pseudonym of a payment account (spaces dropped)."""
        return self._of("account", _norm_account(raw))

    def address(self, raw: str) -> str:
        """Pseudonym of a street address (NFKC, runs of whitespace collapsed to one space)."""
        return self._of("address", _norm_address(raw))


def key_from_env(environ: Mapping[str, str], name: str = KEY_VARIABLE) -> bytes:
    """The pseudonym key from `environ[name]` (the command line passes the process environment).

    Accepted forms, surrounding whitespace ignored: an even number (at least 32) of hex digits,
    decoded to bytes (`openssl rand -hex 32`); anything else is used as its UTF-8 bytes. The
    same text always gives the same key; a weak one (`weak_key_rule`) is refused.

    >>> drawn = "5f0c9a3e71d24b8866a1f0e3c92d7b14"
    >>> key_from_env({"RISKMON_PSEUDONYM_KEY": drawn}) == bytes.fromhex(drawn)
    True
    >>> key_from_env({"RISKMON_PSEUDONYM_KEY": "00" * 32})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    schemas.pseudonyms.WeakKeyError: RISKMON_PSEUDONYM_KEY is too weak: it has fewer than 8 ...
    >>> key_from_env({})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    schemas.pseudonyms.MissingKeyError: RISKMON_PSEUDONYM_KEY is not set: ...
    """
    text = environ.get(name, "").strip()
    if not text:
        raise MissingKeyError(
            f"{name} is not set: set it to a secret of at least {MIN_KEY_BYTES} bytes, for "
            f"example `export {name}=$(openssl rand -hex 32)` (hex digits are decoded; any "
            "other text is used as UTF-8). Keep it out of the code and the logs: whoever holds "
            "it can test guesses of an identifier against the pseudonyms."
        )
    if len(text) >= 2 * MIN_KEY_BYTES and len(text) % 2 == 0 and _is_hex(text):
        key = bytes.fromhex(text)
    else:
        key = text.encode("utf-8")
        if len(key) < MIN_KEY_BYTES:
            raise WeakKeyError(
                f"{name} is too short: it needs at least {MIN_KEY_BYTES} bytes of text, or "
                f"{2 * MIN_KEY_BYTES} hex digits"
            )
    weakness = weak_key_rule(key)
    if weakness is not None:
        raise WeakKeyError(f"{name} is too weak: {weakness}; draw one with `openssl rand -hex 32`")
    return key


def _is_hex(text: str) -> bool:
    return all(c in string.hexdigits for c in text)


def _check_char(first17: str) -> str:
    return _CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_checksum_ok(raw: str) -> bool:
    """Whether `raw` is 18 characters whose last is the GB 11643-1999 check of the first 17.

    >>> sample = "110105" + "19491231002X"  # GB 11643's own example, never stored whole
    >>> id_checksum_ok(sample), id_checksum_ok(sample[:17] + "1")
    (True, False)
    >>> id_checksum_ok("not an id")
    False
    """
    value = _norm_id(raw)
    if not _ID_SHAPE.fullmatch(value):
        return False
    return _check_char(value[:17]) == value[17]


@dataclass(frozen=True, slots=True)
class IdFacts:
    """What the rules may know of an ID number: region, birth year, checksum verdict."""

    region: str
    birth_year: int
    checksum_ok: bool


def id_facts(raw: str) -> IdFacts:
    """The facts of a resident ID number; a bad checksum is a fact, a bad shape an error.

    >>> id_facts("110105" + "19491231002X")
    IdFacts(region='110105', birth_year=1949, checksum_ok=True)
    >>> id_facts("1101051949123")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    schemas.pseudonyms.PseudonymError: ID number is not 18 characters: 17 digits then a digit or X
    """
    value = _norm_id(raw)
    if not _ID_SHAPE.fullmatch(value):
        if len(value) == 15 and value.isdigit():
            raise PseudonymError(
                "ID number is in the old 15-digit form: the 18-digit number is needed"
            )
        raise PseudonymError("ID number is not 18 characters: 17 digits then a digit or X")
    if value[:2] not in PROVINCES:
        raise PseudonymError("ID number's region (characters 1-6) is no province's code")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise PseudonymError(
            "ID number's birth date (characters 7-14) is not a real date"
        ) from None
    return IdFacts(
        region=value[:6],
        birth_year=int(value[6:10]),
        checksum_ok=_check_char(value[:17]) == value[17],
    )


def _mask(value: str, keep_start: int, keep_end: int, minimum: int) -> str:
    # Too short to show anything without showing most of it: hide it all.
    if len(value) < minimum:
        return "*" * len(value)
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + "*" * hidden + value[len(value) - keep_end :]


def mask_id_number(raw: str) -> str:
    """First 6 and last 4 characters shown.

    >>> mask_id_number("110105 19491231 002x")
    '110105********002X'
    """
    return _mask(_norm_id(raw), 6, 4, 15)


def mask_phone(raw: str) -> str:
    """First 3 and last 4 digits shown.

    >>> mask_phone("+86 138-1234-5678"), mask_phone("12345")
    ('138****5678', '*****')
    """
    return _mask(_norm_phone(raw), 3, 4, 11)


def mask_account(raw: str) -> str:
    """Last 4 characters shown, after four stars whatever the length.

    >>> mask_account("6222 0212 3456 1234"), mask_account("1234")
    ('****1234', '****')
    """
    value = _norm_account(raw)
    return "****" + value[-4:] if len(value) >= 8 else "*" * len(value)


def mask_address(raw: str) -> str:
    """First 6 characters shown (province and city, as a rule), when at least 12 are there.

    >>> mask_address("广东省深圳市坪山区某某街道 1 号"), mask_address("坪山区")
    ('广东省深圳市…', '***')
    """
    value = _norm_address(raw)
    return value[:6] + "…" if len(value) >= 12 else "*" * len(value)


def mask_name(raw: str) -> str:
    """The first character (the family name, as a rule) shown.

    >>> mask_name("张三丰"), mask_name("张")
    ('张**', '*')
    """
    value = _SPACES.sub("", raw)
    return value[:1] + "*" * (len(value) - 1) if len(value) >= 2 else "*" * len(value)


def mask_hash(pseudonym: str) -> str:
    """The first 8 characters of a pseudonym: enough to tell entities apart in a report.

    >>> mask_hash("0123456789abcdef" * 4)
    '01234567…'
    """
    return pseudonym[:8] + "…" if len(pseudonym) >= 16 else "*" * len(pseudonym)


__all__ = [
    "KEY_VARIABLE",
    "MIN_DISTINCT_BYTES",
    "MIN_KEY_BYTES",
    "REDACTED",
    "IdFacts",
    "MissingKeyError",
    "PseudonymError",
    "Pseudonymiser",
    "WeakKeyError",
    "id_checksum_ok",
    "id_facts",
    "is_mobile",
    "key_from_env",
    "looks_like_raw_identifier",
    "mask_account",
    "mask_address",
    "mask_hash",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "phone_digits",
    "redact_raw_identifiers",
    "weak_key_rule",
]
