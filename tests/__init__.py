"""Tests of credit-ledger: unit (domain, in memory), integration (both stores), api (HTTP)."""
