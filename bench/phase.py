"""Runs one command as a child and reports its wall time and peak memory (for bench/run.py)."""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import orjson


def main() -> None:
    """`python -m bench.phase CMD …`: run CMD, then print {seconds, peak_rss_mb, returncode}."""
    started = time.perf_counter()
    done = subprocess.run(sys.argv[1:], check=False, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stdout.write(
        orjson.dumps(
            {"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "returncode": done.returncode}
        ).decode()
    )


if __name__ == "__main__":
    main()
