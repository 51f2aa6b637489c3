"""The library's tagged-JSON stored-event format, written and read with orjson.

Stored events keep exactly the format of `eventsourcing`'s `JSONTranscoder` (compact JSON,
UTF-8, typed values as `{"_type_": name, "_data_": value}`), so stores written by either read
with either. What changes is the cost: orjson parses and writes the JSON, and identifiers are
rebuilt from their hex digits without `UUID.__init__`'s string handling — together these were
most of the time of every read path (projection rebuilds, the annual evaluation, API reads).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

from ledger.store.codec import DateAsISO

_UNKNOWN = SafeUUID.unknown  # read once: an enum member lookup costs more than the rest
_WRITE = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def uuid_from_hex(text: str) -> UUID:
    """The UUID of 32 hex digits (as `UUID.hex` writes them), built without re-parsing.

    Anything else goes through `UUID()` and its own checks and errors.
    """
    if len(text) == 32:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        # fromhex skips spaces, so 16 bytes from 32 characters means 32 hex digits.
        if len(raw) == 16:
            value = object.__new__(UUID)
            object.__setattr__(value, "int", int.from_bytes(raw, "big"))
            object.__setattr__(value, "is_safe", _UNKNOWN)
            return value
    return UUID(text)


def _datetime_from_iso(data: str) -> datetime:
    if type(data) is not str:
        # DatetimeAsISO asserts its data is text; keep refusing anything else.
        raise TypeError(f"datetime_iso data is not text: {data!r}")
    return datetime.fromisoformat(data)


_DIRECT_READERS: dict[type[Transcoding], Callable[[Any], Any]] = {
    UUIDAsHex: uuid_from_hex,
    DecimalAsStr: Decimal,
    DatetimeAsISO: _datetime_from_iso,
    DateAsISO: date.fromisoformat,
}


class FastJSONTranscoder(JSONTranscoder):
    """`JSONTranscoder`'s format and registered transcodings, with orjson doing the JSON."""

    def __init__(self) -> None:
        super().__init__()
        self._readers: dict[str, Callable[[Any], Any]] = {}

    def register(self, transcoding: Transcoding) -> None:
        """Registers a transcoding, as the library's transcoder does."""
        super().register(transcoding)
        # The library's own transcodings are read by the function their `decode` calls.
        reader = _DIRECT_READERS.get(type(transcoding), transcoding.decode)
        self._readers[transcoding.name] = reader

    def encode(self, obj: Any) -> bytes:
        """The compact UTF-8 JSON of `obj`, typed values tagged as the library tags them."""
        # orjson writes UUIDs itself (untagged), so they are tagged before it sees them;
        # dates, datetimes and decimals reach `_encode_obj` through `default`.
        try:
            return orjson.dumps(_tag_uuids(obj), default=self._encode_obj, option=_WRITE)
        except (orjson.JSONEncodeError, _LibraryWrites):
            # What orjson refuses (keys that are not strings, integers past 64 bits) or writes
            # differently (floats) the library's encoder writes, or refuses with its error.
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        """The value `encode` wrote (or the library's transcoder wrote), typed values restored."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            # JSON orjson refuses but `json` reads (NaN, integers past 64 bits): stay compatible.
            return super().decode(data)
        return self._restore(obj)

    def _restore(self, obj: Any) -> Any:
        # Called once per stored event. Tagged values are restored where they are met, one
        # level down, rather than by a call each: events are flat dicts of a few tagged values.
        kind = type(obj)
        if kind is dict:
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._read(obj)
            for key, value in obj.items():
                kind = type(value)
                if kind is dict:
                    if len(value) == 2 and "_type_" in value and "_data_" in value:
                        obj[key] = self._read(value)
                    else:
                        obj[key] = self._restore(value)
                elif kind is list:
                    obj[key] = self._restore(value)
            return obj
        if kind is list:
            return [self._restore(v) if type(v) is dict or type(v) is list else v for v in obj]
        return obj

    def _read(self, tagged: dict[str, Any]) -> Any:
        name = tagged["_type_"]
        try:
            reader = self._readers[name]
        except (KeyError, TypeError):
            msg = (
                f"Data serialized with name '{name}' is not deserializable. "
                "Please register a custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg) from None
        data = tagged["_data_"]
        if type(data) is dict or type(data) is list:
            data = self._restore(data)
        return reader(data)


class FastMapper(Mapper[UUID]):
    """`Mapper`, with the per-event work that does not depend on the event done once per topic.

    The library's `to_domain_event` resolves the topic, looks up the id convertor and the
    class version for every event; here they are looked up once per (topic, id type) and
    kept. What it builds is the same: the same class, the same `__dict__`, upcast the same
    way, and the same `MapperDeserialisationError` when the stored state does not decode.
    `to_stored_event` likewise keeps each class's topic and version.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classes: dict[tuple[str, type], tuple[type, Callable[[Any], Any], int]] = {}
        self._topics: dict[type, tuple[str, int]] = {}

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """The stored event of a domain event (as `Mapper.to_stored_event` builds it)."""
        cls = type(domain_event)
        try:
            topic, class_version = self._topics[cls]
        except KeyError:
            topic, class_version = get_topic(cls), getattr(cls, "class_version", 1)
            self._topics[cls] = (topic, class_version)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        if class_version > 1:
            event_state["class_version"] = class_version
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=stored_state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The domain event of a stored event (as `Mapper.to_domain_event` builds it)."""
        topic = stored_event.topic
        originator_id = stored_event.originator_id
        try:
            cls, convert_id, class_version = self._classes[topic, type(originator_id)]
        except KeyError:
            cls = resolve_topic(topic)
            convert_id = find_id_convertor(cls, cast(Hashable, type(originator_id)))
            class_version = getattr(cls, "class_version", 1)
            self._classes[topic, type(originator_id)] = (cls, convert_id, class_version)
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            event_state: dict[str, Any] = self.transcoder.decode(state)
        except Exception as e:
            msg = (
                f"Failed to deserialise state of stored event with topic '{topic}', "
                f"originator_id '{originator_id}' and "
                f"originator_version {stored_event.originator_version}: {e}"
            )
            raise MapperDeserialisationError(msg) from e
        event_state["originator_id"] = convert_id(originator_id)
        event_state["originator_version"] = stored_event.originator_version
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event: DomainEventProtocol[UUID] = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event


_PLAIN = frozenset({str, int, bool, type(None), date, datetime, Decimal})


class _LibraryWrites(Exception):
    """A value the library's encoder writes differently from orjson (floats: NaN, 1e-07)."""


def _tag_uuids(obj: Any) -> Any:
    # Called once per stored event: the common values (text, numbers, dates) are passed over
    # without a call each; only containers and UUIDs are looked into.
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if isinstance(obj, float):
        raise _LibraryWrites
    if isinstance(obj, UUID):
        return {"_type_": "uuid_hex", "_data_": obj.hex}
    if isinstance(obj, dict):
        # A copy: the encoded object (an event's own state) is never changed.
        return {k: v if type(v) in _PLAIN else _tag_uuids(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [v if type(v) in _PLAIN else _tag_uuids(v) for v in obj]
    return obj
