"""Bulk platform data: a streaming NDJSON generator, and an importer through the domain rules.

One line is one ledger command: `{"at": RFC 3339, "command": "record_fact", "args": {…}}`.
The importer applies lines in large batches (one transaction each), rejects bad lines to a
rejects file with their line number and reason, and is idempotent (commands carry their ids
and document numbers), so re-running a file adds nothing and a killed import resumes. By default
a batch is decided on folded states in memory and written with its checkpoint in one
transaction (`ledger.service.lean`); `via="command"` takes the command path's batches instead.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, ClassVar
from uuid import UUID

import orjson
from eventsourcing.persistence import RecordConflictError

from credit_ledger.demo import DemoSummary, pool_actions, subject_actions
from ledger.domain.commands import COMMANDS, argument
from ledger.domain.errors import Conflict, InvalidInput, LedgerError
from ledger.domain.values import SYSTEM_ACTOR, Actor, Role, normalize_uscc, subject_id_for
from ledger.service.application import CreditLedger
from ledger.service.lean import LeanBatch
from ledger.store.stores import StatisticsKeeper, existing_streams
from projections.runner import partition_of
from projections.store.checkpoints import ImportCheckpoints

ACTORS = {"system": SYSTEM_ACTOR, "platform": Actor("system:platform", Role.PLATFORM)}


class BadLine(ValueError):
    """A line that cannot become a command (broken JSON, unknown command, wrong types)."""


def encode(at: datetime, command: str, kwargs: dict[str, Any]) -> bytes:
    """One NDJSON line for a command (the acting party by role; dates and ids as strings)."""
    args = {}
    for key, value in kwargs.items():
        if key == "actor":
            value = "platform" if value.role == Role.PLATFORM else "system"
        elif isinstance(value, date | UUID | Decimal):
            value = value.isoformat() if isinstance(value, date) else str(value)
        args[key] = value
    return orjson.dumps({"at": at.isoformat(), "command": command, "args": args}) + b"\n"


def decode(raw: bytes) -> tuple[datetime, str, dict[str, Any]]:
    """A line back into (record instant, command, keyword arguments), or BadLine saying why."""
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"broken JSON: {exc}") from None
    if not isinstance(line, dict) or not isinstance(line.get("args"), dict):
        raise BadLine("a line is an object with `at`, `command` and `args`")
    command = line.get("command")
    if command not in COMMANDS:
        raise BadLine(f"unknown command {command!r}")
    try:
        at = datetime.fromisoformat(str(line.get("at")))
    except ValueError:
        raise BadLine(f"`at` is not an RFC 3339 instant: {line.get('at')!r}") from None
    if at.tzinfo is None:
        raise BadLine("`at` needs a UTC offset")
    kwargs: dict[str, Any] = {}
    for key, value in line["args"].items():
        try:
            kwargs[key] = ACTORS[value] if key == "actor" else argument(key, value)
        except InvalidInput as refused:
            raise BadLine(refused.message) from None
        except (KeyError, TypeError):
            raise BadLine(f"args.{key}: {value!r} is not a valid {key}") from None
    kwargs.setdefault("actor", SYSTEM_ACTOR)
    return at, command, kwargs


def generate(subjects: int, seed: int, out: IO[bytes], today: date) -> tuple[int, DemoSummary]:
    """Write a realistic history for `subjects` subjects, one subject at a time (flat memory).

    Deterministic for a seed: the same arguments give the same bytes.
    """
    summary = DemoSummary(subjects=subjects)
    lines = 0
    for action in pool_actions(seed, today):
        out.write(encode(action.at, action.command, action.kwargs))
        lines += 1
    for n in range(subjects):
        for action in subject_actions(n, seed, today, summary):
            out.write(encode(action.at, action.command, action.kwargs))
            lines += 1
    return lines, summary


@dataclass
class ImportReport:
    """What an import did."""

    lines: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    events: int = 0
    resumed_from: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class _ReplayClock:
    """A record clock set from each line's `at`, never past the real present."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return min(self.now, datetime.now(UTC))


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    with path.open("rb") as fh:
        head = fh.read(65536)
    return hashlib.sha256(f"{stat.st_size}|".encode() + head).hexdigest()


def checkpoint_key(path: Path, part: int = 0, parts: int = 1) -> str:
    """Under which key the store keeps how far an import of this file (or partition) got."""
    fingerprint = _fingerprint(path)
    return fingerprint if parts == 1 else f"{fingerprint}#{part}/{parts}"


def has_checkpoint(ledger: CreditLedger, key: str) -> bool:
    """Whether an import under this key has stored a batch (a later run resumes it)."""
    return ImportCheckpoints(ledger).get(key) > 0


class PartitionRouter:
    """Which of `parts` importers owns each line: the one of the subject the line changes.

    A line naming a credit code belongs to that subject's partition (the rule of
    `projections.runner.partition_of`). Objection and repair decisions name only the item:
    the router remembers which partition filed each item earlier in the file, or asks the
    ledger (items filed by an earlier import). Anything else (inspector pools, lines too broken
    to tell) goes to partition 0, whose importer applies or rejects it.
    """

    FILED: ClassVar[dict[str, str]] = {"file_objection": "objection", "request_repair": "repair"}
    DECIDED: ClassVar[dict[str, str]] = {
        "resolve_objection": "objection",
        "decide_repair": "repair",
        "revoke_repair": "repair",
    }

    def __init__(self, ledger: CreditLedger, parts: int) -> None:
        self.ledger = ledger
        self.parts = parts
        # Grows with the objections and repairs of the file (a few per cent of its lines).
        self.items: dict[tuple[str, str], int] = {}

    def partition(self, raw: bytes) -> int:
        """The partition that applies this line (every importer must see every line, in order)."""
        try:
            line = orjson.loads(raw)
            args = line["args"]
            command = line["command"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return 0
        if not isinstance(args, dict):
            return 0
        code = args.get("uscc")
        if isinstance(code, str):
            try:
                part = self._of_code(normalize_uscc(code))
            except LedgerError:
                return 0
            kind = self.FILED.get(command)
            item = args.get(f"{kind}_id") if kind else None
            if kind and isinstance(item, str):
                self.items[(kind, item.replace("-", "").lower())] = part
            return part
        kind = self.DECIDED.get(command)
        item = args.get(f"{kind}_id") if kind else None
        if not kind or not isinstance(item, str):
            return 0
        key = (kind, item.replace("-", "").lower())
        if key not in self.items:
            try:
                self.items[key] = self._of_code(self.ledger.subject_code_of(kind, UUID(item)))
            except (LedgerError, ValueError):
                return 0  # unknown item: partition 0 rejects the line, naming it
        return self.items[key]

    def _of_code(self, code: str) -> int:
        # The rebuild's partition rule, so both commands split the subjects the same way.
        return partition_of(subject_id_for(code), self.parts)


#: The write paths of an import: lean batches on folded states (the default), or every line
#: through the ledger's batched command path (kept to compare the two, and for the bench).
PATHS = ("bulk", "command")
#: How many times a bulk batch is decided again when another writer appended to one of its
#: subjects after the batch read it.
BATCH_ATTEMPTS = 5


def import_file(
    ledger: CreditLedger,
    path: Path,
    *,
    rejects: Path,
    batch_lines: int = 5000,
    keep_record_time: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
    part: int = 0,
    parts: int = 1,
    via: str = "bulk",
) -> ImportReport:
    """Apply an NDJSON file through the ledger's commands, in batches of `batch_lines`.

    Each batch is one transaction. A line the rules refuse goes to `rejects` (line number and
    reason) and the rest carry on. After each stored batch a checkpoint in the store records how
    far the file got, so a killed import resumes there; lines before it would be no-ops anyway.
    `keep_record_time` records each line at its own `at` (a migration of historical platform
    data into an empty ledger); by default the ledger's clock applies.

    `via="bulk"` decides each batch on folded states in memory and writes its rows and its
    checkpoint in one transaction (`ledger.service.lean`); `via="command"` applies the lines
    through the aggregate-based batch of the command path. Both store the same events.

    With `parts` > 1 this applies only the lines of partition `part` (see `PartitionRouter`),
    with its own checkpoint, so `parts` processes can import one file together.
    """
    if via not in PATHS:
        raise ValueError(f"via: {via!r} is not one of {', '.join(PATHS)}")
    report = ImportReport()
    checkpoints = ImportCheckpoints(ledger)
    fingerprint = checkpoint_key(path, part, parts)
    router = PartitionRouter(ledger, parts) if parts > 1 else None
    start_line = checkpoints.get(fingerprint)
    report.resumed_from = start_line
    clock = _ReplayClock()
    original_clock = ledger.clock
    if keep_record_time:
        ledger.clock = clock
    total = path.stat().st_size
    try:
        # The rejects file is rewritten: a resumed run's from the refusals stored with the
        # checkpoint (whatever a killed run left in it), then the refusals of this run.
        if not start_line:
            checkpoints.forget_refusals(fingerprint)
        earlier = checkpoints.refused(fingerprint, start_line) if start_line else []
        with path.open("rb") as source, rejects.open("wb") as rejected:
            for entry in earlier:
                rejected.write(entry + b"\n")
            batch = _Batches(ledger, checkpoints, fingerprint, clock, rejected, report, via)
            # PostgreSQL plans by them, and may not refresh them during a load itself.
            statistics = StatisticsKeeper(ledger)
            statistics.check()
            pending: list[tuple[int, bytes]] = []
            read = 0
            for number, raw in enumerate(source, start=1):
                read += len(raw)
                report.lines = number
                if router is not None and router.partition(raw) != part:
                    continue
                if number <= start_line or not raw.strip():
                    continue
                pending.append((number, raw))
                if len(pending) >= batch_lines:
                    batch.apply(pending, number)
                    pending = []
                    statistics.check()
                    if progress is not None:
                        progress(read, total, report.events)
            if pending or report.lines > start_line:
                batch.apply(pending, max(report.lines, start_line))
            if progress is not None:
                progress(total, total, report.events)
    finally:
        ledger.clock = original_clock
    if report.events:
        StatisticsKeeper(ledger).refresh()
    return report


class _Batches:
    """Applies one batch of lines and checkpoints it, by the import's write path."""

    def __init__(
        self,
        ledger: CreditLedger,
        checkpoints: ImportCheckpoints,
        fingerprint: str,
        clock: _ReplayClock,
        rejected: IO[bytes],
        report: ImportReport,
        via: str,
    ) -> None:
        self.ledger = ledger
        self.checkpoints = checkpoints
        self.fingerprint = fingerprint
        self.clock = clock
        self.rejected = rejected
        self.report = report
        self.via = via

    def apply(self, lines: list[tuple[int, bytes]], upto: int) -> None:
        """Apply the lines and record that the file got to line `upto`."""
        if self.via == "command":
            refused = _apply_batch(self.ledger, lines, self.clock, self.rejected, self.report)
            self.rejected.flush()
            self.checkpoints.put(self.fingerprint, upto, refused)
        else:
            self._bulk(lines, upto)

    def _bulk(self, lines: list[tuple[int, bytes]], upto: int) -> None:
        ledger = self.ledger
        decoded = [(number, raw, _decoded(raw)) for number, raw in lines]
        ids = {subject_id_for(code) for *_, line in decoded if (code := _subject_code(line))}
        before = ledger.max_position()
        for attempt in range(BATCH_ATTEMPTS):
            batch = LeanBatch(ledger)
            batch.load(ids)
            with ledger.unit_of_work.lean(batch):
                outcomes = [_applied(ledger, n, raw, line, self.clock) for n, raw, line in decoded]
            refused = _refusals(outcomes)

            def checkpoint(cursor: Any, refused: list[tuple[int, bytes]] = refused) -> None:
                self.checkpoints.put_on(cursor, self.fingerprint, upto, refused)

            try:
                batch.write(then=checkpoint)
            except RecordConflictError:
                # Another writer appended to one of these subjects since the batch read it:
                # nothing of the batch was stored, so it is decided again on what is stored now.
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
                continue
            self.report.events += ledger.max_position() - before
            _count(outcomes, self.report)
            for _, entry in refused:
                self.rejected.write(entry + b"\n")
            self.rejected.flush()
            return
        first, last = (lines[0][0], lines[-1][0]) if lines else (upto, upto)
        raise Conflict(
            f"lines {first}-{last}: under {BATCH_ATTEMPTS} attempts the store already held "
            "a stream version or item this batch adds (another writer kept appending to its "
            "subjects, or an objection or repair id is used on two subjects); run the import "
            "again to resume there",
            field="file",
            rule="concurrent change",
        )


Outcome = tuple[int, bytes, str | None, bool]


def _refusals(outcomes: list[Outcome]) -> list[tuple[int, bytes]]:
    """The rejects file's entry of each refused line, with its number."""
    return [
        (
            number,
            orjson.dumps(
                {
                    "line": number,
                    "reason": refusal,
                    "raw": raw.decode("utf-8", "replace").rstrip("\n"),
                }
            ),
        )
        for number, raw, refusal, _ in outcomes
        if refusal is not None
    ]


def _count(outcomes: list[Outcome], report: ImportReport) -> None:
    for _, _, refusal, changed in outcomes:
        if refusal is not None:
            report.rejected += 1
            kind = refusal.split(":", 1)[0]
            report.reasons[kind] = report.reasons.get(kind, 0) + 1
        elif changed:
            report.applied += 1
        else:
            report.unchanged += 1


def _apply_batch(
    ledger: CreditLedger,
    lines: list[tuple[int, bytes]],
    clock: _ReplayClock,
    rejected: IO[bytes],
    report: ImportReport,
) -> list[tuple[int, bytes]]:
    """Apply one batch by the command path; its refusals go to `rejected` and are returned."""
    ids = {subject_id_for(code) for _, raw in lines if (code := _uscc_hint(raw)) is not None}
    missing = ids - existing_streams(ledger, sorted(ids))
    before = ledger.max_position()
    with ledger.unit_of_work.batch(missing):
        outcomes = [_applied(ledger, number, raw, _decoded(raw), clock) for number, raw in lines]
    # Counted from the log, so commands that store outside the batch (pools) count too.
    report.events += ledger.max_position() - before
    _count(outcomes, report)
    refused = _refusals(outcomes)
    for _, entry in refused:
        rejected.write(entry + b"\n")
    return refused


def _uscc_hint(raw: bytes) -> str | None:
    """The subject a line is about, when it names one (for the batch's existence prefetch)."""
    try:
        code = orjson.loads(raw).get("args", {}).get("uscc")
        return normalize_uscc(code) if isinstance(code, str) else None
    except (orjson.JSONDecodeError, AttributeError, LedgerError):
        return None


Decoded = tuple[datetime, str, dict[str, Any]] | BadLine


def _decoded(raw: bytes) -> Decoded:
    try:
        return decode(raw)
    except BadLine as exc:
        return exc


def _subject_code(line: Decoded) -> str | None:
    """The subject a decoded line names by credit code, if any (for the batch's prefetch)."""
    if isinstance(line, BadLine):
        return None
    code = line[2].get("uscc")
    try:
        return normalize_uscc(code) if isinstance(code, str) else None
    except LedgerError:
        return None


def _applied(
    ledger: CreditLedger, number: int, raw: bytes, line: Decoded, clock: _ReplayClock
) -> Outcome:
    if isinstance(line, BadLine):
        return number, raw, f"malformed: {line}", False
    at, command, kwargs = line
    clock.now = at
    try:
        written = ledger.handle(COMMANDS[command](**kwargs))
    except LedgerError as exc:
        return number, raw, f"{exc.field or 'input'}: {exc.message}", False
    except TypeError as exc:
        return number, raw, f"malformed: arguments do not fit {command}: {exc}", False
    return number, raw, None, written.created
