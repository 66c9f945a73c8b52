"""What the image verbs name: `HOST[/NAMESPACE]`, `HOST/REPO`, `HOST/REPO[:TAG|@DIGEST]`.

Parsed here, before any request, so a typo is a usage error (exit 2) that says which part is
wrong, rather than a 404 from the registry."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...oci.digest import is_digest, parse_digest
from ...oci.errors import OCIError
from ...oci.names import is_name, is_tag
from ..errors import UsageError
from ..references import split_tag

NAME_RULE = "lowercase letters, digits and . _ - separators, components joined by /"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?")


@dataclass(frozen=True)
class Repository:
    """A repository of one registry."""

    host: str
    name: str

    def __str__(self) -> str:
        return f"{self.host}/{self.name}"


@dataclass(frozen=True)
class Reference:
    """A manifest of one repository, by tag or by digest (`reference` is one or the other)."""

    repository: Repository
    reference: str

    @property
    def by_digest(self) -> bool:
        return is_digest(self.reference)

    def __str__(self) -> str:
        separator = "@" if self.by_digest else ":"
        return f"{self.repository}{separator}{self.reference}"

    def at(self, digest: str) -> Reference:
        """The same repository's manifest `digest`."""
        return Reference(self.repository, digest)


def _split_host(text: str, what: str, repository: bool = True) -> tuple[str, str]:
    host, _, rest = text.partition("/")
    if repository and not rest:
        raise UsageError(f"{text!r} names no repository: write {what}")
    if not host or "." not in host and ":" not in host and host != "localhost":
        raise UsageError(
            f"{text!r} does not start with a registry host (e.g. registry.example.com or "
            f"127.0.0.1:5000): write {what}"
        )
    valid = _HOST.fullmatch(host)
    if not valid or not 0 < int(valid.group("port") or 443) < 65536:
        where = f" (in {text!r})" if text != host else ""
        raise UsageError(f"{host!r}{where} is not a host name, or an address, with a port 1-65535")
    return host, rest


def _check_name(text: str, name: str) -> None:
    if not is_name(name):
        raise UsageError(f"{text!r}: {name!r} is not a valid repository name ({NAME_RULE})")


def _digest(text: str, digest: str) -> str:
    try:
        return str(parse_digest(digest))
    except OCIError as error:
        raise UsageError(f"{text!r}: {error.message}") from None


def parse_registry(text: str) -> tuple[str, str | None]:
    """`HOST[/NAMESPACE]` → (host, namespace or None)."""
    host, namespace = _split_host(text, "HOST[/NAMESPACE]", repository=False)
    namespace = namespace.strip("/")
    if namespace:
        _check_name(text, namespace)
    return host, namespace or None


def parse_repository(text: str) -> Repository:
    """`HOST/REPO` (no tag, no digest)."""
    host, name = _split_host(text, "HOST/REPOSITORY")
    if "@" in name or split_tag(name)[1] is not None:
        raise UsageError(f"{text!r}: give the repository alone, without :TAG or @DIGEST")
    _check_name(text, name)
    return Repository(host, name)


def parse_reference(text: str, default_tag: str | None = "latest") -> Reference:
    """`HOST/REPO[:TAG|@DIGEST]`; without either, the tag `default_tag` (None: a usage error)."""
    host, rest = _split_host(text, "HOST/REPOSITORY[:TAG|@DIGEST]")
    name, at, digest = rest.partition("@")
    if at:
        reference = _digest(text, digest)
    else:
        name, tag = split_tag(name)
        if tag is None and default_tag is None:
            raise UsageError(f"{text!r}: name the tag (:TAG) or the manifest (@DIGEST)")
        reference = tag if tag is not None else str(default_tag)
        if not is_tag(reference):
            raise UsageError(f"{text!r}: {reference!r} is not a valid tag")
    if not name:
        raise UsageError(f"{text!r} names no repository: write HOST/REPOSITORY[:TAG|@DIGEST]")
    _check_name(text, name)
    return Reference(Repository(host, name), reference)
