"""The README's curl walk-through, run as written against a served process."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.api.conftest import Served
from tests.integration.test_cli import CLI

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_curl_call_of_the_readme_answers_as_described(served: Served, tmp_path: Path) -> None:
    text = README.read_text()
    section = text[text.index("## The HTTP API") : text.index("### Configuration")]
    blocks = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))
    # Every call checks its status: `curl -f` fails the script, or the status is printed (→ 422)
    # for the deliberate refusals and checked below. `pipefail`: `X=$(curl … | python3 …)` too.
    calls = re.findall(r"curl [^\n]*", blocks)
    assert len(calls) >= 30
    unchecked = [c for c in calls if not re.match(r"curl -\w*f", c) and "%{http_code}" not in c]
    assert not unchecked, unchecked
    assert len(re.findall(r"curl -sS -w '\\n→ %\{http_code\}\\n'", blocks)) == 2
    script = "set -euo pipefail\n" + blocks
    script = script.replace("API=http://127.0.0.1:8000", f"API={served.base}")
    ran = subprocess.run(
        ["bash", "-c", script],
        env={**served.env, "CL": CLI},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    out = ran.stdout
    assert out.count("→ 422") == 2, out  # the two refusals, and nothing else unchecked
    assert "→ " not in out.replace("→ 422", "")
    assert "check character should be" in out  # the deliberate bad code
    assert '"score":"75"' in out
    assert '"score":"80"' in out
    assert '"eligible_on":"2024-09-01"' in out
    assert '"status":"approved"' in out
    assert '"grade":"A"' in out
    assert '"endpoint":"evaluation"' in out  # the audit log saw the reads
    assert '"status":"not_found"' in out  # the batch read's unknown code
    assert "credit_ledger_http_requests_total" in out
