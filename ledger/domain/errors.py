"""Domain errors: each names the field and the rule it broke, so adapters explain refusals."""

from __future__ import annotations

from datetime import date


class LedgerError(Exception):
    """Base of every refusal the ledger makes; nothing is written when one is raised."""

    kind = "refused"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class InvalidInput(LedgerError):
    """A value breaks a domain rule (bad credit code, unknown indicator, dates out of order)."""

    kind = "invalid"


class NotEligible(InvalidInput):
    """A repair was requested before the fact's minimum publication period had passed."""

    kind = "not_eligible"

    def __init__(self, message: str, *, eligible_on: date, field: str | None = None) -> None:
        super().__init__(message, field=field, rule="minimum publication period")
        self.eligible_on = eligible_on


class NotFound(LedgerError):
    """A subject, fact, listing, objection or repair that the ledger does not hold."""

    kind = "not_found"


class Conflict(LedgerError):
    """A natural key already holds a different payload, or a state change is no longer possible."""

    kind = "conflict"


class Forbidden(LedgerError):
    """The acting party's role or fields do not allow the write."""

    kind = "forbidden"


class InvalidVersion(InvalidInput):
    """A model or policy file breaks a rule of its kind; names the line (None: the whole file)."""

    kind = "invalid"

    def __init__(self, message: str, *, line: int | None, field: str, rule: str) -> None:
        where = f"line {line}" if line is not None else "the file"
        super().__init__(f"{where}: {field}: {message}", field=field, rule=rule)
        self.line = line
