"""The command line's shared parts: the Typer app, consoles, argument parsing, opening the store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from credit_ledger.bootstrap import open_ledger, store_env
from credit_ledger.parallel import default_workers
from credit_ledger.settings import get_settings
from ledger.domain.dates import parse_date, parse_instant
from ledger.domain.errors import InvalidInput
from ledger.service.ciphers import CipherError
from ledger.service.identity import IdentityUnavailable
from ledger.store.stores import StoreURLError, process_local, store_fault

app = typer.Typer(
    help="credit-ledger: an event-sourced public credit ledger for city credit platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
if not console.is_terminal:
    # Piped output (logs, CI) would otherwise wrap every table at 80 columns.
    console.width = 120
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def date_option(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value, name)
    except InvalidInput as refused:
        raise fail(refused.message) from None


def instant_option(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value, name)
    except InvalidInput as refused:
        raise fail(refused.message) from None


def progress_bar(label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err_console,
    )


def worker_count(workers: int | None, *, most: int | None = None) -> int:
    """The processes asked for, or by default one per core (at most `most`)."""
    # An in-memory SQLite store exists only inside its process: workers would each get their own.
    if process_local(store_env(get_settings().database_url)):
        if workers and workers > 1:
            raise fail("--workers: an in-memory store cannot be shared between processes")
        return 1
    return workers or min(default_workers(), most or default_workers())


#: By default an import starts one process per this many bytes of file (up to one per core):
#: starting a worker costs about a second, which a file of a few thousand lines never repays
#: (10 000 lines on SQLite: 1.2 s in one process, 2.0 s in two; 60 000 lines: 5.2 s and 4.1 s).
IMPORT_BYTES_PER_WORKER = 8 * 1024 * 1024
#: Likewise, the annual build starts one process per this many events in the ledger.
ANNUAL_EVENTS_PER_WORKER = 100_000
#: And a rebuild: each worker costs a process start and shares the cores with the database,
#: so below this many events per worker one process finishes first. On PostgreSQL, 2 cores
#: (3 December): 18 000 events, 2.2-2.7 s in one process and 2.4-2.6 s in two; 32 000,
#: 3.2-3.9 s and 2.7-3.6 s; 64 000, 6.5 s and 4.7-5.2 s. (Before the one-pass rebuild,
#: 32 000 events took 4.2 s in one process and 7.8 s in two, and this was 100 000.)
REBUILD_EVENTS_PER_WORKER = 30_000


def open_store(**kwargs: Any) -> Any:
    try:
        return open_ledger(get_settings().database_url, **kwargs)
    except StoreURLError as exc:
        raise fail(f"CREDIT_LEDGER_DATABASE_URL: {exc}") from None
    except (IdentityUnavailable, CipherError) as exc:
        raise fail(str(exc)) from None


#: The exit status of a command the store could not serve (sysexits' EX_TEMPFAIL: try again).
EXIT_STORE_FAULT = 75


def main() -> None:
    """Console-script entry point: a store that cannot be reached or is out of space is one
    clear line and exit status 75, never a traceback."""
    try:
        app()
    except Exception as exc:
        fault = store_fault(exc)
        if fault is None:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(fault))}")
        raise SystemExit(EXIT_STORE_FAULT) from None
