"""The console with a natural person (DOMAIN §9): an identity number typed into the search is
looked up by POST and never put in a URL, and the person is shown masked."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Console
from tests.browser.test_console import sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with the reason
    expect = None

NAME = "东方若曦"
NUMBER = "410481197806158826"


def test_an_identity_number_finds_the_person_masked_and_stays_out_of_urls(
    page: Any, console: Console
) -> None:
    made = console.call(
        "POST",
        "/v1/subjects",
        json={"kind": "natural_person", "id_number": NUMBER, "name": NAME, "fields": ["food"]},
    )
    assert made.status_code in (200, 201), made.text
    ref = made.json()["ref"]
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, console, "admin", "admin")
    page.click("#nav a[data-view=subject]")
    page.fill("#uscc-input", NUMBER)
    page.click("#uscc-search")
    expect(page.locator("#subject-name")).to_contain_text(ref)
    expect(page.locator("#subject-name")).to_contain_text("东***")
    expect(page.locator("#view-subject")).to_have_attribute("data-ready", "true")
    assert any(url.endswith("/v1/persons/lookup") for url in requested)
    assert not [url for url in requested if NUMBER in url]
    assert NUMBER not in page.url
    shown = page.content()
    assert NAME not in shown
    assert NUMBER not in shown
