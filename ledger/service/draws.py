"""Double-random inspection draws: inspector pools, a field's population, recorded draws."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.dates import require_date
from ledger.domain.deciders.base import text
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.inspections import InspectionDraw, InspectorPool, pool_id_for
from ledger.domain.rules.authority import InField
from ledger.domain.rules.supervision import Draw, Supervision, draw, in_field, supervise
from ledger.domain.text import natural_key, optional_text
from ledger.domain.values import Actor
from ledger.service.handlers import Written

if TYPE_CHECKING:
    from ledger.service.parts import LedgerParts
else:
    LedgerParts = object


def _selection(result: Draw) -> list[dict[str, Any]]:
    """A draw's selection as stored in its event (plain data)."""
    return [
        {"uscc": s.uscc, "grade": s.grade, "tier": s.tier, "inspectors": list(s.inspectors)}
        for s in result.selected
    ]


class Draws(LedgerParts):
    """Inspector pools and the draws made from a field's population at a ledger position."""

    def register_inspectors(
        self, field: str, *, inspectors: Sequence[str], actor: Actor
    ) -> Written:
        """Register (or replace) a field's inspector pool for double-random draws."""
        actor.require("record")
        self._field(field, "field")
        self._authorize(actor, InField(field, "field"), None)
        # Names are natural keys: full-width and half-width spellings are one inspector.
        by_key: dict[str, str] = {}
        for given in inspectors:
            name = str(text(given, "inspectors"))
            by_key.setdefault(natural_key(name), name)
        names = sorted(by_key.values())
        if len(names) < 2:
            raise InvalidInput(
                "an inspector pool needs at least two inspectors (two go to each subject)",
                field="inspectors",
                rule="at least two inspectors",
            )
        try:
            pool: InspectorPool = self.repository.get(pool_id_for(field))
        except AggregateNotFoundError:
            pool = InspectorPool._create(
                InspectorPool.Registered, field=field, inspectors=names, actor_id=actor.actor_id
            )
            return Written(pool.id, True, self._position(self.save(pool)))
        if not pool.replace(names, actor.actor_id):
            return Written(pool.id, False, self.max_position())
        return Written(pool.id, True, self._position(self.save(pool)))

    def inspectors(self, field: str) -> list[str]:
        """A field's registered inspectors (empty without a pool)."""
        try:
            pool: InspectorPool = self.repository.get(pool_id_for(field))
        except AggregateNotFoundError:
            return []
        return list(pool.inspectors)

    def field_population(self, field: str, as_of: date, position: int) -> list[Supervision]:
        """The field's subjects at D with their supervision, from the log up to a position."""
        result = []
        for state in self.states_at(position).values():
            if in_field(state, field, as_of):
                assert state.last_recorded_at is not None
                result.append(
                    supervise(
                        state, field, as_of, state.last_recorded_at, self.models, self.policies
                    )
                )
        return sorted(result, key=lambda s: s.uscc)

    def _draw_for(self, field: str, as_of: date, seed: str, position: int, pool: list[str]) -> Draw:
        population = [
            (s.uscc, s.grade, s.tier) for s in self.field_population(field, as_of, position)
        ]
        policy = self.policies.in_force(as_of)
        ratios = {letter: policy.rule(field, letter).ratio for letter in "ABCD"}
        return draw(field, as_of, seed, population, ratios, pool)

    def make_draw(
        self, *, field: str, as_of: date, actor: Actor, seed: str | None = None
    ) -> tuple[InspectionDraw, int]:
        """Draw a field's inspection sample at D and record it (seed generated when absent)."""
        actor.require("record")
        self._field(field, "field")
        require_date(as_of, "as_of")
        self._authorize(actor, InField(field, "field"), as_of)
        chosen = optional_text(seed, "seed") or secrets.token_hex(16)
        if len(chosen) > 200:
            raise InvalidInput("seed is longer than 200 characters", field="seed", rule="length")
        position = self.max_position()
        pool = self.inspectors(field)
        # The seed is a natural key: the ranks hash its NFKC form; the seed is kept as given.
        key = natural_key(chosen)
        result = self._draw_for(field, as_of, key, position, pool)
        recorded = InspectionDraw._create(
            InspectionDraw.RecordedV2,
            id=uuid4(),
            field=field,
            as_of=as_of,
            seed=chosen,
            seed_key=key,
            position=position,
            policy=self.policies.in_force(as_of).version,
            population_digest=result.population_digest,
            strata={k: list(v) for k, v in result.strata.items()},
            selected=_selection(result),
            inspectors=pool,
            actor_id=actor.actor_id,
            department=actor.department,
        )
        return recorded, self._position(self.save(recorded)) or 0

    def get_draw(self, draw_id: UUID) -> InspectionDraw:
        """A recorded draw, or NotFound."""
        try:
            recorded: InspectionDraw = self.repository.get(draw_id)
        except AggregateNotFoundError:
            raise NotFound(f"no draw {draw_id}", field="draw_id") from None
        if not isinstance(recorded, InspectionDraw):
            raise NotFound(f"no draw {draw_id}", field="draw_id")
        return recorded

    def verify_draw(self, draw_id: UUID) -> list[str]:
        """Every difference between a recorded draw and its recomputation from the ledger."""
        recorded = self.get_draw(draw_id)
        again = self._draw_for(
            recorded.field,
            recorded.as_of,
            recorded.seed_key,
            recorded.position,
            recorded.inspectors,
        )
        problems = []
        if again.population_digest != recorded.population_digest:
            problems.append("the population digest differs from the ledger's population")
        if _selection(again) != recorded.selected:
            problems.append("the selection differs from a recomputation with the published seed")
        if {k: list(v) for k, v in again.strata.items()} != recorded.strata:
            problems.append("the stratum sizes differ")
        return problems
