"""The console's sync view (DOMAIN §10) against a served city ledger with an upstream configured:
its parked deliveries, a downstream ledger delivering to it, and results that differ upstream."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from api.upstream import result_of
from credit_ledger.bootstrap import open_ledger
from ledger.domain.federation import ACCEPTED, REFUSED, outcome_line
from ledger.domain.values import Actor, Role
from tests.browser.conftest import Console, _cli, fresh_page, screenshot
from tests.browser.test_console import open_subject, sign_in
from tests.integration.test_cli import CLI
from tests.support import serving, uscc

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with the reason
    expect = None

#: Never called: the served ledger only reads its own sync log, kept under this name.
UPSTREAM = "http://province.invalid:8000"
COUNTY = "舞钢市尹集镇"
#: The upstream position its result for the differing subject was read at.
UPSTREAM_POSITION = 41


@dataclass
class Federated:
    """The served city ledger and what was noted on it before serving."""

    console: Console
    parked: dict[str, Any]
    differing: str
    same: str
    untouched: str


def _note_the_federation(url: str) -> dict[str, Any]:
    """Through the service, as `credit-ledger sync` and the upstream would: the upstream's
    answer to the first deliveries (one refused), its results for two subjects (one differing
    from the local result) and a county's deliveries taken here (one refused by this ledger)."""
    ledger = open_ledger(url)
    try:
        sent = ledger.outgoing(0, 200).deliveries[:12]
        refused = next(d for d in sent if d.command != "register_subject")
        outcomes = [
            outcome_line(
                d.position,
                REFUSED,
                last=d.last,
                kind="invalid",
                reason="unknown department 'wugang-market'",
                field="department",
                rule="a department code of the plan's annex (see GET /v1/fields)",
            )
            if d is refused
            else outcome_line(d.position, ACCEPTED, last=d.last)
            for d in sent
        ]
        ledger.acknowledge(UPSTREAM, sent[-1].last, outcomes, sent)

        codes = sorted({str(d.args["uscc"]) for d in sent if d.command == "register_subject"})
        differing = str(refused.args["uscc"])
        same, untouched = [c for c in codes if c != differing][:2]
        mine = result_of(ledger, differing)
        theirs = copy.deepcopy(mine)
        # The province knows one more deduction: ten points and one grade lower.
        labels = [g.label for g in ledger.models.models[-1].grades]
        below = labels.index(mine["current"]["grade"]) + 1
        theirs["current"]["grade"] = labels[below % len(labels)]
        theirs["current"]["score"] = str(Decimal(mine["current"]["score"]) - 10)
        ledger.record_upstream(
            UPSTREAM,
            [
                {"position": UPSTREAM_POSITION, "uscc": differing, "result": theirs},
                {
                    "position": UPSTREAM_POSITION + 1,
                    "uscc": same,
                    "result": result_of(ledger, same),
                },
            ],
            upto=UPSTREAM_POSITION + 1,
            year=mine["year"],
        )

        # Tokens issued in-process: a CLI start per token would cost seconds each.
        admin = Actor("console-test:admin", Role.ADMIN)
        tokens = {
            who: ledger.issue_token(role=role, actor=admin, name=name).secret
            for who, role, name in (
                ("admin", "admin", "信用办"),
                ("auditor", "auditor", "审计局"),
                ("reader", "reader", "住建局"),
            )
        }
        # The county delivers with a federation token of this ledger, as over HTTP.
        issued = ledger.issue_token(role="federation", actor=admin, name=COUNTY)
        county = ledger.authenticate(issued.secret)
        assert county is not None
        register = {"name": "舞钢市尹集镇农资经营部", "kind": "individual_business"}
        taken = ledger.receive(
            county,
            [
                {
                    "position": 1,
                    "command": "register_subject",
                    "args": {**register, "fields": ["food"], "uscc": uscc(9101, "92410481")},
                },
                {
                    "position": 2,
                    "command": "register_subject",
                    # A zero-width space in the department: the text rule refuses it.
                    "department": "农业\u200b农村局",
                    "args": {**register, "fields": ["food"], "uscc": uscc(9102, "92410481")},
                },
            ],
        )
        assert [t["status"] for t in taken] == [ACCEPTED, REFUSED], taken
    finally:
        ledger.close()
    return {
        "parked": next(o for o in outcomes if o["status"] == REFUSED)
        | {"uscc": differing, "command": refused.command},
        "differing": differing,
        "same": same,
        "untouched": untouched,
        "tokens": tokens,
    }


@pytest.fixture(scope="module")
def federated(
    playwright_driver: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Federated]:
    """A small demo city ledger, its federation noted, served with its upstream configured."""
    where = tmp_path_factory.mktemp("federated")
    url = f"sqlite:///{where}/city.db"
    env = {
        **os.environ,
        "CREDIT_LEDGER_DATABASE_URL": url,
        "CREDIT_LEDGER_PROJECTOR": "auto",
        "COLUMNS": "160",
    }
    _cli(env, where, "demo", "--subjects", "8")
    noted = _note_the_federation(url)
    # The demo's records were made long ago: readiness must not call the sync stalled.
    env = {
        **env,
        "CREDIT_LEDGER_UPSTREAM_URL": UPSTREAM,
        "CREDIT_LEDGER_SYNC_STALL_SECONDS": "1e12",
    }
    tokens = noted.pop("tokens")
    with serving(CLI, env, where) as (base, _):
        yield Federated(Console(base, env, {}, tokens), **noted)


@pytest.fixture
def fed_page(browser: Any, federated: Federated) -> Iterator[Any]:
    """A fresh page for the federated ledger (the `page` fixture serves the 60-subject demo)."""
    with fresh_page(browser) as opened:
        yield opened


def open_sync(page: Any) -> None:
    page.click("#nav a[data-view=sync]")
    expect(page.locator("#view-sync")).to_have_attribute("data-ready", "true")


def test_the_sync_view_shows_the_link_the_parked_records_the_inboxes_and_the_differences(
    fed_page: Any, federated: Federated
) -> None:
    page, console = fed_page, federated.console
    state = console.get("/v1/federation/state", "auditor")
    assert state["parked"] == 1
    assert state["waiting_since"] is not None
    sign_in(page, console, "auditor", "auditor")
    open_sync(page)
    expect(page.locator("#sync-upstream")).to_have_text(UPSTREAM)
    expect(page.locator("#sync-acknowledged")).to_contain_text(str(state["acknowledged"]))
    expect(page.locator("#sync-parked-count")).to_have_text("1")
    expect(page.locator("#sync-pulled")).to_contain_text(str(UPSTREAM_POSITION + 1))
    expect(page.locator("#sync-waiting")).not_to_contain_text("nothing waiting")

    parked = federated.parked
    row = page.locator("#parked-table tr.parked-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-position", str(parked["position"]))
    for text in (parked["uscc"], parked["command"], parked["reason"], "department", parked["rule"]):
        expect(row).to_contain_text(text)

    inbox = page.locator(f"#inboxes-table tr.inbox-row[data-source='{COUNTY}']")
    expect(inbox).to_have_count(1)
    expect(inbox.locator("td[data-refused]")).to_have_text("1")
    expect(inbox).to_contain_text("U+200B")

    # Only the subject whose upstream result differs is listed, with both values.
    answer = console.get("/v1/federation/differences", "auditor")
    assert [d["uscc"] for d in answer] == [federated.differing]
    rows = page.locator("#differences-table tr.difference-row")
    expect(rows).to_have_count(len(answer[0]["differences"]))
    for d in answer[0]["differences"]:
        found = page.locator(f"#differences-table tr[data-what='{d['what']}']")
        expect(found.locator("td.local")).to_contain_text(str(d["local"]))
        expect(found.locator("td.upstream")).to_contain_text(str(d["upstream"]))
    expect(page.locator(f"#differences-table tr[data-uscc='{federated.same}']")).to_have_count(0)
    screenshot(page, "sync-auditor.png")

    # The parked record's credit code opens its subject, the upstream's result beside its own.
    row.locator(f"a:text('{parked['uscc']}')").click()
    expect(page.locator("#subject-name")).to_contain_text(parked["uscc"])
    expect(page.locator("#view-subject")).to_have_attribute("data-ready", "true")
    expect(page.locator("#upstream-differs")).to_be_visible()
    expect(page.locator("#upstream-position")).to_have_text(str(UPSTREAM_POSITION))
    upstream_cell = page.locator("#upstream-table tr[data-part=current] td.upstream")
    expect(upstream_cell).to_have_class("upstream differs")
    expect(upstream_cell).to_contain_text(answer[0]["upstream"]["result"]["current"]["grade"])
    screenshot(page, "subject-upstream.png")

    open_subject(page, federated.same)
    expect(page.locator("#upstream-same")).to_be_visible()
    # A subject the upstream answered nothing for: the page is as it always was.
    open_subject(page, federated.untouched)
    expect(page.locator("#upstream")).to_have_count(0)


def test_a_reader_sees_only_the_differences(fed_page: Any, federated: Federated) -> None:
    page = fed_page
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/federation/" in r.url else None)
    sign_in(page, federated.console, "reader", "reader")
    open_sync(page)
    expect(page.locator("#sync-readers-note")).to_be_visible()
    expect(
        page.locator(f"#differences-table tr[data-uscc='{federated.differing}']").first
    ).to_be_visible()
    for hidden in ("#sync-state", "#sync-parked", "#sync-inboxes"):
        expect(page.locator(hidden)).to_have_count(0)
    assert [u.split("/v1/federation/")[1] for u in asked] == ["differences"]


def test_without_an_upstream_the_sync_view_says_so(page: Any, console: Console) -> None:
    # The demo console is served as every ledger is by default: no upstream configured.
    sign_in(page, console, "admin", "admin")
    open_sync(page)
    expect(page.locator("#sync-state")).to_have_attribute("data-upstream", "none")
    expect(page.locator("#sync-state")).to_contain_text("No upstream is configured")
    expect(page.locator("#sync-upstream")).to_have_count(0)
    expect(page.locator("#sync-parked")).to_contain_text("nothing parked")
    expect(page.locator("#sync-inboxes")).to_contain_text("no downstream ledger delivers here")
    expect(page.locator("#sync-differences")).to_contain_text("no subject differs")
