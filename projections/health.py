"""How the projectors fare: failures by read model, the retry backoff, and their metric."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter

#: The projections' own metrics: `api.observability` exposes them in `/metrics` beside its own
#: (projections may not import the API; the `project` worker has no HTTP server of its own).
REGISTRY = CollectorRegistry()
FAILURES = Counter(
    "credit_ledger_projector_failures_total",
    "Attempts of a projector to bring a read model up to date that failed",
    ["projection"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class ProjectionFailure:
    """A read model its projector cannot bring up to date: since when, and the last error."""

    projection: str
    error: str  # the exception's class name
    message: str
    since: datetime
    last_at: datetime
    failures: int = 1

    def again(self, error: str, message: str, at: datetime) -> ProjectionFailure:
        """The same run of failures, one attempt later."""
        return replace(self, error=error, message=message, last_at=at, failures=self.failures + 1)

    def describe(self) -> str:
        """One line for operators: which read model, the error, since when."""
        return (
            f"projection {self.projection} is failing since {self.since.isoformat()} "
            f"({self.failures} attempts): {self.error}: {self.message}"
        )


class ProjectionFailed(Exception):
    """One or more read models could not be brought up to date; the others were."""

    def __init__(self, failures: dict[str, ProjectionFailure]) -> None:
        super().__init__("; ".join(f.describe() for f in failures.values()))
        self.failures = failures


class Backoff:
    """Bounded exponential backoff: after n failures in a row, wait `first` × 2^(n-1), at most
    `longest`; a success starts again at `first`.

    A projector that fails (a table gone, the store away, a row it cannot write) retries
    forever, since events are immutable and the read models must eventually hold them, but
    without hammering a store that is in trouble.
    """

    def __init__(self, first: float, longest: float) -> None:
        self.first = first
        self.longest = max(first, longest)
        self.failures = 0

    def failed(self) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        return float(min(self.longest, self.first * 2 ** min(self.failures - 1, 62)))

    def succeeded(self) -> None:
        """Start again from the shortest wait."""
        self.failures = 0
