"""The library's tagged-JSON stored-event format, written and read with orjson.

Stored events keep exactly the format of `eventsourcing`'s `JSONTranscoder` (compact JSON,
UTF-8, typed values as `{"_type_": name, "_data_": value}`), so stores written by either read
with either. What changes is the cost: orjson parses and writes the JSON, and identifiers are
rebuilt from their hex digits without `UUID.__init__`'s string handling — together these were
most of the time of every read path (projection rebuilds, the annual evaluation, API reads).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding, TranscodingNotRegisteredError

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


class FastJSONTranscoder(JSONTranscoder):
    """`JSONTranscoder`'s format and registered transcodings, with orjson doing the JSON."""

    def __init__(self) -> None:
        super().__init__()
        self._readers: dict[str, Callable[[Any], Any]] = {}

    def register(self, transcoding: Transcoding) -> None:
        """Registers a transcoding, as the library's transcoder does."""
        super().register(transcoding)
        reader: Callable[[Any], Any] = transcoding.decode
        if transcoding.name == "uuid_hex":
            reader = uuid_from_hex
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
        kind = type(obj)
        if kind is dict:
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                name = obj["_type_"]
                try:
                    reader = self._readers[name]
                except (KeyError, TypeError):
                    msg = (
                        f"Data serialized with name '{name}' is not deserializable. "
                        "Please register a custom transcoding for this type."
                    )
                    raise TranscodingNotRegisteredError(msg) from None
                data = obj["_data_"]
                if type(data) is dict or type(data) is list:
                    data = self._restore(data)
                return reader(data)
            for key, value in obj.items():
                if type(value) is dict or type(value) is list:
                    obj[key] = self._restore(value)
            return obj
        if kind is list:
            return [self._restore(v) for v in obj]
        return obj


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
