"""Ledgers, reconciliation and the bureau's reports, from the same events the detectors see.

The store (SQLAlchemy: SQLite by default, PostgreSQL by URL) holds decisions, alerts and the
two ledgers the notice asks for, the sales ledger (销售台账) and the subsidy-fund ledger
(补贴资金使用明细台账); reports and reconciliation read it with pandas. Nothing here is
imported by `detectors/` or `schemas/`: the store is a runtime concern.
"""
