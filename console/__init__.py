"""The analyst console: triage, verdicts, audit, and the decision API (`riskmon console`)."""
