"""The one fold: a subject's state from its events in stream order, as known at a record time.

Each event class carries its own mutator (`fold`), as the eventsourcing examples build
projectors from mutators; `step` applies one event and `fold` a stream. Every reader — the
aggregate, the API's time travel, the read models, annual results and replay — folds through
these two functions, so a subject's state has one meaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from ledger.domain.state import SubjectState


class FoldableEvent(Protocol):
    """What the fold needs of a stored subject event: its record time and its mutator."""

    @property
    def timestamp(self) -> datetime: ...

    def fold(self, state: SubjectState) -> None: ...


def step(state: SubjectState, event: FoldableEvent) -> SubjectState:
    """Apply one event to a state (in place) and note its record time; returns the state."""
    event.fold(state)
    state.last_recorded_at = event.timestamp
    return state


def fold(events: Iterable[FoldableEvent], known_at: datetime | None = None) -> SubjectState:
    """The subject's state from its events in stream order, using only those recorded by K.

    Record times are non-decreasing along a stream (the application guarantees it), so the fold
    stops at the first later event.
    """
    state = SubjectState()
    for event in events:
        if known_at is not None and event.timestamp > known_at:
            break
        step(state, event)
    return state
