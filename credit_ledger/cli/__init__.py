"""The `credit-ledger` command line: one module per command group, on one Typer app.

Importing the groups registers their commands; `main` is the console script's entry point.
"""

# Imported in the order `--help` lists the groups (each registers its commands on import).
from credit_ledger.cli import reading

# isort: split
from credit_ledger.cli import data

# isort: split
from credit_ledger.cli import tokens

# isort: split
from credit_ledger.cli import operations

# isort: split
from credit_ledger.cli import persons

# isort: split
from credit_ledger.cli import draws

# isort: split
from credit_ledger.cli import annual

# isort: split
from credit_ledger.cli import models

# isort: split
from credit_ledger.cli import federation

# isort: split
from credit_ledger.cli import exchange

# isort: split
from credit_ledger.cli.common import (
    ANNUAL_EVENTS_PER_WORKER,
    EXIT_STORE_FAULT,
    IMPORT_BYTES_PER_WORKER,
    app,
    main,
)
from credit_ledger.cli.reading import evaluation_json

__all__ = [
    "ANNUAL_EVENTS_PER_WORKER",
    "EXIT_STORE_FAULT",
    "IMPORT_BYTES_PER_WORKER",
    "annual",
    "app",
    "data",
    "draws",
    "evaluation_json",
    "exchange",
    "federation",
    "main",
    "models",
    "operations",
    "persons",
    "reading",
    "tokens",
]
