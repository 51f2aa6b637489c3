"""Exchange batches (DOMAIN §10, GB/T 39443-2020's file mode): the manifest and its checks.

A batch is an NDJSON file of delivery lines (`Delivery.line()`, one a line, in log order) with
a manifest beside it: the format, the source ledger, counts, first and last positions, the local
position the batch covers up to, and SM3 and SHA-256 digests of the NDJSON bytes. The upstream
takes a batch only if its manifest matches the file; otherwise it refuses it whole. File IO
lives in `ledger.service.exchange`; this module only reads bytes it is given.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain.errors import InvalidInput

FORMAT = "credit-ledger.exchange"
VERSION = 1
#: The names of a batch's two files inside its directory.
DELIVERIES_FILE = "deliveries.ndjson"
MANIFEST_FILE = "manifest.json"


def encode_line(line: Mapping[str, Any]) -> bytes:
    """One delivery as an NDJSON line (compact, keys sorted, UTF-8 unescaped: the same delivery
    always gives the same bytes, so a batch's digests depend on its content alone)."""
    text = json.dumps(line, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


@dataclass(frozen=True)
class Manifest:
    """What a batch's NDJSON file holds, as its manifest states it.

    `first_position`/`last_position` are the `position` of the first and the last line (None
    in an empty batch); `upto` is the local position the batch covers up to (past records that
    are not delivered), never before `last_position`.
    """

    source: str
    total: int
    commands: dict[str, int]
    first_position: int | None
    last_position: int | None
    upto: int
    sm3: str
    sha256: str
    size: int
    created_at: datetime
    format: str = FORMAT
    version: int = VERSION
    file: str = DELIVERIES_FILE

    def json(self) -> dict[str, Any]:
        """The manifest as its JSON file holds it."""
        return {
            "format": self.format,
            "version": self.version,
            "source": self.source,
            "file": self.file,
            "bytes": self.size,
            "counts": {"total": self.total, "commands": dict(sorted(self.commands.items()))},
            "first_position": self.first_position,
            "last_position": self.last_position,
            "upto": self.upto,
            "digests": {"sm3": self.sm3, "sha256": self.sha256},
            "created_at": self.created_at.isoformat(),
        }


def _refuse(what: str, rule: str) -> InvalidInput:
    return InvalidInput(f"manifest.{what}: {rule}", field=f"manifest.{what}", rule=rule)


def _get(data: Mapping[str, Any], path: str, kind: type | tuple[type, ...]) -> Any:
    value: Any = data
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    # bool is an int to Python; no manifest count or position is ever true or false.
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _refuse(path, f"present, a {names}")
    return value


def manifest_of(data: Any) -> Manifest:
    """A manifest from its parsed JSON; refused naming the first field missing or mistyped."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a manifest is a JSON object", field="manifest", rule="JSON object")
    commands = _get(data, "counts.commands", Mapping)
    if not all(isinstance(k, str) and type(v) is int for k, v in commands.items()):
        raise _refuse("counts.commands", "command names with whole counts")
    first = data.get("first_position")
    last = data.get("last_position")
    for name, value in (("first_position", first), ("last_position", last)):
        if value is not None and type(value) is not int:
            raise _refuse(name, "a whole number (null in an empty batch)")
    created = _get(data, "created_at", str)
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError:
        raise _refuse("created_at", "an ISO 8601 instant") from None
    if created_at.tzinfo is None:
        raise _refuse("created_at", "an instant with its UTC offset")
    file = _get(data, "file", str)
    if file != DELIVERIES_FILE:
        # The name is read from an untrusted file: never a path out of the batch's directory.
        raise _refuse("file", f"'{DELIVERIES_FILE}'")
    source = _get(data, "source", str)
    if not source.strip():
        raise _refuse("source", "the source ledger's name, not empty")
    return Manifest(
        format=_get(data, "format", str),
        version=_get(data, "version", int),
        source=source,
        file=file,
        size=_get(data, "bytes", int),
        total=_get(data, "counts.total", int),
        commands=dict(commands),
        first_position=first,
        last_position=last,
        upto=_get(data, "upto", int),
        sm3=_get(data, "digests.sm3", str).lower(),
        sha256=_get(data, "digests.sha256", str).lower(),
        created_at=created_at,
    )


@dataclass
class Tally:
    """A batch's digests, counts and positions, taken line by line (as written or as read)."""

    sm3: Any = field(default_factory=lambda: hashlib.new("sm3"))
    sha256: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    first: int | None = None
    last: int | None = None

    @property
    def total(self) -> int:
        """Lines added so far."""
        return sum(self.commands.values())

    def add(self, raw: bytes, line: Mapping[str, Any]) -> None:
        """One line's bytes (with its newline) and the delivery they hold."""
        self.sm3.update(raw)
        self.sha256.update(raw)
        self.size += len(raw)
        self.commands[str(line.get("command"))] += 1
        position = line.get("position")
        if isinstance(position, int):
            self.first = position if self.first is None else self.first
            self.last = position

    def manifest(self, source: str, upto: int, created_at: datetime) -> Manifest:
        """The manifest of the lines added."""
        return Manifest(
            source=source,
            total=self.total,
            commands=dict(self.commands),
            first_position=self.first,
            last_position=self.last,
            upto=upto,
            sm3=self.sm3.hexdigest(),
            sha256=self.sha256.hexdigest(),
            size=self.size,
            created_at=created_at,
        )


class BatchMismatch(InvalidInput):
    """A batch whose manifest does not match its file: refused whole. `problems` lists each
    (field, what does not match)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        text = "; ".join(f"{where}: {what}" for where, what in problems)
        super().__init__(
            f"exchange batch refused whole, its manifest does not match its file: {text}",
            field=problems[0][0],
            rule="the manifest matches its file",
        )


def _parsed(raw: bytes, number: int, problems: list[tuple[str, str]]) -> dict[str, Any] | None:
    where = f"line {number}"
    try:
        line = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        problems.append((where, "not JSON"))
        return None
    if not isinstance(line, dict):
        problems.append((where, "not a JSON object"))
        return None
    position = line.get("position")
    if type(position) is not int or position < 1:
        problems.append((f"{where}.position", "not a position (a whole number from 1)"))
    if not isinstance(line.get("command"), str):
        problems.append((f"{where}.command", "not a command name"))
    return line


def check(manifest: Manifest, data: bytes) -> list[dict[str, Any]]:
    """The batch's delivery lines, if its manifest matches `data` (the NDJSON file's bytes):
    format, both digests, size, counts, first and last positions, lines in log order. Refused
    whole (`BatchMismatch`) naming everything that does not match."""
    problems: list[tuple[str, str]] = []
    if (manifest.format, manifest.version) != (FORMAT, VERSION):
        problems.append(
            ("manifest.format", f"{manifest.format} v{manifest.version}, not {FORMAT} v{VERSION}")
        )
    tally = Tally()
    lines: list[dict[str, Any]] = []
    previous = 0
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        line = _parsed(raw, number, problems)
        if line is None:
            tally.sm3.update(raw)
            tally.sha256.update(raw)
            tally.size += len(raw)
            continue
        tally.add(raw, line)
        lines.append(line)
        position = line.get("position")
        if type(position) is int:
            if position <= previous:
                problems.append((f"line {number}.position", f"{position} not after {previous}"))
            previous = max(previous, position)
    if data and not data.endswith(b"\n"):
        problems.append(("file", "its last line does not end with a newline"))
    found = tally.manifest(manifest.source, manifest.upto, manifest.created_at)
    for name, said, seen in (
        ("digests.sm3", manifest.sm3, found.sm3),
        ("digests.sha256", manifest.sha256, found.sha256),
        ("bytes", manifest.size, found.size),
        ("counts.total", manifest.total, len(data.splitlines())),
        ("first_position", manifest.first_position, found.first_position),
        ("last_position", manifest.last_position, found.last_position),
    ):
        if said != seen:
            problems.append((f"manifest.{name}", f"says {said}, the file has {seen}"))
    if manifest.commands != found.commands:
        problems.append(
            (
                "manifest.counts.commands",
                f"says {dict(sorted(manifest.commands.items()))}, "
                f"the file has {dict(sorted(found.commands.items()))}",
            )
        )
    if manifest.total != sum(manifest.commands.values()):
        problems.append(("manifest.counts.total", "not the sum of the per-command counts"))
    if manifest.last_position is not None and manifest.upto < manifest.last_position:
        problems.append(("manifest.upto", f"{manifest.upto} before the last position"))
    if problems:
        raise BatchMismatch(problems)
    return lines
