"""The console's grade bands come from the served models (GET /v1/models), not from its scripts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.browser.conftest import Console, screenshot
from tests.browser.test_console import open_subject, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with the reason
    expect = None


def _ranges(model: dict[str, Any]) -> list[tuple[str, Decimal, Decimal]]:
    """(label, from, to) of each band as the model states it: above its bound, up to the next."""
    found, top = [], Decimal(model["ceiling"])
    for band in model["bands"]:
        low = Decimal(model["floor"]) if band["above"] is None else Decimal(band["above"])
        found.append((band["label"], low, top))
        top = low
    return found


def _drawn(page: Any) -> list[tuple[str, Decimal, Decimal]]:
    rects = page.locator("#score-chart rect.band")
    return [
        (
            rects.nth(i).get_attribute("data-grade"),
            Decimal(rects.nth(i).get_attribute("data-from")),
            Decimal(rects.nth(i).get_attribute("data-to")),
        )
        for i in range(rects.count())
    ]


def _ticks(page: Any) -> set[str]:
    texts = page.locator("#score-chart text.tick-y").all_text_contents()
    return {t for t in texts if t != "事件"}


def test_the_score_chart_draws_the_bands_of_the_served_model_fetched_once(
    page: Any, console: Console
) -> None:
    served = console.get("/v1/models", "reader")["models"][-1]
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/models" in r.url else None)
    sign_in(page, console, "reader", "reader")
    open_subject(page, console.samples["listed"])
    expect(page.locator("#score-chart rect.band")).to_have_count(len(served["bands"]))
    assert _drawn(page) == _ranges(served)
    bounds = {served["floor"], served["ceiling"]} | {
        b["above"] for b in served["bands"] if b["above"] is not None
    }
    assert _ticks(page) == bounds
    # The listing note names the grade the model's override gives.
    override = next(b["label"] for b in served["bands"] if b["code"] == served["override_code"])
    expect(page.locator("#listed-flag")).to_have_text(f"名单内 listed → {override}")
    open_subject(page, console.samples["restated"])
    assert len(asked) == 1, asked


def test_a_model_served_with_other_bounds_moves_the_chart_bands_ticks_and_labels(
    page: Any, console: Console
) -> None:
    moved = {"85": "90", "70": "60", "50": "30"}

    def other_bounds(route: Any) -> None:
        # The service's own answer, with the bounds of every band moved: what the console draws
        # must follow what it is served.
        answer = route.fetch()
        body = answer.json()
        for model in body["models"]:
            for band in model["bands"]:
                if band["above"] is not None:
                    band["above"] = moved[band["above"]]
        route.fulfill(response=answer, body=json.dumps(body, ensure_ascii=False))

    page.route("**/v1/models", other_bounds)
    sign_in(page, console, "reader", "reader")
    open_subject(page, console.samples["restated"])
    expect(page.locator("#score-chart rect.band")).to_have_count(4)
    drawn = _drawn(page)
    assert [(low, top) for _, low, top in drawn] == [
        (Decimal(90), Decimal(100)),
        (Decimal(60), Decimal(90)),
        (Decimal(30), Decimal(60)),
        (Decimal(0), Decimal(30)),
    ]
    assert _ticks(page) == {"0", "30", "60", "90", "100"}
    labels = page.locator("#score-chart text.band-label").all_text_contents()
    assert labels == ["优 >90", "良 >60", "中 >30", "差 ≤30"]
    heights = [
        float(page.locator("#score-chart rect.band").nth(i).get_attribute("height"))
        for i in range(4)
    ]
    # Drawn to scale: 10, 30, 30 and 30 points of the 100-point axis.
    assert abs(heights[0] * 3 - heights[1]) < 0.01
    assert abs(heights[1] - heights[3]) < 0.01
    screenshot(page, "subject-other-bounds.png")
