"""POST /v1/federation/exchange: a batch carried by hand, taken as its files would be (admin)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from credit_ledger.bootstrap import open_ledger
from credit_ledger.bulk import generate, import_file
from ledger.domain.exchange import DELIVERIES_FILE, MANIFEST_FILE
from ledger.service.exchange import export_batch
from tests.api.conftest import Api


def _batch(tmp_path: Path) -> dict[str, Any]:
    history = tmp_path / "history.ndjson"
    with history.open("wb") as out:
        generate(10, 3, out, date(2026, 11, 30))
    city = open_ledger(f"sqlite:///{tmp_path}/city.db")
    try:
        import_file(city, history, rejects=tmp_path / "rejects", keep_record_time=True)
        export_batch(city, tmp_path / "batch", source="舞钢市")
    finally:
        city.close()
    return {
        "manifest": json.loads((tmp_path / "batch" / MANIFEST_FILE).read_bytes()),
        "deliveries": (tmp_path / "batch" / DELIVERIES_FILE).read_text("utf-8"),
    }


def test_a_batch_sent_whole_is_taken_once_and_a_tampered_one_writes_nothing(
    api: Api, tmp_path: Path
) -> None:
    batch = _batch(tmp_path)
    total = batch["manifest"]["counts"]["total"]
    tampered = {**batch, "deliveries": batch["deliveries"].replace("2", "3", 1)}
    before = api.ledger.max_position()

    refused = api.post("/v1/federation/exchange", tampered)
    assert refused.status_code == 422, refused.text
    named = {tuple(e["loc"]) for e in refused.json()["errors"]}
    assert {("body", "manifest.digests.sm3"), ("body", "manifest.digests.sha256")} <= named
    assert api.ledger.max_position() == before

    taken = api.post("/v1/federation/exchange", batch)
    assert taken.status_code == 200, taken.text
    answer = taken.json()
    assert (answer["source"], answer["lines"], answer["earlier"]) == ("舞钢市", total, 0)
    assert answer["accepted"] + answer["unchanged"] + answer["refused"] == total
    assert answer["accepted"] > 0
    after = api.ledger.max_position()

    again = api.post("/v1/federation/exchange", batch).json()
    assert again["earlier"] == total
    assert api.ledger.max_position() == after


def test_only_an_admin_sends_a_batch(api: Api, tmp_path: Path) -> None:
    answer = api.post("/v1/federation/exchange", {"manifest": {}, "deliveries": ""}, who="reader")
    assert answer.status_code == 403, answer.text
