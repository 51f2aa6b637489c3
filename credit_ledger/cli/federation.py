"""`credit-ledger sync`: this ledger's link to its upstream (DOMAIN §10), once or as a worker."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Annotated

import typer

from credit_ledger.cli.common import app, console, err_console, fail, open_store, progress_bar
from credit_ledger.settings import get_settings


@app.command()
def sync(
    once: Annotated[bool, typer.Option("--once", help="catch up both ways, then exit")] = False,
    retry_parked: Annotated[
        bool,
        typer.Option(
            "--retry-parked",
            help="deliver the parked records again (after the cause was fixed), then exit",
        ),
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="serve the worker's Prometheus metrics on this port"),
    ] = None,
) -> None:
    """Deliver this ledger's records to its upstream and pull the upstream's results.

    Reads CREDIT_LEDGER_UPSTREAM_URL and CREDIT_LEDGER_UPSTREAM_TOKEN (a token the upstream
    issued with role federation). Deliveries go in log order; the upstream answers each, and a
    refused one is parked with the reason (`GET /v1/federation/parked`), never retried blindly.
    Safe to stop at any moment, `kill -9` included: the next run delivers again what was not
    acknowledged and the upstream answers it as before. Exit 1 when the upstream cannot be reached
    (with `--once`).
    """
    from prometheus_client import start_http_server

    from api.observability import configure_logging
    from credit_ledger.sync import Sync, SyncError, SyncReport

    settings = get_settings()
    if not settings.upstream_url or settings.upstream_token is None:
        raise fail(
            "no upstream: set CREDIT_LEDGER_UPSTREAM_URL and CREDIT_LEDGER_UPSTREAM_TOKEN "
            "(a token the upstream issued with `token create --role federation --name NAME`)"
        )
    configure_logging(settings.log_level)
    ledger = open_store()
    link = Sync(
        ledger,
        settings.upstream_url,
        settings.upstream_token.get_secret_value(),
        batch=settings.sync_batch,
        timeout=settings.sync_timeout_seconds,
    )
    if metrics_port is not None:
        start_http_server(metrics_port, addr=settings.host, registry=link.metrics.registry)
    try:
        if retry_parked:
            report = link.retry_parked()
            console.print(
                f"delivered again {report.delivered}: taken {report.accepted}, "
                f"still refused {report.parked}"
            )
            return
        if once:
            with progress_bar("sync") as bar:
                task = bar.add_task("sync", total=None, rate="")

                def shown(report: SyncReport) -> None:
                    bar.update(
                        task,
                        completed=report.delivered + report.pulled,
                        rate=f"delivered {report.delivered} (parked {report.parked}), "
                        f"pulled {report.pulled} (recorded {report.recorded})",
                    )

                report = link.catch_up(shown)
            console.print(
                f"delivered {report.delivered}: accepted {report.accepted}, unchanged "
                f"{report.unchanged}, parked {report.parked}; pulled {report.pulled} upstream "
                f"results, recorded {report.recorded}; acknowledged up to "
                f"{link.ledger.sync_log(link.upstream).acknowledged}, pulled up to "  # type: ignore[union-attr]
                f"{report.pulled_to}"
            )
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        err_console.print(
            f"syncing with {link.upstream} every {settings.sync_interval_seconds:g} s"
        )
        with contextlib.suppress(KeyboardInterrupt):
            link.run(settings.sync_interval_seconds, stop)
    except SyncError as exc:
        raise fail(str(exc), code=1) from None
    finally:
        link.close()
        ledger.close()
