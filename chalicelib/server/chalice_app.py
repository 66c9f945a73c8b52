"""The Lambda function's Chalice app, built by one factory: app.py (what Lambda imports) is
`app = create_app()`, and `soute serve --lambda` puts the API Gateway emulator in front of
another `create_app()`, so the emulator serves the very app Lambda runs, from an installed
package as from a source checkout, without loading a file by its path.

The routes are in chalice_routes.py, the registry behaviour in the Router every front end
shares, and the storage comes from the function's environment (.chalice/config.json, or
`soute serve --lambda`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent

from .chalice_routes import (
    Lazy,
    register_routes,
    registry_from_environment,
    router_from_environment,
)
from .logs import install_log_escaping

if TYPE_CHECKING:
    from ..api.router import Router
    from ..registry.service import Registry

APP_NAME = "soute"
VERIFIER = "verifier"  # the second function's name, and its handler's: app.py exports it
BLOB_COPIES = "blob_copies"  # the third's (several regions): S3 event notifications invoke it
GC = "gc"  # the fourth's: the garbage collector, on a schedule (the primary region's only)
# How often a batch of the GC runs: a run longer than one invocation goes on at the next.
GC_SCHEDULE = Rate(1, unit=Rate.HOURS)


class SouteApp(Chalice):
    """A Chalice app with what the tests and the verifier reach: the Router and the Registry,
    each built on first use (a cold start pays only for the imports)."""

    router: Lazy[Router]
    registry: Lazy[Registry]  # the verifier's, without auth

    def verifier(self, event: dict[str, Any], context: object) -> Any:
        """The verifier function, as Lambda calls it."""
        return self.handler_map[VERIFIER](event, context)

    def blob_copies(self, event: dict[str, Any], context: object) -> Any:
        """The blob_copies function, as Lambda calls it."""
        return self.handler_map[BLOB_COPIES](event, context)

    def gc(self, event: dict[str, Any], context: object) -> Any:
        """The gc function, as Lambda calls it (EventBridge's scheduled event)."""
        return self.handler_map[GC](event, context)


def create_app() -> SouteApp:
    install_log_escaping()  # client-chosen values (account names, paths) cannot forge log lines
    app = SouteApp(app_name=APP_NAME)
    _set_log_level(app)
    app.router = Lazy(router_from_environment)
    register_routes(app, app.router)  # also sets app.api.binary_types
    app.registry = Lazy(registry_from_environment)
    _register_verifier(app)
    _register_blob_copies(app)
    _register_gc(app)
    return app


def _set_log_level(app: Chalice) -> None:
    # Chalice names its logger after the app, `soute`, the parent of every Soute logger, and
    # sets it to ERROR: logins, refused tokens and other INFO lines would never reach CloudWatch.
    level = os.environ.get("SOUTE_LOG_LEVEL", "INFO").upper()
    app.log.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")


def _register_verifier(app: SouteApp) -> None:
    # Chalice names a function's handler after the Python function (`app.verifier`), so this
    # one is named as app.py exports it.
    @app.lambda_function(name=VERIFIER)
    def verifier(event: dict[str, Any], context: object) -> dict[str, Any]:
        """The second function: verifies a large direct upload in the background (invoked
        asynchronously by the registry, see verifiers.py)."""
        from .verifiers import verify_event

        return verify_event(app.registry(), event)


def _register_blob_copies(app: SouteApp) -> None:
    @app.lambda_function(name=BLOB_COPIES)
    def blob_copies(event: dict[str, Any], context: object) -> dict[str, Any]:
        """The third function, deployed with several regions only: S3 event notifications of
        each region's bucket invoke it, and it records which buckets hold each blob
        (server/blob_copies.py)."""
        from .blob_copies import handle

        return handle(event)


def _register_gc(app: SouteApp) -> None:
    @app.schedule(GC_SCHEDULE, name=GC, description="Soute: a batch of the garbage collector")
    def gc(event: CloudWatchEvent) -> dict[str, Any]:
        """The fourth function: a batch of the garbage collector, until a deadline inside its
        timeout (server/gc_function.py; the collector is imported on the first batch only)."""
        from .gc_function import run_scheduled

        return run_scheduled(event.context)
