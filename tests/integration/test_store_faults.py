"""A real `serve` under real store faults: a PostgreSQL cluster stopped for 40 s, a full disk.

The cluster is a throwaway one the test makes (initdb into a temporary directory, run as the
`postgres` OS user when the tests run as root), and the full disk a 2 MiB tmpfs the test
mounts; nothing stands in for the failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Served
from tests.integration.test_cli import CLI
from tests.support import REQUIRE_PG, free_port, serving, uscc

CODE = uscc(71)
#: A request on a store that is away answers within this long (issue 12).
ANSWER_WITHIN = 5.0
OUTAGE_SECONDS = 40.0


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Cluster:
    """A PostgreSQL cluster of our own on a free port, to stop and start at will."""

    bin: Path
    base: Path
    port: int
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.base / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("-o", options, "-l", str(self.base / "server.log"), "-w", "start")

    def stop(self) -> None:
        # As a crash or a pulled cable does it: no shutdown checkpoint, connections cut.
        self.ctl("-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A fresh cluster (trust auth, user postgres), stopped and removed afterwards."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        why = "no PostgreSQL server binaries (initdb) to make a throwaway cluster with"
        if REQUIRE_PG:
            pytest.fail(f"CREDIT_LEDGER_REQUIRE_POSTGRES=1 but {why}")
        pytest.skip(why)
    # The server refuses to run as root: as root, the cluster belongs to the postgres user.
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="credit-ledger-pg-"))
    if as_postgres:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(
        [
            *as_postgres,
            str(pg_bin / "initdb"),
            "-D",
            str(base / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = Cluster(pg_bin, base, free_port(), as_postgres)
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def _timed(served: Served, method: str, path: str, token: str, **kw: Any) -> tuple[Any, float]:
    started = time.monotonic()
    answer = served.call(method, path, token, **kw)
    return answer, time.monotonic() - started


def _fact(number: int) -> dict[str, str]:
    return {
        "indicator": "penalty.general",
        "decided_on": "2025-03-01",
        "domain": "food",
        "document_no": f"舞市监罚〔2025〕{number}号",
    }


def _setup(served: Served) -> dict[str, str]:
    tokens = {
        "admin": served.token("--role", "admin"),
        "food": served.token("--role", "recorder", "--field", "food"),
        "reader": served.token("--role", "reader"),
    }
    body = {"uscc": CODE, "name": "舞钢市某食品有限公司", "kind": "enterprise", "fields": ["food"]}
    assert served.call("POST", "/v1/subjects", tokens["admin"], json=body).status_code == 201
    fact = served.call("POST", f"/v1/subjects/{CODE}/facts", tokens["food"], json=_fact(1))
    assert fact.status_code == 201, fact.text
    return tokens


def _requests(tokens: dict[str, str], number: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """A grade read (audited), a plain read and a write."""
    return [
        (
            "GET",
            f"/v1/subjects/{CODE}/evaluation",
            tokens["reader"],
            {"params": {"as_of": "2025-10-31", "purpose": "抽查"}},
        ),
        ("GET", f"/v1/subjects/{CODE}", tokens["reader"], {}),
        ("POST", f"/v1/subjects/{CODE}/facts", tokens["food"], {"json": _fact(number)}),
    ]


def _is_problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


@pytest.mark.slow
def test_a_40_second_postgresql_outage_answers_503_within_5_seconds_then_recovers(
    tmp_path: Path,
) -> None:
    with throwaway_cluster() as cluster:
        env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": cluster.url}
        with serving(CLI, env, tmp_path) as (base, process):
            served = Served(base, env, process)
            tokens = _setup(served)
            cluster.stop()
            stopped = time.monotonic()
            answered = 0
            number = 100
            while time.monotonic() - stopped < OUTAGE_SECONDS:
                number += 1
                for method, path, token, kw in _requests(tokens, number):
                    answer, took = _timed(served, method, path, token, **kw)
                    body = _is_problem(answer, 503)
                    assert took < ANSWER_WITHIN, f"{method} {path} took {took:.1f} s"
                    assert body["type"] == "urn:credit-ledger:problem:store-unavailable"
                    assert int(answer.headers["Retry-After"]) > 0
                    answered += 1
                ready, took = _timed(served, "GET", "/readyz", "")
                body = _is_problem(ready, 503)
                assert took < 3.0, f"/readyz took {took:.1f} s"  # its timeout is 2 s
                assert body["store"]["status"] == "unreachable"
                assert "refused" in body["store"]["error"].lower(), body  # why, not just "no"
                assert int(ready.headers["Retry-After"]) > 0
            assert answered >= 9, "the outage was probed throughout"
            assert process.poll() is None, "the service stayed up"
            log = (tmp_path / "serve.log").read_text(errors="replace")
            assert '"status":503' in log  # the 503s are in the access log

            cluster.start()
            deadline = time.monotonic() + 20
            while served.call("GET", "/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover in 20 s"
                time.sleep(0.5)
            number += 1
            for method, path, token, kw in _requests(tokens, number):
                answer = served.call(method, path, token, **kw)
                assert answer.status_code in (200, 201), answer.text
            metrics = served.call("GET", "/metrics").text
            assert 'status="503"' in metrics


def _mount_small_filesystem(where: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root; the tests run unprivileged")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"this system cannot mount a tmpfs here: {mounted.stderr.strip()}")


def _write_forever(fd: int) -> None:
    while True:
        os.write(fd, b"\0" * 4096)


def _fill(where: Path) -> Path:
    """Take every free byte of the filesystem; returns the filler file."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="No space left on device"):
            _write_forever(fd)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_answers_507_to_writes_and_audited_reads_and_readyz_names_it(
    tmp_path: Path,
) -> None:
    small = tmp_path / "small"
    _mount_small_filesystem(small)
    try:
        env = {
            **os.environ,
            "CREDIT_LEDGER_DATABASE_URL": f"sqlite:///{small}/ledger.db",
        }
        with serving(CLI, env, tmp_path) as (base, process):
            served = Served(base, env, process)
            tokens = _setup(served)
            filler = _fill(small)
            grade, plain, write = _requests(tokens, 2)

            written = served.call(write[0], write[1], write[2], **write[3])
            assert _is_problem(written, 507)["type"] == "urn:credit-ledger:problem:store-full"
            read = served.call(grade[0], grade[1], grade[2], **grade[3])
            assert _is_problem(read, 507)["type"] == "urn:credit-ledger:problem:store-full"
            ready = served.call("GET", "/readyz")
            body = _is_problem(ready, 503)
            assert body["store"]["status"] == "out-of-space"
            assert "full" in body["store"]["error"]
            # What needs no write still answers.
            assert served.call(plain[0], plain[1], plain[2]).status_code == 200
            log = (tmp_path / "serve.log").read_text(errors="replace")
            assert '"status":507' in log

            filler.unlink()  # space again: the same service takes writes again
            # The in-process projector failed while the disk was full; ready again once its
            # next retry (bounded backoff) has brought the read models up to date.
            deadline = time.monotonic() + 60
            while (ready := served.call("GET", "/readyz")).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                time.sleep(0.5)
            again = served.call(write[0], write[1], write[2], **write[3])
            assert again.status_code == 201, again.text
            assert served.call(grade[0], grade[1], grade[2], **grade[3]).status_code == 200
            assert process.poll() is None
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False, capture_output=True)
