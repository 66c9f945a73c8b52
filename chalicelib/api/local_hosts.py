"""Open mode (auth off) answers only requests addressed to this machine by a name no web page
controls: `localhost`, a loopback literal, or the address the server is bound to.

Without it, DNS rebinding lets any web page drive an open registry on 127.0.0.1: the page's
own name is made to resolve to 127.0.0.1, and the browser sends the page's requests there,
with that name in `Host`. A name outside this set is such a request (or a client that should
use the bound address); it gets 403 with the fix in the message.
"""

from __future__ import annotations

import ipaddress

from ..oci.errors import OCIError
from .messages import Request


class LocalHosts:
    def __init__(self, bound_address: str) -> None:
        self.bound = _bare(bound_address)

    def check(self, request: Request) -> None:
        """Raises 403 DENIED unless the request's Host is local."""
        host = _bare(_without_port(request.header("host") or ""))
        if host and (host == self.bound or _loopback(host)):
            return
        raise OCIError(
            "DENIED",
            "this registry runs without auth and answers only requests for localhost, "
            f"127.0.0.1 or {self.bound} (this one was for {host[:80] or 'no Host'!r}); use one of "
            "those addresses, or start it with --auth",
        )


def _without_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):  # [::1]:5000
        return host.split("]", 1)[0] + "]"
    name, colon, port = host.rpartition(":")
    # One colon and digits after it: a port. More colons: a bare IPv6 literal.
    return name if colon and ":" not in name and port.isdigit() else host


def _bare(host: str) -> str:
    return host.strip().lower().removeprefix("[").removesuffix("]")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
