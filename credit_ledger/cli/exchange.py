"""`credit-ledger exchange`: delivery batches as files, for networks without a link (GB/T 39443)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from credit_ledger.cli.common import app, console, err_console, fail, open_store, progress_bar
from credit_ledger.settings import get_settings
from ledger.domain.errors import LedgerError
from ledger.domain.exchange import BatchMismatch

exchange_app = typer.Typer(
    help="Exchange batches as files (NDJSON with a manifest of counts and SM3/SHA-256 digests) "
    "for networks without a link between a ledger and its upstream.",
    no_args_is_help=True,
)
app.add_typer(exchange_app, name="exchange")


@exchange_app.command("export")
def exchange_export(
    out: Annotated[Path, typer.Option("--out", help="the batch's directory (new or empty)")],
    after: Annotated[
        int, typer.Option(min=0, help="deliver records stored after this local position")
    ] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many deliveries")] = None,
    source: Annotated[
        str | None,
        typer.Option(help="this ledger's name in the batch (default CREDIT_LEDGER_LEDGER_NAME)"),
    ] = None,
) -> None:
    """Write this ledger's deliveries after a position as a batch for its upstream to import."""
    from ledger.service.exchange import export_batch

    name = source if source is not None else get_settings().ledger_name
    ledger = open_store()
    try:
        with progress_bar("export") as bar:
            task = bar.add_task("export", total=None, rate="")

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, rate=f"position {done}")

            manifest = export_batch(
                ledger, out, source=name, after=after, limit=limit, progress=show
            )
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    span = (
        f"positions {manifest.first_position}–{manifest.last_position}"
        if manifest.total
        else "no deliveries"
    )
    console.print(
        f"{escape(str(out))}: {manifest.total} deliveries from {escape(manifest.source)} "
        f"({span}), covering up to position {manifest.upto}; sm3 {manifest.sm3}"
    )
    console.print(f"next batch: --after {manifest.upto}")


@exchange_app.command("import")
def exchange_import(
    directory: Annotated[
        Path, typer.Argument(help="a batch's directory (manifest.json beside it)")
    ],
) -> None:
    """Check a batch against its manifest (refused whole, writing nothing, if they differ), then
    decide its deliveries under this ledger's rules; importing it again adds nothing."""
    from ledger.service.exchange import import_batch

    ledger = open_store()
    try:
        with progress_bar("import") as bar:
            task = bar.add_task("import", total=None, rate="")

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, rate="deliveries")

            report = import_batch(ledger, directory, progress=show)
    except BatchMismatch as exc:
        err_console.print("[bold red]error:[/] exchange batch refused whole, nothing written:")
        for where, what in exc.problems:
            err_console.print(f"  {escape(where)}: {escape(what)}")
        raise typer.Exit(2) from None
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    console.print(
        f"{report.lines} deliveries from {escape(report.source)}: {report.accepted} accepted, "
        f"{report.unchanged} unchanged, {report.refused} refused"
        + (f" ({report.earlier} taken before, answered as then)" if report.earlier else "")
    )
    if report.refusals:
        table = Table("position", "command", "field", "reason")
        for refusal in report.refusals:
            table.add_row(
                str(refusal.get("position")),
                escape(str(refusal.get("command"))),
                escape(str(refusal.get("field") or "")),
                escape(str(refusal.get("reason") or "")),
            )
        console.print(table)
