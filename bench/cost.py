"""Instructions per HTTP request, counted by valgrind: a figure the machine's noise cannot move.

Requests/s on these shared machines moved by a third between runs of the same code, so an
effect under about a fifth could not be told from noise (`docs/performance.md`). The number of
instructions the same requests execute moves by about 1 % between runs, whatever else the
machine does. `count` drives the service's ASGI app in one process, as `serve` builds it,
with `concurrency` requests in flight; callgrind counts from after a warm-up to the end of
`requests` requests, in every thread of the process (the event loop, the thread pool, the
connection pool). Not counted: the HTTP parser and sockets (no server), the load generator,
and PostgreSQL's own work (another process). The same run counts `/healthz` as the reference.

    python -m bench.cost --database-url URL --token TOKEN --codes FILE [--requests 400]
        [--log-level info]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

#: Requests run before the count starts (caches, prepared statements, the frozen heap).
WARM_UP = 100


def available() -> bool:
    """Whether valgrind is installed (`apt-get install valgrind`)."""
    return _tool("valgrind") is not None and _tool("callgrind_control") is not None


def _tool(name: str) -> str | None:
    return shutil.which(name)


def count(
    database_url: str,
    paths: list[str],
    token: str,
    *,
    requests: int,
    concurrency: int = 32,
    log_level: str = "warning",
) -> int:
    """Instructions executed by `requests` GETs of `paths` (in turn) after a warm-up.

    At `log_level` warning (the bench's) no access line is written; at info (the service's
    default) each request writes one, to a file here, so that what a deployment pays is counted.
    """
    with tempfile.TemporaryDirectory() as folder:
        gate = Path(folder)
        (gate / "paths").write_text("\n".join(paths))
        out = gate / "callgrind.out"
        log = gate / "stderr"
        env = {
            **os.environ,
            "CREDIT_LEDGER_DATABASE_URL": database_url,
            "CREDIT_LEDGER_PROJECTOR": "off",
            "CREDIT_LEDGER_LOG_LEVEL": log_level,
        }
        with log.open("w") as written:
            child = subprocess.Popen(
                [
                    _tool("valgrind") or "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",  # start-up and warm-up uncounted (and fast)
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    "-m",
                    "bench.cost",
                    "--drive",
                    str(gate),
                    "--token",
                    token,
                    "--requests",
                    str(requests),
                    "--concurrency",
                    str(concurrency),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=written,
                text=True,
            )
            try:
                _wait_for(gate / "ready", child, log)
                _control(child.pid, "on")
                (gate / "go").touch()
                _wait_for(gate / "done", child, log)
                _control(child.pid, "off")
                (gate / "end").touch()
                child.wait(timeout=120)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        if child.returncode != 0:
            errors = log.read_text()[-2000:]
            raise RuntimeError(f"the counted run failed ({child.returncode}): {errors}")
        return _total(out)


def _wait_for(path: Path, child: subprocess.Popen[str], log: Path, seconds: float = 900) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if child.poll() is not None:
            raise RuntimeError(f"the counted run ended early: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path.name} from the counted run in {seconds} s")
        time.sleep(0.1)


def _control(pid: int, switch: str) -> None:
    subprocess.run(
        [_tool("callgrind_control") or "callgrind_control", "--instr=" + switch, str(pid)],
        check=True,
        capture_output=True,
    )


def _total(out: Path) -> int:
    """The instructions callgrind counted (its `totals:` line; `summary:` may read 0 when
    counting started late)."""
    totals = [
        int(found)
        for part in out.parent.glob(out.name + "*")
        for found in re.findall(r"^totals:\s*(\d+)", part.read_text(), re.MULTILINE)
    ]
    if not totals or not sum(totals):
        raise RuntimeError(f"callgrind counted nothing in {out}")
    return sum(totals)


def drive(gate: Path, token: str, requests: int, concurrency: int) -> None:
    """The counted process: warm up, say ready, run the requests when told, say done."""
    import uvloop

    from credit_ledger.bootstrap import service

    paths = (gate / "paths").read_text().split("\n")
    app = service()
    headers = [(b"host", b"bench"), (b"authorization", b"Bearer " + token.encode())]

    async def one(n: int) -> None:
        path, _, query = paths[n % len(paths)].partition("?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{path}: {sent[0]['status']} {sent[1:]}")

    async def run(total: int, flight: asyncio.Semaphore) -> None:
        async def limited(n: int) -> None:
            async with flight:
                await one(n)

        await asyncio.gather(*(limited(n) for n in range(total)))

    async def main() -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        lifespan = asyncio.create_task(
            app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put
            )
        )
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the service did not start: {started}")
        flight = asyncio.Semaphore(concurrency)
        await run(WARM_UP, flight)
        (gate / "ready").touch()
        while not (gate / "go").exists():
            await asyncio.sleep(0.05)
        await run(requests, flight)
        (gate / "done").touch()
        while not (gate / "end").exists():
            await asyncio.sleep(0.05)
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan

    uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--codes", type=Path, help="credit codes to read, one a line")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--log-level", default="warning", help="the service's (default warning: no access log)"
    )
    args = parser.parse_args()
    if args.drive:
        drive(args.drive, args.token, args.requests, args.concurrency)
        return
    codes = args.codes.read_text().split()
    paths = [f"/v1/subjects/{c}/evaluation?as_of=2025-10-31&purpose=bench" for c in codes]
    url, token, n, level = args.database_url, args.token, args.requests, args.log_level
    got = count(url, paths, token, requests=n, log_level=level)
    ref = count(url, ["/healthz"], token, requests=n, log_level=level)
    print(f"evaluation: {got / args.requests:,.0f} instructions/request")
    print(f"/healthz:   {ref / args.requests:,.0f} instructions/request (reference)")
    print(f"ratio:      {got / ref:.2f}")


if __name__ == "__main__":
    main()
