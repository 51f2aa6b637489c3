"""The web console in headless Chromium against a real `credit-ledger serve` on demo data."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.browser.conftest import Console, screenshot
from tests.support import uscc

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with the reason
    expect = None
else:
    expect.set_options(timeout=15_000)


def today_cst() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()


def sign_in(page: Any, console: Console, who: str, role: str) -> None:
    page.goto(console.base + "/console")
    expect(page.locator("#signin-panel")).to_be_visible()
    page.fill("#token-input", console.tokens[who])
    page.click("#signin-button")
    expect(page.locator("#role-badge")).to_have_attribute("data-role", role)
    expect(page.locator("#signin-panel")).to_be_hidden()


def open_subject(page: Any, code: str) -> None:
    page.click("#nav a[data-view=subject]")
    page.fill("#uscc-input", code)
    page.click("#uscc-search")
    expect(page.locator("#subject-name")).to_contain_text(code)
    expect(page.locator("#view-subject")).to_have_attribute("data-ready", "true")


def test_sign_in_search_and_travel_in_time(page: Any, console: Console) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, console, "admin", "admin")
    token = page.evaluate("() => sessionStorage.getItem('credit-ledger.console.token')")
    assert token == console.tokens["admin"]
    assert page.evaluate("() => localStorage.length + document.cookie.length") == 0

    # A wrong check character: the API's problem detail is shown.
    page.fill("#uscc-input", console.samples["listed"][:-1] + "0")
    page.click("#uscc-search")
    expect(page.locator("#subject-status .msg.error")).to_contain_text("check character")

    listed = console.samples["listed"]
    now = console.get(f"/v1/subjects/{listed}/evaluation")
    open_subject(page, listed)
    expect(page.locator("#score")).to_have_text(now["score"])
    expect(page.locator("#grade")).to_have_text(now["grade"])
    assert now["listed"]
    expect(page.locator("#listed-flag")).to_be_visible()
    # The chart: quarterly samples since 2019 plus today, and the history's events as markers.
    points = page.locator("#score-chart circle.pt")
    assert points.count() >= 4 * (int(today_cst()[:4]) - 2019)
    assert points.last.get_attribute("data-date") == today_cst()
    assert points.last.get_attribute("data-grade") == now["grade"]
    markers = page.locator("#score-chart path.marker")
    history = console.get(f"/v1/subjects/{listed}/history")
    assert markers.count() == len(history["events"])
    screenshot(page, "subject-admin.png")

    # Clicking a marker scrolls to its history row.
    last = history["events"][-1]["version"]
    page.locator(f"#score-chart path.marker[data-version='{last}']").click()
    row = page.locator(f"#hist-v{last}")
    expect(row).to_have_class(re.compile(r"\bflash\b"))
    expect(row).to_be_in_viewport()

    # Before the listing the grade was another: change `as of` and the page re-renders.
    before = console.get(f"/v1/subjects/{listed}/evaluation", as_of="2019-06-01")
    assert before["grade"] != now["grade"]
    page.fill("#as-of", "2019-06-01")
    expect(page.locator("#ev-as-of")).to_have_text("2019-06-01")
    expect(page.locator("#grade")).to_have_text(before["grade"])
    expect(page.locator("#score")).to_have_text(before["score"])
    expect(page.locator("#listed-flag")).to_have_count(0)
    assert "as_of=2019-06-01" in page.url

    # `known at` (China time): the restated subject's 2023 result as published that night.
    restated = console.samples["restated"]
    published = console.get(
        f"/v1/subjects/{restated}/evaluation",
        as_of="2023-10-31",
        known_at="2023-10-31T23:59:59+08:00",
    )
    later = console.get(f"/v1/subjects/{restated}/evaluation", as_of="2023-10-31")
    assert (published["score"], published["grade"]) != (later["score"], later["grade"])
    open_subject(page, restated)
    page.fill("#as-of", "2023-10-31")
    expect(page.locator("#ev-as-of")).to_have_text("2023-10-31")
    expect(page.locator("#score")).to_have_text(later["score"])
    page.fill("#known-at", "2023-10-31T23:59:59")
    expect(page.locator("#ev-known-at")).to_contain_text("2023-10-31 23:59:59")
    expect(page.locator("#score")).to_have_text(published["score"])
    expect(page.locator("#grade")).to_have_text(published["grade"])
    # Published beside restated, the difference explained by the event that caused it.
    expect(page.locator("#view-subject")).to_have_attribute("data-ready", "true")
    year = page.locator("#years-table tr[data-year='2023']")
    expect(year).to_have_class(re.compile(r"\bdiffers-row\b"))
    changes = console.get(f"/v1/evaluations/2023/subjects/{restated}")["changes"]
    assert changes
    for change in changes:
        expect(year).to_contain_text(change["topic"])
    screenshot(page, "subject-time-travel.png")

    # Everything came from this origin: no CDN, no fonts, nothing else.
    assert requested
    assert all(u.startswith(console.base) or u.startswith("data:") for u in requested), [
        u for u in requested if not u.startswith(console.base)
    ]


def test_worklist_export_draw_and_verify(page: Any, console: Console) -> None:
    sign_in(page, console, "food", "recorder")
    page.click("#nav a[data-view=worklist]")
    page.select_option("#field", "food")
    expected = console.get("/v1/fields/food/subjects", limit=1000)
    rows = page.locator("#worklist-table tbody tr")
    expect(rows).to_have_count(len(expected["items"]))
    for tier, count in expected["counts"].items():
        expect(page.locator(f"#tier-counts [data-tier={tier}] strong")).to_have_text(str(count))

    # Filter by tier: the list narrows to the tier's count.
    page.select_option("#tier", "reduced")
    expect(rows).to_have_count(expected["counts"]["reduced"])
    with page.expect_download() as caught:
        page.click("#export-csv")
    download = caught.value
    assert download.suggested_filename.startswith("worklist-food-reduced-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith('"uscc","name","tier"')
    assert len(lines) == 1 + expected["counts"]["reduced"]
    assert all('"reduced"' in line for line in lines[1:])
    # The export was read again as an export: the audit log names it, its purpose and subjects.
    me = console.get("/v1/me", "food")
    reads = console.get("/v1/audit/reads", "auditor", token=me["token_id"], limit=1000)["items"]
    exports = [r for r in reads if r["purpose"] and "export" in r["purpose"]]
    assert exports, reads
    assert exports[-1]["endpoint"] == "worklist"
    assert sorted(exports[-1]["subjects"]) == sorted(
        line.split(",")[0].strip('"') for line in lines[1:]
    )
    screenshot(page, "worklist.png")

    # A draw with a published seed, then its verification by id.
    page.fill("#draw-as-of", today_cst())
    page.fill("#draw-seed", "舞钢市场监管-浏览器测试")
    page.click("#draw-submit")
    expect(page.locator("#draw-result")).to_be_visible()
    draw_id = page.locator("#draw-id").inner_text()
    drawn = console.get(f"/v1/inspections/draws/{draw_id}")
    expect(page.locator("#draw-selected tbody tr")).to_have_count(len(drawn["selected"]))
    page.fill("#verify-id", draw_id)
    page.click("#verify-submit")
    expect(page.locator("#verify-result")).to_have_class("valid")
    screenshot(page, "worklist-draw.png")


def _disputed_subject(console: Console) -> tuple[str, str, str]:
    """A food subject with a serious penalty under a pending objection: uscc, id, due date."""
    code = uscc(70_001)
    today = datetime.fromisoformat(today_cst()).date()
    made = console.call(
        "POST",
        "/v1/subjects",
        json={
            "uscc": code,
            "name": "舞钢市浏览器测试食品有限公司",
            "kind": "enterprise",
            "fields": ["food"],
        },
    )
    assert made.status_code == 201, made.text
    fact = console.call(
        "POST",
        f"/v1/subjects/{code}/facts",
        json={
            "indicator": "penalty.serious",
            "decided_on": (today - timedelta(days=40)).isoformat(),
            "domain": "food",
            "document_no": "舞市监罚〔浏览器〕1号",
        },
    )
    assert fact.status_code == 201, fact.text
    objection = console.call(
        "POST",
        f"/v1/subjects/{code}/objections",
        json={
            "target_id": fact.json()["fact_id"],
            "filed_on": (today - timedelta(days=30)).isoformat(),  # overdue by now
            "grounds": "处罚主体认定错误",
        },
    )
    assert objection.status_code == 201, objection.text
    return code, objection.json()["objection_id"], objection.json()["due_on"]


def test_resolving_an_objection_updates_evaluation_and_chart(page: Any, console: Console) -> None:
    code, objection, due_on = _disputed_subject(console)
    before = console.get(f"/v1/subjects/{code}/evaluation")
    assert (before["score"], before["grade"]) == ("65", "中")

    # Another field's recorder may not resolve it: the problem's detail is shown.
    sign_in(page, console, "tax", "recorder")
    page.click("#nav a[data-view=queues]")
    row = page.locator(f"#objections-table tr.queue-row[data-id='{objection}']")
    expect(row).to_be_visible()
    row.locator("button.act").click()
    form = page.locator(f"form.resolve-form[data-objection-id='{objection}']")
    form.locator("select.resolve-outcome").select_option("rejected")
    form.locator("button.resolve-submit").click()
    expect(form.locator(".msg.error")).to_contain_text("field")
    page.click("#sign-out")
    expect(page.locator("#signin-panel")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0

    # The food recorder sees the fact counting under objection, then resolves it.
    sign_in(page, console, "food", "recorder")
    open_subject(page, code)
    expect(page.locator("#score")).to_have_text("65")
    expect(page.locator("#grade")).to_have_text("中")
    expect(page.locator("#contributions .flag-objection")).to_have_count(1)
    chart_today = page.locator(f"#score-chart circle.pt[data-date='{today_cst()}']")
    expect(chart_today).to_have_attribute("data-score", "65")
    screenshot(page, "subject-under-objection.png")

    page.click("#nav a[data-view=queues]")
    row = page.locator(f"#objections-table tr.queue-row[data-id='{objection}']")
    expect(row.locator("td").nth(6)).to_contain_text(due_on)  # due in 10 working days
    assert due_on < today_cst()
    expect(row).to_have_class(re.compile(r"\boverdue-row\b"))
    row.locator("button.act").click()
    form = page.locator(f"form.resolve-form[data-objection-id='{objection}']")
    form.locator("select.resolve-outcome").select_option("corrected")
    form.locator("input.resolve-void").check()
    screenshot(page, "queues-resolve.png")
    form.locator("button.resolve-submit").click()
    flash = page.locator("#queue-flash .msg.ok")
    expect(flash).to_contain_text("corrected")
    expect(row).to_have_count(0)  # no longer pending

    flash.locator("a").click()
    expect(page.locator("#view-subject")).to_have_attribute("data-ready", "true")
    expect(page.locator("#score")).to_have_text("80")
    expect(page.locator("#grade")).to_have_text("良")
    expect(page.locator("#no-contributions")).to_be_visible()
    expect(chart_today).to_have_attribute("data-score", "80")
    expect(chart_today).to_have_attribute("data-grade", "良")
    screenshot(page, "subject-after-resolve.png")
    after = console.get(f"/v1/subjects/{code}/evaluation")
    assert (after["score"], after["grade"]) == ("80", "良")

    # A minor penalty (no minimum publication period), repaired: decided from the page.
    minor = console.call(
        "POST",
        f"/v1/subjects/{code}/facts",
        json={
            "indicator": "penalty.minor",
            "decided_on": (date.fromisoformat(today_cst()) - timedelta(days=10)).isoformat(),
            "domain": "food",
            "document_no": "舞市监罚〔浏览器〕2号",
        },
    )
    assert minor.status_code == 201, minor.text
    repair = console.call(
        "POST",
        f"/v1/subjects/{code}/repairs",
        json={
            "target_id": minor.json()["fact_id"],
            "requested_on": today_cst(),
            "commitment": "已整改，承诺守信经营",
        },
    )
    assert repair.status_code == 201, repair.text
    page.click("#nav a[data-view=queues]")
    page.click("#tab-repairs")
    row = page.locator(f"#repairs-table tr.queue-row[data-id='{repair.json()['repair_id']}']")
    row.locator("button.act").click()
    form = page.locator(f"form.decide-form[data-repair-id='{repair.json()['repair_id']}']")
    form.locator("input.decide-reason").fill("符合修复条件")
    form.locator("button.decide-submit").click()
    expect(page.locator("#queue-flash .msg.ok")).to_contain_text("approved")
    expect(row).to_have_count(0)
    page.locator("#queue-flash .msg.ok a").click()
    expect(page.locator("#view-subject")).to_have_attribute("data-ready", "true")
    expect(page.locator("#score")).to_have_text("80")


def test_a_reader_does_not_see_the_auditors_history(page: Any, console: Console) -> None:
    # An unknown token is refused with the API's detail, and nothing is kept.
    page.goto(console.base + "/console")
    page.fill("#token-input", "clt_not-a-token")
    page.click("#signin-button")
    expect(page.locator("#signin-error")).to_contain_text("unknown or revoked")
    assert page.evaluate("() => sessionStorage.length") == 0
    screenshot(page, "signin-refused.png")
    # A platform token files objections only: the console says so and shows no views.
    sign_in(page, console, "platform", "platform")
    expect(page.locator("#no-access")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()
    page.click("#sign-out")

    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, console, "reader", "reader")
    open_subject(page, console.samples["restated"])
    screenshot(page, "subject-reader.png")
    expect(page.locator("#evaluation")).to_be_visible()
    expect(page.locator("#years-table")).to_be_visible()
    expect(page.locator("#history")).to_have_count(0)
    expect(page.locator("#score-chart path.marker")).to_have_count(0)
    assert page.locator("#score-chart circle.pt").count() > 20
    assert not [u for u in requested if "/history" in u]
    refused = console.call("GET", f"/v1/subjects/{console.samples['restated']}/history", "reader")
    assert refused.status_code == 403
    # Reading the queues is allowed, acting on them is not offered.
    page.click("#nav a[data-view=queues]")
    expect(page.locator("#queue-list")).not_to_contain_text("加载中")
    expect(page.locator("button.act")).to_have_count(0)
    page.click("#nav a[data-view=worklist]")
    expect(page.locator("#draw-form")).to_have_count(0)
    page.click("#nav a[data-view=subject]")  # back to the subject last viewed
    expect(page.locator("#subject-name")).to_contain_text(console.samples["restated"])
    expect(page.locator("#history")).to_have_count(0)


def test_annual_dashboard_shows_published_and_restated(page: Any, console: Console) -> None:
    who = "auditor"
    sign_in(page, console, who, who)
    page.click("#nav a[data-view=annual]")
    year = 2023
    summary = console.get(f"/v1/evaluations/{year}", who)
    for kind in ("published", "restated"):
        for grade, count in summary[kind].items():
            if count:
                where = f"[data-year='{year}'][data-kind='{kind}'][data-grade='{grade}']"
                bar = page.locator(f"#annual-chart rect.seg{where}")
                expect(bar).to_have_attribute("data-count", str(count))
    expect(page.locator(f"#annual-table tr[data-year='{year}']")).to_be_visible()
    expect(page.locator("#lag-table tbody tr")).to_have_count(3)
    expect(page.locator("#ledger-position")).to_have_text(re.compile(r"^\d+$"))
    # The model in force and the history of versions, as the ledger knows them.
    expect(page.locator("#in-force dd[data-kind=model]")).to_contain_text("PCCE-2021")
    versions = console.get("/v1/models/versions", who)["versions"]
    expect(page.locator("#version-history tbody tr")).to_have_count(len(versions))
    screenshot(page, "annual.png")
