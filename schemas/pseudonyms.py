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

MIN_KEY_BYTES = 16
KEY_VARIABLE = "RISKMON_PSEUDONYM_KEY"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_SPACES = re.compile(r"\s+")
_PHONE_SEPARATORS = re.compile(r"[\s\-]+")
REDACTED = "[REDACTED]"


class PseudonymError(ValueError):
    """An identifier or a key that cannot be used; the message never contains the value."""


class MissingKeyError(PseudonymError):
    """No pseudonym key was configured."""


class WeakKeyError(PseudonymError):
    """A pseudonym key shorter than `MIN_KEY_BYTES`."""


def _norm_id(raw: str) -> str:
    # NFKC folds full-width digits and Ｘ, which hand-typed exports do contain.
    return _SPACES.sub("", unicodedata.normalize("NFKC", raw)).upper()


def _norm_phone(raw: str) -> str:
    text = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    # A bare "86" is a country code only in front of a full 11-digit mobile number.
    if len(text) == 13 and text.startswith("861"):
        return text[2:]
    return text


def _norm_account(raw: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", raw))


def _norm_address(raw: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip()


class Pseudonymiser:
    """Keyed pseudonyms: HMAC-SHA256 of the normalised value, 64 lowercase hex characters.

    Each kind of identifier is normalised (so that one person maps to one pseudonym however the
    value was typed) and prefixed with its kind before hashing, so that an ID number and a
    phone number with the same digits never share a pseudonym.

    >>> p = Pseudonymiser(b"0123456789abcdef")
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
        if len(key) < MIN_KEY_BYTES:
            raise WeakKeyError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes long")
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
    decoded to bytes (`openssl rand -hex 32`); anything else is used as its UTF-8 bytes and
    must be at least 16 bytes long. The same text always gives the same key.

    >>> key_from_env({"RISKMON_PSEUDONYM_KEY": "00" * 32}) == bytes(32)
    True
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
        return bytes.fromhex(text)
    key = text.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise WeakKeyError(
            f"{name} is too short: it needs at least {MIN_KEY_BYTES} bytes of text, or "
            f"{2 * MIN_KEY_BYTES} hex digits"
        )
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
        raise PseudonymError("ID number is not 18 characters: 17 digits then a digit or X")
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


# A run of digits and hex letters (a pseudonym, an order number) is not split: only a whole
# run that is an ID number or a mobile number is redacted. X is a run character because it
# ends ID numbers.
_NOT_RUN_BEFORE = r"(?<![0-9A-Fa-fXx])"
_NOT_RUN_AFTER = r"(?![0-9A-Fa-fXx])"
_IDENTIFIER = re.compile(
    rf"{_NOT_RUN_BEFORE}(?P<id>[0-9]{{17}}[0-9Xx]){_NOT_RUN_AFTER}"
    rf"|{_NOT_RUN_BEFORE}(?:(?:\+|00)?86[ -]?)?"
    rf"1[3-9][0-9](?P<sep>[ -]?)[0-9]{{4}}(?P=sep)[0-9]{{4}}{_NOT_RUN_AFTER}",
    re.ASCII,
)


def _is_raw(match: re.Match[str]) -> bool:
    found = match.group("id")
    return found is None or id_checksum_ok(found)


def looks_like_raw_identifier(text: str) -> bool:
    """Whether `text` holds an ID number with a valid checksum or a mainland mobile number.

    >>> looks_like_raw_identifier("id 110105" + "19491231002X")
    True
    >>> looks_like_raw_identifier("tel 138")
    False
    """
    return any(_is_raw(m) for m in _IDENTIFIER.finditer(text))


def redact_raw_identifiers(text: str) -> tuple[str, int]:
    """`text` with each ID number (valid checksum) and mobile number replaced by [REDACTED].

    Returns the new text and how many were replaced. Eighteen digits whose checksum fails are
    kept: they are not an ID number, and order numbers look like that.

    >>> redact_raw_identifiers("id=110105" + "19491231002X tel:+86 138 1234 5678")
    ('id=[REDACTED] tel:[REDACTED]', 2)
    >>> redact_raw_identifiers("order 110105194912310021")
    ('order 110105194912310021', 0)
    """
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if not _is_raw(match):
            return match.group(0)
        count += 1
        return REDACTED

    return _IDENTIFIER.sub(replace, text), count


__all__ = [
    "KEY_VARIABLE",
    "MIN_KEY_BYTES",
    "REDACTED",
    "IdFacts",
    "MissingKeyError",
    "PseudonymError",
    "Pseudonymiser",
    "WeakKeyError",
    "id_checksum_ok",
    "id_facts",
    "key_from_env",
    "looks_like_raw_identifier",
    "mask_account",
    "mask_address",
    "mask_hash",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "redact_raw_identifiers",
]
