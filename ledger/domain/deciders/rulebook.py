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


def already_known(
    published: Collection[tuple[str, str, str | None]], kind: str, version: str, text_digest: str
) -> bool:
    """Whether this file is already known under its name; a different file under a name
    already known is refused (a version name stands for one file)."""
    for known_kind, known_version, known_digest in published:
        if known_kind != kind or known_version != version:
            continue
        if known_digest == text_digest:
            return True
        raise Conflict(
            f"{kind} version {version} is already known with other contents; "
            "a changed file is published under a new version name",
            field="version",
            rule="a version name stands for one file",
        )
    return False


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
    if already_known(published, kind, value.version, mine):
        return Publication(kind, value.version, value, None)
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
