"""Bulk platform data: a streaming NDJSON generator, and an importer through the domain rules.

One line is one ledger command: `{"at": RFC 3339, "command": "record_fact", "args": {…}}`.
The importer applies lines in large batches (one transaction each), rejects bad lines to a
rejects file with their line number and reason, and is idempotent (commands carry their ids
and document numbers), so re-running a file adds nothing and a killed import resumes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, ClassVar
from uuid import UUID

import orjson

from credit_ledger.demo import DemoSummary, pool_actions, subject_actions
from ledger.domain.commands import COMMANDS
from ledger.domain.dates import parse_date
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.values import SYSTEM_ACTOR, Actor, Role, normalize_uscc, subject_id_for
from ledger.service.application import CreditLedger
from ledger.store.stores import existing_streams
from projections.runner import partition_of
from projections.store.checkpoints import ImportCheckpoints

DATES = frozenset(
    {
        "decided_on",
        "effective_until",
        "ended_on",
        "listed_on",
        "delisted_on",
        "filed_on",
        "resolved_on",
        "requested_on",
        "established_on",
        "evaluated_on",
        "revoked_on",
        "joined_on",
        "left_on",
    }
)
IDS = frozenset(
    {"fact_id", "listing_id", "objection_id", "repair_id", "target_id", "evaluation_id"}
)
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
            if key == "actor":
                value = ACTORS[value]
            elif key in DATES and value is not None:
                value = parse_date(value, key)
            elif key in IDS and value is not None:
                value = UUID(value)
        except InvalidInput as refused:
            raise BadLine(f"args.{key}: {refused.message}") from None
        except (KeyError, TypeError, ValueError):
            raise BadLine(f"args.{key}: {value!r} is not a valid {key}") from None
        kwargs[key] = value
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
) -> ImportReport:
    """Apply an NDJSON file through the ledger's commands, in batches of `batch_lines`.

    Each batch is one transaction. A line the rules refuse goes to `rejects` (line number and
    reason) and the rest carry on. After each stored batch a checkpoint in the store records how
    far the file got, so a killed import resumes there; lines before it would be no-ops anyway.
    `keep_record_time` records each line at its own `at` (a migration of historical platform
    data into an empty ledger); by default the ledger's clock applies.

    With `parts` > 1 this applies only the lines of partition `part` (see `PartitionRouter`),
    with its own checkpoint, so `parts` processes can import one file together.
    """
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
            pending: list[tuple[int, bytes]] = []
            refused: list[tuple[int, bytes]] = []
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
                    refused += _apply_batch(ledger, pending, clock, rejected, report)
                    rejected.flush()
                    checkpoints.put(fingerprint, number, refused)
                    pending, refused = [], []
                    if progress is not None:
                        progress(read, total, report.events)
            if pending:
                refused += _apply_batch(ledger, pending, clock, rejected, report)
                rejected.flush()
            if report.lines > start_line:
                checkpoints.put(fingerprint, report.lines, refused)
            if progress is not None:
                progress(total, total, report.events)
    finally:
        ledger.clock = original_clock
    return report


def _apply_batch(
    ledger: CreditLedger,
    lines: list[tuple[int, bytes]],
    clock: _ReplayClock,
    rejected: IO[bytes],
    report: ImportReport,
) -> list[tuple[int, bytes]]:
    """Apply one batch; its refusals go to `rejected` and are returned (line, entry)."""
    refused: list[tuple[int, bytes]] = []
    ids = {subject_id_for(code) for _, raw in lines if (code := _uscc_hint(raw)) is not None}
    missing = ids - existing_streams(ledger, sorted(ids))
    before = ledger.max_position()
    with ledger.unit_of_work.batch(missing):
        outcomes = [_apply_line(ledger, number, raw, clock) for number, raw in lines]
    # Counted from the log, so commands that store outside the batch (pools) count too.
    report.events += ledger.max_position() - before
    for number, raw, refusal, changed in outcomes:
        if refusal is not None:
            report.rejected += 1
            kind = refusal.split(":", 1)[0]
            report.reasons[kind] = report.reasons.get(kind, 0) + 1
            entry = orjson.dumps(
                {
                    "line": number,
                    "reason": refusal,
                    "raw": raw.decode("utf-8", "replace").rstrip("\n"),
                }
            )
            rejected.write(entry + b"\n")
            refused.append((number, entry))
        elif changed:
            report.applied += 1
        else:
            report.unchanged += 1
    return refused


def _uscc_hint(raw: bytes) -> str | None:
    """The subject a line is about, when it names one (for the batch's existence prefetch)."""
    try:
        code = orjson.loads(raw).get("args", {}).get("uscc")
        return normalize_uscc(code) if isinstance(code, str) else None
    except (orjson.JSONDecodeError, AttributeError, LedgerError):
        return None


def _apply_line(
    ledger: CreditLedger, number: int, raw: bytes, clock: _ReplayClock
) -> tuple[int, bytes, str | None, bool]:
    try:
        at, command, kwargs = decode(raw)
    except BadLine as exc:
        return number, raw, f"malformed: {exc}", False
    clock.now = at
    try:
        written = ledger.handle(COMMANDS[command](**kwargs))
    except LedgerError as exc:
        return number, raw, f"{exc.field or 'input'}: {exc.message}", False
    except TypeError as exc:
        return number, raw, f"malformed: arguments do not fit {command}: {exc}", False
    return number, raw, None, written.created
