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
    script = "set -eu\n" + "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))
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
    assert "check character should be" in out  # the deliberate bad code
    assert '"score":"75"' in out
    assert '"score":"80"' in out
    assert '"eligible_on":"2024-09-01"' in out
    assert '"status":"approved"' in out
    assert '"grade":"A"' in out
    assert '"endpoint":"evaluation"' in out  # the audit log saw the reads
    assert "credit_ledger_http_requests_total" in out
