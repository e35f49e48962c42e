"""The wire contract (docs/contract.md), the programme rules, pseudonymisation: pure data code."""
