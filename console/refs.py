"""How the console names an entity: in full where the name is not personal data (a device, a
qualification code, a merchant, a SKU), and by its pseudonym's first 8 hex digits where it is
(a consumer, an address, a payment account, a phone), never the pseudonym whole. The name
shown is also the entity page's reference, so what an analyst copies finds the entity again.

>>> shown("device", "dv-51c2e0"), ref("device", "dv-51c2e0")
('dv-51c2e0', 'dv-51c2e0')
>>> shown("address", "ab" * 32), ref("address", "ab" * 32)
('abababab…', 'abababab')
>>> ref("consumer", "c-1") is None
True
"""

from __future__ import annotations

import re

from reports.masking import mask_key
from schemas.pseudonyms import mask_hash

_PSEUDONYM = re.compile(r"[0-9a-f]{64}")
PREFIX = 8  # hex digits of a pseudonym shown: mask_hash's
# entities whose key names no person: shown whole
OPEN_KINDS = frozenset(
    {"device", "qualification_code", "merchant", "sku", "order", "budget_line", "programme"}
)
# the entities with a page of their own
PAGE_KINDS = (
    "consumer",
    "device",
    "address",
    "pickup_point",
    "payment_account",
    "phone",
    "merchant",
)
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


def shown(kind: str, key: str) -> str:
    if _PSEUDONYM.fullmatch(key):
        return mask_hash(key)
    if kind in OPEN_KINDS:
        return key
    return mask_key(kind, key)


def ref(kind: str, key: str) -> str | None:
    """The entity page's reference for this key; None when it has no page."""
    if kind not in PAGE_KINDS:
        return None
    if _PSEUDONYM.fullmatch(key):
        return key[:PREFIX]
    return key if kind in OPEN_KINDS else None


def is_prefix(text: str) -> bool:
    """A reference that stands for a pseudonym (its first 8 hex digits)."""
    return len(text) == PREFIX and all(c in "0123456789abcdef" for c in text)
