"""Natural persons (DOMAIN §9): identity numbers, opaque refs, sealed identities and masking.

The one home of the masking rules (`410481********123X`, `张*`) and of the shapes that keep
personal information out of the clear: a person's stream is named by an opaque `ref` (derived
from a keyed hash the service computes, never from the number itself), and the name and number
travel inside events and read models only as a sealed token, `pii1.<ref>.<ciphertext>`, that
only the service can open. Pure: the keyed hash and the cipher live in `ledger.service`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from uuid import UUID

from stdnum import numdb
from stdnum.cn import ric

from ledger.domain.errors import InvalidInput
from ledger.domain.text import natural_key

#: What every output shows in place of an identity whose data key was destroyed.
ERASED = "[erased]"
#: The rule named by every refusal of an identity number.
ID_RULE = "GB 11643-1999 citizen identification number"
#: A ref is `P` and the 26 base32 characters of the stream id; no credit code starts with P.
REF_PREFIX = "P"
REF_LENGTH = 27
#: A sealed identity: its ref (which data key opens it) and base64url nonce + ciphertext + tag.
SEALED_PREFIX = "pii1."
SEALED = re.compile(r"pii1\.(P[A-Z2-7]{26})\.([A-Za-z0-9_-]{16,})")
_SEALED_BYTES = re.compile(SEALED.pattern.encode())
#: Something shaped like an identity number inside a text (a log line, a path).
_ID_NUMBER_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


@dataclass(frozen=True)
class PersonIdentity:
    """A natural person's identity in the clear (only ever in memory, never stored so)."""

    name: str
    id_number: str

    @property
    def masked(self) -> PersonIdentity:
        """The identity as every output shows it."""
        return PersonIdentity(mask_name(self.name), mask_id_number(self.id_number))


def mask_id_number(number: str) -> str:
    """`410481********123X`: the division code and the last four characters, nothing between."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_identity_numbers(text: str) -> str:
    """A text with everything shaped like an identity number in it masked (for logs)."""
    return _ID_NUMBER_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)


def mask_name(name: str) -> str:
    """`张*`: the first character, then a star for each further one (at least one star)."""
    if not name:
        return "*"
    return name[0] + "*" * max(1, len(name) - 1)


def normalize_id_number(value: object, *, field_name: str = "id_number") -> str:
    """The compact upper-case identity number, or a refusal naming the check that failed.

    The refusal never repeats the number: error messages are output too.
    """
    if not isinstance(value, str):
        raise InvalidInput("must be a string", field=field_name, rule=ID_RULE)
    number = ric.compact(natural_key(value))

    def refuse(check: str) -> InvalidInput:
        return InvalidInput(
            f"not a valid resident identity number: {check}", field=field_name, rule=ID_RULE
        )

    if len(number) != 18:
        raise refuse(f"length: must be 18 characters, got {len(number)}")
    if not (number[:17].isascii() and number[:17].isdigit()) or number[17] not in "0123456789X":
        raise refuse("format: 17 digits and a check character (a digit or X)")
    try:
        ric.get_birth_date(number)
    except Exception:
        raise refuse("birth date (characters 7-14) is not a calendar date") from None
    # Known at all, whatever the year: stdnum's year check refuses people born before a
    # county got its code, who hold numbers of that code all the same.
    if not any("county" in props for _, props in numdb.get("cn/loc").info(number[:6])):
        raise refuse("administrative division code (characters 1-6) is not a known one")
    if number[17] != ric.calc_check_digit(number):
        raise refuse("check digit (character 18) does not match")
    return number


def person_ref(stream_id: UUID) -> str:
    """The opaque ref of a person's stream: every path and command takes it for a credit code."""
    return REF_PREFIX + base64.b32encode(stream_id.bytes).decode().rstrip("=")


def is_person_ref(value: str) -> bool:
    """Whether a (compact, upper-case) code is a person's ref rather than a credit code."""
    return len(value) == REF_LENGTH and value.startswith(REF_PREFIX) and _ref_id(value) is not None


def ref_stream_id(ref: str) -> UUID:
    """The stream id a person's ref names."""
    stream_id = _ref_id(ref)
    if stream_id is None:
        raise InvalidInput("not a person's ref", field="uscc", rule="P and 26 base32 characters")
    return stream_id


def _ref_id(ref: str) -> UUID | None:
    try:
        raw = base64.b32decode(ref[1:] + "======", casefold=False)
    except (binascii.Error, ValueError):
        return None
    return UUID(bytes=raw) if len(raw) == 16 else None


def sealed(ref: str, blob: str) -> str:
    """The sealed token of a ciphertext (base64url) under a person's data key."""
    return f"{SEALED_PREFIX}{ref}.{blob}"


def is_sealed(value: str) -> bool:
    """Whether a text is exactly one sealed identity."""
    return SEALED.fullmatch(value) is not None


def sealed_refs(text: str | bytes) -> set[str]:
    """The refs of every sealed identity a text (or an answer's bytes) carries."""
    if isinstance(text, bytes):
        return {m.group(1).decode() for m in _SEALED_BYTES.finditer(text)}
    return {m.group(1) for m in SEALED.finditer(text)}
