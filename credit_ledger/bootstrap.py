"""The one composition root: settings in, stores, the service and its configuration out.

`serve`, every CLI command and every worker process open what they need here, so a setting is
read in one place and applied alike everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from credit_ledger.settings import Settings, get_settings
from ledger.service.application import CreditLedger, system_clock
from ledger.service.audit import QueryAudit
from ledger.service.ciphers import MasterKey
from ledger.store.chain import settle_chain_hash
from ledger.store.stores import audit_env, bounded, persistence_env

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.config import ServiceConfig


def store_env(database_url: str | None = None) -> dict[str, str]:
    """The persistence environment of the configured (or the given) store."""
    settings = get_settings()
    return persistence_env(
        database_url or settings.database_url, wait_seconds=settings.store_wait_seconds
    )


def master_key(settings: Settings) -> MasterKey | None:
    """The master key of persons' data keys, from the environment or a key file, if given."""
    if settings.master_key is not None:
        return MasterKey.from_text(
            settings.master_key.get_secret_value(), source="CREDIT_LEDGER_MASTER_KEY"
        )
    if settings.master_key_file:
        return MasterKey.from_file(Path(settings.master_key_file))
    return None


def open_ledger(
    database_url: str | None = None, *, clock: Callable[[], datetime] = system_clock
) -> CreditLedger:
    """The credit ledger on the configured (or the given) store, its waits bounded; refused
    (`IdentityUnavailable`) when the store holds persons and their keys are not configured."""
    settings = get_settings()
    secret = settings.person_secret
    app = CreditLedger(
        env=store_env(database_url),
        clock=clock,
        cached_subjects=settings.write_cache_subjects,
        rules_refresh_seconds=settings.rules_refresh_seconds,
        vault=master_key(settings),
        person_secret=None if secret is None else secret.get_secret_value().encode(),
        cipher=settings.cipher,
    )
    try:
        settle_chain_hash(app.recorder, settings.chain_hash)
        app.identities.check()
    except Exception:
        app.close()
        raise
    return bounded(app, attempts=settings.store_attempts)


def open_audit(database_url: str | None = None) -> QueryAudit:
    """The query-audit log on the same store as the ledger, its waits bounded."""
    settings = get_settings()
    env = audit_env(database_url or settings.database_url, wait_seconds=settings.store_wait_seconds)
    audit = QueryAudit(env=env)
    settle_chain_hash(audit.recorder, settings.chain_hash)
    return bounded(audit, attempts=settings.store_attempts)


def service_config(settings: Settings | None = None) -> ServiceConfig:
    """What the HTTP service needs of the settings."""
    # The web framework is imported by what serves HTTP only: batch commands start without it.
    from api.config import ServiceConfig

    s = settings or get_settings()
    return ServiceConfig(
        log_level=s.log_level,
        projector=s.projector,
        projector_backoff_seconds=s.projector_backoff_seconds,
        read_wait_seconds=s.read_wait_seconds,
        retry_after_seconds=s.retry_after_seconds,
        ready_timeout_seconds=s.ready_timeout_seconds,
        max_body_bytes=s.max_body_bytes,
        upstream_url=s.upstream_url,
        sync_stall_seconds=s.sync_stall_seconds,
    )


def service(ledger: CreditLedger | None = None, audit: QueryAudit | None = None) -> FastAPI:
    """The HTTP service on the given stores, or (the `serve` factory) on the configured store,
    opened by each worker process in its own lifespan."""
    # Imported here: batch commands and their worker processes open stores, never the HTTP
    # service, and importing it cost a worker about half a second of its start.
    from api.app import create_app

    return create_app(
        service_config(),
        ledger=ledger,
        audit=audit,
        opener=lambda: (open_ledger(), open_audit()),
    )
