"""Outgoing HTTP to a store's systems: short timeouts, no redirects, a bounded response read, and
no connection to a non-public address (loopback, private, link-local such as cloud metadata, ...)
unless ``INTEGRATIONS_ALLOW_PRIVATE_NETWORKS`` is set. Store admins choose these URLs, so:

- the host is resolved and every address checked before anything is sent to it, and only the
  checked addresses are connected to (a rebinding name cannot change its answer in between);
- proxy environment variables are ignored (a proxy would connect for us, unchecked);
- every failure (a refused address, DNS, a refused connection, a timeout, TLS) is reported with one
  generic reason, so the delivery log cannot be used to map a network. No error names the URL or
  headers (they may carry credentials)."""

import http.client
import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Parley-Integrations/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is answered as it is, never followed


def non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class BlockedAddress(OSError):
    pass


def _connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kwargs):
    """``socket.create_connection`` that resolves once, refuses the host if any of its addresses
    is not public, and then connects to those checked addresses only."""
    host, port = address
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS:
        if any(non_public(sockaddr[0]) for *_, sockaddr in infos):
            raise BlockedAddress("the address is not a public one")
    failure = OSError("no address")
    for *_, sockaddr in infos:
        try:
            return socket.create_connection(sockaddr[:2], timeout, source_address, **kwargs)
        except OSError as error:
            failure = error
    raise failure


class _GuardedHTTP(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _GuardedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTP, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPS, req, context=self._context)


_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirect, _HTTPHandler, _HTTPSHandler
)


def public_url(url: str) -> None:
    """Model-field validator: refuses a URL whose host resolves to a non-public address now (a
    clear error when it is saved; ``send`` enforces the rule on every connection). A name that
    does not resolve yet passes: its DNS may come later."""
    if settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS:
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return
    if any(non_public(info[4][0]) for info in infos):
        raise ValidationError(
            "This URL points to a private or local network address, which Parley does not call."
        )


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


UNREACHABLE = "the host could not be reached"


class RequestFailed(Exception):
    """No HTTP answer. Always the same message, whatever went wrong: see the module docstring."""

    def __init__(self):
        super().__init__(UNREACHABLE)


def send(
    method: str, url: str, headers: dict[str, str], timeout: float, body: bytes | None = None
) -> Response:
    """One request; any HTTP status is a Response, a network failure is RequestFailed."""
    if not url.lower().startswith(("http://", "https://")):
        raise RequestFailed()
    try:
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (checked)
        request.add_header("User-Agent", USER_AGENT)
        for name, value in headers.items():
            request.add_header(name, value)
        with _opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.read(MAX_RESPONSE_BYTES))
    except (OSError, http.client.HTTPException, UnicodeError, ValueError):
        raise RequestFailed() from None
