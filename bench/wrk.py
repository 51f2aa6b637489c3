"""HTTP load with wrk (Debian's package): requests/s and latency percentiles of one server.

The load generator is a C program on its own thread, so it takes far less of the machine's two
cores than a Python client would; every figure it gives is read beside `/healthz` on the same
server in the same run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

#: Rotates through the given paths, sends the headers, and prints one JSON line at the end.
SCRIPT = """
local paths = {%(paths)s}
local i = 0
wrk.headers = {%(headers)s}
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests": %%d, "seconds": %%f, "non_2xx": %%d, "socket_errors": %%d, '
    .. '"p50_ms": %%f, "p90_ms": %%f, "p99_ms": %%f}\\n',
    summary.requests, seconds, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
"""


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for these values


def available() -> bool:
    """Whether wrk is installed (`apt-get install wrk`)."""
    return shutil.which("wrk") is not None


def load(
    base: str,
    paths: list[str],
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int = 32,
    threads: int = 1,
) -> dict[str, Any]:
    """Run wrk against `base` for `seconds`; requests/s, p50/p90/p99 (ms) and error counts."""
    script = SCRIPT % {
        "paths": ", ".join(_lua(p) for p in paths),
        "headers": ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()),
    }
    program = shutil.which("wrk")
    if program is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as folder:
        lua = Path(folder) / "load.lua"
        lua.write_text(script, "utf-8")
        done = subprocess.run(
            [
                program,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(lua),
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["rps"] = result["requests"] / result["seconds"]
    return result
