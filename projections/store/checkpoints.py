"""Bulk import checkpoints: how far each file got in this store, and its refused lines."""

from __future__ import annotations

from typing import Any

from ledger.service.application import CreditLedger
from projections.store import Cursor, ReadStore, unescape_text


class ImportCheckpoints:
    """How far each file got in this store (a table beside the events, keyed by the file),
    and the refusals of the lines it got past, stored in the checkpoint's transaction.

    So a resumed import rewrites its rejects file from the store (the refusals up to the
    checkpoint) and adds those of the lines it applies itself: each refusal of the whole file
    is listed once, whatever a killed run left in the file.
    """

    def __init__(self, ledger: CreditLedger) -> None:
        self.store = ReadStore(ledger)
        self.table = self.store.table("import_checkpoints")
        self.rejects = self.store.table("import_rejects")
        with self.store.transaction(schema_lock=True) as cur:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} "
                "(fingerprint TEXT PRIMARY KEY, line BIGINT NOT NULL)"
            )
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.rejects} (fingerprint TEXT NOT NULL, "
                "line BIGINT NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (fingerprint, line))"
            )

    def get(self, fingerprint: str) -> int:
        with self.store.transaction(write=False) as cur:
            cur.execute(f"SELECT line FROM {self.table} WHERE fingerprint = %s", (fingerprint,))
            row = cur.fetchone()
        return int(row["line"]) if row else 0

    def put(self, fingerprint: str, line: int, refused: list[tuple[int, bytes]]) -> None:
        """Record that the file got to `line`, with the refusals of the lines since the last."""
        with self.store.transaction() as cur:
            self._put(cur, fingerprint, line, refused)

    def put_on(
        self, raw: Any, fingerprint: str, line: int, refused: list[tuple[int, bytes]]
    ) -> None:
        """`put`, on a transaction of the store's the caller holds open (a bulk import's batch:
        the checkpoint commits with the events it covers)."""
        self._put(Cursor(raw, self.store.dialect), fingerprint, line, refused)

    def _put(
        self, cur: Cursor, fingerprint: str, line: int, refused: list[tuple[int, bytes]]
    ) -> None:
        cur.execute(
            f"INSERT INTO {self.table} (fingerprint, line) VALUES (%s, %s) "
            "ON CONFLICT (fingerprint) DO UPDATE SET line = excluded.line",
            (fingerprint, line),
        )
        cur.executemany(
            f"INSERT INTO {self.rejects} (fingerprint, line, entry) "
            "VALUES (%s, %s, %s) "
            "ON CONFLICT (fingerprint, line) DO UPDATE SET entry = excluded.entry",
            [(fingerprint, number, entry.decode()) for number, entry in refused],
        )

    def refused(self, fingerprint: str, upto: int) -> list[bytes]:
        """The stored refusals of the lines up to `upto`, in line order."""
        with self.store.transaction(write=False) as cur:
            cur.execute(
                f"SELECT entry FROM {self.rejects} "
                "WHERE fingerprint = %s AND line <= %s ORDER BY line",
                (fingerprint, upto),
            )
            # The read store escapes text it binds (backslashes doubled): read back the original.
            return [unescape_text(str(row["entry"])).encode() for row in cur.fetchall()]

    def forget_refusals(self, fingerprint: str) -> None:
        """A fresh run of the file: refusals stored by an earlier one no longer count."""
        with self.store.transaction() as cur:
            cur.execute(f"DELETE FROM {self.rejects} WHERE fingerprint = %s", (fingerprint,))
