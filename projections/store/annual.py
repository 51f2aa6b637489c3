"""The annual results' tables: each materialised year's rows and what they were computed from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.store import ReadStore

RESULTS = "annual_results"
BUILDS = "annual_builds"
#: A result row's columns, in the order `AnnualTables.replace_year` takes its values.
RESULT_COLUMNS = (
    "year",
    "uscc",
    "subject_id",
    "published_score",
    "published_grade",
    "published_listed",
    "restated_score",
    "restated_grade",
    "restated_listed",
)


class AnnualTables:
    """The materialised years in the read store; each method is one transaction."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store
        self.results = store.table(RESULTS)
        self.builds = store.table(BUILDS)
        with store.transaction(schema_lock=True) as cur:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.results} ("
                "year INTEGER NOT NULL, uscc TEXT NOT NULL, subject_id TEXT NOT NULL, "
                "published_score TEXT, published_grade TEXT, published_listed INTEGER, "
                "restated_score TEXT, restated_grade TEXT, restated_listed INTEGER, "
                "PRIMARY KEY (year, uscc))"
            )
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.builds} ("
                "year INTEGER PRIMARY KEY, known_at TEXT NOT NULL, position BIGINT NOT NULL)"
            )

    def replace_year(
        self, year: int, rows: Sequence[Sequence[Any]], known_at: str, position: int
    ) -> None:
        """Replace a year's rows and record the record time and position they came from."""
        with self.store.transaction() as cur:
            cur.execute(f"DELETE FROM {self.results} WHERE year = %s", (year,))
            cur.write_rows(self.results, RESULT_COLUMNS, rows)
            cur.execute(f"DELETE FROM {self.builds} WHERE year = %s", (year,))
            cur.execute(
                f"INSERT INTO {self.builds} VALUES (%s, %s, %s)", (year, known_at, position)
            )

    def build_info(self, year: int) -> dict[str, Any] | None:
        """A year's build (`known_at`, `position`), if materialised."""
        with self.store.transaction(write=False) as cur:
            cur.execute(f"SELECT known_at, position FROM {self.builds} WHERE year = %s", (year,))
            return cur.fetchone()

    def built_years(self) -> list[int]:
        """The materialised years, in order."""
        with self.store.transaction(write=False) as cur:
            cur.execute(f"SELECT year FROM {self.builds} ORDER BY year")
            return [int(r["year"]) for r in cur.fetchall()]

    def rows(self, year: int) -> list[dict[str, Any]]:
        """A year's rows in credit-code order."""
        with self.store.transaction(write=False) as cur:
            cur.execute(f"SELECT * FROM {self.results} WHERE year = %s ORDER BY uscc", (year,))
            return cur.fetchall()
