"""Batch work across processes: a rebuild split by subject, one process per partition.

Subjects are independent — a subject's rows in a read model depend on its own stream only — so
a rebuild can run as `workers` processes, each reading only its partition of the log (chosen in
SQL) and writing its subjects' rows, with its own tracked position. One Python process uses one
core; the processes use them all.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue as queues
import traceback
from collections.abc import Callable
from typing import Any


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


def _rebuild_partition(
    database_url: str,
    projection: str,
    building: str,
    part: int,
    parts: int,
    until: int,
    batch: int,
    reports: Any,
) -> None:
    from credit_ledger.store import open_ledger
    from projections.runner import Projector

    tune_for_batch_work()
    try:
        ledger = open_ledger(database_url)
        try:
            Projector(ledger).rebuild_partition(
                projection,
                building,
                part,
                parts,
                until,
                batch=batch,
                progress=lambda position: _report(reports, part, position),
            )
        finally:
            ledger.close()
    except BaseException:
        reports.put(("failed", part, traceback.format_exc()))
        raise
    reports.put(("done", part, until))


def rebuild_partitioned(
    database_url: str,
    projection: str,
    *,
    workers: int,
    batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Rebuild a read model with `workers` processes, then switch readers to it.

    Resumable like the one-process rebuild: each partition continues from its own position.
    Returns the new table's name; raises naming the partition if a worker fails.
    """
    from credit_ledger.store import open_ledger
    from projections.runner import Projector

    ledger = open_ledger(database_url)
    try:
        projector = Projector(ledger)
        building, until = projector.begin_rebuild(projection)
        # Spawned, not forked: a child must not inherit the parent's database connections.
        context = multiprocessing.get_context("spawn")
        reports = context.Queue()
        children = [
            context.Process(
                target=_rebuild_partition,
                args=(database_url, projection, building, part, workers, until, batch, reports),
                name=f"rebuild-{projection}-{part}",
                daemon=True,  # never outlives the rebuild that started it
            )
            for part in range(workers)
        ]
        for child in children:
            child.start()
        positions = dict.fromkeys(range(workers), 0)
        finished: set[int] = set()
        failure: str | None = None
        try:
            while len(finished) < workers and failure is None:
                try:
                    kind, part, detail = reports.get(timeout=1.0)
                except queues.Empty:
                    dead = [c for c in children if c.exitcode not in (None, 0)]
                    if dead:
                        failure = f"{dead[0].name} exited with code {dead[0].exitcode}"
                    continue
                if kind == "failed":
                    failure = f"partition {part} of {workers} failed:\n{detail}"
                elif kind == "done":
                    finished.add(part)
                    positions[part] = until
                else:
                    positions[part] = detail
                if progress is not None:
                    progress(sum(positions.values()) // workers, until)
        finally:
            for child in children:
                if failure is not None:
                    child.terminate()
                child.join()
        if failure is not None:
            raise RuntimeError(failure)
        projector.finish_partitioned_rebuild(projection, building, workers, until)
        return building
    finally:
        ledger.close()
