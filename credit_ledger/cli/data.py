"""Data commands: the demo history, generated platform data, and the NDJSON import."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from credit_ledger.cli.common import (
    IMPORT_BYTES_PER_WORKER,
    app,
    console,
    err_console,
    fail,
    open_store,
    worker_count,
)
from credit_ledger.parallel import tune_for_batch_work
from credit_ledger.settings import get_settings
from ledger.domain.errors import LedgerError
from ledger.domain.values import CST


@app.command()
def demo(
    subjects: Annotated[int, typer.Option(min=1, max=100_000, help="how many subjects")] = 300,
    seed: Annotated[
        int, typer.Option(help="random seed: the same seed gives the same data")
    ] = 2021,
) -> None:
    """Load realistic synthetic history (2019 to today) into the configured, empty store."""
    from credit_ledger.demo import SimulatedClock, load, load_practitioners, plan

    today = datetime.now(CST).date()
    clock = SimulatedClock(datetime(2019, 1, 1, tzinfo=UTC))
    ledger = open_store(clock=clock)
    try:
        existing = ledger.max_position()
        if existing:
            console.print(
                f"The store already holds {existing} events; the demo loads only into an empty "
                "store, so nothing was written."
            )
            return
        actions, summary = plan(subjects, seed, today)
        refused = 0
        with Progress(
            TextColumn("[bold]loading demo history"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[day]}"),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("load", total=len(actions), day="")
            for action, refusal in load(ledger, clock, actions):
                if refusal is not None:
                    refused += 1
                progress.update(task, advance=1, day=action.at.astimezone(CST).date().isoformat())
        console.print(
            f"{summary.subjects} subjects, {len(actions) - refused} actions stored "
            f"({ledger.max_position()} events); {refused} actions refused by the rules."
        )
        for label, code in summary.samples.items():
            console.print(f"  {label:>13}: {code}")
        if ledger.identities.vault is not None and ledger.identities.secret is not None:
            refs = load_practitioners(ledger, seed)
            console.print(f"{len(refs)} practitioners (natural persons, identities sealed):")
            console.print(f"  {'practitioner':>13}: {refs[0]}")
        else:
            console.print(
                "Practitioners (natural persons) were left out: set CREDIT_LEDGER_MASTER_KEY "
                "and CREDIT_LEDGER_PERSON_SECRET to include them."
            )
        console.print("Try: credit-ledger evaluate <USCC> --as-of 2023-10-31")
    finally:
        ledger.close()


@app.command()
def generate(
    subjects: Annotated[int, typer.Option(min=1, help="how many subjects")],
    out: Annotated[Path, typer.Option(help="the NDJSON file to write")],
    seed: Annotated[int, typer.Option(help="the same seed gives the same file")] = 2021,
) -> None:
    """Write a realistic platform history (2019 to today) as NDJSON, streaming."""
    from credit_ledger.bulk import generate as write_history

    today = datetime.now(CST).date()
    with out.open("wb") as fh:
        lines, _ = write_history(subjects, seed, fh, today)
    err_console.print(f"{lines} commands for {subjects} subjects written to {out}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="an NDJSON file from `generate` or a platform")],
    rejects: Annotated[
        Path | None, typer.Option(help="where refused lines go (default FILE.rejects.ndjson)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="lines per transaction")] = 5000,
    keep_record_time: Annotated[
        bool,
        typer.Option(help="record each line at its own `at` (migrating history into a new ledger)"),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="processes, each applying the lines of a partition of subjects"),
    ] = None,
    path: Annotated[
        str,
        typer.Option(
            "--path",
            help="bulk: decide on folded states, write rows by COPY/executemany; "
            "command: through the command path's batches (the same events, slower)",
        ),
    ] = "bulk",
) -> None:
    """Import commands through the domain rules in large batches; idempotent and resumable.

    By default one process per core (one per 8 MiB of file for small files), each applying the
    lines of its partition of the subjects in file order; resume with the same number of workers
    to continue where it stopped.
    """
    import time

    from credit_ledger.bulk import PATHS, import_file
    from credit_ledger.parallel import import_partitioned

    if not file.exists():
        raise fail(f"FILE: {file} does not exist")
    if path not in PATHS:
        raise fail(f"--path: {path!r} is not one of {', '.join(PATHS)}")
    target = rejects or file.with_name(file.name + ".rejects.ndjson")
    tune_for_batch_work()
    ledger = open_store()
    started = time.monotonic()
    try:
        with Progress(
            TextColumn("[bold]import"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=err_console,
        ) as bar:
            size = file.stat().st_size
            task = bar.add_task("import", total=size, rate="")

            def show(done: int, total: int, events: int) -> None:
                rate = events / max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} events/s")

            processes = worker_count(workers, most=max(1, size // IMPORT_BYTES_PER_WORKER))
            if processes > 1:
                report = import_partitioned(
                    get_settings().database_url,
                    file,
                    rejects=target,
                    workers=processes,
                    batch_lines=batch,
                    keep_record_time=keep_record_time,
                    progress=show,
                    via=path,
                )
            else:
                report = import_file(
                    ledger,
                    file,
                    rejects=target,
                    batch_lines=batch,
                    keep_record_time=keep_record_time,
                    progress=show,
                    via=path,
                )
    except LedgerError as exc:
        # What stops a whole import (a batch another writer kept overtaking): named, resumable.
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    elapsed = time.monotonic() - started
    console.print(
        f"{report.lines} lines: {report.applied} applied, {report.unchanged} already present, "
        f"{report.rejected} rejected; {report.events} events appended in {elapsed:.1f} s"
        + (f" (resumed after line {report.resumed_from})" if report.resumed_from else "")
    )
    if report.rejected:
        console.print(f"rejected lines (with line number and reason): {target}")
