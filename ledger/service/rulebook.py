"""The versions of the rules the ledger grades with: shipped files, then publications.

Reads select a version by (D, K) from an in-memory `Rulebook`. It is refreshed from the log
(one query for publication events after the last one seen) at most once every
`refresh_seconds`, and at once after a publication by this process, so the hot read path
costs a bisect and no store round trip. A version published by another process is therefore
used by this one's reads within `refresh_seconds`.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from ledger.domain.commands import PublishVersion
from ledger.domain.deciders.rulebook import Publication, already_known, publish_version
from ledger.domain.errors import Conflict
from ledger.domain.model import ModelRegistry, RepairRegistry
from ledger.domain.rulebook import (
    KIND_OF_TOPIC,
    PUBLICATION_TOPICS,
    PUBLISHED,
    RULEBOOK_ID,
    Rulebook,
    RulebookStream,
    Version,
)
from ledger.domain.rules.supervision import PolicyRegistry
from ledger.domain.rules.versions import KINDS, digest, load_version, parse_version
from ledger.service.handlers import Written
from ledger.store.log import read_log

if TYPE_CHECKING:
    from ledger.service.parts import LedgerParts
else:
    LedgerParts = object

#: Attempts at appending a publication when another one was stored first.
PUBLISH_ATTEMPTS = 5


class KnownVersions:
    """The rulebook as last read from the log, and when it was last checked."""

    def __init__(self, genesis: Rulebook, refresh_seconds: float) -> None:
        self.lock = threading.Lock()
        self.book = genesis
        #: Log position of the last publication reflected in `book`.
        self.seen = 0
        #: `time.monotonic()` of the last check (never checked: minus infinity).
        self.checked = float("-inf")
        self.refresh_seconds = refresh_seconds
        #: Held by the one thread reading the log for a refresh that fell due.
        self.refreshing = threading.Lock()


class Rules(LedgerParts):
    """The rule versions known at a record time, their publication, and their listing."""

    #: Set by the application: the rulebook cache (see `KnownVersions`).
    known_versions: KnownVersions

    def rulebook(self, *, fresh: bool = False) -> Rulebook:
        """The versions known to this process (read from the log when due, or when `fresh`)."""
        cache = self.known_versions
        if fresh:
            self._refresh_rules()
        # One reader refreshes; requests arriving meanwhile answer with the book as it is, as
        # they would a moment before it fell due, instead of each reading the log.
        elif time.monotonic() - cache.checked >= cache.refresh_seconds and (
            cache.refreshing.acquire(blocking=False)
        ):
            try:
                self._refresh_rules()
            finally:
                cache.refreshing.release()
        return cache.book

    def models_at(self, known_at: datetime | None = None) -> ModelRegistry:
        """The evaluation models known at K (every one known when None)."""
        return self.rulebook().models_at(known_at)

    def policies_at(self, known_at: datetime | None = None) -> PolicyRegistry:
        """The supervision policies known at K (every one known when None)."""
        return self.rulebook().policies_at(known_at)

    def repairs_at(self, known_at: datetime | None = None) -> RepairRegistry:
        """The repair policies known at K (every one known when None)."""
        return self.rulebook().repairs_at(known_at)

    def _refresh_rules(self) -> None:
        cache = self.known_versions
        started = time.monotonic()
        seen = cache.seen
        found: list[Version] = []
        for notification in read_log(self.recorder, topics=PUBLICATION_TOPICS, start=seen):
            event = self.mapper.to_domain_event(notification)
            found.append(_version(event, notification.id))  # type: ignore[arg-type]
        with cache.lock:
            if found and cache.seen == seen:
                cache.book = cache.book.with_published(found)
                cache.seen = found[-1].position or seen
            cache.checked = started

    def candidate(self, kind: str, source: str) -> Version:
        """A file checked as a publication would check it, not stored (validate, dry run)."""
        book = self.rulebook(fresh=True)
        value = parse_version(kind, source, labels=_labels(book))
        if already_known(_known(book), kind, value.version, digest(source)):
            raise Conflict(
                f"{kind} version {value.version} is already published with this file",
                field="version",
                rule="a version is checked before it is published",
            )
        return Version(
            kind,  # type: ignore[arg-type]  # checked by parse_version
            value.version,
            value.effective_from,
            value,
            known_from=self.clock(),
            source=source,
        )

    def publish(self, command: PublishVersion) -> Written:
        """Validate and store a version on the global rulebook stream (the handler's work)."""
        for _ in range(PUBLISH_ATTEMPTS):
            book = self.rulebook(fresh=True)
            decision = publish_version(_known(book), command, labels=_labels(book))
            if decision.payload is None:
                return Written(RULEBOOK_ID, False, self.max_position(), status=decision.version)
            try:
                recordings = self.save(self._appended(decision, command))
            except RecordConflictError:
                continue
            self.rulebook(fresh=True)
            return Written(RULEBOOK_ID, True, self._position(recordings), status=decision.version)
        raise Conflict(
            "the rulebook kept changing; retry", field="version", rule="concurrent change"
        )

    def _appended(self, decision: Publication, command: PublishVersion) -> RulebookStream:
        try:
            stream: RulebookStream = self.repository.get(RULEBOOK_ID)
            last = stream.modified_on
        except AggregateNotFoundError:
            stream = RulebookStream._create(
                RulebookStream.Opened, opened_by=command.actor.actor_id, timestamp=self.clock()
            )
            last = stream.modified_on
        now = self.clock()
        assert decision.payload is not None
        stream.trigger_event(PUBLISHED[decision.kind], timestamp=max(now, last), **decision.payload)
        return stream


def _known(book: Rulebook) -> list[tuple[str, str, str | None]]:
    return [(v.kind, v.version, v.digest) for k in KINDS for v in book.versions(k)]


def _labels(book: Rulebook) -> set[str]:
    """The grade labels of every model known (a supervision policy maps each)."""
    return {label for model in book.models_at().models for label in model.labels}


def _version(event: RulebookStream.Published, position: int) -> Version:
    kind = KIND_OF_TOPIC[type(event).TOPIC]
    return Version(
        kind,  # type: ignore[arg-type]
        event.version,
        event.effective_from,
        load_version(kind, event.source),
        digest=event.digest,
        known_from=event.timestamp,
        position=position,
        published_by=event.published_by,
        reason=event.reason,
        source=event.source,
    )
