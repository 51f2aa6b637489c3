"""The decider of a publication: who may publish, the file's checks, and a version's name."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ledger.domain.commands import PublishVersion
from ledger.domain.deciders.base import text
from ledger.domain.errors import Conflict, Forbidden
from ledger.domain.rules.versions import digest, parse_version, require_kind
from ledger.domain.values import Actor, Role


@dataclass(frozen=True)
class Publication:
    """What a publication appends (`payload` is None when the same file is already published)."""

    kind: str
    version: str
    value: Any
    payload: dict[str, Any] | None


def require_admin(actor: Actor) -> None:
    """Only an admin (or the ledger's own tooling) publishes rules."""
    if actor.role not in (Role.ADMIN, Role.SYSTEM):
        raise Forbidden(
            f"role '{actor.role.value}' may not publish rules",
            field="role",
            rule="publishing a model or policy version needs the admin role",
        )


def publish_version(
    published: Collection[tuple[str, str, str | None]],
    command: PublishVersion,
    *,
    labels: Collection[str],
) -> Publication:
    """Check a publication against the versions already known (`(kind, version, digest)`, the
    genesis ones included) and say what to append.

    `labels` are the grade labels of the models known, which a supervision policy must map.
    """
    require_admin(command.actor)
    kind = require_kind(command.kind)
    reason = str(text(command.reason, "reason"))
    value = parse_version(kind, command.source, labels=labels)
    mine = digest(command.source)
    for known_kind, version, known_digest in published:
        if known_kind != kind or version != value.version:
            continue
        if known_digest == mine:
            return Publication(kind, value.version, value, None)
        raise Conflict(
            f"{kind} version {value.version} is already known with other contents; "
            "a changed file is published under a new version name",
            field="version",
            rule="a version name stands for one file",
        )
    payload = {
        "version": value.version,
        "effective_from": value.effective_from,
        "source": command.source,
        "digest": mine,
        "published_by": command.actor.actor_id,
        "department": command.actor.department,
        "reason": reason,
    }
    return Publication(kind, value.version, value, payload)
