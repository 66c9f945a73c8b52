"""Destination names: `HOST[:PORT]/REPO[:TAG]`, and which scheme reaches the host."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..oci.names import is_name, is_tag
from .errors import UsageError


@dataclass(frozen=True)
class Destination:
    """Where to push: registry host (with port), repository and tag."""

    host: str
    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}:{self.tag}"


def split_tag(name: str) -> tuple[str, str | None]:
    """`repo:tag` → (repo, tag); a colon before the last slash is a port, not a tag."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, None


def parse_destination(text: str) -> Destination:
    """Parse `HOST[:PORT]/REPO[:TAG]`; the tag defaults to `latest`."""
    host, slash, rest = text.partition("/")
    if not slash or not rest or not host:
        raise UsageError(f"destination {text!r} is not HOST[:PORT]/REPOSITORY[:TAG]")
    if "@" in rest:
        raise UsageError(f"destination {text!r}: push to a tag, not a digest")
    repository, tag = split_tag(rest)
    tag = tag or "latest"
    if not is_name(repository):
        raise UsageError(
            f"destination {text!r}: {repository!r} is not a valid repository name (lowercase "
            "letters, digits and . _ - separators, components joined by /)"
        )
    if not is_tag(tag):
        raise UsageError(f"destination {text!r}: {tag!r} is not a valid tag")
    return Destination(host=host, repository=repository, tag=tag)


def is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 (with or without a port)."""
    if host.startswith("["):  # [::1] or [::1]:5000
        name = host[1:].split("]", 1)[0]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def base_url(host: str, insecure: bool, tls: bool = False) -> str:
    """`http://HOST` for loopback hosts (localhost, 127.0.0.0/8, ::1) or with --insecure,
    `https://HOST` otherwise or with --tls. Every Soute client picks the scheme this way."""
    if insecure and tls:
        raise UsageError("--insecure (plain HTTP) and --tls (HTTPS) contradict each other")
    scheme = "https" if tls or not (insecure or is_loopback(host)) else "http"
    return f"{scheme}://{host}"
