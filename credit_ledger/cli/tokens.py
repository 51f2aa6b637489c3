"""`credit-ledger token`: create, list and revoke access tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from credit_ledger.cli.common import (
    app,
    console,
    err_console,
    fail,
    open_store,
)
from ledger.domain.errors import LedgerError
from ledger.domain.values import CST, SYSTEM_ACTOR

token_app = typer.Typer(
    help="Bearer tokens: create (printed once), list, revoke.", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: Annotated[
        str,
        typer.Option(
            help="admin, recorder, reader, auditor, platform, or federation (a downstream "
            "ledger; --name is its source name)"
        ),
    ],
    field: Annotated[
        list[str] | None, typer.Option("--field", help="a field the token may record in")
    ] = None,
    name: Annotated[str | None, typer.Option(help="who holds it, e.g. 市市场监管局执法科")] = None,
) -> None:
    """Create a token; the last line printed is the token itself, shown only this once."""
    ledger = open_store()
    try:
        issued = ledger.issue_token(role=role, fields=field or [], name=name, actor=SYSTEM_ACTOR)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    info = issued.info
    department = f" ({info.department})" if info.department else ""
    scope = f" fields {', '.join(info.fields)}{department}" if info.fields else ""
    err_console.print(
        f"created {info.token_id}: {info.role}{scope} — {escape(info.name)}. "
        "Store the token now; only its hash is kept."
    )
    typer.echo(issued.secret)


@token_app.command("list")
def token_list() -> None:
    """List every token (never the secret), with whether it is revoked."""
    ledger = open_store()
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
    ledger = open_store()
    try:
        changed = ledger.revoke_token(token_id, actor=SYSTEM_ACTOR)
    except LedgerError as exc:
        raise fail(f"{exc.field or 'input'}: {exc.message}") from None
    finally:
        ledger.close()
    console.print(f"{token_id} revoked" if changed else f"{token_id} was already revoked")
