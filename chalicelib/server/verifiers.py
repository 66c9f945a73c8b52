"""The verifier of the Lambda front end: large direct uploads are verified by the second
function of the Chalice app (`verifier` in app.py), invoked asynchronously, so the `complete`
request returns at once and the read-back has the function's whole timeout."""

from __future__ import annotations

import functools
import json
from typing import Any


@functools.cache
def _lambda_client(region: str | None) -> Any:
    import boto3  # only the Lambda front end on AWS needs it

    return boto3.session.Session(region_name=region).client("lambda")


class LambdaVerifier:
    def __init__(self, function_name: str, region: str | None = None) -> None:
        self.function_name = function_name
        self.region = region

    def submit(self, repository: str, upload_id: str) -> None:
        payload = {"repository": repository, "upload_id": upload_id}
        _lambda_client(self.region).invoke(
            FunctionName=self.function_name,
            InvocationType="Event",  # queued by Lambda, retried by it on failure
            Payload=json.dumps(payload).encode(),
        )


def verify_event(registry: Any, event: dict[str, Any]) -> dict[str, Any]:
    """What the verifier function does with the event LambdaVerifier sends."""
    upload = registry.direct.verify(str(event["repository"]), str(event["upload_id"]))
    return {"upload_id": upload.upload_id, "status": upload.status}
