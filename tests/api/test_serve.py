"""`credit-ledger serve` as a real process on the embedded default store."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.integration.test_cli import CLI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_on_the_embedded_store(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db"}
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
                assert time.monotonic() < deadline, "service did not start in 30 s"
                time.sleep(0.2)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
