"""Which source a SOURCE argument names, by its prefix."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..model import Image
from .compress import GZIP
from .docker_archive import open_docker_archive
from .docker_daemon import open_docker_daemon
from .oci_layout import open_oci_layout
from .registry import open_registry

PREFIXES = ("docker-daemon:", "docker-archive:", "oci:", "docker://")


def open_source(
    text: str, *, compression: str | None, insecure: bool, spool: Path, dest_host: str
) -> Image:
    """Read the image SOURCE names (see `soute push --help`). `compression` (gzip by default)
    applies to Docker's uncompressed layers; the other sources are pushed as they are."""
    if text.startswith("docker-archive:"):
        path = text.removeprefix("docker-archive:")
        return open_docker_archive(path, compression or GZIP, spool)
    if text.startswith(("oci:", "docker://")) and compression is not None:
        raise UsageError(
            f"--compression applies to Docker's layers (docker-daemon:, docker-archive:); "
            f"{text.split(':', 1)[0]}: images are pushed as they are: drop --compression"
        )
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
    return open_docker_daemon(name, compression or GZIP, spool)
