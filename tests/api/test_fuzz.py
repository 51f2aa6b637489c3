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

#: Seconds of fuzzing per operation and mode; runs (of up to 6 chained calls) of the machine.
PER_OPERATION = float(os.environ.get("CREDIT_LEDGER_FUZZ_SECONDS_PER_OPERATION", "0.5"))
STATEFUL_RUNS = int(os.environ.get("CREDIT_LEDGER_FUZZ_STATEFUL_RUNS", "40"))


@dataclass
class Service:
    base: str
    env: dict[str, str]
    headers: dict[str, str]
    fact_id: str
    failures: list[str] = field(default_factory=list)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)

    def grounded(self, case: Any, pick: int, n: int) -> Any:
        """Most random credit codes and ids name nothing, so the rules refuse them before any
        text is stored. Often swap in a valid code (new, or the stored subject's) and the
        stored fact's id, so the generated Unicode reaches the store and the projections."""
        if pick == 0:
            return case
        code = uscc(1) if pick == 1 else uscc(10_000 + n)
        path = case.path_parameters or {}
        for name in ("uscc",):
            if name in path:
                path[name] = uscc(1)
        for name in ("fact_id", "listing_id"):
            if name in path:
                path[name] = self.fact_id
        if isinstance(case.body, dict):
            if "uscc" in case.body:
                case.body["uscc"] = code
            if "target_id" in case.body:
                case.body["target_id"] = self.fact_id
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
            yield Service(base, env, headers, fact.json()["fact_id"])
            log = where / "serve.log"
            if log.exists():
                print(log.read_text(errors="replace")[-5000:])  # for the report of a failure


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
                no_server_error(stop=time.monotonic() + PER_OPERATION)
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
    deadline = time.monotonic() + 30
    while True:
        ready = httpx.get(service.base + "/readyz", timeout=10)
        state = ready.json()
        if ready.status_code == 200 and all(v == 0 for v in state["projection_lag"].values()):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert state["status"] == "ready"
    assert state["projector_error"] is None, state
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
        "/v1/inspections/draws",
        "/v1/inspections/draws/{draw_id}/verify",
        "/v1/feed",
        "/v1/fields/{field}/subjects",
    ]:
        assert path in paths, path
