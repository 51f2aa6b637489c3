"""Browser fixtures: a served demo ledger, tokens per role, and Debian's headless Chromium.

Without Chromium or the `playwright` package the tests skip with the reason, unless
CREDIT_LEDGER_REQUIRE_BROWSER=1 (as CI sets), in which case they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_cli import CLI
from tests.support import serving

CHROMIUM = os.environ.get("CREDIT_LEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
TOKENS = {
    "admin": ("--role", "admin", "--name", "信用办"),
    "reader": ("--role", "reader", "--name", "住建局"),
    "auditor": ("--role", "auditor", "--name", "审计局"),
    "food": ("--role", "recorder", "--field", "food", "--name", "市场监管局"),
    "tax": ("--role", "recorder", "--field", "taxation", "--name", "税务局"),
    "platform": ("--role", "platform", "--name", "信用中国(舞钢)"),
}


def unavailable(reason: str) -> None:
    """Skip, or fail when the browser is required."""
    if os.environ.get("CREDIT_LEDGER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CREDIT_LEDGER_REQUIRE_BROWSER=1 requires the browser tests)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """Playwright's driver, once Chromium and the package are known to be there."""
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def browser(playwright_driver: Any) -> Iterator[Any]:
    """Debian's Chromium, headless (never a browser downloaded by Playwright)."""
    try:
        launched = playwright_driver.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
    except Exception as exc:
        unavailable(f"Chromium at {CHROMIUM} did not start: {exc}")
    try:
        yield launched
    finally:
        launched.close()


@dataclass
class Console:
    """A `credit-ledger serve` process on a demo ledger, with a token per role."""

    base: str
    env: dict[str, str]
    samples: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def get(self, path: str, who: str = "admin", **params: Any) -> Any:
        answer = self.call("GET", path, who, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [CLI, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def console(playwright_driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """Demo data (60 subjects) in a temporary SQLite file, served on a free port."""
    where = tmp_path_factory.mktemp("console")
    env = {
        **os.environ,
        "CREDIT_LEDGER_DATABASE_URL": f"sqlite:///{where}/console.db",
        "CREDIT_LEDGER_PROJECTOR": "auto",
        "COLUMNS": "160",
    }
    loaded = _cli(env, where, "demo", "--subjects", "60")
    # Served with the keys of natural persons (the demo above loaded none: same data as ever).
    env = {**env, "CREDIT_LEDGER_MASTER_KEY": "4d" * 32, "CREDIT_LEDGER_PERSON_SECRET": "console"}
    samples = dict(re.findall(r"^\s+(\w+): (\w{18})$", loaded, re.M))
    assert {"listed", "restated"} <= set(samples), loaded
    tokens = {
        who: _cli(env, where, "token", "create", *args).strip().splitlines()[-1]
        for who, args in TOKENS.items()
    }
    with serving(CLI, env, where) as (base, _):
        yield Console(base, env, samples, tokens)


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context (its own sessionStorage) in China time and locale."""
    with fresh_page(browser) as opened:
        yield opened


@contextmanager
def fresh_page(browser: Any) -> Iterator[Any]:
    """A page in a new browser context in China time and locale; fails if the page raised."""
    context = browser.new_context(
        viewport={"width": 1360, "height": 900},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page: Any, name: str) -> None:
    """Keep a full-page picture of what the console showed (tests/browser/screenshots/)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
