"""`credit-ledger models` as an operator runs it, on both stores: validate names the line and
the rule, the dry run writes nothing, publish stores the version once, list and show it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson

from credit_ledger.bootstrap import open_ledger
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.domain.rulebook import shipped_files
from ledger.domain.values import SYSTEM_ACTOR
from tests.integration.test_cli import run
from tests.support import uscc

GENESIS = shipped_files()["model", "PCCE-2021"]


def test_validate_dry_run_publish_list_and_show(store_url: str, tmp_path: Path) -> None:
    code = uscc(7201)
    ledger = open_ledger(store_url)
    ledger.handle(
        RegisterSubject(uscc=code, name="舞钢市命令行测试厂", kind="enterprise", actor=SYSTEM_ACTOR)
    )
    ledger.handle(
        RecordFact(
            uscc=code,
            indicator="penalty.serious",
            decided_on=date(2026, 5, 1),
            domain="food",
            document_no="舞罚〔2026〕9号",
            actor=SYSTEM_ACTOR,
        )
    )
    ledger.close()
    text = GENESIS.replace('version = "PCCE-2021"', 'version = "PCCE-2026"').replace(
        "effective_from = 2021-01-01", "effective_from = 2026-01-01"
    )
    good = tmp_path / "pcce-2026.toml"
    good.write_text(text.replace('above = "50"', 'above = "65"'), "utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('points = "15"', 'points = "many"'), "utf-8")

    refused = run(store_url, "models", "validate", str(bad))
    assert refused.returncode == 2
    assert "line 59" in refused.stderr
    assert "points" in refused.stderr

    assert run(store_url, "models", "validate", str(good)).returncode == 0
    dry = run(store_url, "models", "dry-run", str(good), "--json")
    assert dry.returncode == 0, dry.stderr
    answer = orjson.loads(dry.stdout)
    assert answer["scopes"]["current"] == [{"from": "中", "to": "差", "count": 1}]  # 65 is 差 now
    assert [c["uscc"] for c in answer["changes"]] == [code]

    published = run(store_url, "models", "publish", str(good), "--reason", "舞信用办〔2026〕4号")
    assert published.returncode == 0, published.stderr
    assert "published model PCCE-2026" in published.stdout
    again = run(store_url, "models", "publish", str(good), "--reason", "again")
    assert "already published" in again.stdout

    listed = run(store_url, "models", "list", "--kind", "model")
    assert "PCCE-2026" in listed.stdout
    assert "genesis" in listed.stdout
    shown = run(store_url, "models", "show", "PCCE-2026")
    assert shown.stdout.strip() == good.read_text("utf-8").strip()
    evaluated = orjson.loads(run(store_url, "evaluate", code, "--json").stdout)
    assert (evaluated["model"], evaluated["grade"]) == ("PCCE-2026", "差")
