"""`credit-ledger evaluations`: build, check and show the annual 31-October results."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from credit_ledger.cli.common import (
    ANNUAL_EVENTS_PER_WORKER,
    app,
    console,
    err_console,
    fail,
    open_store,
    progress_bar,
    worker_count,
)
from credit_ledger.parallel import tune_for_batch_work
from credit_ledger.settings import get_settings
from ledger.domain.errors import LedgerError

evaluations_app = typer.Typer(help="Annual 31-October evaluations.", no_args_is_help=True)
app.add_typer(evaluations_app, name="evaluations")


@evaluations_app.command("build")
def evaluations_build(
    year: Annotated[int, typer.Option(help="the evaluation year")],
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="processes, each evaluating a partition of the subjects"),
    ] = None,
) -> None:
    """Materialise a year's published and restated results for fast listing.

    By default one process per core (one per 100 000 events for small ledgers); the year is
    stored in one transaction whatever the number.
    """
    from credit_ledger.parallel import annual_partitioned
    from projections.annual import AnnualResults

    tune_for_batch_work()
    ledger = open_store()
    try:
        processes = worker_count(
            workers, most=max(1, ledger.max_position() // ANNUAL_EVENTS_PER_WORKER)
        )
        total = sum(1 for _ in ledger.subject_registrations())
        with progress_bar(f"evaluate {year}") as bar:
            task = bar.add_task("year", total=total, rate="")
            if processes > 1:
                count = annual_partitioned(
                    get_settings().database_url,
                    year,
                    workers=processes,
                    progress=lambda n: bar.update(task, completed=n),
                )
                bar.update(task, completed=total)
            else:
                count = AnnualResults(ledger).build(year, progress=lambda n: bar.advance(task, n))
        summary = AnnualResults(ledger).summary(year)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    console.print(f"{year}: {count} subjects materialised")
    print_summary(summary)


@evaluations_app.command("check")
def evaluations_check(year: Annotated[int, typer.Option(help="the evaluation year")]) -> None:
    """Prove the materialised year equals a fresh computation (exit 1 naming differences)."""
    from projections.annual import AnnualResults

    ledger = open_store()
    try:
        problems = AnnualResults(ledger).check(year)
    finally:
        ledger.close()
    for problem in problems:
        err_console.print(f"[bold red]DIFFERENCE[/] {escape(problem)}")
    if problems:
        raise typer.Exit(1)
    console.print(f"{year}: the materialised results equal a fresh computation")


@evaluations_app.command("show")
def evaluations_show(year: Annotated[int, typer.Option(help="the evaluation year")]) -> None:
    """Counts per grade, as published and as restated now."""
    from projections.annual import AnnualResults

    ledger = open_store()
    try:
        summary = AnnualResults(ledger).summary(year)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    print_summary(summary)


def print_summary(summary: Any) -> None:
    table = Table(title=f"{summary.year} evaluation (31 October) — {summary.source}")
    table.add_column("")
    for grade in summary.published:
        table.add_column(grade, justify="right")
    table.add_row("published", *(str(v) for v in summary.published.values()))
    table.add_row("restated", *(str(v) for v in summary.restated.values()))
    console.print(table)
    console.print(
        f"grade changed since publication: {summary.changed}; entered: {summary.entered}; "
        f"left: {summary.left}"
    )
