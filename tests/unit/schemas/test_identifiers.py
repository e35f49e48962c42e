"""Raw identifiers in disguise, through every input topic's decoder and into the dead letters.

Issue 18 item 2: an ID number wrapped in letters, spaced, with a wrong check digit, in its old
15-digit form, or a mobile number in full-width digits went through. Every free-text field of
every input topic (orders, order_checkout, catalog, labels, controls), unknown fields and their
names included, now refuses each of the forms of `tests/disguises.py`, naming the field and
never the value, and the dead letter's raw bytes and error never carry the digits either.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from disguises import Disguise, disguises, leaked
from factories import h, paid
from inputs import TEXTS, TOPICS, put

from schemas.decode import DecodeError, decode_order
from schemas.identifiers import raw_identifier_kind, redact_raw_bytes, redact_raw_identifiers
from schemas.outputs import Origin, dead_letter_record, dumps

FORMS = disguises(seed=18)


CASES = [(topic, make, decode, f) for topic, make, decode in TOPICS for f in TEXTS[topic]]


def _escaped(char: str) -> str:
    if char.isascii():
        return char
    return json.dumps(char)[1:-1]  # \uXXXX, a surrogate pair beyond the BMP


def encodings(record: dict[str, Any]) -> list[bytes]:
    """The message as UTF-8, and with every non-ASCII character as a JSON escape."""
    plain = dumps(record)
    return [plain, "".join(map(_escaped, plain.decode())).encode()]


def assert_refused_and_redacted(
    decode: Callable[[bytes], Any], raw: bytes, form: Disguise, field: str
) -> None:
    with pytest.raises(DecodeError) as info:
        decode(raw)
    exc = info.value
    assert exc.reason in ("raw_identifier", "control_character"), (form.name, exc.message)
    assert field in exc.message, (form.name, exc.message)
    assert not leaked(exc.message, form.core)
    record = dead_letter_record(reason=exc.reason, error=exc.message, raw=raw, origin=Origin("t"))
    kept = base64.b64decode(record["raw_base64"]).decode("utf-8", errors="replace")
    assert not leaked(kept, form.core), form.name
    assert not leaked(record["error"], form.core)
    assert record["redacted"] >= 1


def test_the_generator_makes_at_least_twenty_forms_each_seen_as_an_identifier() -> None:
    assert len(FORMS) >= 20 and len({f.text for f in FORMS}) == len(FORMS)
    for form in FORMS:
        assert raw_identifier_kind(form.text) is not None, form.name
        assert leaked(form.text, form.core)


@pytest.mark.parametrize(("topic", "make", "decode", "field"), CASES)
def test_every_form_in_every_free_text_field_is_refused_and_never_echoed(
    topic: str, make: Callable[[], dict[str, Any]], decode: Callable[[bytes], Any], field: str
) -> None:
    for raw in encodings(make()):
        decode(raw)  # the message itself is valid
    for form in FORMS:
        for raw in encodings(put(make(), field, form.text)):
            assert_refused_and_redacted(decode, raw, form, field)


@pytest.mark.parametrize(("topic", "make", "decode"), TOPICS)
def test_unknown_fields_their_names_and_numbers_are_screened_too(
    topic: str, make: Callable[[], dict[str, Any]], decode: Callable[[bytes], Any]
) -> None:
    # An unknown field is kept (forward compatibility): it would reach a waiting event's state.
    decode(dumps({**make(), "note": {"text": "call back", "n": 7}}))
    for form in FORMS:
        for raw in encodings({**make(), "note": {"text": form.text}}):
            assert_refused_and_redacted(decode, raw, form, "note.text")
        for raw in encodings({**make(), form.text: True}):
            assert_refused_and_redacted(decode, raw, form, "name of unknown field")
    as_number = {**make(), "note": int(FORMS[20].core)}  # a mobile number as a JSON number
    assert_refused_and_redacted(decode, dumps(as_number), FORMS[20], "note")


def test_order_numbers_event_ids_ips_and_pseudonyms_still_pass() -> None:
    simulator_like = paid(
        "p",
        order_id="PS20260701070000037",
        event_id="ev-7-00000037",
        ip="139.200.123.45",  # eleven digits, as many as a mobile number: an address
        device_id="dv-7-0018696",
        qualification={"code": "GDQ-2026-00981234", "verified": True},
        consumer__account_id="A700018696",
    )
    event = decode_order(dumps(simulator_like))
    assert event.order_id == "PS20260701070000037"
    for n in range(200):  # the hashes of the factories, whatever digits they happen to hold
        decode_order(dumps(paid(f"p{n}", device_id=h(f"device:{n}"))))


def test_redaction_of_raw_bytes_in_gbk_as_well() -> None:
    for form in FORMS:
        if form.text.isascii() or not _gbk_can(form.text):
            continue
        raw = ('{"device_id": "' + form.text + '"}').encode("gbk")
        cleaned, count = redact_raw_bytes(raw)
        assert count >= 1 and not leaked(cleaned.decode("gbk"), form.core), form.name


def _gbk_can(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def test_redaction_leaves_the_rest_of_the_line_as_it_was() -> None:
    form = FORMS[1]
    line = '{"order_id": "PS20260701070000037", "note": "' + form.text + '", "n": 4999.00}'
    cleaned, count = redact_raw_identifiers(line)
    assert count == 1
    assert cleaned == line.replace(form.text[2:-3], "[REDACTED]")


def test_hashes_and_uuids_are_exempt_only_whole() -> None:
    pseudonym, uuid = h("p"), "3f2b8c1e-9d4a-4e7b-8c21-5a6b7c8d9e0f"
    phone = FORMS[20].text
    for text in (pseudonym, uuid, uuid.replace("-", ""), pseudonym[:40]):
        assert raw_identifier_kind(text) is None, text
    for text in (f"{uuid}-{phone}", f"{pseudonym}-{phone}", f"{phone}-{uuid}"):
        assert raw_identifier_kind(text) == "mobile number", text
