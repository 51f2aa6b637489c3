"""Double-random draws from the command line: draw a field's inspections, verify a draw."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from credit_ledger.cli.common import (
    app,
    console,
    date_option,
    err_console,
    fail,
    open_store,
)
from ledger.domain.errors import LedgerError
from ledger.domain.values import SYSTEM_ACTOR


@app.command()
def draw(
    field: Annotated[str, typer.Argument(help="the supervision field, e.g. food")],
    as_of: Annotated[str, typer.Option(help="the valid date of the draw (YYYY-MM-DD)")],
    seed: Annotated[str | None, typer.Option(help="a public seed (generated when absent)")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="print the selection as CSV")] = False,
) -> None:
    """Make and record a double-random draw for a field; print the selection."""
    ledger = open_store()
    try:
        day = date_option(as_of, "--as-of")
        assert day is not None
        recorded, _ = ledger.make_draw(field=field, as_of=day, seed=seed, actor=SYSTEM_ACTOR)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    if csv:
        typer.echo("uscc,grade,tier,inspectors")
        for s in recorded.selected:
            typer.echo(f"{s['uscc']},{s['grade']},{s['tier']},{' '.join(s['inspectors'])}")
        return
    console.print(
        f"draw {recorded.id}: field {field} as of {as_of}, seed [bold]{escape(recorded.seed)}[/], "
        f"population digest {recorded.population_digest}"
    )
    strata = ", ".join(f"{k}: {v[1]} of {v[0]}" for k, v in sorted(recorded.strata.items()))
    console.print(f"drawn per grade — {strata}")
    table = Table(title="selection")
    for col in ("uscc", "grade", "tier", "inspectors"):
        table.add_column(col)
    for s in recorded.selected:
        table.add_row(s["uscc"], s["grade"], s["tier"], escape(", ".join(s["inspectors"])))
    console.print(table)


@app.command("verify-draw")
def verify_draw(draw_id: Annotated[str, typer.Argument(help="the draw's id")]) -> None:
    """Recompute a recorded draw from the ledger and its seed; exit 1 if it does not match."""
    from uuid import UUID

    try:
        wanted = UUID(draw_id)
    except ValueError:
        raise fail(f"draw_id: '{draw_id}' is not a draw id") from None
    ledger = open_store()
    try:
        problems = ledger.verify_draw(wanted)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    for problem in problems:
        err_console.print(f"[bold red]DIFFERENCE[/] {escape(problem)}")
    if problems:
        raise typer.Exit(1)
    console.print(f"draw {draw_id} verified: the seed and the ledger give the same selection")
