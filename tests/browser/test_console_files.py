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


def test_the_root_address_leads_a_person_to_the_console(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/console"
    assert client.get("/").url.path == "/console"


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


#: Numbers that are not grade rules and may stay: layout, the annual chart's count axis, paging.
NOT_RULES = {
    "const MAX_PAGES = 50;",
    "const m = { l: 46, r: 70, t: 14, b: events.length ? 84 : 44 };",
    "const step = max > 200 ? 50 : max > 50 ? 10 : 5;",
}
#: The bounds of the shipped model's grades, as they would be restated in a script.
THRESHOLD = re.compile(r"(?<![\w.])(?:85|70|50)(?:\.0+)?(?![\w.])")
#: A grade label as a script's own string (the labels are served, never written down).
LABEL = re.compile(r"""["'`]\s*[优良中差]\s*["'`]|[优良差]|→ 中|中 ?[>≤]""")


def _code(text: str) -> list[str]:
    """The script's lines without comments (a `//` inside a string is rare enough here)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return [re.sub(r"(?<![:\"'`])//.*$", "", line).strip() for line in text.splitlines()]


def test_no_script_states_a_grade_threshold_or_label_the_api_serves() -> None:
    scripts = sorted(STATIC.glob("*.js"))
    assert {p.name for p in scripts} >= {"charts.js", "dom.js", "subject.js", "models.js"}
    found = [
        f"{script.name}:{n}: {line}"
        for script in scripts
        for n, line in enumerate(_code(script.read_text("utf-8")), 1)
        if line not in NOT_RULES and (THRESHOLD.search(line) or LABEL.search(line))
    ]
    assert not found, "grade bounds or labels restated (ask GET /v1/models):\n" + "\n".join(found)
    # The bands are asked of the API once, in one module.
    asking = [p.name for p in scripts if '"/v1/models"' in p.read_text("utf-8")]
    assert asking == ["models.js"], asking
