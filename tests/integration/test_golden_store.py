"""The golden store opens, its chains verify, and every answer is byte-identical to the record.

The committed store under tests/fixtures/golden/ was written once by
`python -m tests.fixtures.make_golden`; its answers file records what the service answered on
it. A change to the code that moves any answer fails here, naming the first differences. The
answers are never regenerated to make this pass: that would be a decision to change behaviour.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from credit_ledger.settings import get_settings
from tests.fixtures.golden_answers import Answer, compute_answers, decode, encode
from tests.fixtures.make_golden import ANSWERS, STORE, TOKENS

#: How many differing answers a failure shows in full.
SHOWN = 5
#: A memory-backed directory, when the machine has one: every answer is an audited read (an
#: SQLite commit), and on a disk the commits' syncs take most of the test's time.
MEMORY_DIR = Path("/dev/shm")


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A directory for the copy of the golden store: in memory if possible, else tmp_path."""
    if MEMORY_DIR.is_dir():
        with tempfile.TemporaryDirectory(dir=MEMORY_DIR, prefix="golden-") as tmp:
            yield Path(tmp)
    else:
        yield tmp_path


@pytest.fixture
def quiet_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The service without its per-request log lines (thousands of requests)."""
    monkeypatch.setenv("CREDIT_LEDGER_LOG_LEVEL", "warning")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pretty(body: str) -> list[str]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.splitlines()
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode().splitlines()


def differences(expected: list[Answer], got: list[Answer]) -> str:
    """A readable account of how two sets of answers differ (the first few in full)."""
    want = {request: (status, body) for request, status, body in expected}
    have = {request: (status, body) for request, status, body in got}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    changed = sorted(r for r in set(want) & set(have) if want[r] != have[r])
    lines = [
        f"{len(changed)} answers changed, {len(missing)} missing, {len(extra)} new "
        f"(of {len(want)} recorded)"
    ]
    lines += [f"missing: {r}" for r in missing[:SHOWN]]
    lines += [f"new: {r}" for r in extra[:SHOWN]]
    for request in changed[:SHOWN]:
        (s0, b0), (s1, b1) = want[request], have[request]
        lines.append(f"--- {request}: status {s0} recorded, {s1} now")
        diff = difflib.unified_diff(_pretty(b0), _pretty(b1), "recorded", "now", n=2, lineterm="")
        lines += list(diff)[:60]
    return "\n".join(lines)


def test_the_golden_store_verifies_and_gives_every_recorded_answer_byte_for_byte(
    scratch: Path, quiet_service: None
) -> None:
    committed = _digest(STORE)
    copy = scratch / STORE.name
    shutil.copyfile(STORE, copy)
    access = orjson.loads(TOKENS.read_bytes())
    expected_bytes = gzip.decompress(ANSWERS.read_bytes())
    expected = decode(expected_bytes)

    got = compute_answers(copy, access["tokens"], access["draws"])

    verified = {request: (status, body) for request, status, body in got}["verify"]
    assert verified[0] == 0, f"the golden store does not verify: {verified[1]}"
    assert encode(got) == expected_bytes, differences(expected, got)
    assert _digest(STORE) == committed, "the committed golden store was written to"


def test_a_changed_answer_is_shown_with_its_request_and_a_diff() -> None:
    recorded: list[Answer] = [
        ("GET /v1/a", 200, '{"grade":"良","score":"1000"}'),
        ("GET /v1/b", 200, "{}"),
    ]
    now: list[Answer] = [
        ("GET /v1/a", 200, '{"grade":"中","score":"1000"}'),
        ("GET /v1/c", 404, ""),
    ]

    shown = differences(recorded, now)

    assert shown.splitlines()[0] == "1 answers changed, 1 missing, 1 new (of 2 recorded)"
    assert "missing: GET /v1/b" in shown
    assert "new: GET /v1/c" in shown
    assert '-  "grade": "良",' in shown
    assert '+  "grade": "中",' in shown
