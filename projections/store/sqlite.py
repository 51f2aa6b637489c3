"""The read store on SQLite: `?` placeholders, plain table names, one writer at a time."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from projections.store import Cursor


class SQLiteDialect:
    """What the read store does differently on an SQLite file."""

    embedded = True

    def __init__(self, recorder: Any) -> None:
        pool = recorder.datastore.pool
        self._path: str = pool.db_name
        self._memory: bool = pool.is_sqlite_memory_mode
        self._owner = id(recorder.datastore)  # one database in memory, whichever store reads it

    def sql(self, statement: str) -> str:
        """`%s` placeholders as SQLite's `?`."""
        return statement.replace("%s", "?")

    def table(self, name: str) -> str:
        """A table of the file's one schema."""
        return f'"{name}"'

    def begin(self, raw: Any, *, schema_lock: bool, lock_wait: float | None) -> None:
        """Nothing: one writer holds the file's lock (waiting the store's lock timeout)."""

    def exists(self, cur: Cursor, name: str) -> bool:
        """Whether the file holds the table."""
        cur.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=%s", (name,))
        return cur.fetchone() is not None

    def write_rows(
        self, cur: Cursor, table: str, names: str, rows: Sequence[Sequence[Any]], on_conflict: str
    ) -> None:
        """One prepared INSERT for all rows (in process, a row costs no round trip)."""
        marks = ", ".join(["%s"] * len(rows[0]))
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}", rows)

    def delete_in(self, cur: Cursor, table: str, column: str, values: Sequence[Any]) -> None:
        """One prepared DELETE for all values (in process, a value costs no round trip)."""
        cur.executemany(f"DELETE FROM {table} WHERE {column} = %s", [(v,) for v in values])

    def rowcount(self, raw: Any) -> int:
        """The wrapped sqlite3 cursor's count."""
        return int(getattr(raw, "sqlite_cursor", raw).rowcount)

    def hold(self, key: str) -> _FileLock | _HeldInProcess | None:
        """An exclusive `flock` on a file beside the database (`<file>.<key>.lock`).

        The operating system drops it when the holder's process ends, however it ends. The
        lock file itself stays (removing it could let two holders lock two different files).
        A database in memory belongs to one process, so there a lock in the process will do.
        """
        if self._memory:
            return _HeldInProcess.take((self._owner, key))
        fd = os.open(f"{self._path}.{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return _FileLock(fd)

    def tables_with_prefix(self, cur: Cursor, prefix: str) -> list[str]:
        """The file's tables whose names start with `prefix`."""
        cur.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND substr(name, 1, length(%s)) = %s ORDER BY name",
            (prefix, prefix),
        )
        return [str(row["name"]) for row in cur.fetchall()]


class _FileLock:
    """A held `flock`: closing its file releases it."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        """Close the file, and with it the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _HeldInProcess:
    """A lock for a database in memory: the keys this process holds."""

    _held: ClassVar[set[tuple[int, str]]] = set()
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: tuple[int, str]) -> None:
        self._key: tuple[int, str] | None = key

    @classmethod
    def take(cls, key: tuple[int, str]) -> _HeldInProcess | None:
        """The lock of `key`, or None while it is held."""
        with cls._guard:
            if key in cls._held:
                return None
            cls._held.add(key)
        return cls(key)

    def release(self) -> None:
        """Let the key go."""
        with self._guard:
            if self._key is not None:
                self._held.discard(self._key)
                self._key = None
