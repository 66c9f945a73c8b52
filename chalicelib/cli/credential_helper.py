"""`docker-credential-soute`: a docker credential helper for AWS logins. docker, podman, skopeo
and `soute push` ask it for credentials on each use; it signs a fresh STS GetCallerIdentity
request with the caller's AWS credentials, so an AWS login never runs out the way a stored one
does after STS's 15 minutes (the ECR credential helper works the same way).

`soute login --aws HOST` registers it for HOST in docker's config.json (`credHelpers`) and
records beside it, in `soute-aws-logins.json`, what signing needs: the registry's service
name, the region, and an emulator's STS endpoint if one was given. Nothing secret is stored.

The protocol (docker-credential-helpers): `get` reads a server URL on stdin and prints
{"ServerURL", "Username", "Secret"}; `store` and `erase` read and discard (there is nothing to
keep: the AWS credentials are the caller's own); `list` prints the hosts it serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..client.credentials import docker_config_path, write_private_json
from .aws_signing import SigningFailed, aws_secret

SETTINGS_FILE = "soute-aws-logins.json"
HELPER = "soute"  # docker runs docker-credential-<HELPER>
NOT_FOUND = "credentials not found in native keychain"  # the message docker expects


def settings_path() -> Path:
    return docker_config_path().parent / SETTINGS_FILE


def read_settings() -> dict[str, dict[str, Any]]:
    path = settings_path()
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def register(host: str, service: str, region: str | None, sts_endpoint: str | None) -> Path:
    """Make docker ask this helper for `host`; returns the docker config's path."""
    settings = read_settings()
    settings[host] = {"service": service, "region": region, "sts_endpoint": sts_endpoint}
    write_private_json(settings_path(), settings)
    path = docker_config_path()
    config = json.loads(path.read_text()) if path.exists() else {}
    config.setdefault("credHelpers", {})[host] = HELPER
    config.get("auths", {}).pop(host, None)  # a stale stored login would only mislead
    write_private_json(path, config)
    return path


def host_of(server_url: str) -> str:
    return server_url.strip().split("://", 1)[-1].rstrip("/")


def get(server_url: str) -> tuple[int, str]:
    entry = read_settings().get(host_of(server_url))
    if entry is None:
        return 1, NOT_FOUND
    try:
        secret = aws_secret(entry["service"], entry.get("region"), 900, entry.get("sts_endpoint"))
    except SigningFailed as error:
        return 1, str(error)
    answer = {"ServerURL": server_url.strip(), "Username": "aws", "Secret": secret}
    return 0, json.dumps(answer)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    action = arguments[0] if arguments else ""
    data = sys.stdin.read() if action in ("get", "store", "erase") else ""
    if action == "get":
        status, output = get(data)
    elif action in ("store", "erase"):
        status, output = 0, ""  # nothing to store or forget: see the module's docstring
    elif action == "list":
        status, output = 0, json.dumps({host: "aws" for host in read_settings()})
    else:
        status, output = 2, "usage: docker-credential-soute get|store|erase|list"
    if output:
        # Errors too go to stdout: that is where docker's side of the protocol reads them.
        print(output)
    return status


if __name__ == "__main__":
    sys.exit(main())
