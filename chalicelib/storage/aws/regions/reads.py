"""Reads of the local region's replica of the table, falling back to the primary's on a miss.

Every write goes to the primary region's table (see `__init__.py`), and DynamoDB global tables
copy each item to the other regions' replicas asynchronously, usually within a second. A pull
in another region reads its own replica first (near, and cheap) and, when what it looks for is
not there yet, the primary's, which has every write: so a pull never fails because replication
is behind. A miss is an item that is not there (GetItem), or an empty page of a listing
(Query). Any empty page, not only a first one: a client pages with the last name it got, and
the replica that lacked the first page (read from the primary) lacks the next one too; a
listing that ends at a page's end pays one more Query for its empty last page. A page that is
there but shorter than the primary's (the replica has some of the items) is served as it is,
like an item older than the primary's (a tag moved a moment ago): the lag global tables have,
the answer a client would have had a moment earlier; a pull by tag or digest reads items, not
listings, and never sees it.

Each fallback is logged at INFO on `soute.regions`, and counted with the reads, for the tests
and the benchmark (bench/regions.py). In the primary region itself the replica is the primary:
one read, never a fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("soute.regions")


class RegionalReader:
    def __init__(self, local: Any, primary: Any, local_region: str, primary_region: str) -> None:
        """`local` and `primary` are DynamoDB clients of the two regions (the same client when
        this is the primary region)."""
        self.local, self.primary = local, primary
        self.local_region, self.primary_region = local_region, primary_region
        self.reads = 0  # reads asked for
        self.fallbacks = 0  # of which were read again from the primary
        self._lock = threading.Lock()

    @property
    def falls_back(self) -> bool:
        return self.local_region != self.primary_region

    def item(self, read: Callable[[Any], T | None], what: str) -> T | None:
        """`read(client)` on the local replica; on None, on the primary. `what` names the item
        in the log line."""
        self._count(fallback=False)
        found = read(self.local)
        if found is not None or not self.falls_back:
            return found
        self._fell_back(what)
        return read(self.primary)

    def listing(self, read: Callable[[Any], list[T]], what: str) -> list[T]:
        """`read(client)` (a page) on the local replica; an empty page on the primary."""
        self._count(fallback=False)
        found = read(self.local)
        if found or not self.falls_back:
            return found
        self._fell_back(what)
        return read(self.primary)

    def _fell_back(self, what: str) -> None:
        self._count(fallback=True)
        log.info(
            "%s read from the primary region %s: not yet in %s",
            what,
            self.primary_region,
            self.local_region,
        )

    def _count(self, fallback: bool) -> None:
        with self._lock:
            if fallback:
                self.fallbacks += 1
            else:
                self.reads += 1
