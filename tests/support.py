"""Helpers shared by the test suites: a controllable record clock, credit codes, stores."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx
import psycopg
import pytest
from stdnum.cn import uscc as stdnum_uscc

from credit_ledger.bootstrap import open_ledger
from ledger.domain.values import CST, SYSTEM_ACTOR, Actor, Role
from ledger.service.application import CreditLedger

PG_URL = os.environ.get(
    "CREDIT_LEDGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("CREDIT_LEDGER_REQUIRE_POSTGRES") == "1"
ADMIN = Actor("token:admin", Role.ADMIN, "credit_office")
PLATFORM = Actor("token:platform", Role.PLATFORM, "platform")
SYSTEM = SYSTEM_ACTOR


class StepClock:
    """A record clock the test moves: `clock.on(date)` puts it at 10:00 China time that day."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2019, 1, 1, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        # Each reading is a microsecond later, so events written at one setting stay ordered.
        self.now += timedelta(microseconds=1)
        return self.now

    def on(self, day: date, hour: int = 10) -> datetime:
        """Set the clock to a China Standard Time working hour of `day` (never backwards)."""
        target = datetime.combine(day, clock_time(hour), tzinfo=CST)
        if target > self.now:
            self.now = target
        return self.now


def uscc(n: int, prefix: str = "91410481") -> str:
    """A valid credit code, distinct for each n."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    rng = random.Random(n)
    body = prefix + "".join(rng.choice(alphabet) for _ in range(9))
    return body + stdnum_uscc.calc_check_digit(body + "0")


def recorder(*fields: str) -> Actor:
    """A recorder token for the given fields."""
    return Actor(f"token:recorder:{'+'.join(fields)}", Role.RECORDER, "dept", frozenset(fields))


def postgres_available() -> str | None:
    """None when the test server answers, else why not."""
    try:
        with psycopg.connect(_libpq(PG_URL), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_URL} does not answer: {exc}"


def _libpq(url: str) -> str:
    return url.split("?", 1)[0]


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards; yields the database URL using it."""
    why = postgres_available()
    if why is not None:
        if REQUIRE_PG:
            pytest.fail(f"CREDIT_LEDGER_REQUIRE_POSTGRES=1 but {why}")
        pytest.skip(why)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{_libpq(PG_URL)}?schema={schema}"
    finally:
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def ledger_on(store: str, tmp_path: object, clock: StepClock) -> Iterator[CreditLedger]:
    """A ledger on `memory`, `sqlite` (a file under tmp_path) or `postgres` (a fresh schema)."""
    if store == "memory":
        app = CreditLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
        yield app
        app.close()
    elif store == "sqlite":
        app = open_ledger(f"sqlite:///{tmp_path}/ledger.db", clock=clock)
        yield app
        app.close()
    elif store == "postgres":
        with postgres_schema() as url:
            app = open_ledger(url, clock=clock)
            try:
                yield app
            finally:
                app.close()
    else:  # pragma: no cover
        raise ValueError(store)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    cli: str, env: dict[str, str], cwd: Path, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real `credit-ledger serve` on a free port (or `port`, to restart one where its
    clients look for it), ready; yields its base URL and process.

    The service logs a line per request into `cwd/serve.log`: a pipe nobody reads would fill
    up and block it.
    """
    port = port or free_port()
    log = cwd / "serve.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [cli, "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "service did not become ready in 30 s"
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=15)
