"""Two real ledgers linked (DOMAIN §10, issue 17): a province and a city, each a served
`credit-ledger serve` on its own store, and the real `credit-ledger sync` between them.

Records go up with their source, the province's restatement comes down within one sync, a
`kill -9` of either side loses and doubles nothing, and a refusal is parked where both credit
offices see it. Each direction of stores is run: (province PostgreSQL, city SQLite) and
(province SQLite, city PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from credit_ledger.bootstrap import open_ledger
from ledger.domain import events
from ledger.domain.federation import DELIVERED_TOPICS
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.domain.values import CST, SYSTEM_ACTOR
from tests.integration.test_cli import CLI
from tests.support import postgres_schema, serving, uscc

#: The city's name, as the province's federation token carries it.
CITY = "舞钢市"
#: The city of the crash test: its own ledger and token, so its positions are its own.
CRASH_CITY = "汝州市"
#: Subjects the crash test loads into its city: some hundreds of records, many batches.
CRASH_SUBJECTS = 80
#: Small batches, so a kill lands between and inside many of them.
CRASH_BATCH = 20
#: What differs between a record and its delivered copy by design: when and by whom each
#: ledger stored it, and its place in each stream (the province's carry receipts between).
NOT_COMPARED = frozenset(
    {"timestamp", "actor_id", "department", "originator_version", "originator_topic"}
)
CITY_ROLES = {
    "admin": ("admin", []),
    "food": ("recorder", ["food"]),
    "platform": ("platform", []),
    "reader": ("reader", []),
}


@dataclass
class Side:
    """One ledger: its store, its served process (if any) and its tokens by role."""

    url: str
    cwd: Path
    env: dict[str, str]
    base: str = ""
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=60, **kw)

    def get(self, path: str, who: str = "admin", **params: Any) -> Any:
        answer = self.call("GET", path, who, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: Any, who: str = "admin") -> Any:
        answer = self.call("POST", path, who, json=body)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()


@dataclass
class Link:
    """A province and a city, both served, and the sync between them."""

    province: Side
    city: Side
    stack: ExitStack

    def sync_env(self, city: Side, token: str) -> dict[str, str]:
        return {
            **city.env,
            "CREDIT_LEDGER_UPSTREAM_URL": self.province.base,
            "CREDIT_LEDGER_UPSTREAM_TOKEN": token,
            "CREDIT_LEDGER_SYNC_BATCH": str(CRASH_BATCH),
            "CREDIT_LEDGER_SYNC_INTERVAL_SECONDS": "0.2",
        }

    def sync(self, city: Side | None = None, token: str | None = None) -> str:
        """`credit-ledger sync --once` for the city; its summary line."""
        city = city or self.city
        done = cli(self.sync_env(city, token or self.province.tokens[CITY]), "sync", "--once")
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start_sync(self, city: Side, token: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [CLI, "sync", *args],
            env=self.sync_env(city, token),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill_province(self) -> None:
        """`kill -9` of the province's service."""
        assert self.province.process is not None
        self.province.process.send_signal(signal.SIGKILL)
        self.province.process.wait(timeout=30)

    def restart_province(self) -> None:
        """The province served again on the same store and port (where the city looks)."""
        port = urlsplit(self.province.base).port
        base, process = self.stack.enter_context(
            serving(CLI, self.province.env, self.province.cwd, port=port)
        )
        self.province.base, self.province.process = base, process


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@contextmanager
def store(kind: str, folder: Path) -> Iterator[str]:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "postgres":
        with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{folder}/ledger.db"


def side(url: str, folder: Path, **env: str) -> Side:
    return Side(
        url=url,
        cwd=folder,
        env={
            **os.environ,
            "CREDIT_LEDGER_DATABASE_URL": url,
            "CREDIT_LEDGER_PROJECTOR": "in-process",
            **env,
        },
    )


def federation_token(province: Side, name: str) -> str:
    """The token the province issues a city (`token create --role federation --name NAME`)."""
    return issue(province.url, {name: ("federation", [])})[name]


def issue(url: str, roles: dict[str, tuple[str, list[str]]]) -> dict[str, str]:
    ledger = open_ledger(url)
    try:
        return {
            who: ledger.issue_token(role=role, fields=f, name=who, actor=SYSTEM_ACTOR).secret
            for who, (role, f) in roles.items()
        }
    finally:
        ledger.close()


@pytest.fixture(
    scope="module",
    params=[("postgres", "sqlite"), ("sqlite", "postgres")],
    ids=["province-postgres-city-sqlite", "province-sqlite-city-postgres"],
)
def link(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Link]:
    province_kind, city_kind = request.param
    root = tmp_path_factory.mktemp("federation")
    with ExitStack() as stack:
        province = side(stack.enter_context(store(province_kind, root / "p")), root / "p")
        province.tokens = issue(province.url, {"admin": ("admin", []), CITY: ("federation", [])})
        province.base, province.process = stack.enter_context(
            serving(CLI, province.env, province.cwd)
        )
        city = side(
            stack.enter_context(store(city_kind, root / "c")),
            root / "c",
            CREDIT_LEDGER_UPSTREAM_URL=province.base,
            CREDIT_LEDGER_UPSTREAM_TOKEN=province.tokens[CITY],
            # Imported history keeps its old record times: readiness would call the sync
            # stalled before the first sync; stalling has its own tests.
            CREDIT_LEDGER_SYNC_STALL_SECONDS="1e9",
        )
        city.tokens = issue(city.url, CITY_ROLES)
        city.base, city.process = stack.enter_context(serving(CLI, city.env, city.cwd))
        yield Link(province, city, stack)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A city's platform history, written once for both directions of stores."""
    out = tmp_path_factory.mktemp("generated") / "city.ndjson"
    made = cli(
        dict(os.environ),
        "generate",
        "--subjects",
        str(CRASH_SUBJECTS),
        "--seed",
        "3",
        "--out",
        str(out),
    )
    assert made.returncode == 0, made.stderr
    return out


def today() -> date:
    return datetime.now(CST).date()


def days_ago(n: int) -> str:
    return (today() - timedelta(days=n)).isoformat()


def register(city: Side, code: str) -> None:
    city.post(
        "/v1/subjects",
        {"uscc": code, "name": "舞钢市某某食品有限公司", "kind": "enterprise", "fields": ["food"]},
    )


def record_fact(city: Side, code: str, decided_on: str, no: str) -> dict[str, Any]:
    body = {
        "indicator": "penalty.general",
        "decided_on": decided_on,
        "domain": "food",
        "document_no": no,
    }
    answer: dict[str, Any] = city.post(f"/v1/subjects/{code}/facts", body, "food")
    return answer


def comparable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in NOT_COMPARED}


# -- 1. records go up with their source ---------------------------------------------------------


def test_records_written_in_the_city_reach_the_province_each_with_its_source(link: Link) -> None:
    city, province = link.city, link.province
    first, second = uscc(1701), uscc(1702)
    for code in (first, second):
        register(city, code)
    fact = record_fact(city, first, days_ago(40), "舞市监罚〔2026〕17号")
    record_fact(city, second, days_ago(30), "舞市监罚〔2026〕18号")
    city.post(
        f"/v1/subjects/{first}/listings",
        {
            "list_type": "serious_illegal_dishonest",
            "listed_on": days_ago(20),
            "domain": "food",
            "document_no": "舞市监严失〔2026〕17号",
            "authority": "舞钢市市场监督管理局",
        },
        "food",
    )
    city.post(
        f"/v1/subjects/{first}/objections",
        {"target_id": fact["fact_id"], "filed_on": days_ago(2), "grounds": "认定错误"},
        "platform",
    )

    link.sync()

    for code in (first, second):
        local = [
            e
            for e in city.get(f"/v1/subjects/{code}/history")["events"]
            if e["topic"] in DELIVERED_TOPICS
        ]
        there = province.get(f"/v1/subjects/{code}/history")["events"]
        assert len(local) >= 2
        for record in local:
            at = next(
                (
                    i
                    for i, e in enumerate(there)
                    if e["topic"] == record["topic"]
                    and comparable(e["payload"]) == comparable(record["payload"])
                ),
                None,
            )
            assert at is not None, f"{record['topic']} of {code} is not at the province"
            receipt = there[at + 1]
            assert receipt["topic"] == events.Received.TOPIC
            assert (receipt["payload"]["source"], receipt["payload"]["source_position"]) == (
                CITY,
                record["position"],
            )
        counts = [side.get(f"/v1/subjects/{code}")["counts"] for side in (city, province)]
        for what in ("facts", "listings", "objections"):
            assert counts[0][what] == counts[1][what], (code, what)
    assert city.get(f"/v1/subjects/{first}")["counts"]["objections"] == 1


# -- 2. the province's restatement comes down ---------------------------------------------------


def test_the_provinces_restatement_after_an_upheld_objection_reaches_the_city_in_one_sync(
    link: Link,
) -> None:
    city, province = link.city, link.province
    code = uscc(1703)
    register(city, code)
    fact = record_fact(city, code, days_ago(20), "舞市监罚〔2026〕19号")
    objection = city.post(
        f"/v1/subjects/{code}/objections",
        {"target_id": fact["fact_id"], "filed_on": days_ago(1), "grounds": "处罚已被撤销"},
        "platform",
    )
    link.sync()
    agreed = city.get(f"/v1/subjects/{code}/upstream", "reader")
    assert agreed["upstream"] is not None
    assert agreed["differs"] is False
    deducted = agreed["local"]["current"]["score"]

    province.post(
        f"/v1/objections/{objection['objection_id']}/resolve",
        {"outcome": "corrected", "resolved_on": today().isoformat(), "correction": {"void": True}},
    )
    link.sync()

    answer = city.get(f"/v1/subjects/{code}/upstream", "reader")
    upstream = answer["upstream"]["result"]["current"]
    assert answer["local"]["current"]["score"] == deducted
    assert float(upstream["score"]) > float(deducted)
    assert answer["differs"] is True
    assert "current.score" in [d["what"] for d in answer["differences"]]
    listed = city.get("/v1/federation/differences", "reader")
    assert code in [d["uscc"] for d in listed]


# -- 3. a kill of either side loses and doubles nothing ----------------------------------------


def wait_for(what: str, done: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    """Poll until `done` (the sync must still be running: else the kill would land after it)."""
    deadline = time.monotonic() + 120
    while not done():
        assert process.poll() is None, f"the sync ended before {what}"
        assert time.monotonic() < deadline, f"no {what} in 120 s"
        time.sleep(0.02)


def city_records(url: str, upstream: str) -> Counter[tuple[str, str]]:
    """The city's delivered records (topic, payload) but the parked ones."""
    ledger = open_ledger(url)
    try:
        log = ledger.sync_log(upstream)
        assert log is not None
        parked = {
            p for item in log.parked.values() for p in range(item["position"], item["last"] + 1)
        }
        rows = ledger.recorder.select_notifications(
            start=None,
            limit=10**6,
            topics=tuple(sorted({*DELIVERED_TOPICS, events.FactCorrected.TOPIC})),
        )
        persons: set[Any] = set()
        found: Counter[tuple[str, str]] = Counter()
        for row in rows:
            event = ledger.mapper.to_domain_event(row)
            if isinstance(event, events.Registered) and event.kind == "natural_person":
                persons.add(event.originator_id)
            if row.id in parked or event.originator_id in persons:
                continue
            found[record_of(event)] += 1
        return found
    finally:
        ledger.close()


def province_records(url: str, source: str) -> tuple[Counter[tuple[str, str]], list[int]]:
    """The province's records that came from `source` (the events of each decision before its
    receipt), and the source positions of the receipts."""
    ledger = open_ledger(url)
    try:
        rows = ledger.recorder.select_notifications(
            start=None, limit=10**6, topics=SUBJECT_EVENT_TOPICS
        )
        pending: dict[Any, list[Any]] = {}
        found: Counter[tuple[str, str]] = Counter()
        positions: list[int] = []
        for row in rows:
            event = ledger.mapper.to_domain_event(row)
            before = pending.setdefault(event.originator_id, [])
            if isinstance(event, events.Received):
                if event.source == source:
                    found.update(record_of(e) for e in before)
                    positions.append(event.source_position)
                before.clear()
            else:
                before.append(event)
        return found, positions
    finally:
        ledger.close()


def record_of(event: Any) -> tuple[str, str]:
    payload = comparable(dict(event.__dict__))
    return type(event).TOPIC, json.dumps(payload, sort_keys=True, default=str)


def digest(records: Counter[tuple[str, str]]) -> str:
    lines = sorted(f"{topic}\t{payload}" for topic, payload in records.elements())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def settled(side: Side) -> None:
    """Wait until the served ledger's projections caught up (verify compares them)."""
    deadline = time.monotonic() + 60
    while True:
        ready = httpx.get(side.base + "/readyz", timeout=10).json()
        if ready.get("projection_lag") and not any(ready["projection_lag"].values()):
            return
        assert time.monotonic() < deadline, ready
        time.sleep(0.1)


def test_kill_nine_of_either_side_mid_sync_loses_and_doubles_nothing(
    link: Link, generated: Path, tmp_path: Path
) -> None:
    province = link.province
    city_kind = "postgres" if link.city.url.startswith("postgresql") else "sqlite"
    with store(city_kind, tmp_path / "crash-city") as url:
        city = side(url, tmp_path / "crash-city")
        loaded = cli(city.env, "import", str(generated), "--keep-record-time")
        assert loaded.returncode == 0, loaded.stderr
        token = federation_token(province, CRASH_CITY)
        deliveries = deliveries_in(url)

        def taken() -> int:
            answer = httpx.get(
                province.base + "/v1/federation/inbox",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            return int(answer.json()["taken"]) if answer.status_code == 200 else 0

        # The worker, killed once a batch was taken.
        worker = link.start_sync(city, token)
        wait_for("a batch taken", lambda: taken() >= CRASH_BATCH, worker)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        first = taken()
        assert first < deliveries

        # A catch-up, with the province killed under it a batch later.
        once = link.start_sync(city, token, "--once")
        wait_for("another batch", lambda: taken() > first, once)
        link.kill_province()
        assert once.wait(timeout=60) == 1  # the upstream went away: said so, exit 1
        link.restart_province()
        assert taken() < deliveries

        link.sync(city, token)

        mine = city_records(url, province.base)
        theirs, positions = province_records(province.url, CRASH_CITY)
        assert len(positions) == len(set(positions)), "a delivery was recorded twice"
        assert Counter(t for t, _ in theirs.elements()) == Counter(t for t, _ in mine.elements())
        assert theirs == mine
        assert digest(theirs) == digest(mine)
        assert sum(mine.values()) > 10 * CRASH_BATCH
        settled(province)
        # Every hash chain in full, and the read models of a sample of subjects; both at once.
        verifying = [
            subprocess.Popen(
                [CLI, "verify", "--sample", "20"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for env in (city.env, province.env)
        ]
        for process in verifying:
            output, _ = process.communicate(timeout=300)
            assert process.returncode == 0, output


def deliveries_in(url: str) -> int:
    """How many deliveries the city has in all."""
    ledger = open_ledger(url)
    try:
        return len(ledger.outgoing(0, limit=10**6).deliveries)
    finally:
        ledger.close()


# -- 4. a refusal is parked and visible ---------------------------------------------------------


def test_a_refused_delivery_is_parked_in_the_city_and_listed_refused_at_the_province(
    link: Link,
) -> None:
    city, province = link.city, link.province
    code = uscc(1704)
    register(city, code)
    # The courts' list is the province's own import (DOMAIN §4): a city's copy is refused.
    listed = city.post(
        f"/v1/subjects/{code}/listings",
        {
            "list_type": "judgment_defaulter",
            "listed_on": days_ago(10),
            "domain": "food",
            "document_no": "（2026）豫0481执17号",
            "authority": "舞钢市人民法院",
        },
    )
    assert "parked 1" in link.sync().replace("\n", " ")

    parked = {p["position"]: p for p in city.get("/v1/federation/parked")}
    assert listed["position"] in parked
    item = parked[listed["position"]]
    assert (item["status"], item["field"]) == ("refused", "list_type")
    assert "judgment_defaulter" in item["reason"]
    assert item["args"]["listing_id"] == listed["listing_id"]
    inbox = province.get("/v1/federation/inbox", CITY)
    refused = {o["position"]: o for o in inbox["refused"]}
    assert refused[listed["position"]]["reason"] == item["reason"]
