"""A TOML file read for refusals that name the line: each key path's line, typed lookups.

The mechanics of reading a model or policy file (`ledger.domain.rules.versions` holds the
checks): every lookup that finds a value missing or of the wrong shape raises `InvalidVersion`
naming the line of the key (or of the table it is missing from), the key path and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.domain.errors import InvalidVersion

#: A key path: table and key names, and the index of a table in an array of tables.
Path = tuple[str | int, ...]


def show(path: Path) -> str:
    """A key path as a reader finds it in the file: `indicators."penalty.minor".points`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            out += ("." if out else "") + name
    return out


def _keys(dotted: str) -> list[str]:
    """The parts of a TOML dotted key (`a."b.c"` is `a`, `b.c`)."""
    return [
        next(g for g in m.groups() if g is not None)
        for m in re.finditer(r'"([^"]*)"|\'([^\']*)\'|([^.\s"\']+)', dotted)
    ]


def key_lines(text: str) -> dict[Path, int]:
    """The line each key path (and each table of an array) starts on, for error messages."""
    index: dict[Path, int] = {}
    table: Path = ()
    arrays: dict[Path, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        path: Path | None = None
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            name: Path = tuple(_keys(line[2 : line.find("]]")]))
            arrays[name] = arrays.get(name, -1) + 1
            path = table = (*name, arrays[name])
        elif line.startswith("["):
            path = table = tuple(_keys(line[1 : line.find("]")]))
        elif "=" in line:
            path = (*table, *_keys(line.split("=", 1)[0]))
        if path is not None:
            for end in range(1, len(path) + 1):
                index.setdefault(path[:end], number)
    return index


@dataclass
class TomlFile:
    """One file being checked: its parsed contents and where each key stands."""

    kind: str
    raw: dict[str, Any]
    lines: dict[Path, int]

    def fail(self, path: Path, message: str, rule: str) -> InvalidVersion:
        line = None
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                line = self.lines[path[:end]]
                break
        return InvalidVersion(message, line=line, field=show(path) or self.kind, rule=rule)

    def get(self, path: Path, *, required: bool = True) -> Any:
        value: Any = self.raw
        for end, part in enumerate(path, start=1):
            missing = (
                (part >= len(value) if isinstance(part, int) else part not in value)
                if isinstance(value, (dict, list))
                else True
            )
            if missing:
                if not required:
                    return None
                raise self.fail(path[: end - 1], f"'{show(path)}' is missing", "required key")
            value = value[part]
        return value

    def table(self, path: Path, *, required: bool = True) -> dict[str, Any]:
        value = self.get(path, required=required)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a table, got {value!r}", "a table")
        return value

    def name(self, path: Path) -> str:
        value = self.get(path)
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise self.fail(path, f"must be a non-empty name, got {value!r}", "a version name")
        return value

    def day(self, path: Path) -> date:
        value = self.get(path)
        if not isinstance(value, date) or hasattr(value, "hour"):
            raise self.fail(path, f"must be a date (2024-01-01), got {value!r}", "a date")
        return value

    def decimal(self, path: Path, *, positive: bool = False) -> Decimal:
        value = self.get(path)
        try:
            if not isinstance(value, str):
                raise InvalidOperation
            number = Decimal(value)
            if not number.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise self.fail(
                path, f'must be a decimal string like "5", got {value!r}', "points"
            ) from None
        if number < 0 or (positive and number == 0):
            bound = "above 0" if positive else "0 or more"
            raise self.fail(path, f"must be {bound}, got {value}", "points")
        return number

    def period(self, path: Path, *, until_ended: bool = True, zero: bool = False) -> int | None:
        """Months of a period (None: until ended), refusing any other shape."""
        value = self.get(path)
        if value == "until_ended" and until_ended:
            return None
        if isinstance(value, dict) and value and set(value) <= {"months", "years"}:
            parts = [value.get("months", 0), value.get("years", 0)]
            if all(type(p) is int and p >= 0 for p in parts):
                months = parts[0] + 12 * parts[1]
                if months > 0 or zero:
                    return int(months)
        shapes = "{months = N} or {years = N}" + (" or 'until_ended'" if until_ended else "")
        raise self.fail(
            path,
            f"must be {shapes}{'' if zero else ', N above 0'}, got {value!r}",
            "periods",
        )

    def one_of(self, path: Path, allowed: Collection[str], rule: str) -> str:
        value = self.get(path)
        if value not in allowed:
            raise self.fail(path, f"{value!r} is not one of: {', '.join(sorted(allowed))}", rule)
        return str(value)

    def entries(self, path: Path) -> Iterator[tuple[str, Any]]:
        yield from self.table(path).items()
