"""Fuzzing a real `credit-ledger serve` on PostgreSQL from its OpenAPI document.

Schemathesis drives every operation with hypothesis-generated requests (valid and malformed,
arbitrary Unicode in every string), then as a state machine that feeds the ids one answer
returns into the next request. Bounded in time. Afterwards the service must be ready with its
projector caught up and error-free, and `credit-ledger verify` must be green.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.integration.test_cli import CLI
from tests.support import postgres_schema, serving, uscc

#: Seconds of fuzzing per operation and mode, and runs (up to 6 chained calls) of the machine.
#: Writes get more: what they store is what can stop the projections.
PER_READ = float(os.environ.get("CREDIT_LEDGER_FUZZ_SECONDS_PER_READ", "0.3"))
PER_WRITE = float(os.environ.get("CREDIT_LEDGER_FUZZ_SECONDS_PER_WRITE", "0.7"))
STATEFUL_RUNS = int(os.environ.get("CREDIT_LEDGER_FUZZ_STATEFUL_RUNS", "40"))


@dataclass
class Service:
    base: str
    env: dict[str, str]
    headers: dict[str, str]
    fact_id: str
    free_text: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)

    def grounded(self, case: Any, pick: int, n: int, free: str) -> Any:
        """Most random credit codes, ids and codes of reference data name nothing, so the rules
        refuse them before any text is stored. Two cases in three, swap in a valid credit code
        (new, or the stored subject's), the stored fact's id and known field and indicator
        codes, so the generated Unicode of the free text reaches the store and projections.
        One case in three, every other free-text string of the body is `free`: hypothesis'
        Unicode of every category with characters of the `HOSTILE` dictionary spread in."""
        if pick == 0:
            return case
        path = case.path_parameters or {}
        if "uscc" in path:
            path["uscc"] = uscc(1)
        for name in ("fact_id", "listing_id"):
            if name in path:
                path[name] = self.fact_id
        if "field" in path:
            path["field"] = "food"
        if isinstance(case.body, dict):
            known = {
                "uscc": uscc(1) if pick == 1 else uscc(10_000 + n),
                "target_id": self.fact_id,
                "fields": ["food"],
                "field": "food",
                "domain": "food",
                "indicator": "penalty.general",
            }
            for name, value in known.items():
                if name in case.body:
                    # A list of codes (the batch read) gets the valid code as its one item.
                    listed = isinstance(case.body[name], list) and not isinstance(value, list)
                    case.body[name] = [value] if listed else value
            if pick == 2:
                free_text = self.free_text.get((case.operation.method.upper(), case.operation.path))
                for name in free_text or ():
                    if name in case.body and name not in known:
                        case.body[name] = free
        return case


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`credit-ledger serve` on a fresh PostgreSQL schema, its projector in the process."""
    where: Path = tmp_path_factory.mktemp("fuzz")
    with postgres_schema() as url:
        env = {
            **os.environ,
            "CREDIT_LEDGER_DATABASE_URL": url,
            "CREDIT_LEDGER_PROJECTOR": "in-process",
            "CREDIT_LEDGER_READ_WAIT_SECONDS": "0.2",
        }
        token = _cli(env, "token", "create", "--role", "admin").strip().splitlines()[-1]
        with serving(CLI, env, where) as (base, _):
            headers = {"Authorization": f"Bearer {token}"}
            made = httpx.post(
                base + "/v1/subjects",
                json={
                    "uscc": uscc(1),
                    "name": "模糊测试主体",
                    "kind": "enterprise",
                    "fields": ["food"],
                },
                headers=headers,
                timeout=30,
            )
            assert made.status_code == 201, made.text
            fact = httpx.post(
                base + f"/v1/subjects/{uscc(1)}/facts",
                json={
                    "indicator": "penalty.general",
                    "decided_on": "2024-01-02",
                    "domain": "food",
                    "document_no": "模糊〔2024〕1号",
                },
                headers=headers,
                timeout=30,
            )
            assert fact.status_code == 201, fact.text
            document = httpx.get(base + "/openapi.json", timeout=30).json()
            yield Service(base, env, headers, fact.json()["fact_id"], _free_text(document))
            log = where / "serve.log"
            if log.exists():
                print(log.read_text(errors="replace")[-5000:])  # for the report of a failure


#: A fuzzing dictionary: characters known to break text handling, mixed into the free text.
HOSTILE = [
    "\x00", "\x1b", "\x7f", "\u00ad", "\u200b", "\u2060", "\u202e", "\ufeff", "\ue000",
    "\ufffe", "\U0010ffff", "\u0378", "\uff10", "\u3007",
]  # fmt: skip


def _spiked(text: str, hostile: list[str]) -> str:
    """Generated text with a few characters of the dictionary spread through it."""
    for k, char in enumerate(hostile):
        at = (len(text) * (k + 1)) // (len(hostile) + 1)
        text = text[:at] + char + text[at:]
    return text


CONSTRAINED = {"enum", "format", "pattern", "const"}


def _free_text(document: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """Per operation, the body's free-text fields: strings with no enum, format or pattern."""
    schemas = document["components"]["schemas"]
    found: dict[tuple[str, str], set[str]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ref = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
                .get("$ref")
            )
            if not ref:
                continue
            properties = schemas[ref.rsplit("/", 1)[1]].get("properties", {})
            found[(method.upper(), path)] = {
                name
                for name, spec in properties.items()
                if any(
                    s.get("type") == "string" and not CONSTRAINED & set(s)
                    for s in spec.get("anyOf", [spec])
                )
            }
    return found


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


class TimeUp(Exception):
    """An operation's share of the fuzzing time is spent."""


def _problem(case: Any, response: Any) -> str | None:
    """Why an answer breaks the contract: a 5xx, or an error that is not problem+json."""
    where = f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
    if response.status_code >= 500:
        return f"{response.status_code} for {where}: {response.text[:300]}"
    if response.status_code >= 400:
        kind = response.headers.get("content-type", "")
        kind = kind[0] if isinstance(kind, list) else kind
        if not kind.startswith("application/problem+json"):
            return f"{response.status_code} not problem+json ({kind}) for {where}"
        if "Traceback" in response.text:
            return f"a stack trace in {response.status_code} for {where}"
    return None


def test_fuzzing_the_served_api_on_postgres_finds_no_server_error(service: Service) -> None:
    schema = schemathesis.openapi.from_url(service.base + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    unsatisfiable: list[str] = []
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(
                case=st.builds(
                    service.grounded,
                    operation.as_strategy(generation_mode=mode),
                    st.integers(0, 2),
                    st.integers(0, 10**6),
                    st.builds(
                        _spiked,
                        st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
                        st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=4),
                    ),
                )
            )
            @settings(
                max_examples=300,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                phases=[Phase.generate],  # no shrinking: the first failure is reported as sent
            )
            def no_server_error(case: Any, stop: float) -> None:
                if time.monotonic() > stop:
                    raise TimeUp
                response = case.call(headers=service.headers, timeout=30)
                service.answered[(case.operation.label, response.status_code)] += 1
                why = _problem(case, response)
                assert why is None, why

            try:
                budget = PER_READ if operation.method.upper() == "GET" else PER_WRITE
                no_server_error(stop=time.monotonic() + budget)
            except TimeUp:
                pass
            except Unsatisfiable:
                # An operation without parameters or body has no malformed variant to send.
                assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
                unsatisfiable.append(operation.label)
            except AssertionError as failure:
                service.failures.append(str(failure).splitlines()[0])
    print(sorted(service.answered.items()))
    assert len(unsatisfiable) <= 6, unsatisfiable
    assert not service.failures, "\n".join(service.failures)


def test_a_stateful_run_that_chains_answers_into_requests_finds_no_server_error(
    service: Service,
) -> None:
    schema = schemathesis.openapi.from_url(service.base + "/openapi.json")
    machine = schema.as_state_machine()
    seen: list[str] = []

    class Checked(machine):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": service.headers, "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            seen.append(case.operation.label)
            why = _problem(case, response)
            assert why is None, why

    started = time.monotonic()
    try:
        Checked.run(
            settings=settings(
                max_examples=STATEFUL_RUNS,
                stateful_step_count=6,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
        )
    except AssertionError as failure:
        service.failures.append(str(failure).splitlines()[0])
    print(
        f"stateful: {len(seen)} calls over {len(set(seen))} operations in "
        f"{time.monotonic() - started:.1f} s"
    )
    assert len(set(seen)) >= 5, seen
    assert not service.failures, "\n".join(service.failures)


def test_after_fuzzing_the_projector_is_caught_up_without_error_and_verify_is_green(
    service: Service,
) -> None:
    deadline = time.monotonic() + 20
    while True:
        ready = httpx.get(service.base + "/readyz", timeout=10)
        state = ready.json()
        assert state.get("projector_error") is None, f"the projector failed: {state}"
        if ready.status_code == 200 and all(v == 0 for v in state["projection_lag"].values()):
            break
        assert time.monotonic() < deadline, f"the projections did not catch up: {state}"
        time.sleep(0.5)
    assert state["status"] == "ready"
    _cli(service.env, "project", "--once")
    verified = _cli(service.env, "verify")
    assert "verified" in verified, verified


def test_the_openapi_document_describes_every_contract_path(service: Service) -> None:
    paths = httpx.get(service.base + "/openapi.json", timeout=30).json()["paths"]
    for path in [
        "/v1/subjects",
        "/v1/subjects/{uscc}",
        "/v1/subjects/{uscc}/facts",
        "/v1/subjects/{uscc}/facts/{fact_id}/end",
        "/v1/subjects/{uscc}/facts/{fact_id}/revoke",
        "/v1/subjects/{uscc}/listings",
        "/v1/subjects/{uscc}/listings/{listing_id}/delist",
        "/v1/subjects/{uscc}/objections",
        "/v1/objections/{objection_id}/resolve",
        "/v1/objections",
        "/v1/subjects/{uscc}/repairs",
        "/v1/repairs/{repair_id}/decide",
        "/v1/subjects/{uscc}/industry-evaluations",
        "/v1/subjects/{uscc}/evaluation",
        "/v1/subjects/{uscc}/history",
        "/v1/audit/reads",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/subjects/{uscc}/supervision",
        "/v1/evaluations/{year}",
        "/v1/evaluations/{year}/subjects/{uscc}",
        "/v1/evaluations:batch",
        "/v1/inspections/draws",
        "/v1/inspections/draws/{draw_id}/verify",
        "/v1/feed",
        "/v1/fields/{field}/subjects",
    ]:
        assert path in paths, path
