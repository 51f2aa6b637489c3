"""The sync worker (DOMAIN §10): deliveries up to the upstream, its results down, resumable.

Upward, a round reads the local records after the sync log's acknowledged position, posts them
to the upstream's `/v1/federation/deliveries` and notes its answer (refusals parked). The
upstream takes a batch in one transaction with its inbox note, so after a crash of either side
the same batch is delivered again and answered as before: nothing is lost or doubled.
Downward, a round reads `/v1/federation/results` after the pulled position and records each
result that changed. A new published year re-reads every result once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from ledger.domain.federation import REFUSED
from ledger.service.application import CreditLedger

log = logging.getLogger("credit_ledger.sync")


class SyncError(Exception):
    """The upstream could not be reached or refused a whole request (the worker backs off)."""


@dataclass
class SyncReport:
    """What a catch-up did."""

    delivered: int = 0
    accepted: int = 0
    unchanged: int = 0
    parked: int = 0
    pulled: int = 0
    recorded: int = 0
    acknowledged: int = 0
    pulled_to: int = 0


class SyncMetrics:
    """The worker's figures, on its own registry (`--metrics-port` serves it)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.delivered = Counter(
            "credit_ledger_sync_delivered", "deliveries sent upstream", registry=r
        )
        self.parked = Counter(
            "credit_ledger_sync_parked", "deliveries the upstream refused (parked)", registry=r
        )
        self.pulled = Counter("credit_ledger_sync_pulled", "upstream results read", registry=r)
        self.acknowledged = Gauge(
            "credit_ledger_sync_acknowledged_position",
            "local position up to which the upstream acknowledged",
            registry=r,
        )
        self.pulled_to = Gauge(
            "credit_ledger_sync_pulled_position",
            "upstream position up to which results were pulled",
            registry=r,
        )
        self.lag = Gauge(
            "credit_ledger_sync_lag_positions",
            "local positions not yet acknowledged by the upstream",
            registry=r,
        )
        self.failures = Counter(
            "credit_ledger_sync_failures", "sync rounds that failed", registry=r
        )


class Sync:
    """One ledger's link to its upstream, driven round by round."""

    def __init__(
        self,
        ledger: CreditLedger,
        upstream: str,
        token: str,
        *,
        batch: int = 200,
        timeout: float = 10.0,
        metrics: SyncMetrics | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.ledger = ledger
        self.upstream = upstream.rstrip("/")
        self.batch = batch
        self.metrics = metrics or SyncMetrics()
        self._pulled = 0
        self.client = client or httpx.Client(
            base_url=self.upstream,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
        )

    def close(self) -> None:
        """Close the connection to the upstream."""
        self.client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SyncError(
                f"{self.upstream} does not answer: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise SyncError(
                f"{self.upstream} answered {response.status_code} to {method} {path}: {detail}"
            )
        return response.json()

    # -- one round each way -------------------------------------------------------------------

    def deliver_once(self, report: SyncReport) -> bool:
        """Deliver the next page of local records; whether there was any."""
        log = self.ledger.sync_log(self.upstream)
        after = 0 if log is None else log.acknowledged
        page = self.ledger.outgoing(after, self.batch)
        if not page.deliveries:
            log = self.ledger.acknowledge(self.upstream, page.upto, [], [])
            self.metrics.acknowledged.set(log.acknowledged)
            self.metrics.lag.set(0)  # nothing waits for the upstream
            return False
        answer = self._call(
            "POST",
            "/v1/federation/deliveries",
            json={"items": [d.line() for d in page.deliveries]},
        )
        outcomes = answer["outcomes"]
        if len(outcomes) != len(page.deliveries):
            raise SyncError(
                f"{self.upstream} answered {len(outcomes)} outcomes to "
                f"{len(page.deliveries)} deliveries"
            )
        # The lag is read before the note of this answer, which is itself never delivered.
        top = self.ledger.max_position()
        log = self.ledger.acknowledge(self.upstream, page.upto, outcomes, page.deliveries)
        refused = sum(1 for o in outcomes if o["status"] == REFUSED)
        report.delivered += len(outcomes)
        report.parked += refused
        report.accepted += sum(1 for o in outcomes if o["status"] == "accepted")
        report.unchanged += sum(1 for o in outcomes if o["status"] == "unchanged")
        report.acknowledged = log.acknowledged
        self.metrics.delivered.inc(len(outcomes))
        self.metrics.parked.inc(refused)
        self.metrics.acknowledged.set(log.acknowledged)
        self.metrics.lag.set(max(0, top - log.acknowledged))
        return True

    def pull_once(self, report: SyncReport) -> bool:
        """Read the next page of the upstream's results; whether it moved the cursor."""
        log = self.ledger.sync_log(self.upstream)
        known_year = None if log is None else log.pulled_year
        # The cursor is noted in the log only now and then (`record_upstream`); between notes
        # this process remembers how far it read.
        after = max(0 if log is None else log.pulled, self._pulled)
        page = self._call(
            "GET", "/v1/federation/results", params={"after": after, "limit": self.batch}
        )
        if page["year"] != known_year and after:
            # A newly published year changes every subject's published result: read all again.
            after = 0
            page = self._call(
                "GET", "/v1/federation/results", params={"after": 0, "limit": self.batch}
            )
        upto = int(page["next"])
        recorded = self.ledger.record_upstream(
            self.upstream, page["items"], upto=upto, year=page["year"]
        )
        self._pulled = upto
        report.pulled += len(page["items"])
        report.recorded += recorded
        report.pulled_to = upto
        self.metrics.pulled.inc(len(page["items"]))
        self.metrics.pulled_to.set(upto)
        return upto > after or page["year"] != known_year

    def catch_up(self, progress: Callable[[SyncReport], None] | None = None) -> SyncReport:
        """Deliver and pull until both ways are caught up (`sync --once`)."""
        report = SyncReport()
        while self.deliver_once(report):
            if progress is not None:
                progress(report)
        while self.pull_once(report):
            if progress is not None:
                progress(report)
        if progress is not None:
            progress(report)
        return report

    def retry_parked(self) -> SyncReport:
        """Deliver every parked record again, deciding it anew; the taken ones leave the park."""
        report = SyncReport()
        log = self.ledger.sync_log(self.upstream)
        if log is None or not log.parked:
            return report
        items = [log.parked[p] for p in sorted(log.parked)]
        lines = [
            {
                k: item[k]
                for k in ("position", "last", "command", "args", "topic", "department")
                if k in item
            }
            for item in items
        ]
        answer = self._call(
            "POST", "/v1/federation/deliveries", json={"items": lines, "retry": True}
        )
        for outcome in answer["outcomes"]:
            report.delivered += 1
            if outcome["status"] == REFUSED:
                report.parked += 1
                continue
            self.ledger.resolve_parked(
                self.upstream, int(outcome["position"]), outcome["status"], "delivered again"
            )
            report.accepted += 1
        return report

    def run(self, interval: float, stop: threading.Event, longest_wait: float = 60.0) -> None:
        """Catch up, then every `interval` seconds, until `stop`; failures back off (doubling up
        to `longest_wait`) and are logged, never retried in a tight loop."""
        wait = interval
        while not stop.is_set():
            try:
                report = self.catch_up()
                if report.delivered or report.recorded:
                    log.info(
                        "sync: delivered %d (parked %d), recorded %d upstream results",
                        report.delivered,
                        report.parked,
                        report.recorded,
                    )
                wait = interval
            except SyncError as exc:
                self.metrics.failures.inc()
                log.warning("sync failed, next try in %.0f s: %s", wait, exc)
                wait = min(longest_wait, wait * 2)
            stop.wait(wait)
