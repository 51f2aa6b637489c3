"""Runs one command as a child and reports its wall time and peak memory (for bench/run.py).

Peak memory is the largest sum of resident memory over the command's process tree, sampled
every 20 ms (a rebuild runs worker processes), and never less than the largest single process
the kernel recorded.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import orjson

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants now (Linux /proc)."""
    parents: dict[int, int] = {}
    resident: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/statm", "rb") as fh:
                pages = int(fh.read().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        parents[int(entry)] = int(fields[1])
        resident[int(entry)] = pages * PAGE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += resident.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def main() -> None:
    """`python -m bench.phase CMD …`: run CMD, then print {seconds, peak_rss_mb, returncode}."""
    started = time.perf_counter()
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(child.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    largest_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_mb = max(peak / 2**20, largest_kb / 1024)
    sys.stdout.write(
        orjson.dumps(
            {"seconds": seconds, "peak_rss_mb": peak_mb, "returncode": child.returncode}
        ).decode()
    )


if __name__ == "__main__":
    main()
