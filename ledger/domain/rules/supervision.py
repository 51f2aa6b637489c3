"""Differentiated supervision: a subject's tier in a field, and verifiable double-random draws.

Pure functions over folded subject states and the versioned policy data. A draw is fully
determined by its seed and its population, so anyone holding both can recompute it.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

from ledger.domain.errors import InvalidInput
from ledger.domain.model import ModelRegistry
from ledger.domain.rules.grade import Evaluation, evaluate
from ledger.domain.state import IndustryEvaluationState, SubjectState

LETTERS = ("A", "B", "C", "D")
#: A supervision letter (a field's A–D grade, or the public grade mapped onto it).
Letter = Literal["A", "B", "C", "D"]
#: How often a subject is inspected, by its letter (the policy's rows name one per letter).
Tier = Literal["reduced", "regular", "intensified"]
#: What a tier was decided on: the field's industry grade, the public grade, or a listing.
Basis = Literal["industry", "public", "listing"]


@dataclass(frozen=True)
class TierRule:
    """What one grade letter means in a field: its tier, draw ratio and yearly maximum."""

    tier: str
    ratio: Decimal
    max_per_year: int


@dataclass(frozen=True)
class SupervisionPolicy:
    """One version of the supervision policy, with per-field overrides."""

    version: str
    effective_from: date
    public_to_letter: dict[str, str]
    default: dict[str, TierRule]
    fields: dict[str, dict[str, TierRule]]

    def rule(self, field: str, letter: str) -> TierRule:
        """The rule for a grade letter in a field (the field's override, else the default)."""
        return self.fields.get(field, {}).get(letter) or self.default[letter]

    @classmethod
    def from_toml(cls, raw: dict[str, Any]) -> SupervisionPolicy:
        """Build a policy from a parsed policy file, checking every letter has a default."""

        def rules(table: dict[str, Any]) -> dict[str, TierRule]:
            return {
                letter: TierRule(spec["tier"], Decimal(spec["ratio"]), int(spec["max_per_year"]))
                for letter, spec in table.items()
            }

        default = rules(raw["default"])
        if set(default) != set(LETTERS):
            raise ValueError(f"{raw['version']}: the default needs rows for {LETTERS}")
        for rule in default.values():
            if not Decimal(0) < rule.ratio <= Decimal(1):
                raise ValueError(f"{raw['version']}: ratios lie in (0, 1]")
        return cls(
            version=raw["version"],
            effective_from=raw["effective_from"],
            public_to_letter=dict(raw["public_to_letter"]),
            default=default,
            fields={f: rules(t) for f, t in raw.get("fields", {}).items()},
        )


@dataclass(frozen=True)
class PolicyRegistry:
    """Every policy version, each in force from its effective date."""

    policies: tuple[SupervisionPolicy, ...]

    def in_force(self, on: date) -> SupervisionPolicy:
        """The version in force on a date (the first one before any)."""
        chosen = self.policies[0]
        for policy in self.policies:
            if policy.effective_from <= on:
                chosen = policy
        return chosen


@cache
def default_policies() -> PolicyRegistry:
    """The policy versions shipped in `ledger/domain/data/policies/`."""
    folder = resources.files("ledger.domain") / "data" / "policies"
    policies = [
        SupervisionPolicy.from_toml(tomllib.loads(entry.read_text("utf-8")))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    ]
    return PolicyRegistry(tuple(sorted(policies, key=lambda p: p.effective_from)))


@dataclass(frozen=True)
class Supervision:
    """A subject's supervision in a field at D: tier, and on what it rests."""

    uscc: str
    field: str
    as_of: date
    tier: str
    basis: str  # "industry", "public" or "listing"
    grade: str  # the letter A–D the tier was read from
    ratio: Decimal
    max_per_year: int
    policy: str
    public: Evaluation
    industry: IndustryEvaluationState | None


def industry_in_force(state: SubjectState, field: str, on: date) -> IndustryEvaluationState | None:
    """The field's latest industry evaluation dated on or before D (it holds until the next)."""
    found = None
    for evaluation in state.industry_evaluations:
        if (
            evaluation.domain == field
            and evaluation.evaluated_on <= on
            and (found is None or evaluation.evaluated_on >= found.evaluated_on)
        ):
            found = evaluation
    return found


def in_field(state: SubjectState, field: str, on: date) -> bool:
    """Whether the subject belongs to the field's population at D."""
    return state.registered and state.in_field_on(field, on)


def supervise(
    state: SubjectState,
    field: str,
    as_of: date,
    known_at: datetime,
    models: ModelRegistry,
    policies: PolicyRegistry,
    *,
    public: Evaluation | None = None,
) -> Supervision:
    """The tier of a subject in a field at D as known at K (DOMAIN §6).

    From the field's industry grade in force, else from the public grade; any active listing
    on a joint dishonesty list makes it intensified whatever either grade says. `public` is
    the subject's evaluation at D as known at K when the caller has it (a subject's tiers in
    every field share one).
    """
    if public is None:
        public = evaluate(state, as_of, known_at, models)
    policy = policies.in_force(as_of)
    industry = industry_in_force(state, field, as_of)
    # The model decides which lists override a grade (its evaluation says `listed`).
    if public.listed:
        letter, basis = "D", "listing"
    elif industry is not None:
        letter, basis = industry.grade, "industry"
    else:
        letter, basis = policy.public_to_letter[public.grade], "public"
    rule = policy.rule(field, letter)
    return Supervision(
        uscc=state.uscc,
        field=field,
        as_of=as_of,
        tier=rule.tier,
        basis=basis,
        grade=letter,
        ratio=rule.ratio,
        max_per_year=rule.max_per_year,
        policy=policy.version,
        public=public,
        industry=industry,
    )


# -- double-random draws ---------------------------------------------------------------------


@dataclass(frozen=True)
class DrawSelection:
    """One drawn subject: its grade stratum, tier and assigned inspectors."""

    uscc: str
    grade: str
    tier: str
    inspectors: tuple[str, ...]


@dataclass(frozen=True)
class Draw:
    """A double-random draw: fully determined by the seed, the population and the ratios."""

    field: str
    as_of: date
    seed: str
    population_digest: str
    strata: dict[str, tuple[int, int]]  # letter -> (population, drawn)
    selected: tuple[DrawSelection, ...]


def population_digest(population: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted lines `uscc|grade`, one per subject."""
    lines = "\n".join(f"{uscc}|{grade}" for uscc, grade in sorted(population))
    return hashlib.sha256(lines.encode()).hexdigest()


def _rank(seed: str, *parts: str) -> str:
    return hashlib.sha256("|".join((seed, *parts)).encode()).hexdigest()


def draw(
    field: str,
    as_of: date,
    seed: str,
    population: Sequence[tuple[str, str, str]],
    ratios: dict[str, Decimal],
    inspectors: Sequence[str] = (),
) -> Draw:
    """Draw, per grade stratum, the ceil(ratio × n) subjects with the smallest sha256(seed|uscc).

    `population` holds (uscc, grade letter, tier). With an inspector pool, each drawn subject
    gets the two inspectors with the smallest sha256(seed|uscc|inspector).
    """
    if not seed:
        raise InvalidInput("a draw needs a seed", field="seed", rule="public seed")
    strata: dict[str, list[tuple[str, str, str]]] = {}
    for member in population:
        strata.setdefault(member[1], []).append(member)
    selected: list[DrawSelection] = []
    counts: dict[str, tuple[int, int]] = {}
    pool = sorted(set(inspectors))
    for letter in sorted(strata):
        members = sorted(strata[letter], key=lambda m: _rank(seed, m[0]))
        take = math.ceil(ratios[letter] * len(members))
        counts[letter] = (len(members), take)
        for uscc, grade, tier in members[:take]:
            assigned = tuple(sorted(pool, key=lambda i: _rank(seed, uscc, i))[:2])
            selected.append(DrawSelection(uscc, grade, tier, assigned))
    return Draw(
        field=field,
        as_of=as_of,
        seed=seed,
        population_digest=population_digest((u, g) for u, g, _ in population),
        strata=counts,
        selected=tuple(sorted(selected, key=lambda s: (s.grade, _rank(seed, s.uscc)))),
    )
