"""The one text rule for every string that enters the ledger, and the form natural keys compare in.

DOMAIN §8: text is normalised to NFC and trimmed; control, format, surrogate, private-use and
unassigned code points are refused with the field and the code point named (an invisible
character must never make a second document, nor a NUL stop a read model); a value empty after
this is refused. Natural keys (document numbers, seeds, inspector names) compare by NFKC, so the
full-width `〔２０２５〕` and the half-width `〔2025〕` are one document, while the text is stored
as it was given (NFC).
"""

from __future__ import annotations

import unicodedata

from ledger.domain.errors import InvalidInput

#: The longest free text the ledger stores in one field (names, grounds, commitments, ...).
MAX_TEXT = 2000

#: General categories refused anywhere in a value: Cc control (NUL included), Cf format
#: (zero-width, bidi controls, BOM, soft hyphen, word joiner), Cs surrogate, Co private use and
#: Cn unassigned (in the Unicode version of this Python's `unicodedata`).
REFUSED_CATEGORIES: dict[str, str] = {
    "Cc": "control character",
    "Cf": "format character",
    "Cs": "surrogate",
    "Co": "private-use character",
    "Cn": "unassigned code point",
}

RULE = "NFC text without control, format, surrogate, private-use or unassigned code points"


def code_point(char: str) -> str:
    """The conventional name of a code point: `U+200B`."""
    return f"U+{ord(char):04X}"


def refused_character(value: str) -> tuple[int, str, str] | None:
    """The first refused character of a value as (index, character, category name), or None."""
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES:
            return index, char, REFUSED_CATEGORIES[category]
    return None


def _surrogate(char: str) -> bool:
    return 0xD800 <= ord(char) <= 0xDFFF


#: Characters already found allowed (a few thousand at most: the alphabet the ledger meets),
#: so a value is checked by one set difference and only characters not met before are looked up.
_ALLOWED: set[str] = set()


def _all_allowed(value: str) -> bool:
    """Whether no character of the value is of a refused category (`refused_character` finds
    none), looking up each character not met before once."""
    for char in set(value).difference(_ALLOWED):
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return False
        _ALLOWED.add(char)
    return True


def clean_text(value: object, field_name: str, *, max_length: int = MAX_TEXT) -> str:
    """The value as stored (NFC, trimmed), or a refusal naming the field and the code point."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field_name} must be text", field=field_name, rule="text")
    # Lone surrogates cannot be encoded, so they are named before normalising; the rest is
    # checked after trimming, because surrounding tabs and newlines (Cc) are white space to trim.
    # Most values hold no refused character at all (so no surrogate): checked first, at once.
    found = None
    if not _all_allowed(value):
        found = next(
            ((i, c, REFUSED_CATEGORIES["Cs"]) for i, c in enumerate(value) if _surrogate(c)),
            None,
        )
    if found is None:
        value = unicodedata.normalize("NFC", value).strip()
        found = None if _all_allowed(value) else refused_character(value)
    if found is not None:
        index, char, what = found
        raise InvalidInput(
            f"{field_name} contains {code_point(char)} ({what}) at position {index}; control, "
            "format, surrogate, private-use and unassigned code points are refused",
            field=field_name,
            rule=RULE,
        )
    if not value:
        raise InvalidInput(
            f"{field_name} is required (empty after trimming white space)",
            field=field_name,
            rule="non-empty text",
        )
    if len(value) > max_length:
        raise InvalidInput(
            f"{field_name} is longer than {max_length} characters",
            field=field_name,
            rule=f"at most {max_length} characters",
        )
    return value


def optional_text(value: object, field_name: str, *, max_length: int = MAX_TEXT) -> str | None:
    """`clean_text` for an optional field: None stays None; a given value follows the rule."""
    return None if value is None else clean_text(value, field_name, max_length=max_length)


def natural_key(value: str) -> str:
    """The form a natural key compares in: NFKC of the stored text (never stored itself).

    Pure and total, so it also folds text that older versions stored before the text rule.
    """
    return unicodedata.normalize("NFKC", value)
