"""The benchmark harness still runs end to end and reports every figure beside its reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson


def test_the_benchmark_writes_json_and_a_table_with_ratios(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--subjects",
            "150",
            "--stores",
            "sqlite",
            "--http-seconds",
            "1",
            "--samples",
            "50",
            "--cost-requests",
            "20",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    report = orjson.loads((tmp_path / "150-subjects.json").read_bytes())
    (store,) = report["stores"]
    assert store["events"] > 150
    assert store["rerun_added_events"] == 0
    for key in (
        "import_events_per_s",
        "copy_rows_per_s",
        "rebuild_events_per_s",
        "raw_read_rows_per_s",
        "recorder_read_rows_per_s",
        "rebuild_peak_mb",
        "eval_p99_ms",
        "batch_per_subject_ms",
        "single_per_subject_ms",
        "http_rps",
        "http_p50_ms",
        "healthz_p50_ms",
        "healthz_rps",
        "http_instructions",
        "healthz_instructions",
        "write_start_cmd_per_s",
        "write_long_cmd_per_s",
    ):
        assert store[key] > 0, key
    table = (tmp_path / "150-subjects.md").read_text()
    assert store["batch_subjects"] == 50  # every sampled code, in one batch
    assert "| sqlite | bulk import events/s |" in table
    assert "| sqlite | writes to one subject with 550 events commands/s" in table
    assert "| sqlite | batch read ms per subject (in process, 50 codes) |" in table
    assert table.count("|") > 40
