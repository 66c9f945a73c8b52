"""Which source a SOURCE argument names, by its prefix."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..model import Image
from .docker_archive import open_docker_archive
from .docker_daemon import open_docker_daemon
from .oci_layout import open_oci_layout
from .registry import open_registry

PREFIXES = ("docker-daemon:", "docker-archive:", "oci:", "docker://")


def open_source(text: str, *, compress: bool, insecure: bool, spool: Path, dest_host: str) -> Image:
    """Read the image SOURCE names (see `soute push --help`)."""
    if text.startswith("docker-archive:"):
        return open_docker_archive(text.removeprefix("docker-archive:"), compress, spool)
    if text.startswith("oci:"):
        return open_oci_layout(text.removeprefix("oci:"))
    if text.startswith("docker://"):
        return open_registry(text.removeprefix("docker://"), insecure, spool, dest_host)
    name = text.removeprefix("docker-daemon:")
    if (
        not name
        or "://" in name
        or name.startswith(("oci-archive:", "dir:", "containers-storage:"))
    ):
        raise UsageError(f"unsupported source {text!r}; use one of {', '.join(PREFIXES)} or IMAGE")
    return open_docker_daemon(name, compress, spool)
