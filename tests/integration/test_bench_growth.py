"""The bench's growth table: each figure at every size and the factor between them (beside the
harness test: the bench is not part of the domain the mutation step copies)."""

from __future__ import annotations

from typing import Any

from bench.growth import table


def _run(subjects: int, rate: float, copy: float, peak: float) -> dict[str, Any]:
    store = {
        "store": "postgres",
        "import_events_per_s": rate,
        "copy_rows_per_s": copy,
        "import_peak_mb": peak,
    }
    return {"subjects": subjects, "stores": [store]}


def test_the_growth_table_orders_sizes_and_shows_the_factor_between_them() -> None:
    text = table(
        [_run(100_000, 30_000.0, 300_000.0, 300.0), _run(10_000, 20_000.0, 200_000.0, 150.0)]
    )
    lines = text.splitlines()
    assert lines[0].startswith(
        "| store | figure | 10,000 subjects | 100,000 subjects | 10,000 → 100,000 |"
    )
    rates = next(line for line in lines if "| import events/s |" in line)
    assert rates == "| postgres | import events/s | 20,000 | 30,000 | 1.50 |"
    ratio = next(line for line in lines if "import ÷ raw write" in line)
    assert ratio.endswith("| 0.10 | 0.10 | 1.00 |")
    memory = next(line for line in lines if "peak MB, import" in line)
    assert memory.endswith("| 150 | 300 | 2.00 |")


def test_a_figure_a_run_lacks_shows_a_dash_not_a_made_up_factor() -> None:
    text = table([_run(10_000, 1.0, 2.0, 3.0), _run(20_000, 1.0, 2.0, 3.0)])
    http = next(line for line in text.splitlines() if "HTTP evaluation requests/s" in line)
    assert http == "| postgres | HTTP evaluation requests/s | — | — | — |"
