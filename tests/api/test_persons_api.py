"""Natural persons over HTTP on both stores (DOMAIN §9): never stored or logged in the clear,
masked in every answer, revealed only to a role stating a purpose (audited), erased by
destroying the data key with grades unchanged, and a store without its key refusing to open."""

from __future__ import annotations

import io
import logging
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.observability import JSONFormatter
from credit_ledger.bootstrap import open_audit, open_ledger, service
from credit_ledger.settings import get_settings
from ledger.service.identity import IdentityUnavailable
from replay.tools import verify
from tests.api.conftest import Api, make_tokens
from tests.support import PG_URL, uscc

NAME = "欧阳锦瑟"
NUMBER = "41048119851120456X"
MASKED_NAME = "欧***"
MASKED_NUMBER = "410481********456X"
MASTER = "5a" * 32
SECRET = "ledger-secret-for-tests"


def clear_forms(text: str) -> list[bytes]:
    """Every way a text could sit in a file in the clear: UTF-8, UTF-16, JSON escapes."""
    escaped = "".join(f"\\u{ord(c):04x}" if ord(c) > 127 else c for c in text)
    return [
        text.encode(),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        escaped.encode(),
        escaped.upper().replace("\\U", "\\u").encode(),
    ]


def assert_absent(blob: bytes, where: str) -> None:
    for secret in (NAME, NUMBER, NUMBER.lower()):
        for form in clear_forms(secret):
            assert form not in blob, f"{secret!r} found in the clear in {where}"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CREDIT_LEDGER_MASTER_KEY", MASTER)
    monkeypatch.setenv("CREDIT_LEDGER_PERSON_SECRET", SECRET)
    monkeypatch.setenv("CREDIT_LEDGER_PROJECTOR", "in-process")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def logs() -> io.StringIO:
    """The service's log lines, formatted as it writes them (see `papi`)."""
    return io.StringIO()


@pytest.fixture
def papi(store_url: str, keys: None, logs: io.StringIO) -> Iterator[Api]:
    ledger = open_ledger(store_url)
    audit = open_audit(store_url)
    tokens = make_tokens(ledger)
    app = service(ledger, audit)
    handler = logging.StreamHandler(logs)
    handler.setFormatter(JSONFormatter())
    with TestClient(app, raise_server_exceptions=False) as client:
        # The app configures its log handlers when built; ours goes beside them.
        logging.getLogger("credit_ledger").addHandler(handler)
        logging.getLogger("credit_ledger").setLevel(logging.INFO)
        yield Api(client, ledger, tokens)
    logging.getLogger("credit_ledger").removeHandler(handler)
    ledger.close()
    audit.close()


def register(api: Api) -> str:
    answer = api.post(
        "/v1/subjects",
        {"kind": "natural_person", "id_number": NUMBER, "name": NAME, "fields": ["food"]},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["ref"] == body["uscc"]
    assert body["ref"].startswith("P")
    return str(body["ref"])


def caught_up(api: Api) -> None:
    position = api.position()
    answer = api.get("/v1/feed", "reader", min_position=position, limit=1)
    assert answer.status_code == 200, answer.text


def every_answer(api: Api, ref: str) -> list[Any]:
    """The answers that carry the person: subject, evaluation, supervision, worklist, feed,
    history, the annual listing, queues and the audit log."""
    caught_up(api)
    return [
        api.get(f"/v1/subjects/{ref}", "reader"),
        api.get(f"/v1/subjects/{ref}/evaluation", "reader"),
        api.get(f"/v1/subjects/{ref}/supervision", "reader", field="food"),
        api.get("/v1/fields/food/subjects", "reader"),
        api.get("/v1/feed", "reader"),
        api.get(f"/v1/subjects/{ref}/history", "auditor"),
        api.get("/v1/evaluations/2024", "reader"),
        api.get("/v1/objections", "reader"),
        api.get("/v1/audit/reads", "auditor"),
        api.post("/v1/persons/lookup", {"id_number": NUMBER}, "reader"),
    ]


def store_bytes(store_url: str) -> bytes:
    """The whole store as bytes: the SQLite file and its write-ahead log, or a pg_dump."""
    parts = urlsplit(store_url)
    if parts.scheme == "sqlite":
        path = Path(parts.path[1:])
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    schema = parse_qs(parts.query)["schema"][0]
    host = urlsplit(PG_URL).hostname or "127.0.0.1"
    dump = subprocess.run(
        ["pg_dump", "-h", host, "-U", "postgres", "-n", schema, "test"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert f"CREATE TABLE {schema}.person_keys".encode() in dump.stdout
    return dump.stdout


def test_a_person_is_never_in_the_clear_and_masked_everywhere(
    papi: Api, store_url: str, logs: io.StringIO
) -> None:
    ref = register(papi)
    fact = {
        "indicator": "penalty.general",
        "decided_on": "2024-03-01",
        "domain": "food",
        "document_no": "舞市监罚〔2024〕7号",
    }
    assert papi.post(f"/v1/subjects/{ref}/facts", fact, "food").status_code == 201
    # An identity number where a ref belongs is refused without repeating it.
    wrong = papi.get(f"/v1/subjects/{NUMBER}", "reader")
    assert wrong.status_code == 422
    assert MASKED_NUMBER in wrong.text
    answers = every_answer(papi, ref)
    for answer in [*answers, wrong]:
        assert answer.status_code == 200 or answer is wrong, answer.text
        assert_absent(answer.content, f"the answer {answer.request.url}")
        assert "pii1." not in answer.text, f"ciphertext served by {answer.request.url}"
    subject = answers[0].json()
    assert subject["name"] == MASKED_NAME
    assert subject["identity"] == {
        "name": MASKED_NAME,
        "id_number": MASKED_NUMBER,
        "revealed": False,
    }
    assert answers[1].json()["name"] == MASKED_NAME
    assert MASKED_NAME in answers[3].text  # the department's worklist
    assert MASKED_NAME in answers[5].text  # the registration in the history
    assert answers[9].json()["ref"] == ref
    stored = store_bytes(store_url)
    assert f"pii1.{ref}.".encode() in stored  # what is stored is the sealed identity
    assert_absent(stored, "the store")
    assert_absent(logs.getvalue().encode(), "the service's log")
    assert ref in logs.getvalue()  # the log did record the requests


def test_reveal_needs_role_and_purpose_and_is_audited(papi: Api) -> None:
    ref = register(papi)
    assert papi.get(f"/v1/subjects/{ref}", "reader", reveal="true", purpose="x").status_code == 403
    no_purpose = papi.get(f"/v1/subjects/{ref}", "auditor", reveal="true")
    assert no_purpose.status_code == 422
    assert "purpose" in no_purpose.text
    purpose = "舞钢市法院（2025）豫0481执123号协助调查"
    shown = papi.get(f"/v1/subjects/{ref}", "auditor", reveal="true", purpose=purpose)
    assert shown.status_code == 200, shown.text
    assert shown.json()["identity"] == {"name": NAME, "id_number": NUMBER, "revealed": True}
    records = papi.get("/v1/audit/reads", "auditor", uscc=ref).json()["items"]
    reveals = [r for r in records if r["endpoint"] == "reveal_identity"]
    assert len(reveals) == 1
    assert reveals[0]["purpose"] == purpose
    assert reveals[0]["role"] == "auditor"
    assert_absent(orjson_bytes(records), "the audit records")


def orjson_bytes(value: Any) -> bytes:
    return orjson.dumps(value)


def test_erasure_keeps_grades_and_verify_green(papi: Api, store_url: str) -> None:
    ref = register(papi)
    fact = {
        "indicator": "penalty.serious",
        "decided_on": "2024-05-01",
        "domain": "food",
        "document_no": "舞市监罚〔2024〕9号",
    }
    assert papi.post(f"/v1/subjects/{ref}/facts", fact, "food").status_code == 201
    before = every_answer(papi, ref)
    refused = papi.post(f"/v1/subjects/{ref}/erase", {"reason": "x"}, "auditor")
    assert refused.status_code == 403
    erased = papi.post(f"/v1/subjects/{ref}/erase", {"reason": "保存期限届满"}, "admin")
    assert erased.status_code == 200
    assert erased.json()["changed"] is True
    again = papi.post(f"/v1/subjects/{ref}/erase", {"reason": "保存期限届满"}, "admin")
    assert again.json()["changed"] is False
    after = every_answer(papi, ref)
    subject = after[0].json()
    assert subject["name"] == "[erased]"
    assert subject["identity"] == {"name": "[erased]", "id_number": "[erased]", "revealed": False}
    revealed = papi.get(f"/v1/subjects/{ref}", "admin", reveal="true", purpose="audit")
    assert revealed.json()["identity"]["name"] == "[erased]"
    # Every grade answer is the same but for the identity.
    for grade_before, grade_after in zip(before[1:3], after[1:3], strict=True):
        old, new = grade_before.json(), grade_after.json()
        assert old.pop("name", MASKED_NAME) == MASKED_NAME
        assert new.pop("name", "[erased]") == "[erased]"
        for answer in (old, new):
            answer.pop("known_at", None)
            answer.get("public", {}).pop("known_at", None)
        assert old == new
    history = after[5].json()["events"]
    assert history[0]["payload"]["name"] == "[erased]"
    assert history[-1]["topic"] == "credit.identity_erased.v1"
    # The chains verify, and the read models equal a fresh replay (as a rebuild would be).
    report = verify(papi.ledger, papi.client.app.state.audit)  # type: ignore[attr-defined]
    assert report.ok, report.problems
    rebuilt = papi.client.app.state.projector  # type: ignore[attr-defined]
    for projection in ("current_grades", "supervision"):
        rebuilt.rebuild(projection)
    assert verify(papi.ledger, papi.client.app.state.audit).ok  # type: ignore[attr-defined]
    assert papi.ledger.identities.table.get([ref]) == {}
    # Erased for good: not found by number any more, and not registered again.
    assert papi.post("/v1/persons/lookup", {"id_number": NUMBER}, "reader").status_code == 404
    again_registered = papi.post(
        "/v1/subjects", {"kind": "natural_person", "id_number": NUMBER, "name": NAME}
    )
    assert again_registered.status_code == 409, again_registered.text
    assert papi.ledger.identities.table.get([ref]) == {}
    assert_absent(store_bytes(store_url), "the store after erasure")


def test_a_store_holding_persons_refuses_to_open_without_its_keys(
    papi: Api, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(papi)
    monkeypatch.delenv("CREDIT_LEDGER_MASTER_KEY")
    get_settings.cache_clear()
    with pytest.raises(IdentityUnavailable, match="no master key is configured"):
        open_ledger(store_url)
    monkeypatch.setenv("CREDIT_LEDGER_MASTER_KEY", "6b" * 32)
    get_settings.cache_clear()
    with pytest.raises(IdentityUnavailable, match="not the one this store"):
        open_ledger(store_url)
    monkeypatch.setenv("CREDIT_LEDGER_MASTER_KEY", MASTER)
    monkeypatch.setenv("CREDIT_LEDGER_PERSON_SECRET", "another secret")
    get_settings.cache_clear()
    with pytest.raises(IdentityUnavailable, match="PERSON_SECRET"):
        open_ledger(store_url)


def test_person_rules_of_the_model(papi: Api) -> None:
    ref = register(papi)
    minor = {
        "indicator": "penalty.minor",
        "decided_on": "2024-03-01",
        "domain": "food",
        "document_no": "舞市监简罚〔2024〕1号",
    }
    refused = papi.post(f"/v1/subjects/{ref}/facts", minor, "food")
    assert refused.status_code == 422
    assert "natural persons" in refused.text
    # Not in the annual population under PCCE-2021; the organisations are.
    papi.post(
        "/v1/subjects",
        {"uscc": uscc(1), "name": "舞钢某公司", "kind": "enterprise"},
    )
    year = papi.get("/v1/evaluations/2024", "reader").json()
    assert ref not in str(year)


def test_identity_numbers_are_checked_by_name(papi: Api) -> None:
    cases = {
        "4104811985112045": "length",
        "41048119851120456A": "format",
        "410481198513204563": "birth date",
        "999999198511204561": "administrative division",
        "410481198511204561": "check digit",
    }
    for number, check in cases.items():
        answer = papi.post(
            "/v1/subjects", {"kind": "natural_person", "id_number": number, "name": NAME}
        )
        assert answer.status_code == 422, (number, answer.text)
        assert check in answer.json()["detail"], (number, answer.text)
        assert number not in answer.text
    unknown = papi.post("/v1/persons/lookup", {"id_number": "410481199003071232"}, "reader")
    assert unknown.status_code == 404


def test_without_keys_a_person_is_refused_naming_the_settings(api: Api) -> None:
    answer = api.post("/v1/subjects", {"kind": "natural_person", "id_number": NUMBER, "name": NAME})
    assert answer.status_code == 503, answer.text
    assert "CREDIT_LEDGER_MASTER_KEY" in answer.json()["detail"]
    assert "CREDIT_LEDGER_PERSON_SECRET" in answer.json()["detail"]
    assert_absent(answer.content, "the refusal")
    assert not api.ledger.identities.table.exists()  # nothing was written for the person
