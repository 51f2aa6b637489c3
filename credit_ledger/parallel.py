"""Batch work across processes: rebuilds and imports split by subject, a process per partition.

Subjects are independent — a subject's rows in a read model depend on its own stream only — so
a rebuild can run as `workers` processes, each reading only its partition of the log (chosen in
SQL) once for every read model and writing its subjects' rows, with its own tracked positions.
One Python process uses one core; the processes use them all.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue as queues
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from credit_ledger.bulk import ImportReport


def tune_for_batch_work() -> None:
    """Tune the garbage collector for a long batch command (import, rebuild, annual build).

    Batches allocate hundreds of thousands of short-lived event objects while holding large
    caches; with the default threshold the collector rescans those caches every few hundred
    allocations, which measured about a fifth of a rebuild's time. Reference cycles are rare
    here, so collecting less often costs little memory.
    """
    gc.freeze()  # what startup loaded is never garbage
    gc.set_threshold(100_000, 50, 100)


def _report(reports: Any, part: int, position: int) -> None:
    # A worker whose parent died (killed) stops after its batch rather than run on unseen.
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():
        raise SystemExit(f"partition {part}: the rebuild's parent process is gone")
    reports.put(("progress", part, position))


def default_workers() -> int:
    """One worker process per core (at most 8)."""
    return max(1, min(os.cpu_count() or 1, 8))


def _in_worker(reports: Any, part: int, work: Callable[[Callable[[int], None]], Any]) -> None:
    """Run one partition's work in a worker: progress and the result or failure to the parent."""
    tune_for_batch_work()
    try:
        result = work(lambda position: _report(reports, part, position))
    except BaseException:
        reports.put(("failed", part, traceback.format_exc()))
        raise
    reports.put(("done", part, result))


def _rebuild_partition(
    database_url: str,
    buildings: dict[str, str],
    years: dict[int, str],
    known_now: str,
    part: int,
    parts: int,
    until: int,
    batch: int,
    reports: Any,
) -> None:
    from datetime import datetime

    from credit_ledger.bootstrap import open_ledger
    from projections.runner import Projector

    def work(progress: Callable[[int], None]) -> tuple[dict[str, tuple[str, str]], list[int]]:
        ledger = open_ledger(database_url)
        try:
            errors, staged = Projector(ledger).rebuild_partitions(
                buildings,
                part,
                parts,
                until,
                batch=batch,
                progress=progress,
                years=years,
                known_now=datetime.fromisoformat(known_now),
            )
        finally:
            ledger.close()
        # A read model that failed is named to the parent; the others were filled.
        return {name: (type(exc).__name__, str(exc)) for name, exc in errors.items()}, staged

    _in_worker(reports, part, work)


def rebuild_partitioned(
    database_url: str,
    projections: Sequence[str] | None = None,
    *,
    workers: int,
    years: Sequence[int] = (),
    batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Rebuild read models (all by default) with `workers` processes, each reading its
    partition of the log once for all of them, then switch readers to each new table.

    Resumable like the one-process rebuild: each partition of each table continues from its
    own position. `years` are materialised again from the same reads (as known now, up to
    the head now) when every partition starts from position 0, else each by its own
    partitioned pass (`annual_partitioned`). Returns the new tables by read model; raises
    naming the partition if a worker fails, and `ProjectionFailed` naming each read model
    that failed (once the others are switched in).
    """
    from credit_ledger.bootstrap import open_ledger
    from projections.annual import AnnualResults
    from projections.health import ProjectionFailed
    from projections.runner import Projector, failure_of

    ledger = open_ledger(database_url)
    annual = AnnualResults(ledger)
    stagings = {year: annual.tables.begin_year(year) for year in years}
    try:
        projector = Projector(ledger)
        buildings, until = projector.begin_rebuilds(projections)
        known_now = ledger.clock()
        done = _run_partitions(
            _rebuild_partition,
            lambda part: (
                database_url,
                buildings,
                stagings,
                known_now.isoformat(),
                part,
                workers,
                until,
                batch,
            ),
            "rebuild",
            workers,
            lambda position: progress(position, until) if progress else None,
        )
        failed: dict[str, Exception] = {}
        for errors, _ in done.values():
            for name, (error, message) in errors.items():
                failed.setdefault(name, RuntimeError(f"{error}: {message}"))
        for name, building in buildings.items():
            if name not in failed:
                projector.finish_partitioned_rebuild(name, building, workers, until)
        for year, staging in stagings.items():
            # Each partition staged its subjects of the year, or none did (a resumed rebuild).
            if all(year in staged for _, staged in done.values()):
                annual.finish(year, staging, known_now, until)
            else:
                # Its own build takes the year's lock, which this rebuild's staging holds.
                annual.tables.drop_staging(staging)
                annual_partitioned(database_url, year, workers=workers)
        if failed:
            raise ProjectionFailed({name: failure_of(name, exc) for name, exc in failed.items()})
        return buildings
    finally:
        for staging in stagings.values():
            annual.tables.drop_staging(staging)  # what was not swapped in
        ledger.close()


def _import_partition(
    database_url: str,
    path: str,
    rejects: str,
    part: int,
    parts: int,
    batch_lines: int,
    keep_record_time: bool,
    via: str,
    reports: Any,
) -> None:
    from credit_ledger.bootstrap import open_ledger
    from credit_ledger.bulk import import_file

    def work(progress: Callable[[int], None]) -> ImportReport:
        ledger = open_ledger(database_url)
        try:
            return import_file(
                ledger,
                Path(path),
                rejects=Path(rejects),
                batch_lines=batch_lines,
                keep_record_time=keep_record_time,
                progress=lambda done, total, events: progress(done),
                part=part,
                parts=parts,
                via=via,
            )
        finally:
            ledger.close()

    _in_worker(reports, part, work)


def import_partitioned(
    database_url: str,
    path: Path,
    *,
    rejects: Path,
    workers: int,
    batch_lines: int = 5000,
    keep_record_time: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
    via: str = "bulk",
) -> ImportReport:
    """Import one NDJSON file with `workers` processes, each applying its subjects' lines.

    Every process reads the whole file and applies the lines of its partition of the subjects
    (`credit_ledger.bulk.PartitionRouter`) in file order, with its own checkpoint, so the
    result is what one importer gives: the same rules, the same refusals, idempotent and
    resumable. Refused lines from all partitions end up in `rejects`, in line order. `via`
    is each process's write path (`credit_ledger.bulk.import_file`).
    """
    from credit_ledger.bootstrap import open_ledger
    from credit_ledger.bulk import ImportReport, checkpoint_key, has_checkpoint

    ledger = open_ledger(database_url)
    try:
        keys = [checkpoint_key(path, part, workers) for part in range(workers)]
        resumed = any(has_checkpoint(ledger, key) for key in keys)
        before = ledger.max_position()
        pieces = [rejects.with_name(f"{rejects.name}.{part}of{workers}") for part in range(workers)]
        if not resumed:
            for piece in pieces:
                piece.unlink(missing_ok=True)
        total = path.stat().st_size

        def relay(read: int) -> None:
            if progress is not None:
                progress(read, total, ledger.max_position() - before)

        done = _run_partitions(
            _import_partition,
            lambda part: (
                str(database_url),
                str(path),
                str(pieces[part]),
                part,
                workers,
                batch_lines,
                keep_record_time,
                via,
            ),
            "import",
            workers,
            relay,
        )
        merged = ImportReport()
        for report in done.values():
            merged.lines = max(merged.lines, report.lines)
            merged.applied += report.applied
            merged.unchanged += report.unchanged
            merged.rejected += report.rejected
            for reason, count in report.reasons.items():
                merged.reasons[reason] = merged.reasons.get(reason, 0) + count
        # Partitions stop at different lines; the earliest is where the whole file resumed.
        starts = [r.resumed_from for r in done.values() if r.resumed_from]
        merged.resumed_from = min(starts, default=0)
        # Counted from the log, as the one-process import does (pools store outside batches).
        merged.events = ledger.max_position() - before
        # Each piece holds its partition's refusals of the whole file (see `import_file`).
        _merge_rejects(pieces, rejects)
        if progress is not None:
            progress(total, total, merged.events)
        return merged
    finally:
        ledger.close()


def _annual_partition(
    database_url: str,
    year: int,
    staging: str,
    known_now: str,
    position: int,
    part: int,
    parts: int,
    reports: Any,
) -> None:
    from datetime import datetime

    from credit_ledger.bootstrap import open_ledger
    from projections.annual import AnnualResults

    def work(progress: Callable[[int], None]) -> None:
        ledger = open_ledger(database_url)
        done = 0

        def count(n: int) -> None:
            nonlocal done
            done += n  # the subjects a page of the log brought (a message per page)
            progress(done)

        try:
            AnnualResults(ledger).stage_rows(
                year,
                datetime.fromisoformat(known_now),
                staging,
                count,
                part=part,
                parts=parts,
                position=position,
            )
        finally:
            ledger.close()

    _in_worker(reports, part, work)


def annual_partitioned(
    database_url: str,
    year: int,
    *,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Materialise a year with `workers` processes computing a partition of the subjects each,
    each from one read of its partition of the log (the rebuild's reader and rule).

    The parent fixes the record time and log position the year is computed for; each worker
    writes its partition's rows into one staging table a chunk at a time (no process holds
    the year), and the parent swaps them in in one transaction, so the result is the
    one-process build's. Returns the number of subjects; raises naming the partition if a
    worker fails (the year's rows stay as they were).
    """
    from credit_ledger.bootstrap import open_ledger
    from projections.annual import AnnualResults, require_published

    ledger = open_ledger(database_url)
    try:
        annual = AnnualResults(ledger)
        require_published(ledger, year)
        position = ledger.max_position()
        known_now = ledger.clock()
        staging = annual.tables.begin_year(year)
        try:
            _run_partitions(
                _annual_partition,
                lambda part: (
                    database_url,
                    year,
                    staging,
                    known_now.isoformat(),
                    position,
                    part,
                    workers,
                ),
                f"evaluate-{year}",
                workers,
                lambda n: progress(n) if progress else None,
                combine=sum,
            )
            return annual.finish(year, staging, known_now, position)
        finally:
            annual.tables.drop_staging(staging)  # gone already once swapped in
    finally:
        ledger.close()


def _run_partitions(
    target: Callable[..., None],
    args_of: Callable[[int], tuple[Any, ...]],
    name: str,
    workers: int,
    progress: Callable[[int], None],
    combine: Callable[[Any], int] = min,
) -> dict[int, Any]:
    """Run `target(*args_of(part), reports)` in a worker process per partition (`_supervise`)."""
    # Spawned, not forked: a child must not inherit the parent's database connections.
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    children = [
        context.Process(
            target=target,
            args=(*args_of(part), reports),
            name=f"{name}-{part}",
            daemon=True,  # never outlives the command that started it
        )
        for part in range(workers)
    ]
    return _supervise(children, reports, progress, combine)


def _supervise(
    children: list[Any],
    reports: Any,
    progress: Callable[[int], None],
    combine: Callable[[Any], int] = min,
) -> dict[int, Any]:
    """Start the workers, relay their progress, and return each one's final report.

    Progress is `combine` of the workers' own: by default the least (every import worker reads
    the whole file), or their sum (workers of disjoint work).

    Workers ignore Ctrl-C (it reaches the whole process group, even while a worker is still
    starting): the parent alone is interrupted and stops them, mid-batch if need be — a batch
    is one transaction and its checkpoint comes after it, so a rerun resumes cleanly.
    """
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
    try:
        for child in children:
            child.start()  # a spawned child inherits the ignored signal
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    read = dict.fromkeys(range(len(children)), 0)
    finished: dict[int, Any] = {}
    failure: str | None = None
    try:
        while len(finished) < len(children) and failure is None:
            try:
                kind, part, detail = reports.get(timeout=1.0)
            except queues.Empty:
                dead = [c for c in children if c.exitcode not in (None, 0)]
                if dead:
                    failure = f"{dead[0].name} exited with code {dead[0].exitcode}"
                continue
            if kind == "failed":
                failure = f"partition {part} of {len(children)} failed:\n{detail}"
            elif kind == "done":
                finished[part] = detail
            else:
                read[part] = detail
                progress(combine(read.values()))
    except BaseException:
        for child in children:
            child.terminate()
        raise
    finally:
        for child in children:
            if failure is not None:
                child.terminate()
            child.join()
    if failure is not None:
        raise RuntimeError(failure)
    return finished


def _merge_rejects(pieces: list[Path], rejects: Path) -> None:
    lines = []
    for piece in pieces:
        if piece.exists():
            lines += [raw for raw in piece.read_bytes().splitlines() if raw.strip()]
    lines.sort(key=lambda raw: int(orjson.loads(raw)["line"]))
    with rejects.open("wb") as out:
        for raw in lines:
            out.write(raw + b"\n")
    for piece in pieces:
        piece.unlink(missing_ok=True)
