"""``aischeduler-operator``: validate settings, start metrics, run kopf."""

from __future__ import annotations

import logging
import random
import sys

import kopf
from prometheus_client import start_http_server

from aischeduler_operator import handlers
from aischeduler_operator.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as e:
        print(f"aischeduler-operator: {e}", file=sys.stderr)
        return 2
    kopf.configure(
        verbose=settings.log_level == "DEBUG",
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL,
    )
    logging.getLogger().setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        # kopf reports every handled watch event at INFO; keep the log to what matters.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if settings.metrics_port:
        try:
            start_http_server(settings.metrics_port)
        except OSError as e:
            print(
                f"aischeduler-operator: cannot serve metrics on port "
                f"{settings.metrics_port} (AISCHED_METRICS_PORT): {e}",
                file=sys.stderr,
            )
            return 2
    assert handlers.startup is not None  # noqa: S101 - importing registers the handlers
    kopf.run(
        clusterwide=not settings.watch_namespaces,
        namespaces=list(settings.watch_namespaces),
        standalone=not settings.peering,
        peering_name=settings.peering or None,
        # With peering, the highest priority replica is the active one; random priorities
        # keep replicas from tying (kopf pauses all operators of equal priority).
        priority=random.randint(1, 10_000) if settings.peering else None,  # noqa: S311
        liveness_endpoint=(
            f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
