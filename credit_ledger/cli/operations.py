"""Operator commands: keep read models caught up, rebuild them, verify the store, serve HTTP."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from credit_ledger.cli.common import (
    REBUILD_EVENTS_PER_WORKER,
    app,
    console,
    err_console,
    fail,
    open_store,
    progress_bar,
    worker_count,
)
from credit_ledger.parallel import tune_for_batch_work
from credit_ledger.serving import serve_workers
from credit_ledger.settings import get_settings


@app.command()
def project(
    once: Annotated[bool, typer.Option("--once", help="catch up, then exit")] = False,
    poll: Annotated[float, typer.Option(min=0.05, help="seconds between polls")] = 0.5,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="serve this worker's Prometheus metrics (its failure counter) on this port",
        ),
    ] = None,
) -> None:
    """Keep the read models caught up with the log (the worker process for PostgreSQL).

    A read model that cannot be brought up to date is retried after a wait that doubles from
    `--poll` up to CREDIT_LEDGER_PROJECTOR_BACKOFF_SECONDS; the failure is stored, so `serve`'s
    /readyz names it. With `--once` a failure exits 1, naming the read model and the error.
    """
    import time

    from prometheus_client import start_http_server

    from api.observability import configure_logging
    from projections import health
    from projections.health import Backoff, ProjectionFailed
    from projections.runner import Projector

    settings = get_settings()
    configure_logging(settings.log_level)  # the worker logs failures as `serve` does, as JSON
    if metrics_port is not None:
        start_http_server(metrics_port, addr=settings.host, registry=health.REGISTRY)
    tune_for_batch_work()
    ledger = open_store()
    backoff = Backoff(poll, settings.projector_backoff_seconds)
    try:
        projector = Projector(ledger)
        while True:
            try:
                applied = projector.run_once()
            except ProjectionFailed as failed:
                for failure in failed.failures.values():
                    err_console.print(f"[bold red]failing:[/] {escape(failure.describe())}")
                if once:
                    raise typer.Exit(1) from None
                wait = backoff.failed()
                err_console.print(f"retrying in {wait:g} s")
                time.sleep(wait)
                continue
            backoff.succeeded()
            if applied:
                err_console.print(f"applied {applied}; lag {projector.lag()}")
            if once:
                break
            time.sleep(poll)
    except KeyboardInterrupt:
        pass
    finally:
        ledger.close()


@app.command()
def rebuild(
    projection: Annotated[
        str | None, typer.Argument(help="current_grades, feed or supervision (default: all)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="events per transaction")] = 5000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="processes, each rebuilding a partition of the subjects"),
    ] = None,
) -> None:
    """Rebuild read models from position 0 beside the live ones, resumably; switch in at the end.

    Every read model named (all by default, and then the materialised annual years as well)
    is fed from one read of the log. By default one process per core (one per 100 000 events
    for small ledgers), each rebuilding a partition of the subjects.
    """
    import time

    from credit_ledger.parallel import rebuild_partitioned
    from ledger.domain.errors import LedgerError
    from projections.annual import AnnualResults
    from projections.health import ProjectionFailed
    from projections.models import READ_MODELS
    from projections.runner import Projector

    names = [projection] if projection else list(READ_MODELS)
    for name in names:
        if name not in READ_MODELS:
            raise fail(f"projection: '{name}' is not one of {', '.join(READ_MODELS)}")
    tune_for_batch_work()
    ledger = open_store()
    processes = worker_count(
        workers, most=max(1, ledger.max_position() // REBUILD_EVENTS_PER_WORKER)
    )
    # With no name, the annual years already materialised are rebuilt from the same pass.
    years = [] if projection else AnnualResults(ledger).built_years()
    label = ", ".join([*names, *(f"annual {year}" for year in years)])
    try:
        started = time.monotonic()
        with progress_bar(f"rebuild {label}") as bar:
            task = bar.add_task(label, total=ledger.max_position(), rate="")

            def show(done: int, total: int) -> None:
                rate = done / max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} events/s")

            # Every read model named is fed from one pass of the log (of each partition), and
            # with no name the materialised annual years too.
            try:
                if processes > 1:
                    tables = rebuild_partitioned(
                        get_settings().database_url,
                        names,
                        workers=processes,
                        years=years,
                        batch=batch,
                        progress=show,
                    )
                else:
                    tables = Projector(ledger).rebuild_all(
                        names, years=years, batch=batch, progress=show
                    )
            except ProjectionFailed as failed:
                for failure in failed.failures.values():
                    err_console.print(f"[bold red]not rebuilt:[/] {escape(failure.describe())}")
                raise typer.Exit(1) from None
            except LedgerError as exc:  # a year's build already running
                raise fail(f"{exc.field or 'input'}: {exc.message}") from None
        for name, table in tables.items():
            console.print(f"{name}: rebuilt into {table} and switched in")
        for year in years:
            console.print(f"{year}: annual results materialised again")
    finally:
        ledger.close()


@app.command()
def verify(
    sample: Annotated[
        int | None, typer.Option(min=1, help="check read models for N random subjects only")
    ] = None,
    expect_head: Annotated[
        str | None,
        typer.Option(help="POSITION:LINK of the credit log recorded earlier (an external anchor)"),
    ] = None,
) -> None:
    """Prove the logs unchanged (hash chains) and the read models equal to a fresh replay."""
    from credit_ledger.bootstrap import open_audit
    from ledger.store.chain import stored_chain_hash
    from replay.tools import verify as run_verify

    anchor = None
    if expect_head:
        position, _, link = expect_head.partition(":")
        if not position.isdigit() or len(link) != 64:
            raise fail("--expect-head: give POSITION:LINK as printed by an earlier verify")
        anchor = (int(position), link)
    ledger = open_store()
    audit = open_audit(get_settings().database_url)
    try:
        total = sample or sum(1 for _ in ledger.subject_registrations())
        with progress_bar("verify") as bar:
            task = bar.add_task("verify", total=total, rate="")
            report = run_verify(
                ledger,
                audit,
                sample=sample,
                anchor=anchor,
                progress=lambda _k, n: bar.advance(task, n),
            )
        hashes = [stored_chain_hash(r) for r in (ledger.recorder, audit.recorder)]
    finally:
        ledger.close()
        audit.close()
    problems = list(report.problems)
    for chain, hash_name in zip(report.chains, hashes, strict=True):
        # SHA-256 is every store's unless created otherwise; another hash is named.
        named = "" if hash_name == "sha256" else f" ({hash_name.upper()})"
        console.print(
            f"chain {chain.table}: {chain.events} events, head {chain.head_position}:{chain.head}"
            + named
        )
    console.print(f"checked {report.checked}")
    if problems:
        for problem in problems:
            err_console.print(f"[bold red]DIFFERENCE[/] {escape(problem)}")
        raise typer.Exit(1)
    console.print("[bold green]verified[/]: no stored event changed; read models match a replay")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Start the HTTP service on the configured store."""
    import uvicorn

    settings = get_settings()
    # Opened once first, so a store that cannot be served (persons without their master key)
    # is refused here in one clear line, before any worker starts.
    open_store().close()
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # the service logs each request itself, as JSON
    }
    if workers > 1:
        # Each worker on its own socket, so connections spread over them (see `serving`).
        serve_workers(workers, **options)
        return
    uvicorn.run("credit_ledger.bootstrap:service", factory=True, **options)
