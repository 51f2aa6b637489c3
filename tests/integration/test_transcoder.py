"""The orjson transcoder keeps the library's stored format byte for byte, both ways."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_ledger.bootstrap import open_ledger
from credit_ledger.demo import SimulatedClock, load, plan
from ledger.store.codec import DateAsISO
from ledger.store.transcoder import FastJSONTranscoder, FastMapper, uuid_from_hex


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = _registered(JSONTranscoder())
FAST = _registered(FastJSONTranscoder())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(timezones=st.just(timezone(timedelta(hours=8)))),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), values, max_size=8))
def test_any_event_state_is_written_as_the_library_writes_it_and_read_back_equal(
    state: dict[str, Any],
) -> None:
    written = FAST.encode(state)
    assert written == LIBRARY.encode(state)
    assert FAST.decode(written) == LIBRARY.decode(written) == state


def test_every_stored_event_of_a_demo_ledger_reads_and_rewrites_identically(
    tmp_path: Path,
) -> None:
    clock = SimulatedClock(datetime(2019, 1, 1, tzinfo=UTC))
    ledger = open_ledger(f"sqlite:///{tmp_path}/demo.db", clock=clock)
    try:
        assert isinstance(ledger.mapper.transcoder, FastJSONTranscoder)
        actions, _ = plan(40, 3, date(2026, 11, 26))
        for _ in load(ledger, clock, actions):
            pass
        stored = list(ledger.recorder.select_notifications(start=None, limit=100_000))
    finally:
        ledger.close()
    assert len(stored) > 150
    library_mapper = Mapper(transcoder=LIBRARY)
    for event in stored:
        state = LIBRARY.decode(event.state)
        assert FAST.decode(event.state) == state
        assert FAST.encode(state) == event.state
        # The ledger's mapper builds the very event the library's mapper builds.
        ours, theirs = ledger.mapper.to_domain_event(event), library_mapper.to_domain_event(event)
        assert type(ours) is type(theirs)
        assert vars(ours) == vars(theirs)
        # … and writes it back as the library writes it, which is what was stored.
        rewritten = ledger.mapper.to_stored_event(ours)
        assert rewritten == library_mapper.to_stored_event(theirs)
        assert (rewritten.originator_id, rewritten.originator_version, rewritten.topic) == (
            event.originator_id,
            event.originator_version,
            event.topic,
        )
        assert rewritten.state == event.state


def test_the_mapper_upcasts_old_events_and_names_the_event_it_cannot_read() -> None:
    mapper = FastMapper(transcoder=FAST)
    stored = StoredEvent(
        originator_id=uuid4(),
        originator_version=3,
        topic=get_topic(_Renamed),
        state=FAST.encode({"timestamp": datetime(2024, 1, 2, tzinfo=UTC), "name": "a"}),
    )
    event = mapper.to_domain_event(stored)
    assert type(event) is _Renamed
    assert vars(event)["title"] == "a"
    assert event.originator_version == 3
    # Written back, it carries its class version, so it is not upcast a second time.
    again = mapper.to_stored_event(event)
    assert FAST.decode(again.state)["class_version"] == 2
    assert vars(mapper.to_domain_event(again)) == vars(event)
    broken = StoredEvent(stored.originator_id, 4, stored.topic, b"{not json")
    with pytest.raises(MapperDeserialisationError, match="originator_version 4"):
        mapper.to_domain_event(broken)


class _Renamed(DomainEvent):
    """An event whose v1 field `name` became `title` in v2."""

    class_version = 2
    title: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["title"] = state.pop("name")


def test_a_type_without_transcoding_is_refused_both_ways() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        FAST.encode({"value": complex(1, 2)})
    with pytest.raises(TranscodingNotRegisteredError):
        FAST.decode(b'{"value":{"_type_":"complex","_data_":"1+2j"}}')


def test_json_only_the_standard_library_reads_is_still_read() -> None:
    big = 2**70
    assert FAST.decode(FAST.encode({"n": big})) == {"n": big}
    assert FAST.decode(b'{"x":NaN}')["x"] != FAST.decode(b'{"x":NaN}')["x"]  # NaN, as json reads
    assert FAST.encode({"x": float("nan"), "y": 1e-7}) == LIBRARY.encode(
        {"x": float("nan"), "y": 1e-7}
    )


@settings(max_examples=200)
@given(st.uuids())
def test_a_uuid_rebuilt_from_its_hex_is_the_same_uuid(value: UUID) -> None:
    rebuilt = uuid_from_hex(value.hex)
    assert rebuilt == value
    assert hash(rebuilt) == hash(value)
    assert str(rebuilt) == str(value)
    assert uuid_from_hex(value.hex.upper()) == value


def test_text_that_is_not_32_hex_digits_gets_uuid_s_own_handling() -> None:
    assert uuid_from_hex("12345678-1234-5678-1234-567812345678") == UUID(
        "12345678-1234-5678-1234-567812345678"
    )
    for odd in ["g" * 32, "0" * 31, "０" * 32, " " * 32, "+" + "0" * 31, "{" + "a" * 32 + "}"]:
        try:
            expected: UUID | str = UUID(odd)
        except ValueError as refusal:
            expected = str(refusal)
        if isinstance(expected, str):
            with pytest.raises(ValueError, match=re.escape(expected)):
                uuid_from_hex(odd)
        else:
            assert uuid_from_hex(odd) == expected


def test_datetimes_keep_their_offset() -> None:
    at = datetime(2023, 10, 31, 23, 59, tzinfo=timezone(timedelta(hours=8)))
    decoded = FAST.decode(FAST.encode({"at": at, "price": Decimal("1.10")}))
    assert decoded["at"] == at
    assert decoded["at"].utcoffset() == timedelta(hours=8)
    assert str(decoded["price"]) == "1.10"
