"""Pseudonyms, ID facts, masks and redaction. Identifiers are built here, never stored in clear."""

from __future__ import annotations

import doctest
import hashlib
import hmac
import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

import schemas.pseudonyms as pseudonyms
from schemas.pseudonyms import (
    IdFacts,
    MissingKeyError,
    PseudonymError,
    Pseudonymiser,
    WeakKeyError,
    id_checksum_ok,
    id_facts,
    key_from_env,
    looks_like_raw_identifier,
    mask_account,
    mask_address,
    mask_hash,
    mask_id_number,
    mask_name,
    mask_phone,
    redact_raw_identifiers,
    weak_key_rule,
)

KEY = hashlib.sha256(b"riskmon unit tests").digest()


def check_char(first17: str) -> str:
    """GB 11643 as ISO 7064 MOD 11-2 (weights 2^(17-i) mod 11): an independent formulation."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def build_id(region: str = "440310", birth: str = "19880215", sequence: str = "123") -> str:
    first17 = region + birth + sequence
    assert len(first17) == 17 and first17.isdigit()
    return first17 + check_char(first17)


def build_phone(n: int = 1, prefix: str = "139") -> str:
    return prefix + f"{n:08d}"


def id_ending_in_x() -> str:
    return next(
        first17 + "X"
        for first17 in (f"44031019900101{n:03d}" for n in range(1000))
        if check_char(first17) == "X"
    )


def broken(valid: str, position: int) -> str:
    """`valid` with one digit changed: a single-digit error GB 11643 must catch."""
    digit = valid[position]
    replacement = "0" if digit in "X9" else str(int(digit) + 1)
    if position == 17 and digit == "0":
        replacement = "1"
    return valid[:position] + replacement + valid[position + 1 :]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(pseudonyms, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0


# -- GB 11643 --------------------------------------------------------------------------------


def test_built_id_has_a_valid_checksum_and_a_changed_digit_breaks_it() -> None:
    valid = build_id()
    assert id_checksum_ok(valid)
    assert not id_checksum_ok(broken(valid, 3))
    assert not id_checksum_ok(broken(valid, 17))


def test_id_with_check_char_x_in_either_case() -> None:
    valid = id_ending_in_x()
    assert id_checksum_ok(valid)
    assert id_checksum_ok(valid[:17] + "x")
    assert id_checksum_ok(f" {valid[:6]} {valid[6:17]}x ")
    assert not id_checksum_ok(valid[:17] + "0")


@pytest.mark.parametrize("raw", ["", "123", "4403101988021512", "44031019880215123A", "x" * 18])
def test_checksum_of_a_malformed_value_is_false_not_an_error(raw: str) -> None:
    assert id_checksum_ok(raw) is False


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 17))
def test_property_built_ids_check_and_any_single_digit_change_breaks_them(
    first17: str, position: int
) -> None:
    valid = first17 + check_char(first17)
    assert id_checksum_ok(valid)
    for replacement in "0123456789X" if position == 17 else "0123456789":
        if replacement != valid[position]:
            changed = valid[:position] + replacement + valid[position + 1 :]
            assert not id_checksum_ok(changed)


def test_facts_of_an_id() -> None:
    assert id_facts(build_id("440310", "20080229", "007")) == IdFacts("440310", 2008, True)
    wrong = broken(build_id("110105", "19491001", "002"), 17)
    assert id_facts(wrong) == IdFacts("110105", 1949, False)


@pytest.mark.parametrize(
    ("first17", "rule"),
    [
        ("44031019880230123", "not a real date"),  # 30 February
        ("44031020070229123", "not a real date"),  # 2007 is not a leap year
        ("44031019881301123", "not a real date"),
    ],
)
def test_facts_refuse_an_impossible_birth_date_without_quoting_it(first17: str, rule: str) -> None:
    raw = first17 + check_char(first17)
    with pytest.raises(PseudonymError, match=rule) as info:
        id_facts(raw)
    assert raw not in str(info.value) and first17[6:14] not in str(info.value)


@pytest.mark.parametrize("cut", [17, 15, 19])
def test_facts_refuse_a_wrong_length_without_quoting_it(cut: int) -> None:
    raw = (build_id() + "1")[:cut]
    with pytest.raises(PseudonymError, match="18 characters|18-digit") as info:
        id_facts(raw)
    assert raw not in str(info.value)


# -- pseudonyms ------------------------------------------------------------------------------


def test_pseudonym_is_the_hmac_sha256_of_kind_and_normalised_value() -> None:
    p = Pseudonymiser(KEY)
    raw = build_id()
    expected = hmac.new(KEY, f"id:{raw}".encode(), hashlib.sha256).hexdigest()
    assert p.id_number(raw) == expected
    assert p.pseudonym("abc") == hmac.new(KEY, b"abc", hashlib.sha256).hexdigest()
    assert len(expected) == 64 and expected == expected.lower()


def test_pseudonyms_are_deterministic_and_depend_on_the_key() -> None:
    raw = build_id()
    assert Pseudonymiser(KEY).id_number(raw) == Pseudonymiser(bytes(KEY)).id_number(raw)
    assert Pseudonymiser(KEY).id_number(raw) != Pseudonymiser(KEY[::-1]).id_number(raw)


def test_kinds_are_domain_separated() -> None:
    p = Pseudonymiser(KEY)
    digits = build_phone()
    assert (
        len({p.id_number(digits), p.phone(digits), p.payment_account(digits), p.address(digits)})
        == 4
    )


def test_normalisation_maps_one_person_to_one_pseudonym() -> None:
    p = Pseudonymiser(KEY)
    raw = id_ending_in_x()
    assert p.id_number(raw[:17] + "x") == p.id_number(raw)
    spaced = f"{raw[:6]} {raw[6:14]} {raw[14:]}"
    assert p.id_number(spaced) == p.id_number(raw)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in raw)  # ０-９, Ｘ
    assert p.id_number(fullwidth) == p.id_number(raw)

    phone = build_phone(12345678, "138")
    for typed in (
        f"+86 {phone}",
        f"+86-{phone[:3]}-{phone[3:7]}-{phone[7:]}",
        f"86{phone}",
        f"0086 {phone}",
        f"{phone[:3]} {phone[3:7]} {phone[7:]}",
    ):
        assert p.phone(typed) == p.phone(phone), typed
    assert p.phone("86123456") != p.phone("123456")  # a bare 86 only before 11 digits

    account = "6222" + "0212" + "3456" + "7890"
    assert p.payment_account(f"{account[:4]} {account[4:8]} {account[8:]}") == p.payment_account(
        account
    )
    address = "广东省深圳市坪山区某某街道 12 号"
    assert p.address("  广东省深圳市坪山区某某街道\u3000１２   号 ") == p.address(address)


@pytest.mark.parametrize("method", ["id_number", "phone", "payment_account", "address"])
def test_blank_identifier_is_refused(method: str) -> None:
    with pytest.raises(PseudonymError, match="empty"):
        getattr(Pseudonymiser(KEY), method)(" \t\u3000 ")


def test_repr_never_shows_the_key() -> None:
    key = b"s3cret-key-" + b"z" * 16
    p = Pseudonymiser(key)
    for text in (repr(p), str(p)):
        assert "s3cret" not in text and key.hex() not in text
    assert repr(p) == "Pseudonymiser(key=<hidden>)"


def test_short_key_is_refused() -> None:
    with pytest.raises(WeakKeyError, match="at least 16 bytes"):
        Pseudonymiser(b"short")
    assert issubclass(WeakKeyError, PseudonymError) and issubclass(PseudonymError, ValueError)
    with pytest.raises(TypeError):
        Pseudonymiser("a text key, not bytes")  # type: ignore[arg-type]


# -- the key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        (bytes(16), "fewer than 8 distinct bytes"),  # issue 18 item 9: accepted before
        (bytes(32), "fewer than 8 distinct bytes"),
        (b"a" * 40, "fewer than 8 distinct bytes"),
        (b"01" * 16, "fewer than 8 distinct bytes"),
        (b"abcdefgh" * 4, "a shorter block repeated"),
        (bytes.fromhex("0123456789abcdef") * 4, "a shorter block repeated"),
        (bytes(range(32)), "a sequence of bytes with a constant step"),
        (b"abcdefghijklmnopqrstuvwxyz", "a sequence of bytes with a constant step"),
        (bytes(range(255, 223, -1)), "a sequence of bytes with a constant step"),
        (b"short", "at least 16 bytes"),
    ],
)
def test_weak_keys_are_refused_naming_the_rule_not_the_key(key: bytes, rule: str) -> None:
    assert weak_key_rule(key) is not None and rule in weak_key_rule(key)  # type: ignore[operator]
    with pytest.raises(WeakKeyError, match=rule) as info:
        Pseudonymiser(key)
    assert key.hex() not in str(info.value)
    if len(key) >= 16:
        with pytest.raises(WeakKeyError, match=f"RISKMON_PSEUDONYM_KEY is too weak: .*{rule}"):
            key_from_env({"RISKMON_PSEUDONYM_KEY": key.hex()})


def test_drawn_keys_and_passphrases_are_accepted() -> None:
    for n in range(200):
        assert weak_key_rule(hashlib.sha256(str(n).encode()).digest()[:16]) is None
    assert weak_key_rule(b"correct horse battery staple") is None
    assert weak_key_rule(b"s3cret-key-" + b"z" * 16) is None


@pytest.mark.parametrize(
    "environ", [{}, {"RISKMON_PSEUDONYM_KEY": ""}, {"RISKMON_PSEUDONYM_KEY": " \n"}]
)
def test_missing_key_says_how_to_set_it(environ: dict[str, str]) -> None:
    with pytest.raises(MissingKeyError, match="RISKMON_PSEUDONYM_KEY is not set") as info:
        key_from_env(environ)
    assert "openssl rand -hex 32" in str(info.value)
    assert isinstance(info.value, PseudonymError)


def test_key_forms() -> None:
    hex_key = hashlib.sha256(b"a drawn key").hexdigest()
    assert key_from_env({"RISKMON_PSEUDONYM_KEY": hex_key}) == bytes.fromhex(hex_key)
    assert key_from_env({"RISKMON_PSEUDONYM_KEY": f" {hex_key}\n"}) == bytes.fromhex(hex_key)
    text = "correct horse battery staple"
    assert key_from_env({"RISKMON_PSEUDONYM_KEY": text}) == text.encode()
    assert key_from_env({"OTHER": text}, name="OTHER") == text.encode()


def test_short_key_from_env_is_refused_without_echoing_it() -> None:
    with pytest.raises(WeakKeyError) as info:
        key_from_env({"RISKMON_PSEUDONYM_KEY": "tiny-secret"})
    assert "tiny-secret" not in str(info.value)


# -- masks -----------------------------------------------------------------------------------


def test_masks() -> None:
    raw = build_id("440310", "19880215", "123")
    assert mask_id_number(raw) == raw[:6] + "*" * 8 + raw[14:]
    phone = build_phone(12345678, "138")
    assert mask_phone(phone) == "138****5678"
    assert mask_phone(f"+86 {phone}") == "138****5678"
    assert mask_account("6222 0212 3456 1234") == "****1234"
    assert mask_address("广东省深圳市坪山区某某街道 1 号") == "广东省深圳市…"
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_hash("0123456789abcdef" * 4) == "01234567…"


@pytest.mark.parametrize(
    ("mask", "short"),
    [
        (mask_id_number, "4403101"),
        (mask_phone, "13812"),
        (mask_account, "1234"),
        (mask_address, "坪山区"),
        (mask_name, "张"),
        (mask_hash, "abc"),
    ],
)
def test_short_inputs_are_masked_entirely(mask: object, short: str) -> None:
    assert callable(mask)
    masked = mask(short)
    assert set(masked) == {"*"} and len(masked) == len(short)
    assert mask("") == ""


# -- redaction -------------------------------------------------------------------------------


def test_valid_ids_and_phones_are_redacted() -> None:
    id_number = build_id()
    phone = build_phone(7)
    spaced = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    text = f'{{"id_number": "{id_number}", "phone": "{phone}", "tel": "{spaced}"}}'
    cleaned, count = redact_raw_identifiers(text)
    assert count == 3
    assert id_number not in cleaned and phone not in cleaned and phone[7:] not in cleaned
    assert cleaned.count("[REDACTED]") == 3
    assert looks_like_raw_identifier(text) and not looks_like_raw_identifier(cleaned)


def test_id_with_lowercase_x_is_redacted() -> None:
    valid = id_ending_in_x()
    assert redact_raw_identifiers(f"id={valid[:17]}x;") == ("id=[REDACTED];", 1)


def test_an_id_with_a_wrong_check_digit_is_still_redacted() -> None:
    # Issue 18: shape, not checksum, makes an ID number (a typo does not make it safe to keep).
    wrong = broken(build_id(), 17)
    assert redact_raw_identifiers(f"order {wrong} paid") == ("order [REDACTED] paid", 1)
    assert looks_like_raw_identifier(wrong)


def test_identifiers_wrapped_in_letters_are_redacted() -> None:
    phone, id_number = build_phone(9), build_id()
    for text in (f"deadbeef{phone}", f"tel{phone}x", f"ID{id_number}abc", f"no{id_number[:17]}x"):
        cleaned, count = redact_raw_identifiers(text)
        assert count == 1 and phone not in cleaned and id_number[:17] not in cleaned, text


def test_order_numbers_longer_runs_and_pseudonyms_are_untouched() -> None:
    id_number = build_id(sequence="124")
    if id_number.endswith("X"):
        id_number = build_id(sequence="125")
    pseudonym = ("ab" + id_number + "cd" + build_phone(3) + "ef" * 20)[:64]
    assert len(pseudonym) == 64
    phone = build_phone(9)
    for text in (
        pseudonym,
        f"{phone}0",
        f"9{phone}",
        f"{id_number}7",
        f"PS2026{phone}",
        "PS20260701070000037",  # the simulator's order numbers: 17 digits, no shape
        "202607011234567890",  # 18 digits, but no province starts with 20
        "440310" + "20261301" + "0001",  # a region, then no real date
        "ev-11-00000001",
        str(uuid.UUID(int=0x138123456789ABCDEF0123456789ABCD)),
    ):
        assert redact_raw_identifiers(text) == (text, 0), text


def test_not_mobile_numbers_are_kept() -> None:
    for text in (
        "12012345678",
        "10012345678",
        "2026-07-03T10:15:30+08:00",
        "2026-07-03 10:15:30",
        "113.88.10.21",
        "139.200.123.45",  # an IPv4 address with a mobile number's eleven digits
        "4999.00",
    ):
        assert redact_raw_identifiers(text) == (text, 0)


SEPARATORS = st.sampled_from([" ", ",", '"', ":", "=", "\n", "号", "[", "}", "-", "\u200b"])
WORDS = st.sampled_from(["order", "PS2026", "4999.00", "ab12", "dv-51c2e0", "身份证", "X"])
REGIONS = st.sampled_from(["110105", "440310", "440303", "310115", "650102", "820000"])


@st.composite
def texts_with_identifiers(draw: st.DrawFn) -> tuple[str, list[str]]:
    found: list[str] = []
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["id", "phone", "word", "digits"]))
        if kind == "id":
            born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
            serial = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
            first17 = draw(REGIONS) + f"{born:%Y%m%d}" + serial
            token = first17 + draw(st.sampled_from([check_char(first17), "0", "X"]))
            found.append(token)
        elif kind == "phone":
            token = (
                "1"
                + draw(st.sampled_from("3456789"))
                + draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
            )
            found.append(token)
        elif kind == "digits":
            token = draw(st.text(alphabet="0123456789", min_size=1, max_size=30))
        else:
            token = draw(WORDS)
        parts.append(token)
        parts.append(draw(SEPARATORS))
    return "".join(parts), found


@given(texts_with_identifiers())
def test_property_redaction_leaves_no_identifier(case: tuple[str, list[str]]) -> None:
    text, found = case
    cleaned, count = redact_raw_identifiers(text)
    assert not looks_like_raw_identifier(cleaned)
    assert count >= (1 if found else 0)
    # Every identifier is gone, whatever the words and digits around it.
    for token in found:
        assert token not in cleaned
    assert redact_raw_identifiers(cleaned) == (cleaned, 0)
