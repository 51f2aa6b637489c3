"""The one settings object: every `CREDIT_LEDGER_*` environment variable is read here."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field
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
    log_level: str = Field(default="info", description="log level of the service")
    projector: Literal["auto", "in-process", "off"] = Field(
        default="auto",
        description="run the projection runner inside `serve`: auto = yes for SQLite; for "
        "PostgreSQL run `credit-ledger project` as its own process",
    )
    read_wait_seconds: float = Field(
        default=5.0, ge=0, le=60, description="how long a read waits for `min_position`"
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body accepted; a larger one is answered 413 unread",
    )


@cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
