"""Secret keys from the environment: refused when weak, turned into working keys with HKDF.

Every key riskmon is handed (the console's cookie-signing secret, the backup key) is a string
an operator generated, e.g. `openssl rand -base64 48`. A key is refused, with the setting named
and never the value, when it is shorter than 32 bytes, is one short piece repeated
(`changemechangeme...`, `0000...`), or carries a placeholder word copied from an example. The
check cannot prove a key random; it catches the keys people actually leave in place.

One key may serve several purposes (the backup key signs and encrypts): `derive` gives each
purpose its own 32-byte key (HKDF-SHA256, RFC 5869), so no two uses share key bytes.

>>> try:
...     check_key("RISKMON_X", "changeme")
... except WeakKeyError as exc:
...     print(str(exc).split(":")[0])
RISKMON_X is 8 bytes long
>>> len(derive(check_key("RISKMON_X", "q7Hc1vN0pZ3yL8eR2tWm5sKd9gXb4jAf"), "backup:mac"))
32
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_BYTES = 32
GENERATE = "generate one with `openssl rand -base64 48`"
# Words that mark a value copied from an example or a template, in any case, with or without
# separators.
PLACEHOLDERS = (
    "changeme",
    "changethis",
    "replaceme",
    "yoursecret",
    "yourkey",
    "secretkey",
    "placeholder",
    "example",
    "notsecret",
    "insecure",
    "default",
    "password",
    "xxxxxxxx",
)


class WeakKeyError(ValueError):
    """A key that must not be used; the message names the setting, never the value."""


def _periodic(value: str) -> bool:
    """True when `value` is one shorter piece repeated (with a partial piece at the end).

    >>> _periodic("abcabcab"), _periodic("abcabcax")
    (True, False)
    """
    n = len(value)
    for period in range(1, n // 2 + 1):
        if all(value[i] == value[i % period] for i in range(n)):
            return True
    return False


def check_key(setting: str, value: str) -> str:
    """`value` if it may serve as a key; otherwise `WeakKeyError` naming `setting`."""
    size = len(value.encode("utf-8"))
    if size < MIN_BYTES:
        raise WeakKeyError(
            f"{setting} is {size} bytes long: a key needs at least {MIN_BYTES} random bytes "
            f"({GENERATE})"
        )
    folded = "".join(c for c in value.lower() if c.isalnum())
    if _periodic(value) or _periodic(folded):
        raise WeakKeyError(f"{setting} is one short piece repeated: not a key ({GENERATE})")
    for word in PLACEHOLDERS:
        if word in folded:
            raise WeakKeyError(
                f"{setting} holds a placeholder word ({word!r}): it was copied from an "
                f"example, not generated ({GENERATE})"
            )
    return value


def derive(key: str, purpose: str, salt: bytes | None = None) -> bytes:
    """A 32-byte key for one `purpose`, from `key` (HKDF-SHA256; `salt` per use if given)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=purpose.encode("utf-8")
    ).derive(key.encode("utf-8"))
