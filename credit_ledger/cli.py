"""The `credit-ledger` command line: demo data, explained evaluations, and the HTTP service."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.schemas import EvaluationOut
from credit_ledger.bootstrap import open_ledger, store_env
from credit_ledger.parallel import default_workers, tune_for_batch_work
from credit_ledger.settings import get_settings
from ledger.dates import parse_date, parse_instant
from ledger.errors import InvalidInput, LedgerError
from ledger.rules import Evaluation
from ledger.store.stores import StoreURLError, store_fault
from ledger.values import CST, SYSTEM_ACTOR

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


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value, name)
    except InvalidInput as refused:
        raise _fail(refused.message) from None


def _parse_instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value, name)
    except InvalidInput as refused:
        raise _fail(refused.message) from None


def evaluation_json(ev: Evaluation) -> dict[str, Any]:
    """The evaluation exactly as the API answers it (its response model, one JSON shape)."""
    answer: dict[str, Any] = EvaluationOut.of(ev).model_dump(mode="json")
    return answer


def _print_evaluation(ev: Evaluation) -> None:
    console.print(f"[bold]{escape(ev.name)}[/]  {ev.uscc}")
    console.print(
        f"as of {ev.as_of.isoformat()} (valid date, CST), known at "
        f"{ev.known_at.astimezone(CST).isoformat(timespec='seconds')}; model {ev.model}"
    )
    console.print(
        f"score [bold]{ev.score}[/]  grade [bold]{ev.grade}[/] ({ev.grade_en})"
        + (f"  — score alone would grade {ev.score_grade}" if ev.listed else "")
    )
    if ev.contributions:
        table = Table(title="contributions (facts counting at this date)")
        for col in (
            "indicator",
            "points",
            "decided on",
            "counts until",
            "domain / document",
            "flags",
        ):
            table.add_column(col, overflow="fold")
        for c in ev.contributions:
            flags = ", ".join(
                f
                for f, on in (("under objection", c.under_objection), ("corrected", c.corrected))
                if on
            )
            table.add_row(
                c.indicator,
                str(c.points),
                c.decided_on.isoformat(),
                c.counts_until.isoformat() if c.counts_until else "until ended",
                escape(f"{c.domain} {c.document_no}"),
                flags,
            )
        console.print(table)
    else:
        console.print("no fact counts at this date: base score")
    if ev.listings:
        table = Table(title="active listings")
        for col in ("list", "listed on", "authority", "document"):
            table.add_column(col, overflow="fold")
        for li in ev.listings:
            table.add_row(
                li.list_type, li.listed_on.isoformat(), escape(li.authority), escape(li.document_no)
            )
        console.print(table)
    if ev.excluded:
        table = Table(title="recorded but not counted at this date")
        table.add_column("indicator", overflow="fold")
        table.add_column("why", overflow="fold")
        for x in ev.excluded:
            table.add_row(x.indicator, escape(x.reason))
        console.print(table)
    for note in ev.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(f"[dim]{ev.notice}[/]")


@app.command()
def evaluate(
    uscc: Annotated[str, typer.Argument(help="unified social credit code of the subject")],
    as_of: Annotated[
        str | None, typer.Option(help="valid date YYYY-MM-DD (default today, CST)")
    ] = None,
    known_at: Annotated[
        str | None, typer.Option(help="record-time instant with offset (default now)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
) -> None:
    """Print the explained evaluation of a subject at a valid date, as known at a record time."""
    ledger = _open()
    try:
        ev = ledger.evaluate(
            uscc,
            as_of=_parse_date(as_of, "--as-of"),
            known_at=_parse_instant(known_at, "--known-at"),
        )
    except LedgerError as exc:
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    if as_json:
        typer.echo(orjson.dumps(evaluation_json(ev), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_evaluation(ev)


@app.command()
def demo(
    subjects: Annotated[int, typer.Option(min=1, max=100_000, help="how many subjects")] = 300,
    seed: Annotated[
        int, typer.Option(help="random seed: the same seed gives the same data")
    ] = 2021,
) -> None:
    """Load realistic synthetic history (2019 to today) into the configured, empty store."""
    from credit_ledger.demo import SimulatedClock, load, plan

    today = datetime.now(CST).date()
    clock = SimulatedClock(datetime(2019, 1, 1, tzinfo=UTC))
    ledger = _open(clock=clock)
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
        console.print("Try: credit-ledger evaluate <USCC> --as-of 2023-10-31")
    finally:
        ledger.close()


token_app = typer.Typer(
    help="Bearer tokens: create (printed once), list, revoke.", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, recorder, reader, auditor or platform")],
    field: Annotated[
        list[str] | None, typer.Option("--field", help="a field the token may record in")
    ] = None,
    name: Annotated[str | None, typer.Option(help="who holds it, e.g. 市市场监管局执法科")] = None,
) -> None:
    """Create a token; the last line printed is the token itself, shown only this once."""
    ledger = _open()
    try:
        issued = ledger.issue_token(role=role, fields=field or [], name=name, actor=SYSTEM_ACTOR)
    except LedgerError as exc:
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    info = issued.info
    scope = f" fields {', '.join(info.fields)} ({info.department})" if info.fields else ""
    err_console.print(
        f"created {info.token_id}: {info.role}{scope} — {escape(info.name)}. "
        "Store the token now; only its hash is kept."
    )
    typer.echo(issued.secret)


@token_app.command("list")
def token_list() -> None:
    """List every token (never the secret), with whether it is revoked."""
    ledger = _open()
    try:
        infos = ledger.tokens()
    finally:
        ledger.close()
    table = Table(title="tokens")
    for col in ("id", "role", "fields", "department", "name", "issued", "state"):
        table.add_column(col, overflow="fold")
    for t in infos:
        table.add_row(
            t.token_id,
            t.role,
            ", ".join(t.fields),
            t.department or "",
            escape(t.name),
            t.issued_at.astimezone(CST).isoformat(timespec="seconds"),
            "revoked" if t.revoked else "active",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="the token's id, e.g. tok_1a2b3c4d5e")],
) -> None:
    """Revoke a token: it stops working at once."""
    ledger = _open()
    try:
        changed = ledger.revoke_token(token_id, actor=SYSTEM_ACTOR)
    except LedgerError as exc:
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    console.print(f"{token_id} revoked" if changed else f"{token_id} was already revoked")


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
) -> None:
    """Import commands through the domain rules in large batches; idempotent and resumable.

    By default one process per core (one per 8 MiB of file for small files), each applying the
    lines of its partition of the subjects in file order; resume with the same number of workers
    to continue where it stopped.
    """
    import time

    from credit_ledger.bulk import import_file
    from credit_ledger.parallel import import_partitioned

    if not file.exists():
        raise _fail(f"FILE: {file} does not exist")
    target = rejects or file.with_name(file.name + ".rejects.ndjson")
    tune_for_batch_work()
    ledger = _open()
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

            processes = _processes(workers, most=max(1, size // IMPORT_BYTES_PER_WORKER))
            if processes > 1:
                report = import_partitioned(
                    get_settings().database_url,
                    file,
                    rejects=target,
                    workers=processes,
                    batch_lines=batch,
                    keep_record_time=keep_record_time,
                    progress=show,
                )
            else:
                report = import_file(
                    ledger,
                    file,
                    rejects=target,
                    batch_lines=batch,
                    keep_record_time=keep_record_time,
                    progress=show,
                )
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
    ledger = _open()
    backoff = Backoff(poll, settings.projector_backoff_seconds)
    try:
        projector = Projector(ledger)
        while True:
            try:
                applied = projector.run_once()
            except ProjectionFailed as failed:
                for failure in failed.failures.values():
                    err_console.print(f"[bold red]failing:[/] {failure.describe()}")
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


def _bar(label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err_console,
    )


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

    By default one process per core, each rebuilding a partition of the subjects.
    """
    import time

    from credit_ledger.parallel import rebuild_partitioned
    from projections.models import READ_MODELS
    from projections.runner import Projector

    names = [projection] if projection else list(READ_MODELS)
    for name in names:
        if name not in READ_MODELS:
            raise _fail(f"projection: '{name}' is not one of {', '.join(READ_MODELS)}")
    tune_for_batch_work()
    ledger = _open()
    processes = _processes(workers)
    try:
        projector = Projector(ledger)
        for name in names:
            started = time.monotonic()
            with _bar(f"rebuild {name}") as bar:
                task = bar.add_task(name, total=ledger.max_position(), rate="")

                def show(
                    done: int, total: int, task: Any = task, bar: Any = bar, t0: float = started
                ) -> None:
                    rate = done / max(time.monotonic() - t0, 1e-6)
                    bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} events/s")

                if processes > 1:
                    table = rebuild_partitioned(
                        get_settings().database_url,
                        name,
                        workers=processes,
                        batch=batch,
                        progress=show,
                    )
                else:
                    table = projector.rebuild(name, batch=batch, progress=show)
            console.print(f"{name}: rebuilt into {table} and switched in")
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
    from replay.tools import verify as run_verify

    anchor = None
    if expect_head:
        position, _, link = expect_head.partition(":")
        if not position.isdigit() or len(link) != 64:
            raise _fail("--expect-head: give POSITION:LINK as printed by an earlier verify")
        anchor = (int(position), link)
    ledger = _open()
    audit = open_audit(get_settings().database_url)
    try:
        total = sample or sum(1 for _ in ledger.subject_registrations())
        with _bar("verify") as bar:
            task = bar.add_task("verify", total=total, rate="")
            report = run_verify(
                ledger,
                audit,
                sample=sample,
                anchor=anchor,
                progress=lambda _k, n: bar.advance(task, n),
            )
    finally:
        ledger.close()
        audit.close()
    problems = list(report.problems)
    for chain in report.chains:
        console.print(
            f"chain {chain.table}: {chain.events} events, head {chain.head_position}:{chain.head}"
        )
    console.print(f"checked {report.checked}")
    if problems:
        for problem in problems:
            err_console.print(f"[bold red]DIFFERENCE[/] {problem}")
        raise typer.Exit(1)
    console.print("[bold green]verified[/]: no stored event changed; read models match a replay")


@app.command()
def replay(
    uscc: Annotated[str, typer.Argument(help="the subject's credit code")],
    until: Annotated[str | None, typer.Option(help="stop after this record instant")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="evaluate this valid date after each event")
    ] = None,
) -> None:
    """Every event of a subject in order with the score and grade after it (the audit trail)."""
    from replay.tools import replay_subject

    ledger = _open()
    try:
        steps = list(
            replay_subject(
                ledger,
                uscc,
                until=_parse_instant(until, "--until"),
                as_of=_parse_date(as_of, "--as-of"),
            )
        )
    except LedgerError as exc:
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    table = Table(title=f"replay of {uscc}" + (f" for valid date {as_of}" if as_of else ""))
    for col in ("pos", "recorded (CST)", "event", "details", "as of", "score", "grade"):
        table.add_column(col, overflow="fold")
    for step in steps:
        ev = step.evaluation
        table.add_row(
            str(step.position),
            step.recorded_at.astimezone(CST).isoformat(timespec="seconds"),
            step.topic.removeprefix("credit.").removesuffix(".v1"),
            escape(step.summary),
            ev.as_of.isoformat(),
            str(ev.score),
            ev.grade,
        )
    console.print(table)


@app.command()
def draw(
    field: Annotated[str, typer.Argument(help="the supervision field, e.g. food")],
    as_of: Annotated[str, typer.Option(help="the valid date of the draw (YYYY-MM-DD)")],
    seed: Annotated[str | None, typer.Option(help="a public seed (generated when absent)")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="print the selection as CSV")] = False,
) -> None:
    """Make and record a double-random draw for a field; print the selection."""
    ledger = _open()
    try:
        day = _parse_date(as_of, "--as-of")
        assert day is not None
        recorded, _ = ledger.make_draw(field=field, as_of=day, seed=seed, actor=SYSTEM_ACTOR)
    except LedgerError as exc:
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
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
        raise _fail(f"draw_id: '{draw_id}' is not a draw id") from None
    ledger = _open()
    try:
        problems = ledger.verify_draw(wanted)
    except LedgerError as exc:
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    for problem in problems:
        err_console.print(f"[bold red]DIFFERENCE[/] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print(f"draw {draw_id} verified: the seed and the ledger give the same selection")


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
    ledger = _open()
    try:
        processes = _processes(
            workers, most=max(1, ledger.max_position() // ANNUAL_EVENTS_PER_WORKER)
        )
        total = sum(1 for _ in ledger.subject_registrations())
        with _bar(f"evaluate {year}") as bar:
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
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    console.print(f"{year}: {count} subjects materialised")
    _print_summary(summary)


@evaluations_app.command("check")
def evaluations_check(year: Annotated[int, typer.Option(help="the evaluation year")]) -> None:
    """Prove the materialised year equals a fresh computation (exit 1 naming differences)."""
    from projections.annual import AnnualResults

    ledger = _open()
    try:
        problems = AnnualResults(ledger).check(year)
    finally:
        ledger.close()
    for problem in problems:
        err_console.print(f"[bold red]DIFFERENCE[/] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print(f"{year}: the materialised results equal a fresh computation")


@evaluations_app.command("show")
def evaluations_show(year: Annotated[int, typer.Option(help="the evaluation year")]) -> None:
    """Counts per grade, as published and as restated now."""
    from projections.annual import AnnualResults

    ledger = _open()
    try:
        summary = AnnualResults(ledger).summary(year)
    except LedgerError as exc:
        raise _fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    _print_summary(summary)


def _print_summary(summary: Any) -> None:
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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Start the HTTP service on the configured store."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "credit_ledger.bootstrap:service",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,  # the service logs each request itself, as JSON
    )


def _processes(workers: int | None, *, most: int | None = None) -> int:
    """The processes asked for, or by default one per core (at most `most`)."""
    # An in-memory SQLite store exists only inside its process: workers would each get their own.
    if store_env(get_settings().database_url).get("SQLITE_DBNAME") == ":memory:":
        if workers and workers > 1:
            raise _fail("--workers: an in-memory store cannot be shared between processes")
        return 1
    return workers or min(default_workers(), most or default_workers())


#: By default an import starts one process per this many bytes of file (up to one per core):
#: starting a worker costs about a second, which a file of a few thousand lines never repays
#: (10 000 lines on SQLite: 1.2 s in one process, 2.0 s in two; 60 000 lines: 5.2 s and 4.1 s).
IMPORT_BYTES_PER_WORKER = 8 * 1024 * 1024
#: Likewise, the annual build starts one process per this many events in the ledger.
ANNUAL_EVENTS_PER_WORKER = 100_000


def _open(**kwargs: Any) -> Any:
    try:
        return open_ledger(get_settings().database_url, **kwargs)
    except StoreURLError as exc:
        raise _fail(f"CREDIT_LEDGER_DATABASE_URL: {exc}") from None


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
