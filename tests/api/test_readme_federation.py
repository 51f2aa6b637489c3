"""The README's "Province and city" walk-through, run as written: two served ledgers and a sync."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.integration.test_cli import CLI
from tests.support import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_province_and_city_walk_through_of_the_readme_runs_as_described(
    tmp_path: Path,
) -> None:
    text = README.read_text()
    section = text[text.index("### Province and city") : text.index("## The rules, briefly")]
    script = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))
    calls = re.findall(r"curl [^\n]*", script)
    assert all(re.match(r"curl -\w*f", c) or "%{http_code}" in c for c in calls), calls
    # Free ports in place of the README's fixed ones, so the test never meets another service.
    for fixed in ("8100", "8000", "9108"):
        port = str(free_port())
        script = script.replace(f"127.0.0.1:{fixed}", f"127.0.0.1:{port}")
        script = script.replace(f"port {fixed}", f"port {port}")  # --port, --metrics-port
    assert not re.search(r"\b(8100|8000|9108)\b", script), script
    # The background services are stopped whatever happens.
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_LEDGER_")}
    ran = subprocess.run(
        ["bash", "-c", script],
        env={**env, "CL": CLI},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    out = ran.stdout
    assert re.search(r"^delivered \d+: accepted \d+, unchanged 0, parked 1;", out, re.M), out
    assert '"list_type":"judgment_defaulter"' in out  # the parked one, with its reason
    assert "delivered again 1: taken 0, still refused 1" in out
    assert '"inboxes":[{"source":"舞钢市"' in out  # the province knows who delivered
    assert '"upstream":{"position":' in out  # the subject's result beside the province's
    assert '"what":"published"' in out  # records that reached the province after 31 October
    assert "urn:credit-ledger:problem:sync-stalled" in out
    assert "→ 503" in out
    assert "credit_ledger_sync_lag_positions 0.0" in out  # the worker caught up
