"""`serve --workers 2`: connections opened together spread over both workers, and it stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.integration.test_cli import CLI
from tests.support import free_port


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


#: /proc/net/tcp's codes of the socket states asked for.
ESTABLISHED, LISTEN = "01", "0A"


def _sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets on local `port` in `state` this process holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local_port = int(cols[1].split(":")[1], 16)
        if local_port == port and cols[3] == state and cols[9] in inodes:
            count += 1
    return count


def test_two_workers_share_the_connections_and_stop_on_a_signal(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CREDIT_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
        "CREDIT_LEDGER_PROJECTOR": "off",
        "CREDIT_LEDGER_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    opened: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        # Both workers listening (not only started), so the kernel can choose either.
        while len(_listening(process.pid, port)) < 2 or not _ready(base):
            assert process.poll() is None
            assert time.monotonic() < deadline, "service did not start in 30 s"
            time.sleep(0.2)
        # Sixteen keep-alive connections, opened together as a load generator opens them: the
        # kernel completes each handshake before any worker accepts.
        opened = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(16)]
        for conn in opened:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        for conn in opened:
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        workers = [w for w in _children(process.pid) if _sockets(w, port, ESTABLISHED)]
        assert len(workers) == 2
    finally:
        for conn in opened:
            conn.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def _listening(pid: int, port: int) -> list[int]:
    return [w for w in _children(pid) if _sockets(w, port, LISTEN)]


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
