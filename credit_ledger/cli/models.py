"""`credit-ledger models`: list, show, validate, dry-run and publish model and policy versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from credit_ledger.cli.common import app, console, err_console, fail, open_store
from ledger.domain.commands import PublishVersion
from ledger.domain.errors import LedgerError
from ledger.domain.rulebook import Version
from ledger.domain.rules.versions import KINDS
from ledger.domain.values import CST, SYSTEM_ACTOR

models_app = typer.Typer(
    help="Evaluation models, supervision and repair policies: versions known, publication.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")

Kind = Annotated[str, typer.Option(help="model, supervision or repair")]


def _refused(exc: LedgerError) -> typer.Exit:
    rule = f" (rule: {exc.rule})" if exc.rule else ""
    return fail(f"{exc.message}{rule}")


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: {exc}") from None


def _known(version: Version) -> str:
    if version.known_from is None:
        return "genesis (always known)"
    return version.known_from.astimezone(CST).isoformat(timespec="seconds")


@models_app.command("list")
def models_list(
    kind: Annotated[str | None, typer.Option(help="only this kind")] = None,
) -> None:
    """Every version known, by kind, with when it became known and whether it is in force today."""
    ledger = open_store()
    try:
        book = ledger.rulebook(fresh=True)
        today = ledger.today()
        table = Table("kind", "version", "effective from", "known from", "position", "by", "")
        for k in [kind] if kind else KINDS:
            if k not in KINDS:
                raise fail(f"--kind: '{k}' is not one of {', '.join(KINDS)}")
            versions = book.versions(k)
            registry: Any = {
                "model": lambda: book.models_at().in_force(today).model,
                "supervision": lambda: book.policies_at().in_force(today),
                "repair": lambda: book.repairs_at().in_force(today),
            }[k]()
            for v in versions:
                table.add_row(
                    k,
                    v.version,
                    v.effective_from.isoformat(),
                    _known(v),
                    str(v.position or ""),
                    escape(v.published_by or ""),
                    "in force today" if v.value is registry else "",
                )
        console.print(table)
    finally:
        ledger.close()


@models_app.command("show")
def models_show(
    version: Annotated[str, typer.Argument(help="the version name, e.g. PCCE-2021")],
    kind: Kind = "model",
) -> None:
    """Print a version's file as known to the ledger, after a line saying when it was known."""
    ledger = open_store()
    try:
        found = [v for v in ledger.rulebook(fresh=True).versions(kind) if v.version == version]
    finally:
        ledger.close()
    if not found:
        raise fail(f"no {kind} version '{version}' (see: credit-ledger models list)")
    v = found[-1]
    err_console.print(
        f"{kind} {v.version}: in force from {v.effective_from.isoformat()}, known {_known(v)}"
        + (f", sha256 {v.digest}" if v.digest else "")
    )
    typer.echo(v.source or "(given in code, no file)")


@models_app.command("validate")
def models_validate(
    file: Annotated[Path, typer.Argument(help="the TOML file of the version")],
    kind: Kind = "model",
) -> None:
    """Check a file as publication would (exit 2 naming the line and the rule); writes nothing."""
    source = _read(file)
    ledger = open_store()
    try:
        candidate = ledger.candidate(kind, source)
    except LedgerError as exc:
        raise _refused(exc) from None
    finally:
        ledger.close()
    console.print(
        f"{file}: valid {kind} version {candidate.version}, "
        f"in force from {candidate.effective_from.isoformat()}"
    )


def dry_run_json(run: Any) -> dict[str, Any]:
    """A dry run as plain data (the command line's --json)."""
    return {
        "kind": run.kind,
        "version": run.version,
        "effective_from": run.effective_from.isoformat(),
        "known_at": run.known_at.isoformat(),
        "subjects": run.subjects,
        "scopes": {
            scope: [
                {"from": before, "to": after, "count": n}
                for (before, after), n in sorted(
                    run.counts[scope].items(), key=lambda item: (str(item[0][0]), str(item[0][1]))
                )
            ]
            for scope in run.scopes
        },
        "changes": [
            {
                "scope": s.scope,
                "uscc": s.uscc,
                "as_of": s.as_of.isoformat(),
                "from": s.before,
                "to": s.after,
                "score_from": s.score_before,
                "score_to": s.score_after,
            }
            for s in run.shifts
        ],
    }


@models_app.command("dry-run")
def models_dry_run(
    file: Annotated[Path, typer.Argument(help="the TOML file of the version")],
    kind: Kind = "model",
    year: Annotated[
        list[int] | None,
        typer.Option("--year", help="restatements to compare (default: every materialised year)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Which subjects' grades the version would change if published now: today's, and each
    year's restatement, as counts per grade transition and a list. Writes nothing."""
    from projections.dry_run import dry_run

    source = _read(file)
    ledger = open_store()
    try:
        run = dry_run(ledger, ledger.candidate(kind, source), years=year)
    except LedgerError as exc:
        raise _refused(exc) from None
    finally:
        ledger.close()
    data = dry_run_json(run)
    if as_json:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    console.print(
        f"{kind} {run.version} (in force from {run.effective_from.isoformat()}), "
        f"{run.subjects} subjects:"
    )
    table = Table("scope", "from", "to", "subjects")
    for scope, rows in data["scopes"].items():
        if not rows:
            table.add_row(scope, "", "", "no change")
        for row in rows:
            table.add_row(scope, row["from"] or "—", row["to"] or "—", str(row["count"]))
    console.print(table)
    for change in data["changes"]:
        console.print(
            f"  {change['scope']:>7}  {change['uscc']}  {change['from']} → {change['to']}  "
            f"({change['score_from']} → {change['score_to']})"
        )


@models_app.command("publish")
def models_publish(
    file: Annotated[Path, typer.Argument(help="the TOML file of the version")],
    reason: Annotated[str, typer.Option(help="why it is published, e.g. the decision number")],
    kind: Kind = "model",
) -> None:
    """Validate and publish a version (as the ledger's admin tooling); the same file again is a
    no-op. Its record time is now: results published before it never change."""
    source = _read(file)
    ledger = open_store()
    try:
        written = ledger.handle(
            PublishVersion(kind=kind, source=source, actor=SYSTEM_ACTOR, reason=reason)
        )
    except LedgerError as exc:
        raise _refused(exc) from None
    finally:
        ledger.close()
    if written.created:
        console.print(f"published {kind} {written.status} at position {written.position}")
    else:
        console.print(f"{kind} {written.status} is already published with this file")
