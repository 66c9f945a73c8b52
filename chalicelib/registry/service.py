"""The registry service: every operation of the v2 API, over any pair of storage ports."""

from __future__ import annotations

from ..lifecycle.usage import UsageReader
from ..storage.policy_ports import PolicyStore
from ..storage.ports import BlobStore, MetadataStore
from .blobs import Blobs
from .direct_uploads import DirectUploads
from .listings import Listing
from .manifests import Manifests
from .settings import Settings
from .uploads import Uploads
from .verification import Verifier


class Registry:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        settings: Settings | None = None,
        verifier: Verifier | None = None,
        *,
        policies: PolicyStore | None = None,
        usage: UsageReader | None = None,
    ) -> None:
        """`policies`: per-scope settings (tag immutability); None: no repository has any.
        `usage`: what repositories use (the usage API); None: not offered."""
        self.settings = settings or Settings()
        self.blobs = Blobs(meta, store)
        self.uploads = Uploads(meta, store)
        self.manifests = Manifests(meta, policies)
        self.listing = Listing(meta, self.settings)
        # Without a verifier of the front end's choosing, a thread of this process verifies.
        self.direct = DirectUploads(meta, store, self.settings, verifier)
        self.usage = usage
