"""`docker://HOST/REPO[:TAG|@DIGEST]`: an image in another registry, through the v2 API.

Manifests are read at once; a blob is downloaded (streamed to a spool file, its digest checked)
only when the destination has it neither already nor by a cross-repository mount.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import requests

from ..errors import PushError, UsageError
from ..mediatypes import ACCEPT, INDEXES
from ..model import Blob, FileRange, Image, Manifest, media_type_of
from ..references import split_tag
from ..session import RegistrySession, oci_error

DOCKER_HUB = "registry-1.docker.io"


def split_remote_ref(text: str) -> tuple[str, str, str]:
    """`HOST/REPO[:TAG|@DIGEST]` → (host, repository, reference); Docker Hub names too."""
    text = text.removeprefix("//")
    name, at, digest = text.partition("@")
    name, tag = split_tag(name)
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        host, repository = DOCKER_HUB, name if slash else f"library/{name}"
    else:
        host, repository = first, rest
    return host, repository, digest if at else (tag or "latest")


class RemoteSource:
    """Reads one image from a registry."""

    def __init__(self, text: str, insecure: bool, spool: Path) -> None:
        self.host, self.repository, self.reference = split_remote_ref(text)
        scope = f"repository:{self.repository}:pull"
        self.session = RegistrySession(self.host, insecure, [scope], pool_size=4)
        self.spool = spool

    def _get(self, path: str, accept: str | None = None, stream: bool = False) -> requests.Response:
        headers = {"Accept": accept} if accept else {}
        response = self.session.request("GET", path, headers=headers, stream=stream)
        if response.status_code == 404:
            raise UsageError(f"{self.host}/{self.repository} has no {path.rsplit('/', 1)[-1]}")
        if response.status_code != 200:
            raise PushError(f"GET {self.session.url(path)} answered {oci_error(response)}")
        return response

    def manifests(self, reference: str, declared: str | None = None) -> list[Manifest]:
        response = self._get(f"/v2/{self.repository}/manifests/{reference}", ACCEPT)
        data = response.content
        media_type = media_type_of(data) or declared or response.headers.get("Content-Type", "")
        doc = json.loads(data)
        if media_type in INDEXES:
            children = [
                m
                for child in doc.get("manifests", [])
                for m in self.manifests(child["digest"], child.get("mediaType"))
            ]
            return [*children, Manifest(media_type, data)]
        descriptors = [doc["config"], *doc.get("layers", [])]
        return [Manifest(media_type, data, [self._blob(d) for d in descriptors])]

    def _blob(self, descriptor: dict[str, object]) -> Blob:
        digest, size = str(descriptor["digest"]), int(descriptor["size"])  # type: ignore[call-overload]
        blob = Blob(digest, size, str(descriptor["mediaType"]))
        blob.fetch = lambda: self._download(digest, size)
        return blob

    def _download(self, digest: str, size: int) -> FileRange:
        target = self.spool / digest.replace(":", "-")
        hasher = hashlib.sha256()
        path = f"/v2/{self.repository}/blobs/{digest}"
        with self._get(path, stream=True) as response, open(target, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
        if "sha256:" + hasher.hexdigest() != digest:
            raise PushError(f"{self.host}/{self.repository} sent bytes that do not match {digest}")
        return FileRange(target, 0, size)


def open_registry(text: str, insecure: bool, spool: Path, dest_host: str) -> Image:
    """The image a `docker://` reference names; an index with all its children."""
    source = RemoteSource(text, insecure, spool)
    source.session.ping()
    image = Image(source.manifests(source.reference))
    if source.host == dest_host:
        image.mount_from = source.repository
    return image
