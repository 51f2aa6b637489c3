"""Wiring of the credit ledger: settings, store selection, the command line and the demo data."""
