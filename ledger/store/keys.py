"""The data-key table: natural persons' wrapped data keys, kept apart from the events (DOMAIN §9).

A row is one person's data key as the key vault wrapped it, with the cipher it serves; it is
deleted to erase that person (crypto-shredding), the one deletion the ledger makes. A meta
table beside it keeps check values of the master key and the ledger secret, so a process with
another key is refused before it writes under it. Both are created with the first person.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from ledger.store.chain import SCHEMA_LOCK

KEYS_TABLE = "person_keys"
META_TABLE = "person_keys_meta"


class DataKeyTable:
    """Wrapped data keys by person ref, on the ledger's own store."""

    def __init__(self, app: Application[Any]) -> None:
        self.recorder: Any = app.recorder
        self.sqlite = isinstance(self.recorder, SQLiteApplicationRecorder)
        self._created = False

    def _sql(self, statement: str) -> str | Composed:
        """A statement on our tables: `{keys}` and `{meta}`, schema-qualified on PostgreSQL."""
        if self.sqlite:
            return statement.replace("{keys}", KEYS_TABLE).replace("{meta}", META_TABLE)
        schema = Identifier(self.recorder.datastore.schema)
        return SQL(statement.replace("?", "%s")).format(
            keys=SQL("{}.{}").format(schema, Identifier(KEYS_TABLE)),
            meta=SQL("{}.{}").format(schema, Identifier(META_TABLE)),
        )

    def exists(self) -> bool:
        """Whether the table was ever created (no person was ever registered otherwise)."""
        # Tables are never dropped: once seen, they are there for the life of the process.
        if self._created:
            return True
        with self.recorder.datastore.transaction(commit=False) as cur:
            if self.sqlite:
                cur.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (META_TABLE,))
                self._created = cur.fetchone() is not None
            else:
                cur.execute(
                    "SELECT to_regclass(%s) IS NOT NULL AS found",
                    (f'"{self.recorder.datastore.schema}"."{META_TABLE}"',),
                )
                row = cur.fetchone()
                self._created = bool(row and row["found"])
        return self._created

    def create(self) -> None:
        """Create both tables if missing."""
        if self.exists():
            return
        blob = "BLOB" if self.sqlite else "bytea"
        with self.recorder.datastore.transaction(commit=True) as cur:
            if not self.sqlite:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            cur.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {keys} (ref text PRIMARY KEY, "
                    f"cipher text NOT NULL, wrapped {blob} NOT NULL)"
                )
            )
            cur.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {meta} (name text PRIMARY KEY, value text NOT NULL)"
                )
            )
        self._created = True

    def meta(self) -> dict[str, str]:
        """The check values recorded (none before the first person)."""
        if not self.exists():
            return {}
        with self.recorder.datastore.transaction(commit=False) as cur:
            cur.execute(self._sql("SELECT name, value FROM {meta}"))
            return {str(r["name"]): str(r["value"]) for r in cur.fetchall()}

    def record_meta(self, values: dict[str, str]) -> dict[str, str]:
        """Record check values not yet recorded; answers all of them as stored."""
        self.create()
        with self.recorder.datastore.transaction(commit=True) as cur:
            for name, value in values.items():
                cur.execute(
                    self._sql("INSERT INTO {meta} VALUES (?, ?) ON CONFLICT (name) DO NOTHING"),
                    (name, value),
                )
        return self.meta()

    def get(self, refs: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        """The (cipher, wrapped key) of each of these persons still holding a key."""
        wanted = sorted(set(refs))
        if not wanted or not self.exists():
            return {}
        found: dict[str, tuple[str, bytes]] = {}
        with self.recorder.datastore.transaction(commit=False) as cur:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                if self.sqlite:
                    marks = ",".join("?" * len(chunk))
                    cur.execute(
                        f"SELECT ref, cipher, wrapped FROM {KEYS_TABLE} "  # noqa: S608
                        f"WHERE ref IN ({marks})",
                        chunk,
                    )
                else:
                    cur.execute(
                        self._sql("SELECT ref, cipher, wrapped FROM {keys} WHERE ref = ANY(?)"),
                        (chunk,),
                    )
                for row in cur.fetchall():
                    found[str(row["ref"])] = (str(row["cipher"]), bytes(row["wrapped"]))
        return found

    def add(self, ref: str, cipher: str, wrapped: bytes) -> tuple[str, bytes]:
        """Store a person's new key unless one is stored already; answers the one stored (a
        concurrent registration of the same person keeps the first key)."""
        self.create()
        with self.recorder.datastore.transaction(commit=True) as cur:
            cur.execute(
                self._sql("INSERT INTO {keys} VALUES (?, ?, ?) ON CONFLICT (ref) DO NOTHING"),
                (ref, cipher, wrapped),
            )
        return self.get([ref])[ref]

    def destroy(self, ref: str) -> None:
        """Delete a person's key for good: on SQLite the freed page is zeroed and the write-ahead
        log truncated, so no copy of the wrapped key stays in the files."""
        if not self.exists():
            return
        if self.sqlite:
            with self.recorder.datastore.transaction(commit=True) as cur:
                cur.execute("PRAGMA secure_delete = ON")
                cur.execute(f"DELETE FROM {KEYS_TABLE} WHERE ref = ?", (ref,))  # noqa: S608
            with self.recorder.datastore.transaction(commit=False) as cur:
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        with self.recorder.datastore.transaction(commit=True) as cur:
            cur.execute(self._sql("DELETE FROM {keys} WHERE ref = ?"), (ref,))
