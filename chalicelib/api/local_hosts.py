"""Open mode (auth off) answers only requests addressed to this machine by a name no web page
controls: `localhost`, a loopback literal, or the address the server is bound to.

Without it, DNS rebinding lets any web page drive an open registry on 127.0.0.1: the page's
own name is made to resolve to 127.0.0.1, and the browser sends the page's requests there,
with that name in `Host`. A name outside this set is such a request (or a client that should
use the bound address); it gets 403 with the fix in the message.

A page elsewhere may also send simple requests (POST) to http://127.0.0.1 directly, without
reading the answers; browsers name the page in `Origin`, registry clients send none. So a
request whose `Origin` is not local is refused too.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..oci.errors import OCIError
from .messages import Request


class LocalHosts:
    def __init__(self, bound_address: str) -> None:
        self.bound = _bare(bound_address)

    def check(self, request: Request) -> None:
        """Raises 403 DENIED unless the request's Host (and Origin, if any) is local."""
        host = _bare(_without_port(request.header("host") or ""))
        if not self._local(host):
            raise OCIError(
                "DENIED",
                "this registry runs without auth and answers only requests for localhost, "
                f"127.0.0.1 or {self.bound} (this one was for {host[:80] or 'no Host'!r}); use "
                "one of those addresses, or start it with --auth",
            )
        origin = request.header("origin")
        if origin is not None and not self._local(_origin_host(origin)):
            raise OCIError(
                "DENIED",
                f"this registry runs without auth and answers no web page from {origin[:80]!r}; "
                "start it with --auth to serve other origins",
            )

    def _local(self, host: str) -> bool:
        return bool(host) and (host == self.bound or is_loopback(host))


def _origin_host(origin: str) -> str:
    """The host of an `Origin` (`scheme://host[:port]`); "" for `null` or anything else."""
    try:
        return (urlsplit(origin.strip()).hostname or "").lower()
    except ValueError:
        return ""


def _without_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):  # [::1]:5000
        return host.split("]", 1)[0] + "]"
    name, colon, port = host.rpartition(":")
    # One colon and digits after it: a port. More colons: a bare IPv6 literal.
    return name if colon and ":" not in name and port.isdigit() else host


def _bare(host: str) -> str:
    return host.strip().lower().removeprefix("[").removesuffix("]")


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address literal (without brackets)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
