"""The deploy verbs' own failures (a stack in a state that cannot be updated, a certificate for
another name…): a DeployError says what to do, and cli/errors.py, which turns botocore's
errors into one line for every verb, prints it as it is."""

from __future__ import annotations

import os

from .errors import UserError

NO_REGION = "set --region or AWS_DEFAULT_REGION"


class DeployError(UserError):
    """A failure whose message already says what to do."""


def region_or_fail(region: str | None) -> str:
    """The region given, or the AWS configuration's (profile, AWS_DEFAULT_REGION)."""
    import boto3

    found = region or os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    if not found:
        raise DeployError(NO_REGION)
    return found
