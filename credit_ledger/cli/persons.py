"""Natural persons' commands: find a person's ref by identity number, erase an identity."""

from __future__ import annotations

from typing import Annotated

import typer

from credit_ledger.cli.common import app, console, fail, open_store
from ledger.domain.errors import LedgerError
from ledger.domain.values import SYSTEM_ACTOR


@app.command()
def lookup() -> None:
    """Print the ref of a natural person; the identity number is read from standard input
    (never an argument, which shell histories and process lists keep)."""
    number = typer.prompt("identity number", hide_input=True, err=True)
    ledger = open_store()
    try:
        ref = ledger.lookup_person(number)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    typer.echo(ref)


@app.command()
def erase(
    ref: Annotated[str, typer.Argument(help="the person's ref")],
    reason: Annotated[str, typer.Option(help="the lawful reason, kept in the erasure event")],
) -> None:
    """Erase a natural person's identity by destroying its data key (crypto-shredding): the
    events stay, grades and history read `[erased]` for the identity."""
    ledger = open_store()
    try:
        written = ledger.erase_person(ref, reason=reason, actor=SYSTEM_ACTOR)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    state = "erased" if written.created else "already erased (data key destroyed again)"
    console.print(f"{ref}: {state}, position {written.position}")
