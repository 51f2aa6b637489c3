"""The API docs render in Chromium with every request outside this server refused."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Console, screenshot


def test_swagger_ui_and_redoc_render_with_no_outside_host(page: Any, console: Console) -> None:
    requested: list[str] = []
    outside: list[str] = []

    def only_here(route: Any) -> None:
        url = route.request.url
        requested.append(url)
        if url.startswith(console.base) or url.startswith("data:"):
            route.continue_()
        else:  # as on an intranet without internet
            outside.append(url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(console.base + "/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(
        page.locator("#operations-subjects-get_evaluation_v1_subjects__uscc__evaluation_get")
    ).to_be_visible()
    screenshot(page, "docs-swagger.png")
    page.goto(console.base + "/redoc")
    expect(page.get_by_role("menuitem", name="subjects")).to_be_visible()
    expect(page.locator("h1").first).to_contain_text("credit-ledger")
    screenshot(page, "docs-redoc.png")
    assert any(u.endswith("swagger-ui-bundle.js") for u in requested), requested
    assert any(u.endswith("redoc.standalone.js") for u in requested), requested
    assert not outside, outside
