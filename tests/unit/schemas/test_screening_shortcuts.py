"""The screening's shortcuts decide as the slower checks they stand for."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
from factories import paid

from schemas.decode import DecodeError, decode_order, decode_order_counted
from schemas.orders import extra_fields
from schemas.outputs import dumps
from schemas.screening import _FORBIDDEN, _IPV4, _is_ip


def _paid_json() -> str:
    return dumps(paid("dup")).decode()


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "\r", " \t\r\n"])
def test_a_key_given_twice_behind_any_blank_is_refused(blank: str) -> None:
    # a message with a blank anywhere is read by the pattern, whichever blank it is
    raw = _paid_json().replace('"merchant_id":', f'"merchant_id"{blank}:"M9","merchant_id":', 1)
    with pytest.raises(DecodeError) as info:
        decode_order(raw.encode())
    assert info.value.reason == "duplicate_key"


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "\r"])
def test_a_message_with_a_blank_and_no_repeated_key_decodes(blank: str) -> None:
    raw = _paid_json().replace('"merchant_id":', f'"merchant_id"{blank}:', 1)
    assert decode_order(raw.encode()).merchant_id == "M0001"


def test_the_ipv4_test_is_the_regular_expressions() -> None:
    rng = random.Random(3)
    octets = ["0", "00", "01", "9", "10", "99", "100", "199", "249", "250", "255", "256", "300"]
    values = [".".join(rng.choice(octets) for _ in range(rng.randrange(1, 6))) for _ in range(4000)]
    values += ["1.2.3.4", "1.2.3.4\n", " 1.2.3.4", "1.2.3.4.", "1..3.4", "١.٢.٣.٤", "", "::1"]
    values += [
        "".join(rng.choice("0123456789.:a") for _ in range(rng.randrange(0, 16)))
        for _ in range(4000)
    ]
    for value in values:
        expected = bool(_IPV4.fullmatch(value))
        if expected:
            assert _is_ip(value), value
        elif ":" not in value:
            assert not _is_ip(value), value


def test_in_ascii_isprintable_refuses_what_the_identifier_pattern_refuses() -> None:
    for code in range(128):
        text = f"M00{chr(code)}01"
        assert bool(_FORBIDDEN["ident"].search(text)) == (not text.isprintable()), code


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u200b"])
def test_a_control_in_an_identifier_is_still_refused(char: str) -> None:
    escaped = json.dumps(char)[1:-1]  # as JSON writes it (DEL as it is)
    raw = _paid_json().replace('"device_id":"dv-', f'"device_id":"dv-{escaped}', 1)
    with pytest.raises(DecodeError) as info:
        decode_order(raw.encode())
    assert info.value.reason == "control_character"


@pytest.mark.parametrize(
    "unknown",
    [
        {},
        {"channel": "app"},
        {"channel": "app", "consumer": {"vip": True, "tier": {"a": 1}}, "items": {"colour": "red"}},
        {"payment": {"x": 1}, "delivery": {"y": [1, 2]}, "note": {"a": 1, "b": 2}},
    ],
)
def test_the_screenings_count_of_unknown_fields_is_extra_fields(unknown: dict[str, Any]) -> None:
    event = orjson.loads(_paid_json())
    for key, value in unknown.items():
        if key == "items":
            event["items"][0].update(value)
        elif key in ("consumer", "payment", "delivery"):
            event[key].update(value)
        else:
            event[key] = value
    raw = orjson.dumps(event)
    decoded, counted = decode_order_counted(raw)
    assert counted == extra_fields(decoded) == extra_fields(decode_order(raw))
