"""Read-model shapes become the same tables and writes they always were (no rebuild needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.models import READ_MODELS
from projections.store import tables
from projections.store.tables import Column, Shape


class Recording:
    """A cursor that keeps the statements it is given."""

    def __init__(self) -> None:
        self.statements: list[tuple[Any, ...]] = []

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.statements.append((statement, tuple(params)))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.statements.append((statement, [tuple(r) for r in rows]))

    def write_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Any], on_conflict: str = ""
    ) -> None:
        self.statements.append((table, tuple(columns), list(rows), on_conflict))

    def delete_in(self, table: str, column: str, values: Sequence[Any]) -> None:
        if values:
            self.statements.append(("DELETE", table, column, list(values)))


def _created(name: str) -> list[tuple[Any, ...]]:
    cur = Recording()
    READ_MODELS[name].create(cur, '"s"."t_g1"')  # type: ignore[arg-type]
    return cur.statements


def test_current_grades_table() -> None:
    assert _created("current_grades") == [
        (
            'CREATE TABLE IF NOT EXISTS "s"."t_g1" ('
            "uscc TEXT PRIMARY KEY, subject_id TEXT NOT NULL, name TEXT NOT NULL, "
            "kind TEXT NOT NULL, fields TEXT NOT NULL, score TEXT NOT NULL, grade TEXT NOT NULL, "
            "grade_en TEXT NOT NULL, listed INTEGER NOT NULL, model TEXT NOT NULL, "
            "as_of TEXT NOT NULL, valid_until TEXT, last_position BIGINT NOT NULL)",
            (),
        )
    ]


def test_feed_table() -> None:
    assert _created("feed") == [
        (
            'CREATE TABLE IF NOT EXISTS "s"."t_g1" ('
            "position BIGINT PRIMARY KEY, uscc TEXT NOT NULL, subject_id TEXT NOT NULL, "
            "kind TEXT NOT NULL, field TEXT, detail TEXT, "
            "topic TEXT NOT NULL, recorded_at TEXT NOT NULL, as_of TEXT NOT NULL, "
            "score TEXT NOT NULL, grade TEXT NOT NULL, grade_en TEXT NOT NULL, "
            "listed INTEGER NOT NULL, previous_score TEXT, previous_grade TEXT, valid_until TEXT)",
            (),
        )
    ]


def test_supervision_table_and_its_index() -> None:
    assert _created("supervision") == [
        (
            'CREATE TABLE IF NOT EXISTS "s"."t_g1" ('
            "field TEXT NOT NULL, uscc TEXT NOT NULL, subject_id TEXT NOT NULL, "
            "name TEXT NOT NULL, tier TEXT NOT NULL, grade TEXT NOT NULL, basis TEXT NOT NULL, "
            "public_grade TEXT NOT NULL, industry_grade TEXT, listed INTEGER NOT NULL, "
            "ratio TEXT NOT NULL, max_per_year INTEGER NOT NULL, as_of TEXT NOT NULL, "
            "last_position BIGINT NOT NULL, PRIMARY KEY (field, uscc))",
            (),
        ),
        ('CREATE INDEX IF NOT EXISTS "t_g1_subject" ON "s"."t_g1" (subject_id)', ()),
    ]


SHAPE = Shape((Column("k"), Column("a", "integer"), Column("b", optional=True)), key=("k",))


def test_upsert_replaces_every_column_but_the_key() -> None:
    cur = Recording()
    tables.upsert(cur, "T", SHAPE, [("x", 1, None)])  # type: ignore[arg-type]
    assert cur.statements == [
        (
            "T",
            ("k", "a", "b"),
            [("x", 1, None)],
            "ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b",
        )
    ]


def test_insert_new_keeps_a_stored_key() -> None:
    cur = Recording()
    tables.insert_new(cur, "T", SHAPE, [("x", 1, None)])  # type: ignore[arg-type]
    assert cur.statements == [
        ("T", ("k", "a", "b"), [("x", 1, None)], "ON CONFLICT (k) DO NOTHING")
    ]


def test_replace_rows_deletes_the_subjects_then_writes() -> None:
    cur = Recording()
    tables.replace_rows(cur, "T", SHAPE, "k", ["x", "y"], [("x", 1, None)])  # type: ignore[arg-type]
    assert cur.statements == [
        ("DELETE", "T", "k", ["x", "y"]),
        ("T", ("k", "a", "b"), [("x", 1, None)], ""),
    ]
    nothing = Recording()
    tables.replace_rows(nothing, "T", SHAPE, "k", [], [])  # type: ignore[arg-type]
    assert nothing.statements == [("T", ("k", "a", "b"), [], "")]
