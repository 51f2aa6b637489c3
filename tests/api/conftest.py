"""API fixtures: the service in process (FastAPI's test client) on each store, with tokens."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from credit_ledger.store import open_audit, open_ledger
from ledger.application import CreditLedger
from ledger.values import SYSTEM_ACTOR
from tests.support import postgres_schema

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


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store: an SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/api.db"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
def api(store_url: str) -> Iterator[Api]:
    """The service in process on a fresh store."""
    ledger = open_ledger(store_url)
    audit = open_audit(store_url)
    tokens = make_tokens(ledger)
    with TestClient(create_app(ledger, audit), raise_server_exceptions=False) as client:
        yield Api(client, ledger, tokens)
    ledger.close()
    audit.close()
