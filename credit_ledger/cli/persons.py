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
    ref: Annotated[str | None, typer.Argument(help="the person's ref")] = None,
    reason: Annotated[
        str | None, typer.Option(help="the lawful reason, kept in the erasure event")
    ] = None,
    due: Annotated[
        bool, typer.Option("--due", help="erase every person whose retention period ended")
    ] = False,
) -> None:
    r"""Erase a natural person's identity by destroying its data key (crypto-shredding): the
    events stay, grades and history read `\[erased]` for the identity. `--due` erases those
    whose retention period (the model's `natural_persons.retention`) has ended (from cron)."""
    if due == (ref is not None) or (ref is not None and not reason):
        raise fail("give a REF and --reason, or --due")
    ledger = open_store()
    try:
        targets = ledger.persons_due_for_erasure(ledger.today()) if due else [(ref, reason)]
        for code, why in targets:
            written = ledger.erase_person(code, reason=why, actor=SYSTEM_ACTOR)
            state = "erased" if written.created else "already erased (data key destroyed again)"
            console.print(f"{code}: {state}, position {written.position}")
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    if due:
        console.print(f"{len(targets)} identities past their retention period erased")
