"""The annual results' tables: each materialised year's rows and what they were computed from."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from ledger.domain.errors import Conflict
from projections.store import Hold, ReadStore

log = logging.getLogger(__name__)

RESULTS = "annual_results"
BUILDS = "annual_builds"
#: A result row's columns, in the order `AnnualTables.stage` takes its values.
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
        #: The year locks of this process's builds, by staging table (`begin_year`).
        self._locks: dict[str, Hold] = {}
        with store.transaction(schema_lock=True) as cur:
            cur.execute(_results_table(self.results))
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.builds} ("
                "year INTEGER PRIMARY KEY, known_at TEXT NOT NULL, position BIGINT NOT NULL)"
            )

    def begin_year(self, year: int) -> str:
        """A new staging table for a year's rows; `stage` fills it, `finish_year` swaps it in.

        A build writes its rows a chunk at a time into the staging table rather than holding
        the year in memory, so its memory stays flat in the number of subjects; readers see
        the year's rows of the last finished build until the swap commits.

        The build holds the year's lock until `finish_year` or `drop_staging`: a second build
        of the year meanwhile is refused (`Conflict`), and the lock ends with a build's process
        however it ends. So a staging table of the year found here, with the lock held, was
        left by a build that was killed before it could drop it; it is dropped now.
        """
        lock = self.store.hold(f"{RESULTS}_{year}")
        if lock is None:
            raise Conflict(
                f"another build of {year} is running (it holds the year's lock); "
                "this one stops, changing nothing: try again when that build ends",
                field="year",
                rule="one build of a year at a time",
            )
        try:
            staging = f"{RESULTS}_{year}_build_{uuid4().hex[:12]}"
            with self.store.transaction(schema_lock=True) as cur:
                for left in self.store.dialect.tables_with_prefix(cur, f"{RESULTS}_{year}_build_"):
                    cur.execute(f"DROP TABLE {self.store.table(left)}")
                    log.warning("dropped %s, left by a build of %s that did not finish", left, year)
                cur.execute(_results_table(self.store.table(staging)))
        except BaseException:
            lock.release()
            raise
        self._locks[staging] = lock
        return staging

    def stage(self, staging: str, rows: Sequence[Sequence[Any]]) -> None:
        """Write rows into a staging table; a subject's later row replaces its earlier one
        (a pass may give a subject twice, and the later result holds)."""
        if not rows:
            return
        with self.store.transaction() as cur:
            cur.write_rows(self.store.table(staging), RESULT_COLUMNS, rows, on_conflict=_LATER)

    def finish_year(self, year: int, staging: str, known_at: str, position: int) -> int:
        """Replace a year's rows with the staging table's and record the record time and
        position they came from, in one transaction; returns the number of rows."""
        names = ", ".join(RESULT_COLUMNS)
        with self.store.transaction() as cur:
            cur.execute(f"DELETE FROM {self.results} WHERE year = %s", (year,))
            cur.execute(
                f"INSERT INTO {self.results} ({names}) SELECT {names} "
                f"FROM {self.store.table(staging)} WHERE year = %s",
                (year,),
            )
            count = cur.rowcount
            cur.execute(f"DELETE FROM {self.builds} WHERE year = %s", (year,))
            cur.execute(
                f"INSERT INTO {self.builds} VALUES (%s, %s, %s)", (year, known_at, position)
            )
            cur.execute(f"DROP TABLE {self.store.table(staging)}")
        self._release(staging)
        return count

    def drop_staging(self, staging: str) -> None:
        """Drop a staging table whose build failed (its year's rows stay as they were), and
        let its year's lock go; nothing for a build already finished."""
        try:
            with self.store.transaction() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {self.store.table(staging)}")
        finally:
            self._release(staging)

    def _release(self, staging: str) -> None:
        lock = self._locks.pop(staging, None)
        if lock is not None:
            lock.release()

    def build_info(self, year: int) -> dict[str, Any] | None:
        """A year's build (`known_at`, `position`), if materialised."""
        with self.store.transaction(write=False) as cur:
            cur.execute(f"SELECT known_at, position FROM {self.builds} WHERE year = %s", (year,))
            return cur.fetchone()

    def grade_counts(self, year: int) -> Counter[tuple[str | None, str | None]]:
        """How many subjects of a year have each (published, restated) pair of grades."""
        with self.store.transaction(write=False) as cur:
            cur.execute(
                "SELECT published_grade AS p, restated_grade AS r, COUNT(*) AS n "
                f"FROM {self.results} WHERE year = %s GROUP BY published_grade, restated_grade",
                (year,),
            )
            return Counter({(row["p"], row["r"]): int(row["n"]) for row in cur.fetchall()})

    def grades_of(
        self, year: int, subject_ids: Sequence[str]
    ) -> Counter[tuple[str | None, str | None]]:
        """The same counts over some subjects of the year only (by stream id)."""
        found: Counter[tuple[str | None, str | None]] = Counter()
        with self.store.transaction(write=False) as cur:
            for start in range(0, len(subject_ids), 500):
                chunk = subject_ids[start : start + 500]
                marks = ", ".join(["%s"] * len(chunk))
                cur.execute(
                    "SELECT published_grade AS p, restated_grade AS r "
                    f"FROM {self.results} WHERE year = %s AND subject_id IN ({marks})",
                    (year, *chunk),
                )
                found.update((row["p"], row["r"]) for row in cur.fetchall())
        return found

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


def _results_table(name: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {name} ("
        "year INTEGER NOT NULL, uscc TEXT NOT NULL, subject_id TEXT NOT NULL, "
        "published_score TEXT, published_grade TEXT, published_listed INTEGER, "
        "restated_score TEXT, restated_grade TEXT, restated_listed INTEGER, "
        "PRIMARY KEY (year, uscc))"
    )


#: A staged subject's later row replaces its earlier one.
_LATER = "ON CONFLICT (year, uscc) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in RESULT_COLUMNS if c not in ("year", "uscc")
)
