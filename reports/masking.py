"""Identities as reports may show them: masked, never the pseudonym whole (and never raw: the
store holds pseudonyms only)."""

from __future__ import annotations

import re

from schemas.pseudonyms import mask_hash

# Entities that are businesses or our own keys, shown as they are.
PUBLIC_ENTITIES = frozenset({"merchant", "sku", "order", "budget_line"})
_PSEUDONYM = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def mask_key(entity_type: str, key: str) -> str:
    """An alert's entity as a report shows it.

    >>> mask_key("merchant", "M0042")
    'M0042'
    >>> mask_key("address", "ab" * 32)
    'abababab…'
    >>> mask_key("device", "dv-51c2e0"), mask_key("device", "dv-1")
    ('dv-5…', '****')
    """
    if entity_type in PUBLIC_ENTITIES:
        return key
    if _PSEUDONYM.fullmatch(key):
        return mask_hash(key)
    return key[:4] + "…" if len(key) >= 8 else "*" * len(key)


def mask_pseudonyms(text: str) -> str:
    """Every pseudonym (64 hex) inside a text, masked.

    >>> mask_pseudonyms('{"holder": "' + "cd" * 32 + '"}')
    '{"holder": "cdcdcdcd…"}'
    """
    return _PSEUDONYM.sub(lambda m: mask_hash(m.group(0)), text)
