"""Every error a person can cause with `soute` ends in one line that says what to do, and a
non-zero exit: never a traceback.

The verbs raise what their libraries raise (botocore for AWS, OSError for files and ports);
this module, called once at the entry point (main.py), turns the ones a user causes into a
sentence. Knowing them here, and not in a try/except around each call, keeps every verb's
wording the same: a missing region, table, bucket or credentials reads alike from `soute
serve`, `soute user add` or `soute aws map`.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sqlite3
import sys
from collections.abc import Callable

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A failure a person caused, whose message already says what to do."""


def run_verb(args: argparse.Namespace, prog: str = "soute") -> int:
    """Run the verb `args` names (its `run`); an error the user caused is one line on stderr
    and status 1, a bug still a traceback."""
    try:
        return int(args.run(args))
    except (KeyboardInterrupt, EOFError):
        print(f"{prog} {_verb(args)}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        message = explain(error, args)
        if message is None:
            raise
        flat = " ".join(line.strip() for line in message.splitlines())  # one line, whatever
        print(f"{prog} {_verb(args)}: {flat}", file=sys.stderr)
        return EXIT_FAILED


def _verb(args: argparse.Namespace) -> str:
    """`aws deploy`, `user add`…: the words that named the verb, for the message's prefix."""
    words = [str(args.command)]
    sub = getattr(args, str(args.command).replace("-", "_"), None)
    return " ".join(words + ([sub] if isinstance(sub, str) else []))


def explain(error: BaseException, args: argparse.Namespace) -> str | None:
    """The one line for an error a user can cause, or None for a bug (left to propagate)."""
    for kinds, describe in _explainers():
        if isinstance(error, kinds):
            return describe(error, args)
    return None


def _explainers() -> list[tuple[tuple[type[BaseException], ...], Callable[..., str | None]]]:
    found: list[tuple[tuple[type[BaseException], ...], Callable[..., str | None]]] = [
        ((UserError,), lambda e, a: str(e)),
    ]
    try:  # botocore is installed with soute, but its import is not free: only look it up here
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )
        from botocore.parsers import ResponseParserError
    except ImportError:  # pragma: no cover - a broken install
        pass
    else:
        found += [
            ((NoRegionError,), lambda e, a: "no AWS region: set --region or AWS_DEFAULT_REGION"),
            ((NoCredentialsError, PartialCredentialsError), _no_credentials),
            ((EndpointConnectionError,), _unreachable),
            ((ClientError,), _client_error),
            ((ResponseParserError,), _unparsable),
            ((BotoCoreError,), lambda e, a: f"AWS: {e}"),
        ]
    from ..storage.ports import StorageUnavailable

    found += [
        ((StorageUnavailable,), _unreachable),
        ((sqlite3.OperationalError, sqlite3.DatabaseError), _database),
        ((OSError,), _os_error),
    ]
    return found


def _no_credentials(error: BaseException, args: argparse.Namespace) -> str:
    return (
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        " (or run `aws configure`)"
    )


def _unreachable(error: BaseException, args: argparse.Namespace) -> str:
    endpoint = getattr(args, "endpoint_url", None)
    where = f" at {endpoint}" if endpoint else ""
    return (
        f"AWS storage did not answer{where} ({error}): check --endpoint-url, --region and the"
        " network"
    )


def _client_error(error: BaseException, args: argparse.Namespace) -> str:
    response = getattr(error, "response", {}) or {}
    code = response.get("Error", {}).get("Code", "")
    message = response.get("Error", {}).get("Message", "") or str(error)
    region = _region(args)
    if code == "ResourceNotFoundException":
        table = getattr(args, "dynamodb_table", None) or "?"
        return (
            f"no table {table} in region {region}: create it with `soute aws init"
            f" --dynamodb-table {table} --s3-bucket BUCKET{_where(args)}`, or fix --dynamodb-table,"
            " --region or --endpoint-url"
        )
    if code in ("NoSuchBucket", "404") and getattr(args, "s3_bucket", None):
        bucket = args.s3_bucket
        return (
            f"no bucket {bucket} in region {region}: create it with `soute aws init --s3-bucket"
            f" {bucket} --dynamodb-table TABLE{_where(args)}`, or fix --s3-bucket"
        )
    if code in ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId"):
        return (
            f"AWS does not know these credentials ({message}): check AWS_ACCESS_KEY_ID or"
            " AWS_PROFILE"
        )
    if code in ("AccessDenied", "AccessDeniedException"):
        return f"AWS refused: {message}: these credentials need the permission it names"
    if code in ("ExpiredToken", "ExpiredTokenException"):
        return "the AWS credentials expired: log in again (aws sso login, or new keys)"
    if code == "SignatureDoesNotMatch":
        return "the AWS secret key does not match the access key: check aws configure"
    operation = getattr(error, "operation_name", "") or "AWS"
    return f"{operation} failed ({code or 'error'}): {message}"


def _unparsable(error: BaseException, args: argparse.Namespace) -> str:
    """An emulator's error body in a form botocore cannot parse (AWS never answers so)."""
    found = re.search(r'"message": "(.*?)"\}', str(error))
    said = found.group(1).replace("\\'", "'") if found else str(error).splitlines()[-1]
    return f"the endpoint refused in a form AWS never answers: {said[:300]}"


def _where(args: argparse.Namespace) -> str:
    region, endpoint = getattr(args, "region", None), getattr(args, "endpoint_url", None)
    return (f" --region {region}" if region else "") + (
        f" --endpoint-url {endpoint}" if endpoint else ""
    )


def _region(args: argparse.Namespace) -> str:
    if getattr(args, "region", None):
        return str(args.region)
    import boto3

    return boto3.session.Session().region_name or "(none)"


def _database(error: BaseException, args: argparse.Namespace) -> str:
    where = getattr(args, "data_dir", None)
    at = f" in --data-dir {where}" if where else ""
    return f"the database{at} cannot be used ({error}): check the directory and its permissions"


_OS_ADVICE = {
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a part of this path is a regular file, not a directory: choose another path",
    errno.EEXIST: "it exists and is not a directory: choose another path",
    errno.EACCES: "permission denied: choose a path you may write, or fix its permissions",
    errno.EPERM: "permission denied: choose a path you may write, or fix its permissions",
    errno.EISDIR: "it is a directory, not a file",
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the file system is read-only: choose another path",
    errno.EADDRINUSE: "the address is in use: stop the other server or choose another --port",
    errno.EADDRNOTAVAIL: "this machine has no such address: choose another --host",
}


def _os_error(error: BaseException, args: argparse.Namespace) -> str:
    assert isinstance(error, OSError)
    advice = _OS_ADVICE.get(error.errno or 0) or error.strerror or str(error)
    subject = str(error.filename) if error.filename is not None else ""
    line = f"{subject}: {advice}" if subject else advice
    data_dir = getattr(args, "data_dir", None)
    if subject and data_dir and _related(subject, data_dir):
        return f"--data-dir {data_dir}: {line}"
    return line


def _related(path: str, other: str) -> bool:
    """Whether one of the two paths is, or is inside, the other."""
    one, two = os.path.abspath(path) + os.sep, os.path.abspath(other) + os.sep
    return one.startswith(two) or two.startswith(one)
