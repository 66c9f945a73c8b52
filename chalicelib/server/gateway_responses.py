"""The gateway responses of the registry's API: what API Gateway answers, without calling the
function, to a request it refuses (too large, no such resource, throttled, timed out).

Defined once, here, for both their users: the deployment template installs them on the real
API (deploy/merge_template.py) and the emulator answers with them (gateway_emulator.py). Each
is an OCI error body that says what to do, and for a request too large a 4xx with the code
DENIED, which no client retries (docs/lambda-limits.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .chalice_routes import MAX_DEPTH, RESERVED_COMPONENTS

# The advice every size refusal ends with. docker, podman, skopeo and containerd send a layer in
# one request, so none of them can push a layer over about 4.5 MB through Lambda; soute push can.
PUSH_ADVICE = (
    "push this image with soute push instead, which sends large layers in parts straight to "
    "storage: soute push IMAGE HOST/REPO:TAG (or docker soute push IMAGE HOST/REPO:TAG); see "
    "'Pushing large layers' in the Soute README"
)
# The code of every refusal a client must not retry. DENIED is the one code that the Docker
# engine (moby distribution/errors.go retryOnError), podman and skopeo (containers/common
# pkg/retry) all leave alone; containerd retries only 401, 408 and 429. docs/lambda-limits.md
NO_RETRY = "DENIED"


@dataclass(frozen=True)
class GatewayResponse:
    """An API Gateway gateway response, rendered as an OCI error body."""

    response_type: str
    status: int | None  # None keeps the status of the error (DEFAULT_4XX and DEFAULT_5XX)
    code: str
    message: str

    def body(self) -> bytes:
        return json.dumps({"errors": [{"code": self.code, "message": self.message}]}).encode()

    def openapi(self) -> dict[str, Any]:
        """This response as an entry of `x-amazon-apigateway-gateway-responses`."""
        entry: dict[str, Any] = {
            "responseParameters": {
                f"gatewayresponse.header.{name}": f"'{value}'"
                for name, value in GATEWAY_RESPONSE_HEADERS.items()
            },
            # A mapping template: the body must hold no VTL syntax ($ and #), see the tests.
            "responseTemplates": {"application/json": self.body().decode()},
        }
        if self.status is not None:
            entry["statusCode"] = str(self.status)
        return entry


GATEWAY_RESPONSE_HEADERS = {
    "Content-Type": "application/json",
    "Docker-Distribution-API-Version": "registry/2.0",
}

GATEWAY_RESPONSES = {
    response.response_type: response
    for response in (
        GatewayResponse(
            # Over API Gateway's 10 MB, and (what AWS answers, see docs/lambda-limits.md) a
            # body under 10 MB whose event is over Lambda's 6 MB invocation payload.
            "REQUEST_TOO_LARGE",
            413,
            NO_RETRY,
            "this request is too large for the registry's Lambda endpoint, which takes about "
            f"4.5 MB of blob data per request; {PUSH_ADVICE}",
        ),
        GatewayResponse(
            # Lambda could not be invoked, or its answer was over 6 MB. A 4xx, not API
            # Gateway's 502: clients retry a 5xx and do not show its body, so if AWS ever
            # reports an oversized request this way the advice still reaches the user at once.
            "INTEGRATION_FAILURE",
            413,
            NO_RETRY,
            "the registry function could not be invoked, or its answer was too large. If this "
            f"request carried more than about 4.5 MB of blob data: {PUSH_ADVICE}. Otherwise "
            "retry later",
        ),
        GatewayResponse(
            "INTEGRATION_TIMEOUT",
            504,
            "UNSUPPORTED",
            "the registry function did not answer within API Gateway's 29 seconds; retry, and "
            "send blob data in smaller chunks",
        ),
        GatewayResponse(
            # Status 404, not API Gateway's 403: there is no token to miss, only a path or method
            # the registry does not serve, and clients read 403 as "denied".
            "MISSING_AUTHENTICATION_TOKEN",
            404,
            "UNSUPPORTED",
            "no such endpoint or method on this registry. Through the Lambda endpoint repository "
            f"names have at most {MAX_DEPTH} components, and no component after the first may "
            f"be named {', '.join(sorted(RESERVED_COMPONENTS))}",
        ),
        GatewayResponse(
            "THROTTLED",
            429,
            "TOOMANYREQUESTS",
            "too many requests to the registry; retry later",
        ),
        GatewayResponse(
            "DEFAULT_4XX",
            None,
            NO_RETRY,
            "API Gateway refused this request before it reached the registry. If it carried "
            f"more than about 4.5 MB of blob data: {PUSH_ADVICE}",
        ),
        GatewayResponse(
            "DEFAULT_5XX",
            None,
            "UNSUPPORTED",
            "the registry function failed or could not be invoked; retry later. If the request "
            f"carried more than about 4.5 MB of blob data: {PUSH_ADVICE}",
        ),
    )
}
