"""Versions of the rules as events: the global rulebook stream, and the versions known at K.

Every evaluation model, supervision policy and repair policy after the shipped (genesis) files
is published into one global stream, each version an event with its own record time. A
`Rulebook` holds the genesis versions (known at every record time) and the published ones in
log order, and answers the registries known at a record time K, so that `state(D, K)` grades
with the version known at K and in force at D.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.model import (
    EvaluationModel,
    ModelRegistry,
    RepairPolicy,
    RepairRegistry,
)
from ledger.domain.rules.supervision import PolicyRegistry, SupervisionPolicy
from ledger.domain.rules.versions import RuleKind, digest

RULEBOOK_NAMESPACE = UUID("5d0c7b8e-2f4a-5e61-9a3b-7c1d2e3f4a5b")
#: The one global stream every published version is appended to.
RULEBOOK_ID = uuid5(RULEBOOK_NAMESPACE, "rulebook")


class RulebookStream(Aggregate):
    """The global stream of published rule versions (the genesis files are not in it)."""

    TOPIC = "credit.rulebook.v1"

    class Event(Aggregate.Event):
        """Base of rulebook events."""

        TOPIC = "credit.rulebook_event.v1"

    class Opened(Aggregate.Created, Event):
        """The stream was started, with its first publication."""

        TOPIC = "credit.rulebook_opened.v1"
        opened_by: str

    class Published(Event):
        """A version of some kind of rules was published (base of the three kinds' events)."""

        TOPIC = "credit.rule_version_published.v1"
        version: str
        effective_from: date
        source: str
        digest: str
        published_by: str
        department: str | None
        reason: str

        def apply(self, aggregate: RulebookStream) -> None:
            aggregate.versions.append((KIND_OF_TOPIC[self.TOPIC], self.version, self.digest))

    class ModelPublished(Published):
        """An evaluation-model version was published."""

        TOPIC = "credit.model_published.v1"

    class SupervisionPolicyPublished(Published):
        """A supervision-policy version was published."""

        TOPIC = "credit.supervision_policy_published.v1"

    class RepairPolicyPublished(Published):
        """A repair-policy version was published."""

        TOPIC = "credit.repair_policy_published.v1"

    @staticmethod
    def create_id(opened_by: str) -> UUID:
        """There is one rulebook stream."""
        del opened_by
        return RULEBOOK_ID

    def __init__(self, opened_by: str) -> None:
        self.opened_by = opened_by
        #: (kind, version, digest) of every version published, in order.
        self.versions: list[tuple[str, str, str]] = []


#: The event class of each kind's publication, and back.
PUBLISHED: dict[str, type[RulebookStream.Published]] = {
    "model": RulebookStream.ModelPublished,
    "supervision": RulebookStream.SupervisionPolicyPublished,
    "repair": RulebookStream.RepairPolicyPublished,
}
KIND_OF_TOPIC = {cls.TOPIC: kind for kind, cls in PUBLISHED.items()}
#: The topics of publications: a log read with these finds every version published.
PUBLICATION_TOPICS = tuple(KIND_OF_TOPIC)


@dataclass(frozen=True)
class Version:
    """One version of some rules: genesis (`known_from` None) or published at a record time."""

    kind: RuleKind
    version: str
    effective_from: date
    value: Any
    digest: str | None = None
    known_from: datetime | None = None
    position: int | None = None
    published_by: str | None = None
    reason: str | None = None
    source: str | None = None

    @property
    def genesis(self) -> bool:
        """Shipped with the code: known at every record time."""
        return self.known_from is None


@dataclass
class _Kind:
    """The versions of one kind: genesis first, then the published in record order."""

    genesis: list[Version]
    published: list[Version] = field(default_factory=list)
    known: list[datetime] = field(default_factory=list)
    registries: dict[Any, Any] = field(default_factory=dict)

    def count_at(self, k: datetime | None) -> int:
        return len(self.published) if k is None else bisect_right(self.known, k)


class Rulebook:
    """The versions of every kind of rules, and the registries known at a record time."""

    def __init__(self, genesis: Iterable[Version], published: Iterable[Version] = ()) -> None:
        self._kinds: dict[str, _Kind] = {k: _Kind([]) for k in PUBLISHED}
        for version in genesis:
            self._kinds[version.kind].genesis.append(version)
        for version in published:
            self._add(version)

    @classmethod
    def genesis_of(
        cls, models: ModelRegistry, policies: PolicyRegistry, repairs: RepairRegistry
    ) -> Rulebook:
        """A rulebook of the shipped versions alone (with the shipped files' text, if shipped)."""
        files = shipped_files()
        versions = [
            Version(
                kind,  # type: ignore[arg-type]  # one of the three literals below
                v.version,
                v.effective_from,
                v,
                digest(files[kind, v.version]) if (kind, v.version) in files else None,
                source=files.get((kind, v.version)),
            )
            for kind, values in (
                ("model", models.models),
                ("supervision", policies.policies),
                ("repair", repairs.policies),
            )
            for v in values
        ]
        return cls(versions)

    def _add(self, version: Version) -> None:
        if version.known_from is None:
            raise ValueError("a published version has a record time")
        kind = self._kinds[version.kind]
        kind.published.append(version)
        kind.known.append(version.known_from)

    def with_published(self, versions: Sequence[Version]) -> Rulebook:
        """This rulebook with more published versions (later in the log)."""
        book = Rulebook(
            [v for k in self._kinds.values() for v in k.genesis],
            [v for k in self._kinds.values() for v in k.published],
        )
        # Kept in record order per kind; registries already built stay valid for their prefix.
        for kind, mine in self._kinds.items():
            book._kinds[kind].registries = dict(mine.registries)
        for version in versions:
            book._add(version)
        return book

    def versions(self, kind: str, k: datetime | None = None) -> list[Version]:
        """The versions of a kind known at K (every one when K is None), genesis first."""
        entry = self._kinds[kind]
        return [*entry.genesis, *entry.published[: entry.count_at(k)]]

    def published(self) -> list[Version]:
        """Every published (not genesis) version, in record order."""
        out = [v for k in self._kinds.values() for v in k.published]
        return sorted(out, key=lambda v: (v.known_from, v.position or 0))

    def published_between(self, after: datetime, upto: datetime) -> list[Version]:
        """The versions published after one record time and at or before another."""
        return [v for v in self.published() if after < v.known_from <= upto]  # type: ignore[operator]

    def _registry(self, kind: str, k: datetime | None, build: Any) -> Any:
        entry = self._kinds[kind]
        count = entry.count_at(k)
        registry = entry.registries.get(count)
        if registry is None:
            values = [v.value for v in self.versions(kind)[: len(entry.genesis) + count]]
            # Stable: of two versions in force from one day, the one known later wins.
            registry = entry.registries[count] = build(values)
        return registry

    def models_at(self, k: datetime | None = None) -> ModelRegistry:
        """The evaluation models known at K (all when None), with the repair policies known
        at K (a maximum publication period ends a deduction's count)."""
        repairs = self.repairs_at(k)
        models = self._kinds["model"]
        key = (models.count_at(k), self._kinds["repair"].count_at(k))
        registry = models.registries.get(key)
        if registry is None:
            values = [v.value for v in [*models.genesis, *models.published[: key[0]]]]
            registry = models.registries[key] = ModelRegistry(values, repairs)
        return registry

    def policies_at(self, k: datetime | None = None) -> PolicyRegistry:
        """The supervision policies known at K (all when None)."""
        return self._registry(  # type: ignore[no-any-return]
            "supervision",
            k,
            lambda vs: PolicyRegistry(tuple(sorted(vs, key=_effective))),
        )

    def repairs_at(self, k: datetime | None = None) -> RepairRegistry:
        """The repair policies known at K (all when None)."""
        return self._registry(  # type: ignore[no-any-return]
            "repair",
            k,
            lambda vs: RepairRegistry(tuple(sorted(vs, key=_effective))),
        )


def _effective(value: EvaluationModel | SupervisionPolicy | RepairPolicy) -> date:
    return value.effective_from


@cache
def shipped_files() -> dict[tuple[str, str], str]:
    """The text of each genesis file by (kind, version); the genesis repair policy is the
    repair table of each shipped model, so its file is the model's."""
    folder = resources.files("ledger.domain") / "data"
    files: dict[tuple[str, str], str] = {}
    for sub, kinds in (("models", ("model", "repair")), ("policies", ("supervision",))):
        for entry in sorted((folder / sub).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                text = entry.read_text("utf-8")
                for kind in kinds:
                    files[kind, tomllib.loads(text)["version"]] = text
    return files


def publishable_file(name: str) -> str:
    """A shipped file meant to be published, not genesis (`data/published/`), by file name:
    the repair policy of NDRC Order No. 36 of 2025 is `repair-2026.toml`."""
    return (resources.files("ledger.domain") / "data" / "published" / name).read_text("utf-8")
