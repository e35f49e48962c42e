"""How guessable a password is: zxcvbn's estimate against common passwords and their variants.

`zxcvbn` (Dropbox's estimator, the Python port) ranks a password against its frequency lists
(30,000 common passwords from leaked sets, English words, names, surnames) and its patterns
(l33t and capitalised variants, keyboard walks, repeats, sequences, dates), and estimates the
guesses an attacker needs. A plain list would refuse `password` but let `Password1234!` or
`qwertyuiop123` through; zxcvbn refuses them. Beside its lists, it is given the words of this
service and of the user (NIST SP 800-63B, 5.1.1.2: context-specific words), so `riskmon-2026`
or the user's own name with digits is refused too.

A password is accepted at zxcvbn's score 4 only: at least 10^10 guesses, what zxcvbn calls
strong protection even offline against a slow hash, since the store keeps argon2 hashes and a
store can leak (score 3, 10^8, would do against an online attacker under the console's login
throttling alone). Only the first 100 characters are scored (zxcvbn's work grows with the
length; a longer password is not weaker for what follows).

>>> weakness("correct horse battery")
>>> weakness("password1234")
'This is a very common password.'
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_SCORE = 4
SCORED = 100
# the service's own words: what a user of riskmon might build a password from
CONTEXT = (
    "riskmon",
    "console",
    "pingshan",
    "shenzhen",
    "subsidy",
    "butie",
    "analyst",
    "supervisor",
    "bureau",
    "fengxian",
    "jiance",
)


def weakness(password: str, name: str = "") -> str | None:
    """Why `password` is too easy to guess (zxcvbn's words), or None when it is not."""
    inputs = [*CONTEXT, *(part for part in _parts(name) if len(part) >= 3)]
    result = zxcvbn(password[:SCORED], user_inputs=inputs)
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "")
    hint = " ".join(str(s) for s in feedback.get("suggestions") or [])
    return warning or hint or "add more words or characters that are not a pattern"


def _parts(name: str) -> list[str]:
    """The user's name and its pieces (`ana-07` -> `ana-07`, `ana`, `07`)."""
    pieces = [name]
    for separator in ".-_":
        pieces = [p for piece in pieces for p in (piece, *piece.split(separator))]
    return sorted({p.lower() for p in pieces if p})
