"""Why a push stopped, and the exit status each reason maps to (`soute push --help`)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_UNREACHABLE = 4


class PushError(Exception):
    """The push failed; the message says what happened and what to do."""

    exit_code = EXIT_FAILED


class UsageError(PushError):
    """A bad argument or an unreadable source."""

    exit_code = EXIT_USAGE


class AuthError(PushError):
    """The registry refused the credentials, or asked for some and none were found."""

    exit_code = EXIT_AUTH


class UnreachableError(PushError):
    """The registry (or the source registry, or the Docker engine) could not be reached."""

    exit_code = EXIT_UNREACHABLE
