"""Request dependencies: the ledger, the audit log, and who is calling."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.config import ServiceConfig
from api.problems import Problem
from ledger.domain.rules.queues import in_queue
from ledger.domain.values import WRITE_ROLES, Actor, Role, normalize_uscc, subject_id_for
from ledger.service.application import CreditLedger
from ledger.service.audit import QueryAudit
from projections.health import ProjectionFailure
from projections.runner import BackgroundProjector, Projector

T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="a token from `credit-ledger token create`")

#: The largest ledger position a request may name (stores count in signed 64-bit integers).
MAX_POSITION = 2**62

READERS = frozenset({Role.READER, Role.RECORDER, Role.AUDITOR, Role.ADMIN})
# Who may write is the ledger's rule (`WRITE_ROLES`); no token acts as its own tooling (system),
# and a downstream ledger writes only by delivering its records (`/v1/federation/deliveries`).
RECORDERS = WRITE_ROLES["record"] - {Role.SYSTEM, Role.FEDERATION}
FILERS = WRITE_ROLES["file"] - {Role.SYSTEM, Role.FEDERATION}
AUDITORS = frozenset({Role.AUDITOR, Role.ADMIN})
FEDERATED = frozenset({Role.FEDERATION, Role.ADMIN})


# The dependencies that only look something up are coroutines: FastAPI runs a plain function
# in its thread pool, and a hop there and back per dependency costs more than the lookup.


async def get_config(request: Request) -> ServiceConfig:
    """The configuration the composition root started the service with."""
    config: ServiceConfig = request.app.state.config
    return config


async def get_ledger(request: Request) -> CreditLedger:
    """The application the service was started with."""
    ledger: CreditLedger = request.app.state.ledger
    return ledger


async def get_audit(request: Request) -> QueryAudit:
    """The query-audit log."""
    audit: QueryAudit = request.app.state.audit
    return audit


async def get_projector(request: Request) -> Projector:
    """The read models' projector (its runner may live in this process or another)."""
    projector: Projector = request.app.state.projector
    return projector


Config = Annotated[ServiceConfig, Depends(get_config)]
Ledger = Annotated[CreditLedger, Depends(get_ledger)]
Projections = Annotated[Projector, Depends(get_projector)]
Audit = Annotated[QueryAudit, Depends(get_audit)]


#: What a 401 answer asks the caller for.
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def presented(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer secret the request presents, or 401 when it presents none (nothing looked up)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "send Authorization: Bearer <token>", headers=CHALLENGE)
    return credentials.credentials


def authenticate(request: Request, ledger: CreditLedger, secret: str) -> Actor:
    """The acting party of a presented secret (`presented`), or 401 (blocking: the store is
    asked)."""
    actor = ledger.authenticate(secret)
    if actor is None:
        raise Problem(401, "the token is unknown or revoked", headers=CHALLENGE)
    request.state.token_id = actor.actor_id
    return actor


def permit(actor: Actor, allowed: frozenset[Role], what: str) -> Actor:
    """The actor, if its role is one of `allowed`; otherwise 403 naming the roles that may."""
    if actor.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise Problem(
            403,
            f"role '{actor.role.value}' may not {what}; allowed: {names}",
            extra={"errors": [{"loc": ["header", "authorization"], "msg": f"needs {names}"}]},
        )
    return actor


def get_actor(
    request: Request,
    ledger: Ledger,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The token's acting party, or 401."""
    return authenticate(request, ledger, presented(credentials))


def _role_in(allowed: frozenset[Role], what: str):  # type: ignore[no-untyped-def]
    async def check(actor: Annotated[Actor, Depends(get_actor)]) -> Actor:
        return permit(actor, allowed, what)

    return check


Reader = Annotated[Actor, Depends(_role_in(READERS, "read grades"))]
Recorder = Annotated[Actor, Depends(_role_in(RECORDERS, "record"))]
Filer = Annotated[Actor, Depends(_role_in(FILERS, "file objections or repair requests"))]
Auditor = Annotated[Actor, Depends(_role_in(AUDITORS, "read histories and the audit log"))]
Admin = Annotated[Actor, Depends(_role_in(frozenset({Role.ADMIN}), "administer"))]
Overseer = Annotated[Actor, Depends(_role_in(AUDITORS, "read the sync state"))]
Federated = Annotated[Actor, Depends(_role_in(FEDERATED, "read a downstream ledger's inbox"))]
#: Only a downstream ledger's own token delivers and reads its results (its name is the source).
Downstream = Annotated[
    Actor,
    Depends(
        _role_in(
            frozenset({Role.FEDERATION}), "deliver records or read results as a downstream ledger"
        )
    ),
]


def wait_for_position(
    ledger: CreditLedger,
    min_position: int | None,
    projector: Projector | None = None,
    *,
    seconds: float,
) -> None:
    """Read-your-writes: wait at most `seconds` until the ledger (or the read models) hold a
    position.

    Reads served from the event store need only the write to be stored; reads served from
    read models pass their projector and wait for it to catch up.
    """
    if min_position is None or min_position <= 0:
        return
    deadline = time.monotonic() + seconds

    def reached() -> int:
        return projector.caught_up_to() if projector is not None else ledger.max_position()

    while (position := reached()) < min_position:
        if time.monotonic() > deadline:
            if projector is not None:
                # Not late but failing: say which read model and why, as /readyz does.
                failing = projection_health(None, projector, projector.lag())
                if failing is not None:
                    raise failing
            raise Problem(
                409,
                f"position {min_position} is not available yet (reads are at {position}); "
                "retry shortly",
                kind="not-caught-up",
                headers={"Retry-After": "1"},
                extra={"errors": [{"loc": ["query", "min_position"], "msg": "not reached yet"}]},
            )
        time.sleep(0.05)


def due_queue(
    ledger: CreditLedger,
    entries: Iterable[tuple[UUID, date, UUID, str, T]],
    *,
    status: str | None,
    uscc: str | None,
    limit: int,
) -> tuple[list[tuple[str, str, T]], int]:
    """A work queue of objections or repairs: the entries (subject id, due date, item id, state,
    item) in the status asked for (`pending` includes overdue) and of the subject asked for,
    earliest due first (ties by id). Returns the first `limit` as (credit code, state, item),
    the codes looked up for that page only, and how many entries matched in all."""
    wanted = subject_id_for(normalize_uscc(uscc)) if uscc is not None else None
    found = [
        (due_on, str(item_id), sid, state, item)
        for sid, due_on, item_id, state, item in entries
        if in_queue(state, status) and (wanted is None or sid == wanted)
    ]
    found.sort(key=lambda f: (f[0], f[1]))
    codes: dict[UUID, str] = {}
    page = [
        (codes[sid] if sid in codes else codes.setdefault(sid, ledger.uscc_of(sid)), state, item)
        for _, _, sid, state, item in found[:limit]
    ]
    return page, len(found)


def projection_health(
    background: BackgroundProjector | None, projector: Projector, lag: dict[str, int]
) -> Problem | None:
    """503 naming each read model that cannot be brought up to date, or None when all can.

    Failing are the read models this process's own projector failed on last, and those an
    external `project` worker recorded as failing (its stored failure row) while they lag.
    """
    failing: dict[str, ProjectionFailure] = dict(background.failures) if background else {}
    for stored in projector.stored_failures():
        if stored.projection not in failing and lag.get(stored.projection, 0) > 0:
            failing[stored.projection] = stored
    if not failing:
        return None
    return Problem(
        503,
        "; ".join(f.describe() for f in failing.values()),
        kind="projection-failing",
        headers={"Retry-After": "5"},
        extra={
            "projections": [
                {
                    "projection": f.projection,
                    "error": f.error,
                    "message": f.message,
                    "since": f.since.isoformat(),
                    "failures": f.failures,
                    "lag": lag.get(f.projection),
                }
                for f in failing.values()
            ]
        },
    )
