"""Request bodies over the limit are answered 413 before they are read (DOMAIN §8).

Against a real `credit-ledger serve` over loopback: a 50 MB body, declared or chunked, is
refused within seconds, the service writes nothing, and the 413 is counted like any answer.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient

from credit_ledger.bootstrap import open_audit, open_ledger, service
from credit_ledger.settings import get_settings
from tests.api.conftest import Served, make_tokens
from tests.support import uscc

FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024


def _stream(chunks: Iterator[bytes], sock: socket.socket, sent: list[int]) -> None:
    """Send until done or the server closes the connection (it stops reading the body)."""
    try:
        for chunk in chunks:
            sock.sendall(chunk)
            sent[0] += len(chunk)
    except OSError:
        pass


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"the connection closed without an answer: {data!r}"
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        more = sock.recv(65536)
        if not more:
            break
        rest += more
    return int(lines[0].split()[1]), headers, rest[:length]


def _post_huge(served: Served, token: str, *, chunked: bool) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(served.base)
    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    framing = (
        "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {FIFTY_MB}\r\n"
    ).encode()
    sock.sendall(
        b"POST /v1/subjects HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + framing
        + b"\r\n"
    )
    prefix = b'{"uscc":"' + uscc(7).encode() + b'","kind":"enterprise","name":"'

    def body() -> Iterator[bytes]:
        pieces = [prefix, *(b"x" * CHUNK for _ in range(FIFTY_MB // CHUNK))]
        for piece in pieces:
            yield (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece
        if chunked:
            yield b"0\r\n\r\n"

    sent = [0]
    sender = threading.Thread(target=_stream, args=(body(), sock, sent), daemon=True)
    sender.start()
    try:
        answer = _answer(sock)
    finally:
        sock.close()
        sender.join(timeout=20)
    assert sent[0] < FIFTY_MB, "the whole body was taken in before the answer"
    return answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_body_is_refused_with_413_at_once_and_nothing_is_written(
    served: Served, chunked: bool
) -> None:
    admin = served.token("--role", "admin")
    before = served.call("GET", "/readyz").json()["position"]
    started = time.monotonic()
    status, headers, body = _post_huge(served, admin, chunked=chunked)
    assert time.monotonic() - started < 5
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    problem = orjson.loads(body)
    assert problem["status"] == 413
    assert "1048576 bytes" in problem["detail"]
    assert served.call("GET", "/readyz").json()["position"] == before
    assert served.call("GET", f"/v1/subjects/{uscc(7)}", admin).status_code == 404
    # The service still answers, and the refusal is counted like any other answer.
    assert served.call("GET", "/healthz").status_code == 200
    assert 'status="413"' in served.call("GET", "/metrics").text


@pytest.fixture
def small_limit(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CREDIT_LEDGER_MAX_BODY_BYTES", "2048")
    get_settings.cache_clear()
    ledger, audit = open_ledger(store_url), open_audit(store_url)
    token = make_tokens(ledger)["admin"]
    with TestClient(service(ledger, audit), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    ledger.close()
    audit.close()
    get_settings.cache_clear()


def test_the_limit_is_the_setting_and_a_body_within_it_is_read(small_limit: TestClient) -> None:
    subject = {"uscc": uscc(8), "kind": "enterprise", "name": "限额内主体"}
    assert small_limit.post("/v1/subjects", json=subject).status_code == 201
    over = small_limit.post("/v1/subjects", json={**subject, "name": "长" * 1000})
    assert over.status_code == 413
    assert over.json()["errors"] == [{"loc": ["body"], "msg": "at most 2048 bytes"}]

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield orjson.dumps({**subject, "name": "流" * 1000})

    chunked = small_limit.post(
        "/v1/subjects", content=streamed(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413
    assert small_limit.get(f"/v1/subjects/{uscc(8)}").json()["name"] == "限额内主体"
