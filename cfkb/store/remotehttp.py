"""The HTTP side of a remote store: which URLs are safe, and one kept-alive client per store.

**Security.** Plain ``http`` is refused except to a loopback address, and a
URL that carries credentials is refused (:func:`check_url`); credentials
come from the environment or a config file (:mod:`cfkb.store.remotesettings`)
and travel as an ``Authorization`` header. Redirects are not followed (they
could carry the credentials elsewhere), and nothing is taken from the
environment (no proxy, ``.netrc`` or CA bundle): a private CA is named in
the settings (``cafile``).

:class:`HttpClient` sends each request as one ``POST`` and turns every
failure into a one-line cfkb error (:class:`~cfkb.errors.RemoteError` and its
kinds), or a :class:`SyntaxError` for a request the server rejected.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import weakref
from base64 import b64encode
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from cfkb.errors import InputError, RemoteAuthError, RemoteError, RemoteUnreachableError

if TYPE_CHECKING:
    import httpx

Auth = tuple[str, str] | str
"""``(user, password)`` for HTTP Basic, or a token for ``Authorization: Bearer``."""


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The URL, if it is safe to send credentials and data to.

    >>> check_url("http://127.0.0.1:7878/")
    'http://127.0.0.1:7878'
    >>> check_url("http://kb.example.org")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cfkb.errors.InputError: refusing plain http to kb.example.org: use https (http is allowed only for loopback ...)

    Raises:
        InputError: not http(s), credentials in the URL, or plain http to a
            host that is not loopback.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise InputError("credentials in the store URL are not accepted; set CFKB_REMOTE_USER and "
                         "CFKB_REMOTE_PASSWORD (or CFKB_REMOTE_TOKEN), or use the config file")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InputError(f"refusing plain http to {parts.hostname}: use https "
                         "(http is allowed only for loopback addresses)")
    return url.rstrip("/")


class HttpClient:
    """One ``httpx`` client for a server, its connections kept open between requests.

    Args:
        url: the server's base URL, as messages name it.
        endpoints: every URL the client will be asked to post to (checked by
            the caller with :func:`check_url`; ``None`` for one it lacks):
            certificates are loaded only if one of them is ``https``.
        auth: ``(user, password)`` for HTTP Basic, or a Bearer token.
        timeout: seconds to wait for the server to answer a request.
        cafile: the CA certificates to trust instead of the system's.
    """

    def __init__(self, url: str, endpoints: Sequence[str | None], *, auth: Auth | None = None,
                 timeout: float = 60.0, cafile: str | None = None) -> None:
        self.url = url
        self.timeout = timeout
        headers = {"User-Agent": "cfkb"}
        if isinstance(auth, tuple):
            user, password = auth
            headers["Authorization"] = "Basic " + b64encode(f"{user}:{password}".encode()).decode("ascii")
        elif auth:
            headers["Authorization"] = f"Bearer {auth}"
        import httpx  # loaded by the first remote store, not by every command

        # trust_env=False: no proxy, .netrc or CA bundle from the environment; redirects are
        # never followed (they could carry the credentials elsewhere)
        # plain http (loopback only) needs no certificates: loading the CA bundle is most of the client's set-up
        tls = any(u is not None and u.startswith("https:") for u in (url, *endpoints))
        self._client = httpx.Client(
            headers=headers, timeout=timeout, follow_redirects=False, trust_env=False,
            verify=ssl.create_default_context(cafile=cafile) if cafile else tls)
        self._closer = weakref.finalize(self, self._client.close)

    def close(self) -> None:
        """Close the connections to the server."""
        self._closer()

    def post(self, endpoint: str, body: bytes, *, content_type: str, accept: str | None = None,
             writes: bool = False) -> tuple[str, bytes]:
        """POST one request; the response's media type and body, or a cfkb error.

        ``writes``: the request changes the server, so a failure says it may or may not have.

        Raises:
            SyntaxError: the server rejected the request (HTTP 400, 415, 422).
            RemoteAuthError: the server refused the credentials.
            RemoteUnreachableError: the server cannot be reached.
            RemoteError: no answer in time, a lost connection, a redirect or another failure.
        """
        import httpx

        unsure = "; the server may or may not have applied the change" if writes else ""
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        try:
            response = self._client.post(endpoint, content=body, headers=headers)
        except httpx.TimeoutException:
            raise RemoteError(f"no answer from {endpoint} within {self.timeout:g}s{unsure}") from None
        except httpx.ConnectError as exc:
            raise RemoteUnreachableError(f"cannot reach {self.url}: {_connect_failure(exc, endpoint)}") from None
        except httpx.TransportError as exc:
            cause = _cause(exc, OSError)
            reason = cause.strerror if cause is not None and cause.strerror else (str(exc) or type(exc).__name__)
            raise RemoteError(f"lost the connection to {self.url} ({reason}){unsure}") from None
        status = response.status_code
        data = response.content
        if 200 <= status < 300:
            media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            return media, data
        message = _first_line(data)
        if status in (401, 403):
            raise RemoteAuthError(
                f"{endpoint} refused access (HTTP {status}); set CFKB_REMOTE_USER and CFKB_REMOTE_PASSWORD"
                " (or CFKB_REMOTE_TOKEN), or the config file")
        if 300 <= status < 400:
            raise RemoteError(f"{endpoint} redirects to {response.headers.get('Location')}; redirects are not"
                              " followed, give the final URL as the store")
        if status == 404:
            raise RemoteError(f"{endpoint}: not found (HTTP 404); is it a SPARQL endpoint? "
                              "set the endpoint URLs in the config file")
        if status in (400, 415, 422):
            raise SyntaxError(f"{endpoint} rejected the request (HTTP {status}): {message}")
        raise RemoteError(f"{endpoint} failed (HTTP {status}): {message}{unsure}")


_E = TypeVar("_E", bound=BaseException)


def _cause(exc: BaseException, kind: type[_E]) -> _E | None:
    """The first exception of type ``kind`` in the chain that led to ``exc``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _connect_failure(exc: httpx.ConnectError, endpoint: str) -> str:
    if _cause(exc, ConnectionRefusedError) is not None:
        return "connection refused"
    if _cause(exc, socket.gaierror) is not None:
        return f"unknown host {urlsplit(endpoint).hostname}"
    tls = _cause(exc, ssl.SSLError)
    if tls is not None:
        return f"TLS error: {tls.reason or tls}"
    cause = _cause(exc, OSError)
    return (cause.strerror if cause is not None and cause.strerror else str(exc)) or "connection failed"


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            text = str(parsed.get("message") or parsed.get("error") or text)
    except ValueError:
        pass
    line = text.splitlines()[0] if text else "(no message)"
    return line if len(line) <= 300 else line[:297] + "..."
