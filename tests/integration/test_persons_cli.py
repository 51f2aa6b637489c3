"""Natural persons on the command line, on both stores: refs taken for credit codes, identities
masked, erasure by `credit-ledger erase`, and a store without its master key refused clearly."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.settings import get_settings
from ledger.domain.commands import RecordFact
from ledger.domain.values import SYSTEM_ACTOR
from tests.integration.test_cli import CLI

NAME = "诸葛明远"
NUMBER = "410481197806158826"
KEYS = {"CREDIT_LEDGER_MASTER_KEY": "3c" * 32, "CREDIT_LEDGER_PERSON_SECRET": "cli-secret"}


def run(url: str, *args: str, keys: bool = True, stdin: str | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env.update({"CREDIT_LEDGER_DATABASE_URL": url, "COLUMNS": "200", **(KEYS if keys else {})})
    return subprocess.run(
        [CLI, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.fixture
def person(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    ledger = open_ledger(store_url)
    ref = ledger.register_person(
        id_number=NUMBER, name=NAME, actor=SYSTEM_ACTOR, fields=["legal_services"]
    ).ref
    ledger.handle(
        RecordFact(
            uscc=ref,
            indicator="penalty.general",
            decided_on=ledger.today().replace(day=1),
            domain="legal_services",
            document_no="舞司罚〔2026〕3号",
            actor=SYSTEM_ACTOR,
        )
    )
    ledger.close()
    get_settings.cache_clear()
    yield ref
    get_settings.cache_clear()


def test_the_command_line_masks_persons_and_erases_them(store_url: str, person: str) -> None:
    shown = run(store_url, "evaluate", person, "--json")
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["name"] == "诸***"
    replayed = run(store_url, "replay", person)
    assert replayed.returncode == 0, replayed.stderr
    assert "诸***" in replayed.stdout
    found = run(store_url, "lookup", stdin=NUMBER + "\n")
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == person
    for answer in (shown, replayed, found):
        assert NAME not in answer.stdout + answer.stderr
        assert NUMBER not in answer.stdout + answer.stderr
        assert "pii1." not in answer.stdout
    erased = run(store_url, "erase", person, "--reason", "保存期限届满")
    assert erased.returncode == 0, erased.stderr
    assert "erased" in erased.stdout
    after = orjson.loads(run(store_url, "evaluate", person, "--json").stdout)
    before = orjson.loads(shown.stdout)
    assert after.pop("name") == "[erased]"
    before.pop("name")
    after.pop("known_at")
    before.pop("known_at")
    assert after == before
    verified = run(store_url, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_without_the_master_key_the_store_is_refused_in_one_line(
    store_url: str, person: str
) -> None:
    for args in (("evaluate", person), ("serve", "--port", "0")):
        refused = run(store_url, *args, keys=False)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "no master key is configured" in refused.stderr
        assert "CREDIT_LEDGER_MASTER_KEY" in refused.stderr
        assert "Traceback" not in refused.stderr
