"""`serve --workers N`: N server processes, each with its own listening socket on one port.

Uvicorn's own workers share one listening socket, and each event loop accepts every pending
connection it finds when it wakes: a client opening its keep-alive connections together (a
department's batch client, a load generator) lands them all on one worker while the others
idle. Here each worker binds the port itself with SO_REUSEPORT, so the kernel spreads new
connections evenly over the workers.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
from types import FrameType
from typing import Any

#: How long a worker may take to stop after the supervisor asks it to.
STOP_SECONDS = 20


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(options: dict[str, Any]) -> None:
    import uvicorn

    config = uvicorn.Config("credit_ledger.bootstrap:service", factory=True, **options)
    sock = listening_socket(config.host, config.port)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(workers: int, **options: Any) -> None:
    """Run `workers` server processes until a signal stops them or one of them ends."""
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_worker, args=(options,)) for _ in range(workers)]
    signalled = False

    def terminate() -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signalled
        signalled = True
        terminate()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for process in processes:
        process.start()
    # One worker ending (a failed start, a crash) ends the service: a port served by fewer
    # workers than asked for would look healthy at a fraction of the capacity configured, and
    # the connections queued on the dead worker's socket would be reset.
    multiprocessing.connection.wait([p.sentinel for p in processes])
    crashed = not signalled
    terminate()
    for process in processes:
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
    if crashed:
        sys.exit(3)
