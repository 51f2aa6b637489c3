"""The one settings object: every `CREDIT_LEDGER_*` environment variable is read here."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of a credit-ledger process."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_LEDGER_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///credit-ledger.db",
        description="sqlite:///PATH (embedded default, relative to the working directory) "
        "or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?schema=NAME]",
    )
    host: str = Field(default="127.0.0.1", description="address `serve` listens on")
    port: int = Field(default=8000, description="port `serve` listens on")
    ledger_name: str = Field(
        default="credit-ledger",
        min_length=1,
        description="this ledger's name as its upstream knows it (e.g. the city, 舞钢市): the "
        "source named in the exchange batches it exports",
    )
    log_level: str = Field(default="info", description="log level of the service")
    projector: Literal["auto", "in-process", "off"] = Field(
        default="auto",
        description="run the projection runner inside `serve`: auto = yes for SQLite; for "
        "PostgreSQL run `credit-ledger project` as its own process",
    )
    projector_backoff_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="the longest wait between a failing projector's retries (the waits double "
        "from the poll interval up to this)",
    )
    read_wait_seconds: float = Field(
        default=5.0, ge=0, le=60, description="how long a read waits for `min_position`"
    )
    store_wait_seconds: int = Field(
        default=1,
        ge=1,
        le=30,
        description="how long one PostgreSQL operation waits for a pooled connection before "
        "the store counts as unavailable (answered 503 with Retry-After)",
    )
    store_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="attempts of a PostgreSQL operation whose connection was lost, "
        "before the store counts as unavailable",
    )
    retry_after_seconds: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="the Retry-After given with a 503 while the store is unavailable",
    )
    ready_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="how long /readyz waits for the store's write probe before answering 503",
    )
    write_cache_subjects: int = Field(
        default=4096,
        ge=0,
        description="subjects whose folded state a process keeps for its next write to them "
        "(least recently used first out; 0 = fold every write's stream whole)",
    )
    rules_refresh_seconds: float = Field(
        default=1.0,
        ge=0,
        le=300,
        description="how often a process looks in the log for model and policy versions "
        "published by another process (0 = on every read); its own publications at once",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body accepted; a larger one is answered 413 unread",
    )

    # Natural persons' personal information (DOMAIN §9). Secrets never appear in a log.
    master_key: SecretStr | None = Field(
        default=None,
        description="64 hex characters: the master key wrapping persons' data keys (or use "
        "master_key_file); a store holding persons does not start without it",
    )
    master_key_file: str | None = Field(
        default=None, description="a file holding the master key as 64 hex characters"
    )
    person_secret: SecretStr | None = Field(
        default=None,
        description="the ledger secret of the keyed hash (HMAC) naming a person's stream by "
        "identity number; never changes over a store's life",
    )
    cipher: Literal["sm4-gcm", "aes-256-gcm"] = Field(
        default="sm4-gcm", description="cipher of new persons' data (SM4-GCM, GB/T 32907)"
    )
    chain_hash: Literal["sha256", "sm3"] = Field(
        default="sha256",
        description="hash of a new store's hash chain (SM3, GB/T 32905, or SHA-256); a store "
        "keeps the one it was created with",
    )

    # Federation (DOMAIN §10): this ledger's upstream, and the sync worker's pace.
    upstream_url: str | None = Field(
        default=None,
        description="base URL of the upstream ledger (the province's, http://HOST:PORT) that "
        "`credit-ledger sync` delivers to and pulls results from",
    )
    upstream_token: SecretStr | None = Field(
        default=None,
        description="a token the upstream issued with role federation for this ledger",
    )
    sync_interval_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="how often `credit-ledger sync` looks for work"
    )
    sync_batch: int = Field(
        default=200, ge=1, le=1000, description="deliveries (and results) per request of a sync"
    )
    sync_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="how long one request to the upstream may take before the sync backs off",
    )
    sync_stall_seconds: float = Field(
        default=300.0,
        gt=0,
        description="/readyz is 503 when a record waits longer than this for the upstream's "
        "acknowledgement",
    )

    @field_validator("upstream_url")
    @classmethod
    def _one_spelling(cls, url: str | None) -> str | None:
        # The sync log is named by this URL: `http://h:p/` and `http://h:p` are one upstream.
        return None if url is None or not url.strip() else url.strip().rstrip("/")


@cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
