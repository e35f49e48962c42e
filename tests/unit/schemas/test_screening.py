"""Control and invisible characters, and keys given twice: refused by the contract.

Issue 18 item 4: a `merchant_id` of `M\\u0000evil` passed the contract, then failed the store
(PostgreSQL refuses NUL); a key given twice was read "last wins". Both are now dead letters
naming the field (`control_character`, `duplicate_key`).
"""

from __future__ import annotations

import orjson
import pytest
from factories import paid
from inputs import TEXTS, TOPICS, control, put

from schemas.decode import DecodeError, decode_control, decode_order
from schemas.outputs import dumps

CONTROLS = [
    "\x00",  # NUL
    "\x1b",  # ESC, C0
    "\x7f",  # DEL
    "\x85",  # NEL, C1
    "\x9f",  # C1
    "\u202e",  # right-to-left override
    "\u202a",  # left-to-right embedding
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\u200b",  # zero-width space
    "\u200f",  # right-to-left mark
    "\ufeff",  # byte-order mark
    "\U000e0041",  # tag letter A (invisible)
]
CASES = [(t, make, decode, f) for t, make, decode in TOPICS for f in TEXTS[t] if f != "reason"]


@pytest.mark.parametrize(("topic", "make", "decode", "field"), CASES)
@pytest.mark.parametrize("char", CONTROLS)
def test_a_control_or_invisible_character_in_an_identifier_is_refused(
    topic: str, make: object, decode: object, field: str, char: str
) -> None:
    assert callable(make) and callable(decode)
    with pytest.raises(DecodeError) as info:
        decode(dumps(put(make(), field, f"M{char}evil")))
    assert info.value.reason == "control_character"
    assert info.value.message == (
        f"{field}: contains a control or invisible formatting character (U+{ord(char):04X})"
    )


def test_the_issue_example_never_reaches_the_store() -> None:
    with pytest.raises(DecodeError, match=r"^merchant_id: .*\(U\+0000\)") as info:
        decode_order(dumps(paid(merchant_id="M\u0000evil")))
    assert info.value.reason == "control_character"


def test_prose_may_break_lines_but_not_turn_text_around() -> None:
    assert decode_control(dumps(control(reason="line one\n\tline two\r\n"))).reason
    assert decode_control(dumps(control(reason="emoji 👩\u200d💻 joined"))).reason
    for char in ("\x00", "\x1b", "\u202e", "\u2067"):
        with pytest.raises(DecodeError, match=r"^reason: contains a control") as info:
            decode_control(dumps(control(reason=f"ok{char}")))
        assert info.value.reason == "control_character"


def test_an_unknown_field_is_prose_and_screened() -> None:
    with pytest.raises(DecodeError, match=r"^note: contains a control"):
        decode_order(dumps({**paid(), "note": "a\u202eb"}))
    assert decode_order(dumps({**paid(), "note": "two\nlines"})).model_extra == {
        "note": "two\nlines"
    }


def _paid_json() -> str:
    return dumps(paid("dup")).decode()


@pytest.mark.parametrize(
    ("where", "edit"),
    [
        (
            "top level",
            lambda s: s.replace('"merchant_id":', '"merchant_id":"M9","merchant_id":', 1),
        ),
        ("nested", lambda s: s.replace('"id_region":', '"id_region":"440303","id_region":', 1)),
        ("in an item", lambda s: s.replace('"quantity":1', '"quantity":1,"quantity":1', 1)),
        (
            "spaced",
            lambda s: s.replace('"merchant_id":', '"merchant_id" :"M9", "merchant_id" :', 1),
        ),
        (
            "escaped",
            lambda s: s.replace('"merchant_id":', '"merchant_id":"M9","\\u006derchant_id":', 1),
        ),
        ("unknown", lambda s: s[:-1] + ',"note":{"a":1,"a":2}}'),
        ("unknown, twice", lambda s: s[:-1] + ',"note":1,"note":2}'),
    ],
)
def test_a_key_given_twice_is_refused_wherever_it_is(where: str, edit: object) -> None:
    assert callable(edit)
    raw = edit(_paid_json()).encode()
    assert raw != _paid_json().encode(), where
    with pytest.raises(DecodeError) as info:
        decode_order(raw)
    assert info.value.reason == "duplicate_key", info.value.message
    assert "given twice" in info.value.message


def test_a_duplicate_key_is_named_only_when_short() -> None:
    raw = (_paid_json()[:-1] + ',"note":1,"note":2}').encode()
    with pytest.raises(DecodeError, match=r"given twice in one object \('note'\)"):
        decode_order(raw)
    long = "k" * 100
    raw = (_paid_json()[:-1] + f',"{long}":1,"{long}":2}}').encode()
    with pytest.raises(DecodeError) as info:
        decode_order(raw)
    assert info.value.reason == "duplicate_key" and long not in info.value.message


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.replace('"merchant_id":', '"merchant_id" :', 1),  # a space before a colon
        lambda s: s.replace('"device_id":"dv-dup"', '"device_id":"dv-\\":dup"', 1),  # \": in text
        lambda s: s[:-1] + ',"note":{"a":1,"b":[{"a":2}]}}',  # the same name in two objects
        lambda s: orjson.dumps(orjson.loads(s), option=orjson.OPT_INDENT_2).decode(),
    ],
)
def test_messages_without_a_repeated_key_still_decode(edit: object) -> None:
    assert callable(edit)
    assert decode_order(edit(_paid_json()).encode()).merchant_id == "M0001"
