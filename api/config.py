"""What the HTTP service is configured with, handed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ServiceConfig:
    """The service's settings (read from the environment by `credit_ledger.settings`)."""

    log_level: str
    projector: Literal["auto", "in-process", "off"]
    projector_backoff_seconds: float
    read_wait_seconds: float
    retry_after_seconds: int
    ready_timeout_seconds: float
    max_body_bytes: int
    #: The upstream ledger this one syncs with (None: no upstream), and how long a record may
    #: wait for its acknowledgement before readiness says the sync stalled.
    upstream_url: str | None = None
    sync_stall_seconds: float = 300.0
