"""An exchange batch's manifest: what it states of its file, and each mismatch named."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.domain.errors import InvalidInput
from ledger.domain.exchange import BatchMismatch, Tally, check, encode_line, manifest_of

AT = datetime(2026, 12, 1, 2, tzinfo=UTC)


def batch(*lines: dict[str, Any], upto: int = 40) -> tuple[dict[str, Any], bytes]:
    tally = Tally()
    data = b""
    for line in lines:
        raw = encode_line(line)
        tally.add(raw, line)
        data += raw
    return tally.manifest("舞钢市", upto, AT).json(), data


LINES = (
    {"position": 3, "last": 3, "command": "register_subject", "args": {"name": "灯台架"}},
    {"position": 9, "last": 10, "command": "resolve_objection", "args": {}},
    {"position": 12, "last": 12, "command": "register_subject", "args": {}},
)


def test_a_manifest_states_its_files_counts_positions_and_both_digests() -> None:
    manifest, data = batch(*LINES)
    assert manifest["counts"] == {
        "total": 3,
        "commands": {"register_subject": 2, "resolve_objection": 1},
    }
    assert (manifest["first_position"], manifest["last_position"], manifest["upto"]) == (3, 12, 40)
    assert manifest["digests"]["sm3"] == hashlib.new("sm3", data).hexdigest()
    assert manifest["digests"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == len(data)
    assert "灯台架".encode() in data  # UTF-8 as written, not escaped
    assert check(manifest_of(manifest), data) == list(LINES)


def test_an_empty_batch_matches_its_manifest() -> None:
    manifest, data = batch()
    assert (manifest["first_position"], manifest["last_position"]) == (None, None)
    assert check(manifest_of(manifest), data) == []


def test_lines_out_of_log_order_are_refused_even_with_matching_digests() -> None:
    manifest, data = batch(LINES[1], LINES[0])
    manifest["first_position"], manifest["last_position"] = 9, 3
    with pytest.raises(BatchMismatch) as refused:
        check(manifest_of(manifest), data)
    assert refused.value.problems == [("line 2.position", "3 not after 9")]


def test_every_mismatch_is_named_at_once() -> None:
    manifest, data = batch(*LINES)
    manifest["counts"]["commands"]["register_subject"] = 5
    manifest["last_position"] = 11
    with pytest.raises(BatchMismatch) as refused:
        check(manifest_of(manifest), data[:-1] + b"x\n")
    named = {where for where, _ in refused.value.problems}
    assert {
        "manifest.digests.sm3",
        "manifest.digests.sha256",
        "manifest.last_position",
        "manifest.counts.commands",
        "manifest.counts.total",
    } <= named
    assert refused.value.field == "line 3"  # its end is no longer JSON


def test_another_format_is_refused() -> None:
    manifest, data = batch(*LINES)
    manifest["version"] = 2
    with pytest.raises(BatchMismatch) as refused:
        check(manifest_of(manifest), data)
    assert refused.value.field == "manifest.format"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda m: m.pop("source"), "manifest.source"),
        (lambda m: m.update(source=" "), "manifest.source"),
        (lambda m: m["digests"].pop("sm3"), "manifest.digests.sm3"),
        (lambda m: m["counts"].update(total=True), "manifest.counts.total"),
        (lambda m: m.update(file="../../etc/passwd"), "manifest.file"),
        (lambda m: m.update(created_at="2026-12-01T10:00:00"), "manifest.created_at"),
        (lambda m: m.update(first_position="3"), "manifest.first_position"),
    ],
)
def test_a_malformed_manifest_is_refused_naming_its_field(edit: Any, field: str) -> None:
    manifest, _ = batch(*LINES)
    edit(manifest)
    with pytest.raises(InvalidInput) as refused:
        manifest_of(manifest)
    assert refused.value.field == field
