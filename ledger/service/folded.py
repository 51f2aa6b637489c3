"""Subjects as last folded by this process, keyed by stream and version, so a write folds only
the events appended since (bounded, least recently used first out).

The cache hands an aggregate out (`take`) instead of copying it: the writer owns it, may apply a
decision to it, and gives it back (`keep`) only once what it holds is stored — after a save, or
after a decision that appended nothing. An aggregate whose save failed is never given back, so
the cache only ever holds a stream's state at a version the store has. Whatever other writers
appended since is read from the store and folded on at load, and a writer that appends in between
still meets the store's version check, so a cached state can be behind but never wrong.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from ledger.domain.subject import Subject

#: Subjects held when the configuration does not say (CREDIT_LEDGER_WRITE_CACHE_SUBJECTS).
DEFAULT_CAPACITY = 4096


class FoldedSubjects:
    """At most `capacity` subjects' aggregates, each at the stream version it was stored at."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._held: OrderedDict[UUID, Subject] = OrderedDict()
        # The server's request threads share one ledger, so one writer takes an entry at a time.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._held)

    def take(self, subject_id: UUID) -> Subject | None:
        """The subject as last folded (now owned by the caller), or None when not held."""
        with self._lock:
            found = self._held.pop(subject_id, None)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
            return found

    def keep(self, subject: Subject) -> None:
        """Hold a subject whose every event is stored; the newer wins if two writers give one
        back, and the least recently used goes when full."""
        if self.capacity <= 0 or subject.pending_events:
            return
        with self._lock:
            held = self._held.get(subject.id)
            if held is not None and held.version > subject.version:
                return
            self._held[subject.id] = subject
            self._held.move_to_end(subject.id)
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)

    def clear(self) -> None:
        """Forget every subject (the next write of each folds its stream whole)."""
        with self._lock:
            self._held.clear()
