"""API fixtures: the service in process (FastAPI's test client) on each store, with tokens."""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from credit_ledger.bootstrap import open_audit, open_ledger, service
from credit_ledger.settings import get_settings
from ledger.domain.values import SYSTEM_ACTOR
from ledger.service.application import CreditLedger
from tests.integration.test_cli import CLI
from tests.support import postgres_schema, serving

ROLES = {
    "admin": ("admin", []),
    "food": ("recorder", ["food"]),
    "tax": ("recorder", ["taxation"]),
    "reader": ("reader", []),
    "auditor": ("auditor", []),
    "platform": ("platform", []),
}


@dataclass
class Api:
    """The service under test with one token per role."""

    client: TestClient
    ledger: CreditLedger
    tokens: dict[str, str]

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str | None = "admin", **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers(who))

    def post(self, path: str, body: Any, who: str | None = "admin") -> Any:
        return self.client.post(path, json=body, headers=self.headers(who))

    def position(self) -> int:
        return int(self.client.get("/readyz").json()["position"])


def make_tokens(ledger: CreditLedger) -> dict[str, str]:
    return {
        who: ledger.issue_token(role=role, fields=fields, name=who, actor=SYSTEM_ACTOR).secret
        for who, (role, fields) in ROLES.items()
    }


@pytest.fixture
def api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The service in process on a fresh store, its projection runner in a thread."""
    monkeypatch.setenv("CREDIT_LEDGER_PROJECTOR", "in-process")
    get_settings.cache_clear()
    ledger = open_ledger(store_url)
    audit = open_audit(store_url)
    tokens = make_tokens(ledger)
    with TestClient(service(ledger, audit), raise_server_exceptions=False) as client:
        yield Api(client, ledger, tokens)
    ledger.close()
    audit.close()
    get_settings.cache_clear()


@dataclass
class Served:
    base: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def token(self, *args: str) -> str:
        made = subprocess.run(
            [CLI, "token", "create", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return made.stdout.strip().splitlines()[-1]

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kw)


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    with _store(request.param, tmp_path) as url:
        env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": url}
        with serving(CLI, env, tmp_path) as (base, process):
            yield Served(base, env, process)


def _store(kind: str, tmp_path: Path) -> Any:
    if kind == "postgres":
        return postgres_schema()

    class _Sqlite:
        def __enter__(self) -> str:
            return f"sqlite:///{tmp_path}/served.db"

        def __exit__(self, *exc: object) -> None:
            return None

    return _Sqlite()
