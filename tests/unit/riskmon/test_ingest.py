"""`ingest`: raw exports in, pseudonymised contract events out, and no raw value anywhere.

The raw identifiers are built at test time (GB 11643 check character computed here) and the
exports written into `tmp_path`: no fixture file holds an ID number or a phone in clear.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from riskmon.ingest import CSV_COLUMNS, IngestError, IngestSummary, ingest
from schemas.orders import ORDER_ADAPTER, OrderPaid
from schemas.pseudonyms import Pseudonymiser
from schemas.times import TimeWindow

KEY = b"test-key-" + bytes(range(23))
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def build_id(region: str, birth: str, sequence: str) -> str:
    first17 = region + birth + sequence
    assert len(first17) == 17
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def bad_checksum(valid: str) -> str:
    return valid[:17] + ("0" if valid[17] != "0" else "1")


class Person:
    """One consumer's raw identifiers, as the platform export has them."""

    def __init__(self, n: int) -> None:
        self.id_number = build_id("440310", f"19{80 + n:02d}0{1 + n % 9}1{n % 10}", f"{n:03d}")
        self.phone = "139" + f"{n:04d}" + f"{7000 + n:04d}"
        self.account = "6222" + f"{n:04d}" + "0000" + f"{n:04d}"
        self.address = f"广东省深圳市坪山区某某街道 {n} 号 {n}0{n} 室"

    def raw_values(self) -> list[str]:
        return [self.id_number, self.phone, self.account, self.address, self.phone[3:]]


ALICE, BOB, CAROL = Person(1), Person(2), Person(3)


def csv_row(person: Person, n: int, **over: str) -> dict[str, str]:
    row = {
        "event_id": f"e-{n}",
        "event_type": "order_paid",
        "occurred_at": "2026-07-03T10:15:30+08:00",
        "order_id": f"PS2026070300{n:04d}",
        "programme": "featured_goods",
        "merchant_id": "M0042",
        "account_id": f"A{n}",
        "id_number": person.id_number,
        "phone": f"+86 {person.phone[:3]}-{person.phone[3:7]}-{person.phone[7:]}",
        "real_name_verified": "true",
        "account_created_at": "2025-11-02T08:00:00+08:00",
        "qualification_code": f"GDQ-2026-{n:08d}",
        "qualification_verified": "TRUE",
        "device_id": f"dv-{n}",
        "ip": "113.88.10.21",
        "payment_account": person.account,
        "payment_method": "wechat",
        "paid_amount": "4249.15",
        "address": person.address,
        "delivery_region": "440310",
        "pickup_point": "false",
        "warehouse_id": "",
        "sku": "SKU-PH-0007",
        "category": "mobile_phone",
        "quantity": "1",
        "unit_price": "4999.00",
        "energy_grade": "",
        "order_amount": "4999",
        "subsidy_amount": "500.00",
        "refund_amount": "",
    }
    row.update(over)
    return row


def write_csv(
    path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = CSV_COLUMNS
) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def raw_event(person: Person, n: int) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"e-{n}",
        "event_type": "order_paid",
        "occurred_at": "2026-07-03T10:15:30+08:00",
        "order_id": f"PS2026070300{n:04d}",
        "programme": "featured_goods",
        "merchant_id": "M0042",
        "consumer": {
            "account_id": f"A{n}",
            "id_number": person.id_number,
            "phone": person.phone,
            "real_name_verified": True,
            "account_created_at": "2025-11-02T08:00:00+08:00",
        },
        "qualification": {"code": f"GDQ-2026-{n:08d}", "verified": True},
        "device_id": f"dv-{n}",
        "ip": "113.88.10.21",
        "payment": {"account": person.account, "method": "alipay", "paid_amount": 4249.15},
        "delivery": {"address": person.address, "region": "440310", "pickup_point": False},
        "warehouse_id": None,
        "items": [
            {
                "sku": "SKU-FR-1",
                "category": "refrigerator",
                "quantity": 2,
                "unit_price": 2499.5,
                "energy_grade": 1,
            }
        ],
        "order_amount": 4999,
        "subsidy_amount": 999.9,
        "refund_amount": None,
    }


def write_jsonl(path: Path, records: list[Any]) -> Path:
    lines = [r if isinstance(r, bytes) else orjson.dumps(r) for r in records]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def events(path: Path) -> list[OrderPaid]:
    out = []
    for line in path.read_bytes().splitlines():
        event = ORDER_ADAPTER.validate_json(line)
        assert isinstance(event, OrderPaid)
        out.append(event)
    return out


def rejects(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def assert_no_raw_value(data: bytes, *people: Person) -> None:
    text = data.decode("utf-8")
    for person in people:
        for value in person.raw_values():
            assert value not in text
        assert person.id_number[:17] not in text


@pytest.fixture
def p() -> Pseudonymiser:
    return Pseudonymiser(KEY)


def test_csv_round_trip(tmp_path: Path, p: Pseudonymiser) -> None:
    carol_row = csv_row(CAROL, 3, id_number=bad_checksum(CAROL.id_number), energy_grade="2")
    src = write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1), csv_row(BOB, 2), carol_row])
    dst = tmp_path / "orders.jsonl"

    summary = ingest(src, dst, p)

    assert summary == IngestSummary(read=3, written=3, rejected=0)
    first, second, third = events(dst)
    assert first.consumer.id_hash == p.id_number(ALICE.id_number)
    assert first.consumer.phone_hash == p.phone(ALICE.phone)  # normalised: +86 and dashes
    assert first.payment.account_hash == p.payment_account(ALICE.account)
    assert first.delivery.address_hash == p.address(ALICE.address)
    assert (first.consumer.id_region, first.consumer.birth_year) == ("440310", 1981)
    assert first.consumer.id_checksum_ok is True
    assert first.qualification is not None and first.qualification.verified is True
    assert first.warehouse_id is None and first.refund_amount is None
    assert first.items[0].energy_grade is None and third.items[0].energy_grade == 2
    assert first.order_amount == Decimal("4999.00")
    assert second.consumer.id_hash != first.consumer.id_hash
    # A bad checksum is a fact the eligibility rule needs, not a reason to drop the order.
    assert third.consumer.id_checksum_ok is False
    assert_no_raw_value(dst.read_bytes(), ALICE, BOB, CAROL)


def test_output_is_the_contract_shape_with_two_decimal_money(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    dst = tmp_path / "orders.jsonl"
    ingest(write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1)]), dst, p)
    line = dst.read_bytes().splitlines()[0]
    assert b'"paid_amount":4249.15' in line and b'"order_amount":4999.00' in line
    record = orjson.loads(line)
    assert list(record) == [
        "schema_version", "event_id", "event_type", "occurred_at", "order_id", "programme",
        "merchant_id", "consumer", "qualification", "device_id", "ip", "payment", "delivery",
        "warehouse_id", "items", "order_amount", "subsidy_amount", "refund_amount",
    ]  # fmt: skip
    assert list(record["consumer"]) == [
        "account_id", "id_hash", "id_region", "birth_year", "id_checksum_ok", "phone_hash",
        "real_name_verified", "account_created_at",
    ]  # fmt: skip


def test_jsonl_round_trip(tmp_path: Path, p: Pseudonymiser) -> None:
    src = write_jsonl(tmp_path / "export.jsonl", [raw_event(ALICE, 1), b"", raw_event(BOB, 2)])
    dst = tmp_path / "orders.jsonl"

    assert ingest(src, dst, p) == IngestSummary(read=2, written=2, rejected=0)

    first, second = events(dst)
    assert first.consumer.id_hash == p.id_number(ALICE.id_number)
    assert second.delivery.address_hash == p.address(BOB.address)
    assert first.items[0].unit_price == Decimal("2499.50")
    assert first.subsidy_amount == Decimal("999.90")
    assert b'"unit_price":2499.50' in dst.read_bytes()
    assert_no_raw_value(dst.read_bytes(), ALICE, BOB)


def test_csv_and_jsonl_give_one_person_one_pseudonym(tmp_path: Path, p: Pseudonymiser) -> None:
    ingest(write_csv(tmp_path / "a.csv", [csv_row(ALICE, 1)]), tmp_path / "a.jsonl", p)
    ingest(write_jsonl(tmp_path / "b.jsonl", [raw_event(ALICE, 1)]), tmp_path / "b.out.jsonl", p)
    (a,), (b,) = events(tmp_path / "a.jsonl"), events(tmp_path / "b.out.jsonl")
    assert a.consumer.id_hash == b.consumer.id_hash
    assert a.consumer.phone_hash == b.consumer.phone_hash


def test_bad_rows_go_to_rejects_naming_the_field_never_the_value(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    rows = [
        csv_row(ALICE, 1),
        csv_row(BOB, 2, id_number=BOB.id_number[:17]),  # 17 characters
        csv_row(CAROL, 3, id_number=CAROL.id_number[:10] + "1332" + CAROL.id_number[14:]),
        csv_row(ALICE, 4, payment_method="bitcoin"),
        csv_row(BOB, 5, quantity="two"),
        csv_row(CAROL, 6, order_amount="4998.00"),
        csv_row(ALICE, 7, paid_amount="4249.155"),
        csv_row(BOB, 8, device_id=f"dv-{BOB.phone}"),  # a phone where nothing is pseudonymised
        csv_row(CAROL, 9, phone=""),
        csv_row(ALICE, 10, real_name_verified="maybe"),
        csv_row(BOB, 11, event_type="order_refunded"),
        csv_row(CAROL, 12, paid_amount="NaN"),
    ]
    src = write_csv(tmp_path / "export.csv", rows)
    dst, bad = tmp_path / "orders.jsonl", tmp_path / "rejects.jsonl"

    summary = ingest(src, dst, p, rejects=bad)

    assert summary == IngestSummary(read=12, written=1, rejected=11)
    assert len(events(dst)) == 1
    found = {r["line"]: r["reason"] for r in rejects(bad)}
    assert sorted(found) == list(range(3, 14))  # header on line 1, Alice's good row on line 2
    assert found[3].startswith("id_number: ID number is not 18 characters")
    assert found[4].startswith("id_number: ") and "not a real date" in found[4]
    assert found[5].startswith("payment_method: ")
    assert found[6] == "quantity: not an integer"
    assert found[7].startswith("order: order_amount")
    assert found[8] == "paid_amount: more than two decimal places"
    assert found[9] == (
        "device_id: looks like an ID number or phone number, and is not pseudonymised"
    )
    assert found[10] == "phone: required field missing"
    assert found[11].startswith("real_name_verified: not a boolean")
    assert found[12] == "event_type: only order_paid events can be ingested"
    assert found[13].startswith("paid_amount: not an amount")
    everything = bad.read_bytes() + dst.read_bytes()
    assert_no_raw_value(everything, ALICE, BOB, CAROL)
    assert b"bitcoin" not in everything and b'"two"' not in everything


def test_jsonl_bad_lines(tmp_path: Path, p: Pseudonymiser) -> None:
    missing_phone = raw_event(BOB, 3)
    del missing_phone["consumer"]["phone"]
    old_year = raw_event(CAROL, 4)
    old_year["consumer"]["id_number"] = build_id("440310", "18991231", "001")
    as_text = raw_event(ALICE, 5)
    as_text["order_amount"] = "4999.00"
    records: list[Any] = [
        raw_event(ALICE, 1),
        b'{"consumer": {"id_number": "' + ALICE.id_number.encode() + b'"',  # cut short
        missing_phone,
        old_year,
        as_text,
        [1, 2],
    ]
    src = write_jsonl(tmp_path / "export.jsonl", records)
    bad = tmp_path / "rejects.jsonl"

    assert ingest(src, tmp_path / "o.jsonl", p, rejects=bad) == IngestSummary(6, 1, 5)

    found = {r["line"]: r["reason"] for r in rejects(bad)}
    assert found[2].startswith("line: malformed JSON")
    assert found[3] == "consumer.phone: required field missing"
    assert found[4].startswith("consumer.id_number (birth_year): ")
    assert found[5].startswith("order_amount: money must be a JSON number")
    assert found[6] == "line: not a JSON object"
    assert_no_raw_value(bad.read_bytes(), ALICE, BOB, CAROL)


def test_unknown_fields_of_the_export_are_dropped(tmp_path: Path, p: Pseudonymiser) -> None:
    record = raw_event(ALICE, 1)
    record["remark"] = "call back"
    record["consumer"]["real_name"] = "张三丰"
    record["consumer"]["id_hash"] = "f" * 64  # a stale pseudonym is not trusted either
    src = write_jsonl(tmp_path / "export.jsonl", [record])
    dst = tmp_path / "o.jsonl"
    ingest(src, dst, p)
    out = dst.read_bytes()
    assert b"remark" not in out and "张三丰".encode() not in out and b"f" * 64 not in out
    (event,) = events(dst)
    assert event.consumer.id_hash == p.id_number(ALICE.id_number)


def test_a_missing_column_fails_the_run_naming_it(tmp_path: Path, p: Pseudonymiser) -> None:
    # Issue 18 item 9: a missing column rejected every row one by one, and exited 0.
    columns = tuple(c for c in CSV_COLUMNS if c not in ("phone", "ip"))
    src = write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1)], columns)
    with pytest.raises(IngestError, match="lacks the columns phone, ip") as info:
        ingest(src, tmp_path / "o.jsonl", p, rejects=tmp_path / "rejects.jsonl")
    assert "docs/ingest.md" in str(info.value)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["export.csv"]


def test_optional_columns_may_be_left_out(tmp_path: Path, p: Pseudonymiser) -> None:
    columns = tuple(c for c in CSV_COLUMNS if c not in ("warehouse_id", "refund_amount"))
    src = write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1)], columns)
    assert ingest(src, tmp_path / "o.jsonl", p) == IngestSummary(1, 1, 0)
    (event,) = events(tmp_path / "o.jsonl")
    assert event.warehouse_id is None and event.refund_amount is None


def test_short_row_and_bom(tmp_path: Path, p: Pseudonymiser) -> None:
    good = write_csv(tmp_path / "good.csv", [csv_row(ALICE, 1), csv_row(BOB, 2)])
    header, first, second = good.read_text(encoding="utf-8").splitlines()
    short = ",".join(second.split(",")[:5])
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\n".join([header, first, short]).encode("utf-8-sig") + b"\n")
    bad = tmp_path / "rejects.jsonl"
    summary = ingest(bom, tmp_path / "o.jsonl", p, rejects=bad)
    assert summary == IngestSummary(2, 1, 1, encoding="utf-8-sig")
    assert rejects(bad) == [{"line": 3, "reason": "row: fewer cells than the header has columns"}]


def test_broken_csv_quoting_rejects_the_row_and_goes_on(tmp_path: Path, p: Pseudonymiser) -> None:
    src = write_csv(
        tmp_path / "export.csv",
        [csv_row(ALICE, 1), csv_row(BOB, 2, address="x" * 200_000), csv_row(CAROL, 3)],
    )
    bad = tmp_path / "rejects.jsonl"
    assert ingest(src, tmp_path / "o.jsonl", p, rejects=bad) == IngestSummary(3, 2, 1)
    assert rejects(bad) == [
        {"line": 3, "reason": "row: not valid CSV (broken quoting or a cell too long)"}
    ]


def test_a_file_that_mixes_encodings_fails_the_run_naming_the_line(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    # One GBK row among UTF-8 ones: reading the file as either would garble some addresses
    # into wrong pseudonyms, so the file is refused whole (issue 18 item 9).
    src = write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1), csv_row(BOB, 2)])
    src.write_bytes(src.read_bytes().replace(BOB.address.encode(), BOB.address.encode("gbk")))
    with pytest.raises(IngestError, match="line 3 is not UTF-8 text.*mixes encodings"):
        ingest(src, tmp_path / "o.jsonl", p, rejects=tmp_path / "r.jsonl")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["export.csv"]


def test_dst_is_replaced_whole_and_no_temporary_file_is_left(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    dst = tmp_path / "orders.jsonl"
    dst.write_bytes(b"old\n" * 10)
    ingest(write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1)]), dst, p)
    assert len(events(dst)) == 1
    assert sorted(f.name for f in tmp_path.iterdir()) == ["export.csv", "orders.jsonl"]


def test_unknown_format_writes_nothing(tmp_path: Path, p: Pseudonymiser) -> None:
    src = tmp_path / "export.xlsx"
    src.write_bytes(b"PK")
    with pytest.raises(IngestError, match="unknown format"):
        ingest(src, tmp_path / "o.jsonl", p)
    assert [f.name for f in tmp_path.iterdir()] == ["export.xlsx"]


def test_unwritable_destination_is_an_error_without_leftovers(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    src = write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1)])
    with pytest.raises(IngestError, match="cannot ingest export.csv"):
        ingest(src, tmp_path / "missing-dir" / "o.jsonl", p)
    assert [f.name for f in tmp_path.iterdir()] == ["export.csv"]


# -- issue 18 item 9 and issue 22 item 4: real exports ----------------------------------------


def test_line_numbers_after_an_oversized_cell_are_right(tmp_path: Path, p: Pseudonymiser) -> None:
    # Before: the row after the oversized cell was reported on the oversized cell's line, and
    # a quoted cell that went on past a line break came back as a row of its own.
    rows = [
        csv_row(ALICE, 1),
        csv_row(BOB, 2, address="x" * 200_000),
        csv_row(CAROL, 3, quantity="two"),
        csv_row(ALICE, 4, address="x" * 200_000 + "\nand on"),
        csv_row(BOB, 5, quantity="three"),
        csv_row(CAROL, 6, address="two\nlines"),
        csv_row(ALICE, 7, quantity="four"),
    ]
    bad = tmp_path / "rejects.jsonl"
    summary = ingest(write_csv(tmp_path / "e.csv", rows), tmp_path / "o.jsonl", p, rejects=bad)
    assert (summary.read, summary.written) == (7, 2)
    assert rejects(bad) == [
        {"line": 3, "reason": "row: not valid CSV (broken quoting or a cell too long)"},
        {"line": 4, "reason": "quantity: not an integer"},
        {"line": 5, "reason": "row: not valid CSV (broken quoting or a cell too long)"},
        {"line": 7, "reason": "quantity: not an integer"},
        {"line": 10, "reason": "quantity: not an integer"},
    ]


ENCODINGS = ("gbk", "gb18030", "utf-8", "utf-8-sig")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_the_same_rows_in_any_encoding_give_the_same_events(
    tmp_path: Path, p: Pseudonymiser, suffix: str
) -> None:
    from riskmon.ingest_sample import write_sample

    out: dict[str, bytes] = {}
    for encoding in ENCODINGS:
        src = tmp_path / f"export-{encoding}{suffix}"
        write_sample(src, rows=30, encoding=encoding)
        summary = ingest(src, tmp_path / f"{encoding}.jsonl", p)
        assert (summary.read, summary.written) == (30, 30), encoding
        out[encoding] = (tmp_path / f"{encoding}.jsonl").read_bytes()
    assert (tmp_path / f"export-gbk{suffix}").read_bytes() != (
        tmp_path / f"export-utf-8{suffix}"
    ).read_bytes()  # the addresses are Chinese: the bytes differ
    assert len(set(out.values())) == 1
    assert len(events(tmp_path / "gbk.jsonl")) == 30


def test_detected_encodings_are_reported(tmp_path: Path, p: Pseudonymiser) -> None:
    from riskmon.ingest_sample import write_sample

    for encoding, detected in (("gbk", "gb18030"), ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig")):
        src = write_sample_file(tmp_path, encoding, write_sample)
        assert ingest(src, tmp_path / "o.jsonl", p).encoding == detected


def write_sample_file(tmp_path: Path, encoding: str, write: Any) -> Path:
    src = tmp_path / f"s-{encoding}.csv"
    write(src, rows=5, encoding=encoding)
    return src


def test_a_file_in_another_encoding_than_the_one_given_fails_naming_the_line(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    from riskmon.ingest_sample import write_sample

    src = write_sample_file(tmp_path, "gbk", write_sample)
    with pytest.raises(IngestError, match=r"line 2 is not valid utf-8 text"):
        ingest(src, tmp_path / "o.jsonl", p, encoding="utf-8")
    with pytest.raises(IngestError, match="unknown encoding"):
        ingest(src, tmp_path / "o.jsonl", p, encoding="klingon")
    assert ingest(src, tmp_path / "o.jsonl", p, encoding="gbk").written == 5


def test_a_run_that_converts_nothing_fails_and_keeps_the_rejects(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    # Issue 18 item 9: every row rejected, and the command exited 0.
    rows = [csv_row(ALICE, 1, quantity="x"), csv_row(BOB, 2, quantity="y")]
    src = write_csv(tmp_path / "export.csv", rows)
    dst, bad = tmp_path / "o.jsonl", tmp_path / "rejects.jsonl"
    with pytest.raises(IngestError, match=r"none of its 2 rows could be converted.*quantity"):
        ingest(src, dst, p, rejects=bad)
    assert not dst.exists() and len(rejects(bad)) == 2
    header_only = write_csv(tmp_path / "empty.csv", [])
    with pytest.raises(IngestError, match="no row to convert"):
        ingest(header_only, dst, p)
    nothing = tmp_path / "nothing.csv"
    nothing.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        ingest(nothing, dst, p)


def test_ignored_columns_and_fields_are_named(tmp_path: Path, p: Pseudonymiser) -> None:
    columns = ("remark", *CSV_COLUMNS, "buyer_name")
    row = csv_row(ALICE, 1) | {"remark": "call back", "buyer_name": "张三"}
    summary = ingest(write_csv(tmp_path / "e.csv", [row], columns), tmp_path / "o.jsonl", p)
    assert summary.ignored == ("remark", "buyer_name")
    assert b"call back" not in (tmp_path / "o.jsonl").read_bytes()
    record = raw_event(ALICE, 1) | {"remark": "x"}
    record["consumer"]["real_name"] = "张三"
    record["items"][0]["colour"] = "red"
    summary = ingest(write_jsonl(tmp_path / "e.jsonl", [record]), tmp_path / "o.jsonl", p)
    assert summary.ignored == ("remark", "consumer.real_name", "items.colour")


def test_a_duplicated_column_fails_the_run(tmp_path: Path, p: Pseudonymiser) -> None:
    src = tmp_path / "e.csv"
    src.write_text(",".join((*CSV_COLUMNS, "phone")) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match="columns named twice in the header: phone"):
        ingest(src, tmp_path / "o.jsonl", p)


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("13900017001", True),
        ("+86 139-0001-7001", True),
        ("(+86) 139.0001.7001", True),
        ("0086 13900017001", True),
        ("１３９０００１７００１", True),
        ("1390001700", False),  # ten digits: issue 22
        ("139000170011", False),
        ("12900017001", False),
        ("0755-12345678", False),  # a landline is not the account's mobile number
        ("tel 13900017001", False),
    ],
)
def test_phones_are_checked_for_shape(
    tmp_path: Path, p: Pseudonymiser, phone: str, ok: bool
) -> None:
    src = write_csv(tmp_path / "e.csv", [csv_row(ALICE, 1, phone=phone), csv_row(BOB, 2)])
    bad = tmp_path / "r.jsonl"
    summary = ingest(src, tmp_path / "o.jsonl", p, rejects=bad)
    assert summary.written == (2 if ok else 1)
    if not ok:
        (reject,) = rejects(bad)
        assert reject["reason"].startswith("phone: not a mainland mobile number")
        assert phone not in bad.read_text(encoding="utf-8")
    else:
        assert events(tmp_path / "o.jsonl")[0].consumer.phone_hash == p.phone("13900017001")


def test_id_numbers_are_checked_for_shape(tmp_path: Path, p: Pseudonymiser) -> None:
    old_form = ALICE.id_number[:6] + ALICE.id_number[8:17]
    no_province = "99" + ALICE.id_number[2:17]
    rows = [
        csv_row(ALICE, 1, id_number=old_form),
        csv_row(BOB, 2, id_number=build_id(no_province[:6], "19820312", "002")),
        csv_row(
            CAROL,
            3,
            id_number=f"{CAROL.id_number[:6]}-{CAROL.id_number[6:14]}-{CAROL.id_number[14:]}",
        ),
    ]
    bad = tmp_path / "r.jsonl"
    assert (
        ingest(write_csv(tmp_path / "e.csv", rows), tmp_path / "o.jsonl", p, rejects=bad).written
        == 1
    )
    found = {r["line"]: r["reason"] for r in rejects(bad)}
    assert (
        found[2]
        == "id_number: ID number is in the old 15-digit form: the 18-digit number is needed"
    )
    assert found[3] == "id_number: ID number's region (characters 1-6) is no province's code"
    assert events(tmp_path / "o.jsonl")[0].consumer.id_hash == p.id_number(CAROL.id_number)


TEXT_COLUMNS = (
    "event_id",
    "order_id",
    "programme",
    "merchant_id",
    "account_id",
    "qualification_code",
    "device_id",
    "ip",
    "warehouse_id",
    "sku",
    "category",
)


def test_no_disguised_identifier_gets_through_ingest(tmp_path: Path, p: Pseudonymiser) -> None:
    # Issue 18 item 2: ingest wrote an ID wrapped in letters, a spaced one, one with a wrong
    # check digit, an old 15-digit one and a full-width phone into `account_id` and `device_id`.
    from disguises import disguises, leaked

    forms = disguises(seed=22)
    rows, expected = [], {}
    for n, (column, form) in enumerate((column, form) for column in TEXT_COLUMNS for form in forms):
        rows.append(csv_row(ALICE, n + 1, **{column: form.text}))
        expected[n + 2] = column
    rows.append(csv_row(BOB, 9999))
    columns = (*CSV_COLUMNS, forms[0].text)  # a column named by an identifier, too
    src = tmp_path / "export.csv"
    write_csv(src, [r | {forms[0].text: forms[20].text} for r in rows], columns)
    dst, bad = tmp_path / "o.jsonl", tmp_path / "rejects.jsonl"

    summary = ingest(src, dst, p, rejects=bad)

    assert summary.written == 1 and summary.rejected == len(forms) * len(TEXT_COLUMNS)
    found = {r["line"]: r["reason"] for r in rejects(bad)}
    for line, column in expected.items():
        assert found[line].startswith(f"{column}: "), (line, found[line])
    everything = dst.read_text() + bad.read_text() + repr(summary)
    for form in forms:
        assert not leaked(everything, form.core), form.name


def test_a_control_character_or_a_time_out_of_the_window_names_the_column(
    tmp_path: Path, p: Pseudonymiser
) -> None:
    rows = [
        csv_row(ALICE, 1),
        csv_row(BOB, 2, merchant_id="M\u0000evil"),
        csv_row(CAROL, 3, account_created_at="0001-01-01T00:00:00+14:00"),
        csv_row(ALICE, 4, occurred_at="2026-12-31T12:00:00+08:00"),
    ]
    bad = tmp_path / "r.jsonl"
    window = TimeWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    src = write_csv(tmp_path / "e.csv", rows)
    assert ingest(src, tmp_path / "o.jsonl", p, rejects=bad, window=window).written == 1
    found = {r["line"]: r["reason"] for r in rejects(bad)}
    assert found[3] == "merchant_id: contains a control or invisible formatting character (U+0000)"
    assert found[4].startswith("account_created_at: outside the accepted window")
    assert found[5].startswith("occurred_at: outside the accepted window")
    assert "2026-12-01T00:00:00+00:00 (excluded)" in found[5]
