"""The `blob_copies` Lambda function: S3 event notifications of every region's bucket invoke
it (ObjectCreated, replicas included), and it records which buckets hold each blob object
(storage/aws/regions/recorder.py has the logic, and why).

Built from the function's environment like the API handler (SOUTE_DYNAMODB_TABLE,
SOUTE_AWS_REGION, SOUTE_PRIMARY_REGION, SOUTE_S3_BUCKETS), once per environment: a Lambda
container reuses it across events. The deployment registers the notifications and grants the
function UpdateItem on the primary's table and DeleteObject on the buckets' `blobs/*`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .backends import open_storage, options_from_environment

if TYPE_CHECKING:
    from ..storage.aws.regions.recorder import CopyRecorder


def handle(event: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Record the event's objects; `environ` stands for the function's environment (None: this
    process's, as on Lambda)."""
    import os

    variables = dict(os.environ if environ is None else environ)
    return _recorder(frozenset(variables.items())).record(event).summary()


@functools.cache
def _recorder(variables: frozenset[tuple[str, str]]) -> CopyRecorder:
    from ..storage.aws.backend import AwsStorage

    storage = open_storage(options_from_environment(dict(variables)))
    if not isinstance(storage, AwsStorage):
        raise ValueError("the blob_copies function needs the aws backend (SOUTE_BACKEND=aws)")
    return storage.copy_recorder()
