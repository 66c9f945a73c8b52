"""The Lambda function: Soute's registry as a Chalice app behind API Gateway.

Wiring only. The routes are in chalicelib/server/chalice_routes.py, the registry behaviour in
the Router every front end shares, and the storage comes from the function's environment
(.chalice/config.json, or `soute serve --lambda`).
"""

import logging
import os

from chalice import Chalice

from chalicelib.server.chalice_routes import (
    Lazy,
    register_routes,
    registry_from_environment,
    router_from_environment,
)
from chalicelib.server.logs import install_log_escaping

install_log_escaping()  # client-chosen values (account names, paths) cannot forge log lines
app = Chalice(app_name="soute")
# Chalice names its logger after the app, `soute`, the parent of every Soute logger, and sets it
# to ERROR: logins, refused tokens and other INFO lines would never reach CloudWatch.
LOG_LEVEL = os.environ.get("SOUTE_LOG_LEVEL", "INFO").upper()
app.log.setLevel(LOG_LEVEL if LOG_LEVEL in logging.getLevelNamesMapping() else "INFO")
# Built on the first request, not at import: a cold start pays only for the imports above.
router = Lazy(router_from_environment)
register_routes(app, router)  # also sets app.api.binary_types
registry = Lazy(registry_from_environment)  # the verifier's, without auth


@app.lambda_function(name="verifier")
def verifier(event: dict, context: object) -> dict:
    """The second function: verifies a large direct upload in the background (invoked
    asynchronously by the registry, see chalicelib/server/verifiers.py)."""
    from chalicelib.server.verifiers import verify_event

    return verify_event(registry(), event)
