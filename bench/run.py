"""The benchmark suite: bulk import, rebuild, annual evaluation, single-subject reads, HTTP.

Every figure is reported beside a reference measured in the same run on the same machine, and
as a ratio to it, because these machines are shared and noisy:

- bulk import events/s (the default bulk path, and `--path command` into a second fresh store)
  — beside writing the same stored rows straight into a same-shaped table (PostgreSQL: binary
  COPY; SQLite: one executemany in one transaction); `--import-only` stops there;
- full rebuild of every read model (`rebuild` with no name: one pass of the log) events/s —
  beside a raw ordered read of the events table (the driver's cursor), and beside the same
  read through the library's recorder;
- annual 31-October evaluation of every subject — seconds and events/s, beside the same raw
  ordered read;
- one subject's evaluation with as_of/known_at in process — p50/p99, beside the raw read of the
  same subject's events;
- the batch read of up to 1,000 codes in process — ms per subject, beside the same codes read
  one by one;
- the same over HTTP against `credit-ledger serve --workers 2` — requests/s, p50 and p99 with
  wrk (a C load generator, so the client does not take the server's cores), beside `/healthz`
  on the same server;
- instructions per evaluation request, counted by valgrind with the app driven in process
  (`bench.cost`) — beside `/healthz` counted alike: within ~1 % between runs, where requests/s
  moved by a third, so it shows an effect of a few per cent;
- writes to one subject in process — commands/s (1 / the median write) at the start of its
  stream and after ~N events, whose ratio is 1.0 when a write's cost is flat in the stream's length;
- the peak memory of each command (summed over its processes).

Usage: `python -m bench [--subjects 100000] [--stores sqlite,postgres] [--out bench/results]
[--skip reads,http,instructions,writes]`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from bench import cost, wrk
from credit_ledger.bootstrap import open_ledger
from credit_ledger.cli.common import REBUILD_EVENTS_PER_WORKER
from credit_ledger.parallel import default_workers
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.domain.values import CST, SYSTEM_ACTOR
from ledger.service.queries import MAX_BATCH
from ledger.store.log import read_log, read_pages

CLI = shutil.which("credit-ledger", path=str(Path(sys.executable).parent)) or "credit-ledger"
PG_URL = os.environ.get(
    "CREDIT_LEDGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def phase(url: str, *args: str) -> dict[str, Any]:
    """Run a `credit-ledger` command in a child, measuring wall time and its peak memory."""
    env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "bench.phase", CLI, *args], env=env, capture_output=True, check=False
    )
    result: dict[str, Any] = orjson.loads(done.stdout)
    if result["returncode"] != 0:
        raise RuntimeError(f"credit-ledger {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
    return result


@contextmanager
def store(kind: str, folder: Path, name: str = "bench") -> Iterator[str]:
    """A fresh store: an SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/{name}.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def stored_rows(url: str) -> list[tuple[Any, ...]]:
    """Every stored event row (stream, version, topic, bytes), in log order."""
    ledger = open_ledger(url)
    try:
        return [
            (n.originator_id, n.originator_version, n.topic, n.state)
            for n in read_log(ledger.recorder, page_size=10_000)
        ]
    finally:
        ledger.close()


def copy_reference(kind: str, url: str, rows: list[tuple[Any, ...]]) -> float:
    """Rows/s writing the same rows straight into a same-shaped table (the physical limit)."""
    if kind == "postgres":
        schema = url.split("schema=")[1]
        with psycopg.connect(PG_URL) as conn:
            conn.execute(
                f"CREATE TABLE {schema}.copy_reference (originator_id uuid, originator_version "
                "bigint, topic text, state bytea, notification_id bigserial)"
            )
            started = time.perf_counter()
            with conn.cursor().copy(
                f"COPY {schema}.copy_reference (originator_id, originator_version, topic, state) "
                "FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            return len(rows) / (time.perf_counter() - started)
    import sqlite3

    path = url.removeprefix("sqlite:///")
    lite = sqlite3.connect(path)
    lite.execute(
        "CREATE TABLE copy_reference (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    started = time.perf_counter()
    with lite:
        lite.executemany(
            "INSERT INTO copy_reference VALUES (?, ?, ?, ?)",
            [(r[0].hex, r[1], r[2], r[3]) for r in rows],
        )
    elapsed = time.perf_counter() - started
    lite.close()
    return len(rows) / elapsed


def read_reference(url: str) -> float:
    """Rows/s of a raw ordered read of the whole events table: the driver's cursor, no objects.

    This is the store's own limit: every column of every row fetched in log order, in pages,
    and nothing done with them.
    """
    ledger = open_ledger(url)
    table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    ledger.close()
    if url.startswith("sqlite"):
        import sqlite3

        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            started = time.perf_counter()
            rows = lite.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {table} ORDER BY rowid"
            )
            count = 0
            while page := rows.fetchmany(10_000):
                count += len(page)
            return count / (time.perf_counter() - started)
        finally:
            lite.close()
    schema = url.split("schema=")[1]
    # Binary results, as the rebuild reads them: text results hex-escape every stored byte
    # and read at about half the rate.
    with psycopg.connect(PG_URL) as pg, pg.cursor(name="raw_read", binary=True) as cursor:
        started = time.perf_counter()
        cursor.itersize = 10_000
        cursor.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {schema}.{table} ORDER BY notification_id"
        )
        count = 0
        while page := cursor.fetchmany(10_000):
            count += len(page)
        return count / (time.perf_counter() - started)


def recorder_read_reference(url: str) -> float:
    """Rows/s of the same read through the library's recorder (notification objects)."""
    ledger = open_ledger(url)
    try:
        started = time.perf_counter()
        count = 0
        for page in read_pages(ledger.recorder, page_size=10_000):
            count += len(page)
        return count / (time.perf_counter() - started)
    finally:
        ledger.close()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of measured values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process_reads(url: str, samples: int) -> dict[str, float]:
    """p50/p99 of one subject's evaluation in process, beside reading its events alone."""
    ledger = open_ledger(url)
    try:
        codes = [e.uscc for e in ledger.subject_registrations()]
        chosen = random.Random(7).sample(codes, min(samples, len(codes)))
        known_at = datetime(2025, 11, 1, tzinfo=CST)
        evaluate, read = [], []
        for code in chosen:
            started = time.perf_counter()
            ledger.history(code)
            read.append(time.perf_counter() - started)
            started = time.perf_counter()
            ledger.evaluate(code, as_of=date(2025, 10, 31), known_at=known_at)
            evaluate.append(time.perf_counter() - started)
        return {
            "eval_p50_ms": percentile(evaluate, 0.5) * 1000,
            "eval_p99_ms": percentile(evaluate, 0.99) * 1000,
            "read_p50_ms": percentile(read, 0.5) * 1000,
            "read_p99_ms": percentile(read, 0.99) * 1000,
            "codes": chosen,  # type: ignore[dict-item]
        }
    finally:
        ledger.close()


#: A valid credit code no generated subject has: its region (350100) is not the generator's.
WRITE_CODE = "92350100MA2Y0W8B5X"


def one_subject_writes(url: str, events: int, window: int) -> dict[str, float]:
    """Commands/s recording facts on one subject: its first `window` writes, and `window` writes
    once its stream holds `events` events (flat in stream length: a ratio of 1.0).

    The rate is 1 / the median write's time: on a shared machine a few writes that wait for the
    disk or a core would otherwise decide the figure.
    """
    ledger = open_ledger(url)
    try:
        ledger.handle(
            RegisterSubject(
                uscc=WRITE_CODE,
                name="bench",
                kind="enterprise",
                fields=["food"],
                actor=SYSTEM_ACTOR,
            )
        )

        def record(n: int) -> float:
            started = time.perf_counter()
            ledger.handle(
                RecordFact(
                    uscc=WRITE_CODE,
                    indicator="penalty.minor",
                    decided_on=date(2024, 1, 1),
                    domain="food",
                    document_no=f"bench-{n}",
                    actor=SYSTEM_ACTOR,
                )
            )
            return time.perf_counter() - started

        def timed(first: int) -> float:
            return percentile([record(n) for n in range(first, first + window)], 0.5)

        at_start = timed(0)
        for n in range(window, max(window, events - 1)):
            record(n)
        at_length = timed(max(window, events - 1))
        return {
            "write_start_cmd_per_s": 1 / at_start,
            "write_long_cmd_per_s": 1 / at_length,
            "write_start_p50_ms": at_start * 1000,
            "write_long_p50_ms": at_length * 1000,
            "write_long_events": events + window,
        }
    finally:
        ledger.close()


def batch_reads(url: str, codes: list[str], rounds: int = 3) -> dict[str, float]:
    """Per-subject time of one batch read of up to 1,000 codes (`evaluate_many`, the batch
    endpoint's path) beside the same codes read one by one (`evaluate`, the single read's);
    the best of a few interleaved rounds of each, so a noisy neighbour hurts both alike."""
    ledger = open_ledger(url)
    try:
        chosen = codes[:MAX_BATCH]
        as_of, known_at = date(2025, 10, 31), datetime(2025, 11, 1, tzinfo=CST)
        single, batch = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            for code in chosen:
                ledger.evaluate(code, as_of=as_of, known_at=known_at)
            single.append(time.perf_counter() - started)
            started = time.perf_counter()
            ledger.evaluate_many(chosen, as_of=as_of, known_at=known_at)
            batch.append(time.perf_counter() - started)
        return {
            "batch_subjects": len(chosen),
            "batch_per_subject_ms": min(batch) / len(chosen) * 1000,
            "single_per_subject_ms": min(single) / len(chosen) * 1000,
        }
    finally:
        ledger.close()


def http_reads(url: str, codes: list[str], args: argparse.Namespace) -> dict[str, float]:
    """Requests/s and p50/p99 of evaluations over HTTP (wrk), beside /healthz on the same server."""
    if not wrk.available():
        raise SystemExit("the HTTP figures need wrk: apt-get install wrk")
    env = {
        **os.environ,
        "CREDIT_LEDGER_DATABASE_URL": url,
        "CREDIT_LEDGER_PROJECTOR": "off",
        "CREDIT_LEDGER_LOG_LEVEL": "warning",
    }
    token = subprocess.run(
        [CLI, "token", "create", "--role", "reader", "--name", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--workers", str(args.http_workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        paths = [f"/v1/subjects/{c}/evaluation?as_of=2025-10-31&purpose=bench" for c in codes]
        auth = {"Authorization": f"Bearer {token}"}
        load = {"seconds": args.http_seconds, "connections": args.http_connections}
        ref = wrk.load(base, ["/healthz"], auth, **load)
        got = wrk.load(base, paths, auth, **load)
        for name, result in (("healthz", ref), ("evaluation", got)):
            if result["non_2xx"] or result["socket_errors"] or not result["requests"]:
                raise RuntimeError(f"HTTP {name}: {result}")
        figures: dict[str, float] = {
            "http_rps": got["rps"],
            "http_p50_ms": got["p50_ms"],
            "http_p99_ms": got["p99_ms"],
            "healthz_rps": ref["rps"],
            "healthz_p50_ms": ref["p50_ms"],
            "healthz_p99_ms": ref["p99_ms"],
            "http_connections": args.http_connections,
            "http_workers": args.http_workers,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.cost_requests and "instructions" not in args.skip.split(","):
        if not cost.available():
            raise SystemExit(
                "the instruction count needs valgrind: apt-get install valgrind "
                "(or --skip instructions)"
            )
        n = args.cost_requests
        figures["http_instructions"] = cost.count(url, paths, token, requests=n) / n
        figures["healthz_instructions"] = cost.count(url, ["/healthz"], token, requests=n) / n
    return figures


def bench_store(kind: str, ndjson: Path, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement on one store."""
    with store(kind, folder) as url:
        imported = phase(
            url,
            "import",
            str(ndjson),
            "--keep-record-time",
            "--rejects",
            str(folder / f"{kind}.rejects"),
        )
        ledger = open_ledger(url)
        events = ledger.max_position()
        ledger.close()
        again = phase(url, "import", str(ndjson), "--rejects", str(folder / f"{kind}.rejects2"))
        ledger = open_ledger(url)
        events_after_rerun = ledger.max_position()
        ledger.close()
        rows = stored_rows(url)
        copy_rps = copy_reference(kind, url, rows)
        del rows
        skip = set(args.skip.split(",")) if args.skip else set()
        command_rate: dict[str, float] = {}
        if "command" not in skip:
            with store(kind, folder, "command-path") as command_url:
                by_commands = phase(
                    command_url,
                    "import",
                    str(ndjson),
                    "--path",
                    "command",
                    "--keep-record-time",
                    "--rejects",
                    str(folder / f"{kind}.command.rejects"),
                )
            command_rate["command_import_events_per_s"] = events / by_commands["seconds"]
        imports = {
            "store": kind,
            "events": events,
            "rerun_added_events": events_after_rerun - events,
            "import_events_per_s": events / imported["seconds"],
            **command_rate,
            "copy_rows_per_s": copy_rps,
            "import_peak_mb": imported["peak_rss_mb"],
            "rerun_seconds": again["seconds"],
        }
        if args.import_only:
            return imports
        workers = ["--workers", str(args.rebuild_workers)] if args.rebuild_workers else []
        rebuilt = phase(url, "rebuild", *workers)  # every read model: one pass of the log
        read_rps = read_reference(url)
        recorder_read_rps = recorder_read_reference(url)
        annual = phase(url, "evaluations", "build", "--year", "2023")
        reads: dict[str, Any] = {} if "reads" in skip else in_process_reads(url, args.samples)
        codes: list[str] = reads.pop("codes", [])
        batched = batch_reads(url, codes) if codes else {}
        http = http_reads(url, codes, args) if codes and "http" not in skip else {}
        writes = {}
        if "writes" not in skip:
            writes = one_subject_writes(url, args.write_events, args.write_window)
        return {
            **imports,
            "rebuild_events_per_s": events / rebuilt["seconds"],
            "raw_read_rows_per_s": read_rps,
            "recorder_read_rows_per_s": recorder_read_rps,
            # As the CLI chooses by default: a process per core, one per 100 000 events at most.
            "rebuild_workers": args.rebuild_workers
            or min(default_workers(), max(1, events // REBUILD_EVENTS_PER_WORKER)),
            "rebuild_peak_mb": rebuilt["peak_rss_mb"],
            "annual_seconds": annual["seconds"],
            "annual_events_per_s": events / annual["seconds"],
            "annual_peak_mb": annual["peak_rss_mb"],
            **reads,
            **batched,
            **http,
            **writes,
        }


def _figure(value: float) -> str:
    """A measured value with the digits that matter: sub-10 ms times keep three decimals."""
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3f}"


def markdown(report: dict[str, Any]) -> str:
    """The table of one run: each figure beside its reference and their ratio."""
    lines = [
        f"### {report['subjects']:,} subjects — {report['when']}",
        "",
        "| store | figure | measured | reference (same run) | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for r in report["stores"]:
        s = r["store"]
        raw = f"raw {'binary COPY' if s == 'postgres' else 'executemany'} rows/s"
        rows: list[tuple[str, Any, str, Any]] = [
            ("bulk import events/s", r["import_events_per_s"], raw, r["copy_rows_per_s"]),
        ]
        if "command_import_events_per_s" in r:  # unless --skip command
            rows.append(
                (
                    "import through the command path (--path command) events/s",
                    r["command_import_events_per_s"],
                    raw,
                    r["copy_rows_per_s"],
                )
            )
        if "rebuild_events_per_s" not in r:  # --import-only
            for name, value, ref_name, ref in rows:
                lines.append(
                    f"| {s} | {name} | {_figure(value)} | {_figure(ref)} ({ref_name}) | "
                    f"{value / ref:.2f} |"
                )
            continue
        rows += [
            (
                f"rebuild of every read model, one pass, events/s "
                f"({r.get('rebuild_workers', 1)} processes)",
                r["rebuild_events_per_s"],
                "raw ordered read rows/s",
                r["raw_read_rows_per_s"],
            ),
            (
                "the same rebuild",
                r["rebuild_events_per_s"],
                "the raw read through the library's recorder rows/s",
                r.get("recorder_read_rows_per_s", r["raw_read_rows_per_s"]),
            ),
            (
                "annual 2023 evaluation of all subjects events/s",
                r["annual_events_per_s"],
                "raw ordered read rows/s",
                r["raw_read_rows_per_s"],
            ),
            (
                "evaluation p50 ms (in process)",
                r.get("eval_p50_ms"),
                "raw read of its events p50 ms",
                r.get("read_p50_ms"),
            ),
            (
                "evaluation p99 ms (in process)",
                r.get("eval_p99_ms"),
                "raw read of its events p99 ms",
                r.get("read_p99_ms"),
            ),
            (
                f"batch read ms per subject (in process, {r.get('batch_subjects', '?')} codes)",
                r.get("batch_per_subject_ms"),
                "the same codes read one by one, ms per subject",
                r.get("single_per_subject_ms"),
            ),
            (
                f"HTTP evaluation requests/s (wrk, {r.get('http_connections', '?')} connections, "
                f"serve --workers {r.get('http_workers', '?')})",
                r.get("http_rps"),
                "HTTP /healthz requests/s",
                r.get("healthz_rps"),
            ),
            (
                f"writes to one subject with {r.get('write_long_events', 0):,} events "
                "commands/s (in process, 1/p50)",
                r.get("write_long_cmd_per_s", 0.0),
                "the same writes at its start commands/s",
                r.get("write_start_cmd_per_s", 1.0),
            ),
            (
                "instructions per evaluation request (in process, callgrind)",
                r.get("http_instructions"),
                "instructions per /healthz request",
                r.get("healthz_instructions"),
            ),
            (
                "HTTP evaluation p50 ms",
                r.get("http_p50_ms", 0.0),
                "HTTP /healthz p50 ms",
                r.get("healthz_p50_ms", 1.0),
            ),
            (
                "HTTP evaluation p99 ms",
                r.get("http_p99_ms"),
                "HTTP /healthz p99 ms",
                r.get("healthz_p99_ms"),
            ),
        ]
        for name, value, ref_name, ref in rows:
            if not value or not ref:  # a part the run skipped (`--skip`)
                continue
            lines.append(
                f"| {s} | {name} | {_figure(value)} | {_figure(ref)} ({ref_name}) | "
                f"{value / ref:.2f} |"
            )
        lines.append(
            f"| {s} | annual 2023 evaluation of all subjects, seconds | "
            f"{r['annual_seconds']:,.1f} s "
            f"({r['annual_events_per_s']:,.0f} events/s) | — | — |"
        )
        lines.append(
            f"| {s} | peak memory MB: import / rebuild / annual | "
            f"{r['import_peak_mb']:.0f} / {r['rebuild_peak_mb']:.0f} / "
            f"{r['annual_peak_mb']:.0f} | — | — |"
        )
        lines.append(
            f"| {s} | events stored; added by a second import | {r['events']:,}; "
            f"{r['rerun_added_events']} | — | — |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the suite and write JSON and Markdown under --out."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--samples", type=int, default=2000, help="subjects timed in process")
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--http-connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--http-workers", type=int, default=2, help="serve --workers")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument(
        "--write-events", type=int, default=500, help="stream length of the one-subject writes"
    )
    parser.add_argument("--write-window", type=int, default=50, help="writes timed at each end")
    parser.add_argument(
        "--rebuild-workers", type=int, default=None, help="rebuild processes (default: cores)"
    )
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="measure the imports (both write paths) and the COPY reference only",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="parts to leave out, comma-separated: command (the command-path import), reads "
        "(in process, and so batch and HTTP), http, instructions (the count under valgrind), "
        "writes",
    )
    parser.add_argument(
        "--cost-requests",
        type=int,
        default=400,
        help="requests counted under valgrind (bench.cost) for instructions per request",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="credit-ledger-bench-") as tmp:
        folder = Path(tmp)
        ndjson = folder / "platform.ndjson"
        generated = phase(
            "sqlite:///unused.db",
            "generate",
            "--subjects",
            str(args.subjects),
            "--seed",
            str(args.seed),
            "--out",
            str(ndjson),
        )
        report: dict[str, Any] = {
            "subjects": args.subjects,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "generate_seconds": generated["seconds"],
            "generate_peak_mb": generated["peak_rss_mb"],
            "ndjson_bytes": ndjson.stat().st_size,
            "stores": [],
        }
        for kind in args.stores.split(","):
            print(f"benchmarking {kind} at {args.subjects:,} subjects …", file=sys.stderr)
            report["stores"].append(bench_store(kind, ndjson, folder, args))
    stem = f"{args.subjects}-subjects"
    (args.out / f"{stem}.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    table = markdown(report)
    (args.out / f"{stem}.md").write_text(table)
    print(table)
