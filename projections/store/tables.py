"""Reads and row upkeep on the read-model tables: pages, worklists, lapsed grades, whole tables.

Tables are passed as the quoted names `ReadStore.table` gives; `key` is a read model's
ordering (`ReadModel.key`). Each function runs on the caller's cursor and transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.store import Cursor


def page_after(cur: Cursor, table: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` rows after a ledger position, oldest first (the feed)."""
    cur.execute(
        f"SELECT * FROM {table} WHERE position > %s ORDER BY position LIMIT %s",
        (after, limit),
    )
    return cur.fetchall()


def tier_counts(cur: Cursor, table: str, field: str) -> dict[str, int]:
    """How many subjects of a field each supervision tier holds."""
    cur.execute(
        f"SELECT tier, COUNT(*) AS n FROM {table} WHERE field = %s GROUP BY tier",
        (field,),
    )
    return {r["tier"]: int(r["n"]) for r in cur.fetchall()}


def worklist_rows(
    cur: Cursor,
    table: str,
    field: str,
    *,
    tier: str | None,
    grade: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A field's supervision rows in credit-code order, after a code, of a tier and grade."""
    where, params = ["field = %s"], [field]
    if tier is not None:
        where.append("tier = %s")
        params.append(tier)
    if grade is not None:
        where.append("grade = %s")
        params.append(grade)
    if after is not None:
        where.append("uscc > %s")
        params.append(after)
    cur.execute(
        f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY uscc LIMIT %s",
        (*params, limit),
    )
    return cur.fetchall()


def lapsed(cur: Cursor, table: str, today: str) -> list[dict[str, Any]]:
    """The subjects (`subject_id`, `last_position`) whose grade may have lapsed by `today`."""
    cur.execute(
        f"SELECT subject_id, last_position FROM {table} "
        "WHERE valid_until IS NOT NULL AND valid_until <= %s",
        (today,),
    )
    return cur.fetchall()


def delete_unchanged(cur: Cursor, table: str, uscc: str, last_position: int) -> bool:
    """Delete a subject's row if no batch moved it past `last_position`; whether it did."""
    cur.execute(
        f"DELETE FROM {table} WHERE uscc = %s AND last_position = %s",
        (uscc, last_position),
    )
    return cur.rowcount == 1


def rows_of_subjects(
    cur: Cursor, table: str, key: str, subject_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of these subjects, in key order."""
    marks = ", ".join(["%s"] * len(subject_ids))
    cur.execute(
        f"SELECT * FROM {table} WHERE subject_id IN ({marks}) ORDER BY {key}",
        tuple(subject_ids),
    )
    return cur.fetchall()


def every_row(cur: Cursor, table: str, key: str) -> list[dict[str, Any]]:
    """Every row of a table, in key order."""
    cur.execute(f"SELECT * FROM {table} ORDER BY {key}")
    return cur.fetchall()


#: The kinds of value a read-model column holds, and how each backend declares them.
KINDS = {"text": "TEXT", "integer": "INTEGER", "position": "BIGINT"}


@dataclass(frozen=True)
class Column:
    """One column of a read-model table: its name, its kind (see `KINDS`), whether it may be
    empty (NULL)."""

    name: str
    kind: str = "text"
    optional: bool = False


@dataclass(frozen=True)
class Shape:
    """A read-model table: its columns in row order, its key, and its indexes (each named by
    a suffix to the table's name, on one column)."""

    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in the order rows give their values."""
        return tuple(c.name for c in self.columns)


def create(cur: Cursor, table: str, shape: Shape) -> None:
    """Create the table and its indexes where missing."""
    single_key = len(shape.key) == 1
    parts = []
    for column in shape.columns:
        declared = f"{column.name} {KINDS[column.kind]}"
        if single_key and column.name == shape.key[0]:
            declared += " PRIMARY KEY"
        elif not column.optional:
            declared += " NOT NULL"
        parts.append(declared)
    if not single_key:
        parts.append(f"PRIMARY KEY ({', '.join(shape.key)})")
    cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(parts)})")
    for suffix, column_name in shape.indexes:
        index = table.rsplit(".", 1)[-1].strip('"') + "_" + suffix
        cur.execute(f'CREATE INDEX IF NOT EXISTS "{index}" ON {table} ({column_name})')


def upsert(cur: Cursor, table: str, shape: Shape, rows: Sequence[Sequence[Any]]) -> None:
    """Write rows, replacing every other column of a row whose key is stored already."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in shape.names if c not in shape.key)
    conflict = f"ON CONFLICT ({', '.join(shape.key)}) DO UPDATE SET {updates}"
    cur.write_rows(table, shape.names, rows, conflict)


def insert_new(cur: Cursor, table: str, shape: Shape, rows: Sequence[Sequence[Any]]) -> None:
    """Write rows whose key is not stored yet; a stored one stays as it is."""
    conflict = f"ON CONFLICT ({', '.join(shape.key)}) DO NOTHING"
    cur.write_rows(table, shape.names, rows, conflict)


def replace_rows(
    cur: Cursor,
    table: str,
    shape: Shape,
    column: str,
    values: Sequence[Any],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Delete every row whose `column` holds one of `values`, then write `rows`."""
    cur.delete_in(table, column, values)
    cur.write_rows(table, shape.names, rows)
