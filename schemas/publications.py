"""Topic `rules` (an extension of contract v1.1): a programme rules version, published while the
monitor runs, and the event time from which it applies.

`riskmon rules publish FILE --effective T` validates the file and sends it; every worker takes
it into the decide stage's one sequence, and each order is decided under the version in force
at its event time (the latest whose `effective_from` is at or before it). The TOML travels
whole, so a replay given the same records takes the same timeline. Keyed by `version`; a
version is published once (a second record of the same version with other rules is refused).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Self

from pydantic import Field, TypeAdapter, model_validator

from schemas.common import Ident, SchemaVersion, Timestamp, WireModel
from schemas.rules import ProgrammeRules, RulesError, parse_rules

MAX_RULES_CHARS = 256 * 1024


class RulesPublication(WireModel):
    schema_version: SchemaVersion
    version: Ident
    effective_from: Timestamp
    published_at: Timestamp
    author: Ident
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    rules: Annotated[str, Field(min_length=1, max_length=MAX_RULES_CHARS)]

    @model_validator(mode="after")
    def _whole(self) -> Self:
        if hashlib.sha256(self.rules.encode()).hexdigest() != self.sha256:
            raise ValueError("sha256: does not match the rules text")
        try:
            parsed = parse_rules(self.rules, source=f"rules {self.version}")
        except RulesError as exc:
            raise ValueError(f"rules: {exc}") from None
        if parsed.version != self.version:
            raise ValueError(f"version: the rules text says {parsed.version!r}")
        return self

    def programme_rules(self) -> ProgrammeRules:
        return parse_rules(self.rules, source=f"rules {self.version}")


PUBLICATION_ADAPTER: TypeAdapter[RulesPublication] = TypeAdapter(RulesPublication)


def publication(
    text: str, *, effective_from: str, published_at: str, author: str
) -> dict[str, object]:
    """The record `riskmon rules publish` sends (validated by the caller through the model)."""
    version = parse_rules(text).version
    return {
        "schema_version": 1,
        "version": version,
        "effective_from": effective_from,
        "published_at": published_at,
        "author": author,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "rules": text,
    }
