"""How the bench's figures grow between sizes: one table from several runs' JSON results.

`python -m bench.growth bench/results/10000-subjects.json bench/results/100000-subjects.json`
prints, per store, each rate and each peak memory at every size and the factor from one size to
the next: a rate that holds (×1.0) scales linearly in N; memory that holds is flat in N.
"""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

#: (figure, key in a store's results); the ratios are to references of the same run.
FIGURES: tuple[tuple[str, str], ...] = (
    ("import events/s", "import_events_per_s"),
    ("import ÷ raw write (COPY / executemany)", "import_ratio"),
    ("rebuild events/s", "rebuild_events_per_s"),
    ("rebuild ÷ raw read", "rebuild_ratio"),
    ("annual build events/s", "annual_events_per_s"),
    ("HTTP evaluation requests/s", "http_rps"),
    ("HTTP evaluation p99 ms", "http_p99_ms"),
    ("peak MB, import", "import_peak_mb"),
    ("peak MB, rebuild", "rebuild_peak_mb"),
    ("peak MB, annual", "annual_peak_mb"),
)


def _with_ratios(store: dict[str, Any]) -> dict[str, Any]:
    derived = dict(store)
    if store.get("copy_rows_per_s"):
        derived["import_ratio"] = store["import_events_per_s"] / store["copy_rows_per_s"]
    if store.get("raw_read_rows_per_s"):
        derived["rebuild_ratio"] = store["rebuild_events_per_s"] / store["raw_read_rows_per_s"]
    return derived


def _cell(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def table(reports: list[dict[str, Any]]) -> str:
    """The growth table of these runs (sorted by size), one block of rows per store."""
    reports = sorted(reports, key=lambda r: int(r["subjects"]))
    sizes = [int(r["subjects"]) for r in reports]
    head = " | ".join(f"{n:,} subjects" for n in sizes)
    steps = " | ".join(f"{a:,} → {b:,}" for a, b in pairwise(sizes))
    lines = [
        f"| store | figure | {head} | {steps} |",
        "|---|---|" + "---:|" * (len(sizes) + max(len(sizes) - 1, 0)),
    ]
    kinds = sorted({s["store"] for r in reports for s in r["stores"]})
    for kind in kinds:
        by_size = [
            next((_with_ratios(s) for s in r["stores"] if s["store"] == kind), {}) for r in reports
        ]
        for name, key in FIGURES:
            values: list[float | None] = [s.get(key) for s in by_size]
            growth = [_cell(b / a) if a and b is not None else "—" for a, b in pairwise(values)]
            cells = " | ".join(_cell(v) for v in values)
            lines.append(f"| {kind} | {name} | {cells} | {' | '.join(growth)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the growth table of the JSON results named on the command line."""
    paths = [Path(a) for a in sys.argv[1:]]
    if not paths:
        raise SystemExit("usage: python -m bench.growth RESULT.json [RESULT.json …]")
    print(table([orjson.loads(p.read_bytes()) for p in paths]), end="")


if __name__ == "__main__":
    main()
