"""Exchange batches as files (DOMAIN §10, GB/T 39443-2020's file mode): export and import.

`export_batch` writes the deliveries after a local position into a directory, the NDJSON file
first and the manifest last (a directory with a manifest holds a whole batch). `import_batch`
checks a batch against its manifest and refuses it whole, writing nothing, when they differ;
otherwise it hands the lines to `receive` in chunks, as the manifest's source ledger, so a
re-import answers every line as the first import did and adds nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.domain.errors import InvalidInput
from ledger.domain.exchange import (
    DELIVERIES_FILE,
    MANIFEST_FILE,
    Manifest,
    Tally,
    check,
    encode_line,
    manifest_of,
)
from ledger.domain.federation import ACCEPTED, REFUSED, UNCHANGED
from ledger.domain.values import Actor, Role
from ledger.service.federation import MAX_DELIVERIES

if TYPE_CHECKING:
    from ledger.service.application import CreditLedger

#: Records read from the log per page while exporting.
EXPORT_PAGE = 500


def export_batch(
    ledger: CreditLedger,
    directory: Path,
    *,
    source: str,
    after: int = 0,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Write the deliveries of records stored after local position `after` (at most `limit`)
    as a batch into `directory` (created if needed; refused if it already holds a batch)."""
    if not source.strip():
        raise InvalidInput("the source ledger's name is empty", field="source", rule="not empty")
    if after < 0:
        raise InvalidInput("positions start at 0", field="after", rule="not negative")
    if limit is not None and limit < 1:
        raise InvalidInput("at least one delivery", field="limit", rule="positive")
    directory.mkdir(parents=True, exist_ok=True)
    for name in (MANIFEST_FILE, DELIVERIES_FILE):
        if (directory / name).exists():
            raise InvalidInput(
                f"{directory / name} exists: a batch is never overwritten",
                field="out",
                rule="an empty directory",
            )
    top = ledger.max_position()
    tally = Tally()
    upto = after
    partial = directory / (DELIVERIES_FILE + ".part")
    with partial.open("wb") as out:
        while upto < top:
            room = EXPORT_PAGE if limit is None else min(EXPORT_PAGE, limit - tally.total)
            if room <= 0:
                break
            page = ledger.outgoing(upto, room)
            deliveries, moved = page.deliveries, page.upto
            if limit is not None and len(deliveries) > room:
                # A page ending on a corrected resolution reads on past it: stop before the
                # first delivery over the limit, so the next batch starts with it.
                deliveries = deliveries[:room]
                moved = page.deliveries[room].position - 1
            for delivery in deliveries:
                line = delivery.line()
                raw = encode_line(line)
                out.write(raw)
                tally.add(raw, line)
            if moved <= upto:
                break
            upto = moved
            if progress is not None:
                progress(min(upto, top), top)
        out.flush()
        os.fsync(out.fileno())
    manifest = tally.manifest(source, max(upto, after), ledger.clock())
    os.replace(partial, directory / DELIVERIES_FILE)
    _write_json(directory / MANIFEST_FILE, manifest.json())
    return manifest


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as out:
        out.write(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def read_batch(directory: Path) -> tuple[Manifest, list[dict[str, Any]]]:
    """A batch's manifest and delivery lines, once the manifest matches the file (refused
    whole otherwise, naming each mismatch)."""
    manifest_path = directory / MANIFEST_FILE
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"{manifest_path}: {exc.strerror or exc}", field="manifest", rule="readable"
        ) from None
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"{manifest_path} is not JSON", field="manifest", rule="JSON") from None
    manifest = manifest_of(parsed)
    data_path = directory / manifest.file
    try:
        data = data_path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"{data_path}: {exc.strerror or exc}", field="file", rule="readable"
        ) from None
    return manifest, check(manifest, data)


def checked_batch(manifest: Any, data: bytes) -> tuple[Manifest, list[dict[str, Any]]]:
    """A batch sent whole (the manifest's parsed JSON and the NDJSON bytes), checked as a batch
    read from files is."""
    parsed = manifest_of(manifest)
    return parsed, check(parsed, data)


@dataclass
class ExchangeReport:
    """What an import of a batch did: counts by outcome, and the refused lines with reasons.

    `earlier` counts lines the upstream had taken before (answered with their first outcome).
    """

    source: str
    lines: int = 0
    accepted: int = 0
    unchanged: int = 0
    refused: int = 0
    earlier: int = 0
    refusals: list[dict[str, Any]] = field(default_factory=list)


def source_actor(ledger: CreditLedger, source: str) -> Actor:
    """The federation actor a batch from `source` is decided as (every field: the upstream's own
    rules decide what the source's departments may record)."""
    fields = frozenset(ledger.catalogue.fields)
    return Actor(f"file:{source}", Role.FEDERATION, None, fields, name=source)


def import_batch(
    ledger: CreditLedger,
    directory: Path,
    *,
    chunk: int = MAX_DELIVERIES,
    progress: Callable[[int, int], None] | None = None,
) -> ExchangeReport:
    """Check a batch against its manifest, then decide its lines as its source's deliveries."""
    manifest, lines = read_batch(directory)
    return take_batch(ledger, manifest, lines, chunk=chunk, progress=progress)


def take_batch(
    ledger: CreditLedger,
    manifest: Manifest,
    lines: list[dict[str, Any]],
    *,
    chunk: int = MAX_DELIVERIES,
    progress: Callable[[int, int], None] | None = None,
) -> ExchangeReport:
    """Decide a checked batch's lines as its source's deliveries, in chunks of at most
    `MAX_DELIVERIES`, each one transaction with the inbox note (an import stopped midway
    resumes when run again: the chunks taken answer as before)."""
    actor = source_actor(ledger, manifest.source)
    report = ExchangeReport(source=manifest.source, lines=len(lines))
    size = max(1, min(chunk, MAX_DELIVERIES))
    for start in range(0, len(lines), size):
        items = lines[start : start + size]
        answers = ledger.receive(actor, items)
        for item, answer in zip(items, answers, strict=True):
            status = answer.get("status")
            if answer.get("earlier"):
                report.earlier += 1
            if status == ACCEPTED:
                report.accepted += 1
            elif status == UNCHANGED:
                report.unchanged += 1
            elif status == REFUSED:
                report.refused += 1
                report.refusals.append({"command": item.get("command"), **answer})
        if progress is not None:
            progress(min(start + size, len(lines)), len(lines))
    return report
