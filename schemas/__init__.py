"""The wire contract (events.md), the programme rules and pseudonymisation: pure data code."""
