"""The console's files as served (no browser needed): same-origin only, nothing else exposed."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api import problems
from api.console.router import router

STATIC = Path(__file__).parents[2] / "api" / "console" / "static"


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    problems.install(app)
    app.include_router(router)
    return TestClient(app)


def test_the_page_is_served_with_a_same_origin_policy(client: TestClient) -> None:
    page = client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert page.headers["cache-control"] == "no-store"
    for name in re.findall(r'(?:src|href)="/console/static/([^"]+)"', page.text):
        assert client.get(f"/console/static/{name}").status_code == 200, name


def test_every_shipped_script_and_style_is_served_and_loads_nothing_from_elsewhere(
    client: TestClient,
) -> None:
    names = sorted(p.name for p in STATIC.iterdir() if p.suffix in (".js", ".css"))
    assert {"app.js", "api.js", "charts.js", "console.css"} <= set(names)
    for name in names:
        answer = client.get(f"/console/static/{name}")
        assert answer.status_code == 200
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        assert answer.headers["content-type"].startswith(kind)
        # No CDN, no web fonts, no remote images: only the SVG namespace names a URL.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", answer.text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
        assert "localStorage" not in answer.text
        assert "document.cookie" not in answer.text
        # Imports are relative to the console's own folder.
        for imported in re.findall(r'from "([^"]+)"', answer.text):
            assert re.fullmatch(r"\./[a-z]+\.js", imported), (name, imported)
            assert (STATIC / imported[2:]).is_file()


@pytest.mark.parametrize(
    "name",
    ["index.html", "nope.js", "..%2Frouter.py", ".hidden.js", "app.js.map", "APP.JS"],
)
def test_anything_else_is_a_problem_404(client: TestClient, name: str) -> None:
    answer = client.get(f"/console/static/{name}")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 404
