"""`ingest`: raw exports in, pseudonymised contract events out, and no raw value anywhere.

The raw identifiers are built at test time (GB 11643 check character computed here) and the
exports written into `tmp_path`: no fixture file holds an ID number or a phone in clear.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from riskmon.ingest import CSV_COLUMNS, IngestError, IngestSummary, ingest
from schemas.orders import ORDER_ADAPTER, OrderPaid
from schemas.pseudonyms import Pseudonymiser

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


def test_csv_missing_column_short_row_and_bom(tmp_path: Path, p: Pseudonymiser) -> None:
    columns = tuple(c for c in CSV_COLUMNS if c != "phone")
    src = write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1)], columns)
    bad = tmp_path / "rejects.jsonl"
    assert ingest(src, tmp_path / "o.jsonl", p, rejects=bad) == IngestSummary(1, 0, 1)
    assert rejects(bad) == [{"line": 2, "reason": "phone: no such column in the header"}]

    good = write_csv(tmp_path / "good.csv", [csv_row(ALICE, 1), csv_row(BOB, 2)])
    header, first, second = good.read_text(encoding="utf-8").splitlines()
    short = ",".join(second.split(",")[:5])
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\n".join([header, first, short]).encode("utf-8-sig") + b"\n")
    assert ingest(bom, tmp_path / "o.jsonl", p, rejects=bad) == IngestSummary(2, 1, 1)
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


def test_a_row_that_is_not_utf8_is_rejected_alone(tmp_path: Path, p: Pseudonymiser) -> None:
    src = write_csv(tmp_path / "export.csv", [csv_row(ALICE, 1), csv_row(BOB, 2)])
    src.write_bytes(src.read_bytes().replace(BOB.address.encode(), BOB.address.encode("gbk")))
    bad = tmp_path / "rejects.jsonl"
    assert ingest(src, tmp_path / "o.jsonl", p, rejects=bad) == IngestSummary(2, 1, 1)
    assert rejects(bad) == [{"line": 3, "reason": "address: not UTF-8 text"}]


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
