"""Reading commands: an explained evaluation, and how a subject's result came to be."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from credit_ledger.cli.common import (
    app,
    console,
    date_option,
    fail,
    instant_option,
    open_store,
)
from ledger.domain.errors import LedgerError
from ledger.domain.rules.grade import Evaluation
from ledger.domain.values import CST


def evaluation_json(ev: Evaluation) -> dict[str, Any]:
    """The evaluation exactly as the API answers it (its response model, one JSON shape)."""
    # The HTTP schemas (pydantic) are imported by the commands that print one, not at startup.
    from api.schemas import EvaluationOut

    answer: dict[str, Any] = EvaluationOut.of(ev).model_dump(mode="json")
    return answer


def print_evaluation(ev: Evaluation) -> None:
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
    ledger = open_store()
    try:
        ev = ledger.evaluate(
            uscc,
            as_of=date_option(as_of, "--as-of"),
            known_at=instant_option(known_at, "--known-at"),
        )
        # A natural person is shown masked, as in every output (DOMAIN §9).
        ev = replace(ev, name=ledger.identities.shown(ev.name))
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    if as_json:
        typer.echo(orjson.dumps(evaluation_json(ev), option=orjson.OPT_INDENT_2).decode())
    else:
        print_evaluation(ev)


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

    ledger = open_store()
    try:
        steps = list(
            replay_subject(
                ledger,
                uscc,
                until=instant_option(until, "--until"),
                as_of=date_option(as_of, "--as-of"),
            )
        )
        steps = [replace(s, summary=ledger.identities.shown(s.summary)) for s in steps]
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
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
