"""One line, not a traceback, for everything that can go wrong in `soute aws deploy/destroy`.

The deploy verbs call several AWS services; each failure a user can meet (no region, no
credentials, a permission missing, an endpoint unreachable, a stack in a state that cannot be
updated) becomes a DeployError or a botocore error, and `one_line` turns either into the sentence
that says what to do."""

from __future__ import annotations

import os
import re
from typing import Any

NO_REGION = "set --region or AWS_DEFAULT_REGION"


class DeployError(Exception):
    """A failure whose message already says what to do."""


def region_or_fail(region: str | None) -> str:
    """The region given, or the AWS configuration's (profile, AWS_DEFAULT_REGION)."""
    import boto3

    found = region or os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    if not found:
        raise DeployError(NO_REGION)
    return found


_HINTS = {
    "AccessDenied": "the credentials lack a permission this step needs: use an administrator's"
    " credentials (AWS_PROFILE) or grant it",
    "AccessDeniedException": "the credentials lack a permission this step needs: use an"
    " administrator's credentials (AWS_PROFILE) or grant it",
    "ExpiredToken": "the credentials expired: log in again (aws sso login, or new keys)",
    "ExpiredTokenException": "the credentials expired: log in again (aws sso login, or new keys)",
    "InvalidClientTokenId": "the access key is not valid: check AWS_PROFILE or aws configure",
    "UnrecognizedClientException": "the access key is not valid: check AWS_PROFILE or aws"
    " configure",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check aws configure",
}


def one_line(error: BaseException) -> str:
    """The sentence for `error`: ours as it is, botocore's with the step that failed."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )
    from botocore.parsers import ResponseParserError

    if isinstance(error, DeployError):
        return str(error)
    if isinstance(error, NoRegionError):
        return NO_REGION
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return "no AWS credentials: run `aws configure` (or `aws sso login`) or set AWS_PROFILE"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url')}: check the network and --region"
    if isinstance(error, ClientError):
        return _client_error(error.response, error.operation_name)
    if isinstance(error, ResponseParserError):  # an emulator's error body in the wrong format
        found = re.search(r'"message": "(.*?)"\}', str(error))
        said = found.group(1).replace("\\'", "'") if found else str(error).splitlines()[-1]
        return f"the endpoint refused in a form AWS never answers: {said[:300]}"
    return f"{type(error).__name__}: {error}"


def _client_error(response: dict[str, Any], operation: str) -> str:
    code = response.get("Error", {}).get("Code", "")
    message = response.get("Error", {}).get("Message", "").strip() or code
    hint = _HINTS.get(code)
    return f"{operation} failed: {message}" + (f" ({hint})" if hint else "")
