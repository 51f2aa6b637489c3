"""Inspection draws and inspector pools as events (global streams, one per draw or field)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.text import natural_key

POOL_NAMESPACE = UUID("5e8d2c4a-7b1f-5a3e-9d6c-2f4b8a1c3e5d")


def pool_id_for(field: str) -> UUID:
    """A field's inspector pool stream."""
    return uuid5(POOL_NAMESPACE, field)


class InspectorPool(Aggregate):
    """The inspectors a field's department registered for double-random inspections."""

    TOPIC = "credit.inspector_pool.v1"

    class Event(Aggregate.Event):
        """Base of pool events."""

        TOPIC = "credit.inspector_pool_event.v1"

    class Registered(Aggregate.Created, Event):
        """The first pool of a field."""

        TOPIC = "credit.inspector_pool_registered.v1"
        field: str
        inspectors: list[str]
        actor_id: str

    class Replaced(Event):
        """A new list of inspectors for the field, from now on."""

        TOPIC = "credit.inspector_pool_replaced.v1"
        inspectors: list[str]
        actor_id: str

        def apply(self, aggregate: InspectorPool) -> None:
            aggregate.inspectors = list(self.inspectors)

    @staticmethod
    def create_id(field: str) -> UUID:
        """One pool stream per field."""
        return pool_id_for(field)

    def __init__(self, field: str, inspectors: list[str], actor_id: str) -> None:
        self.field = field
        self.inspectors = list(inspectors)

    def replace(self, inspectors: list[str], actor_id: str) -> bool:
        """Replace the pool; the same list again (names compared by NFKC) is a no-op."""
        if sorted(map(natural_key, inspectors)) == sorted(map(natural_key, self.inspectors)):
            return False
        self.trigger_event(self.Replaced, inspectors=list(inspectors), actor_id=actor_id)
        return True


class InspectionDraw(Aggregate):
    """One double-random draw, recorded with everything needed to verify it."""

    TOPIC = "credit.inspection_draw.v1"

    class Event(Aggregate.Event):
        """Base of draw events."""

        TOPIC = "credit.inspection_draw_event.v1"

    class Recorded(Aggregate.Created, Event):
        """DrawRecorded: seed, valid date, the log position the population was read at,
        the population digest, stratum sizes and the selection."""

        TOPIC = "credit.inspection_draw_recorded.v1"
        field: str
        as_of: date
        seed: str
        position: int
        policy: str
        population_digest: str
        strata: dict[str, Any]
        selected: list[dict[str, Any]]
        inspectors: list[str]
        actor_id: str
        department: str | None

    class RecordedV2(Recorded):
        """DrawRecorded with the seed's key: the ranks hash NFKC of the seed (DOMAIN §8), so
        a seed typed in full-width or half-width digits draws the same sample."""

        TOPIC = "credit.inspection_draw_recorded.v2"
        seed_key: str

    def __init__(
        self,
        field: str,
        as_of: date,
        seed: str,
        position: int,
        policy: str,
        population_digest: str,
        strata: dict[str, Any],
        selected: list[dict[str, Any]],
        inspectors: list[str],
        actor_id: str,
        department: str | None,
        seed_key: str | None = None,
    ) -> None:
        self.field = field
        self.as_of = as_of
        self.seed = seed
        # Draws recorded before seeds were keys hashed the seed exactly as given.
        self.seed_key = seed if seed_key is None else seed_key
        self.position = position
        self.policy = policy
        self.population_digest = population_digest
        self.strata = dict(strata)
        self.selected = list(selected)
        self.inspectors = list(inspectors)
        self.actor_id = actor_id

    @property
    def recorded_at(self) -> datetime:
        """When the draw was made (its record time)."""
        return self.created_on
