"""Reading the ordered log: the one loop that pages a recorder's notifications."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain

from eventsourcing.persistence import ApplicationRecorder, Notification

#: Notifications asked for per query when the caller names no page size.
PAGE_SIZE = 1000


def read_pages(
    recorder: ApplicationRecorder,
    *,
    topics: Sequence[str] = (),
    start: int = 0,
    stop: int | None = None,
    page_size: int = PAGE_SIZE,
    limit: int | None = None,
) -> Iterator[list[Notification]]:
    """The log's notifications after position `start` up to and including `stop`, in log order,
    a page (one query) at a time.

    `topics` keeps only events of those topics (all when empty); `limit` bounds how many
    notifications are read in all, and the last query asks for no more than remain. Pages are
    never empty, and a page is read only when the previous one has been consumed.
    """
    if page_size < 1:
        raise ValueError("page_size must be positive")
    position = start
    remaining = limit
    while (stop is None or position < stop) and (remaining is None or remaining > 0):
        size = page_size if remaining is None else min(page_size, remaining)
        page = list(
            recorder.select_notifications(
                start=position,
                limit=size,
                stop=stop,
                topics=topics,
                inclusive_of_start=False,
            )
        )
        if not page:
            return
        yield page
        position = page[-1].id
        if remaining is not None:
            remaining -= len(page)


def read_log(
    recorder: ApplicationRecorder,
    *,
    topics: Sequence[str] = (),
    start: int = 0,
    stop: int | None = None,
    page_size: int = PAGE_SIZE,
    limit: int | None = None,
) -> Iterator[Notification]:
    """The notifications of `read_pages`, one by one (same bounds, same order, same queries)."""
    return chain.from_iterable(
        read_pages(
            recorder, topics=topics, start=start, stop=stop, page_size=page_size, limit=limit
        )
    )
