"""Which ``Host`` headers the server answers: loopback decided by address, never by spelling.

A page on an attacker's site can make the browser send requests to the
local server under the attacker's own name (DNS rebinding: the name first
points at the attacker, then at 127.0.0.1). The browser then treats the
answers as the attacker's, so the server must refuse a ``Host`` header that
is not one of its own names. The check is always on, whatever the bind
address; tests name their test host explicitly.

A host is loopback when it is ``localhost`` (or a name under it) or an IP
address whose :attr:`ipaddress.IPv4Address.is_loopback` holds, in any
spelling: ``127.0.0.2``, ``::1``, ``0:0:0:0:0:0:0:1``, ``[::1]``,
``::ffff:127.0.0.1``.

>>> is_loopback("0:0:0:0:0:0:0:1"), is_loopback("127.0.0.2"), is_loopback("LOCALHOST."), is_loopback("10.0.0.1")
(True, True, True, False)
>>> HostPolicy.for_bind("::1").allows("[0::1]:8000"), HostPolicy.for_bind("::1").allows("evil.example:8000")
(True, False)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from cfkb.errors import InputError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(host: str) -> Address | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    text = text.split("%", 1)[0]  # an IPv6 zone
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _name(host: str) -> str:
    return host.lower().rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine's loopback."""
    address = _address(host)
    if address is not None:
        return address.is_loopback
    name = _name(host)
    return name == "localhost" or name.endswith(".localhost")


def is_unspecified(host: str) -> bool:
    """Whether ``host`` is ``0.0.0.0`` or ``::`` (every interface)."""
    address = _address(host)
    return address is not None and address.is_unspecified


def split_host_header(value: str) -> str:
    """The host of a ``Host`` header, without its port.

    >>> split_host_header("[::1]:8000"), split_host_header("localhost:80"), split_host_header("::1")
    ('::1', 'localhost', '::1')
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value  # a bare IPv6 address (not valid in a Host header, but unambiguous) or a name


@dataclass(frozen=True)
class HostPolicy:
    """The ``Host`` values a server answers: loopback ones, given addresses, given names."""

    loopback: bool
    addresses: frozenset[Address] = frozenset()
    names: frozenset[str] = frozenset()

    @classmethod
    def for_bind(cls, bind: str, allow: Iterable[str] = ()) -> HostPolicy:
        """The policy for a server listening on ``bind``, plus the ``--allow-host`` values ``allow``.

        Loopback Host values are answered when the server can be reached on
        loopback (a loopback or an every-interface bind); a specific bind
        address is answered as itself; any other name or address only if given in ``allow``.

        Raises:
            InputError: a value in ``allow`` is empty or holds a port, a path or a wildcard.
        """
        for host in [bind, *allow]:
            if not host or any(c in host for c in "/*@ ") or "]:" in host or (
                    host.count(":") == 1 and not host.startswith("[")):
                raise InputError(f"{host!r} is not a host name or address (give it without a port)")
        policy = cls.of([bind, *allow])
        return cls(policy.loopback or is_unspecified(bind), policy.addresses, policy.names)

    @classmethod
    def of(cls, hosts: Iterable[str] | None) -> HostPolicy:
        """A policy from a list of allowed hosts; ``None``: loopback only."""
        if hosts is None:
            return cls(True)
        addresses: set[Address] = set()
        names: set[str] = set()
        loopback = False
        for host in hosts:
            address = _address(host)
            if is_loopback(host):
                loopback = True
            elif address is not None:
                if not address.is_unspecified:
                    addresses.add(address)
            else:
                names.add(_name(host))
        return cls(loopback, frozenset(addresses), frozenset(names))

    def allows(self, host_header: str) -> bool:
        """Whether a request with this ``Host`` header is answered."""
        host = split_host_header(host_header)
        if not host:
            return False
        if self.loopback and is_loopback(host):
            return True
        address = _address(host)
        if address is not None:
            return address in self.addresses
        return _name(host) in self.names


class HostCheck:
    """ASGI middleware: 400 for a request whose ``Host`` header the policy does not allow."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host", "")
            if not self.policy.allows(host):
                response = PlainTextResponse("Invalid host header", status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
