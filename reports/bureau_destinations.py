"""Where deliveries go: a folder, or an HTTPS endpoint with the body signed (HMAC-SHA256).

HTTPS: one POST per delivery, its body the zip package (`application/zip`) or an incident's
masked file (`application/json`), with these headers:

- `X-Riskmon-Delivery`: the delivery id, the same on every retry: the receiver dedupes on it;
- `X-Riskmon-Package` (`daily` | `incident`) and `X-Riskmon-Subject` (the day, the alert id);
- `X-Riskmon-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with the destination's key
  of `<t>.<delivery id>.` followed by the body; a receiver checks it (`verify`) and may refuse
  a `t` far from its clock, so a captured request cannot be replayed later.

Any 2xx answer is the receipt (its body, up to 4 KiB, is kept as the acknowledgement);
anything else, a refused certificate or a timeout is a failure, retried later. Redirects are
not followed: a POST is never silently turned into something else.

A folder gets `<path>/<package>/<subject>/<version>/` with the files and `delivery.json`,
written under a temporary name and renamed into place, so a reader never sees half of one;
delivering the same id again finds it there and writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from reports.bureau_config import ConfigError, Destination

RECEIPT_BYTES = 4096


class DeliveryFailed(RuntimeError):
    """A delivery that did not arrive; the message says why, without the URL or the key."""


@dataclass(frozen=True)
class Parcel:
    """What one delivery carries."""

    delivery_id: str
    package: str  # daily | incident
    subject: str
    version: str
    body: bytes  # the zip package, or the incident's JSON
    content_type: str
    files: list[tuple[str, bytes]]  # for a folder: the files themselves


def signature(key: bytes, timestamp: int, delivery_id: str, body: bytes) -> str:
    """The `v1` of the signature header.

    >>> len(signature(b"k" * 32, 1783000000, "abc", b"{}"))
    64
    """
    mac = hmac.new(key, f"{timestamp}.{delivery_id}.".encode(), hashlib.sha256)
    mac.update(body)
    return mac.hexdigest()


def verify(key: bytes, header: str, delivery_id: str, body: bytes) -> int:
    """The receiver's check: the signature's time if it is right, ValueError otherwise.

    >>> key = b"k" * 32
    >>> verify(key, f"t=5,v1={signature(key, 5, 'd', b'x')}", "d", b"x")
    5
    """
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise ValueError("malformed X-Riskmon-Signature") from None
    if not hmac.compare_digest(given, signature(key, timestamp, delivery_id, body)):
        raise ValueError("wrong signature")
    return timestamp


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is then an HTTPError: a failure, retried


def send(destination: Destination, parcel: Parcel, now: datetime, timeout: float) -> str:
    """Deliver `parcel`; returns the receipt, raises `DeliveryFailed`."""
    if destination.kind == "folder":
        return _to_folder(destination, parcel)
    return _to_https(destination, parcel, now, timeout)


def _to_https(destination: Destination, parcel: Parcel, now: datetime, timeout: float) -> str:
    try:
        key = destination.key()
    except ConfigError as exc:
        raise DeliveryFailed(str(exc)) from None
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": parcel.content_type,
        "X-Riskmon-Delivery": parcel.delivery_id,
        "X-Riskmon-Package": parcel.package,
        "X-Riskmon-Subject": parcel.subject,
        "X-Riskmon-Signature": (
            f"t={timestamp},v1={signature(key, timestamp, parcel.delivery_id, parcel.body)}"
        ),
        "User-Agent": "riskmon-bureau/1",
    }
    assert destination.url is not None  # the configuration requires it
    context = ssl.create_default_context(
        cafile=str(destination.ca_file) if destination.ca_file else None
    )
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _NoRedirect()
    )
    request = urllib.request.Request(  # noqa: S310 - https:// only (the configuration checks)
        destination.url, data=parcel.body, headers=headers, method="POST"
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            answer = response.read(RECEIPT_BYTES)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"{destination.name}: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        what = type(reason).__name__ if isinstance(reason, BaseException) else str(reason)
        raise DeliveryFailed(f"{destination.name}: {what}") from None
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryFailed(f"{destination.name}: {type(exc).__name__}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{destination.name}: HTTP {status}")
    text = answer.decode("utf-8", errors="replace").strip()
    return f"HTTP {status} {text}".strip()


def _to_folder(destination: Destination, parcel: Parcel) -> str:
    assert destination.path is not None  # the configuration requires it
    final = destination.path / parcel.package / parcel.subject / parcel.version
    receipt = f"folder {destination.name}: {final.relative_to(destination.path)}"
    marker = final / "delivery.json"
    if marker.is_file():
        found = orjson.loads(marker.read_bytes())
        if found.get("delivery_id") == parcel.delivery_id:
            return receipt + " (there already)"
    staging = final.parent / f".{parcel.version}.{parcel.delivery_id}.partial"
    try:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        for name, data in parcel.files:
            (staging / Path(name).name).write_bytes(data)
        (staging / "delivery.json").write_bytes(
            orjson.dumps(
                {
                    "delivery_id": parcel.delivery_id,
                    "package": parcel.package,
                    "subject": parcel.subject,
                    "version": parcel.version,
                    "sha256": hashlib.sha256(parcel.body).hexdigest(),
                }
            )
        )
        if final.exists():
            shutil.rmtree(final)  # a different delivery of the same version: the newer wins
        os.replace(staging, final)
    except OSError as exc:
        raise DeliveryFailed(f"{destination.name}: {exc.strerror or type(exc).__name__}") from None
    return receipt
