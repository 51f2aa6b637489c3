"""/docs and /redoc work without internet: every script, style and icon is served by us."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.integration.test_cli import CLI
from tests.support import serving


class _Links(HTMLParser):
    """Every URL a page loads: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name, tag) in {("src", "script"), ("href", "link"), ("src", "img")}:
                self.urls.append(value)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where: Path = tmp_path_factory.mktemp("docs")
    env = {"CREDIT_LEDGER_DATABASE_URL": f"sqlite:///{where}/docs.db"}
    with serving(CLI, {**os.environ, **env}, where) as (url, _):
        yield url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_loads_every_asset_from_this_server(base: str, page: str) -> None:
    answer = httpx.get(base + page, timeout=30)
    assert answer.status_code == 200
    parser = _Links()
    parser.feed(answer.text)
    # Inline configuration names URLs too (the OpenAPI document, Swagger UI's validator).
    inline = re.findall(r"""['"]((?:https?:)?//[^'"]+)['"]""", answer.text)
    urls = [urljoin(base + page, u) for u in parser.urls + inline]
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, answer.text
    for url in urls:
        assert urlsplit(url).netloc == urlsplit(base).netloc, url
        assert httpx.get(url, timeout=30).status_code == 200, url
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "http" not in policy  # no outside host is allowed anything
    assert "cdn." not in answer.text
    assert "fonts.googleapis" not in answer.text
    if page == "/docs":
        assert '"validatorUrl": null' in answer.text  # no badge fetched from the public validator
        assert "/openapi.json" in answer.text
