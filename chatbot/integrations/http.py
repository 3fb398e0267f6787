"""Outgoing HTTP to a store's systems: short timeouts, no redirects, a bounded response read, and
errors described without the URL or headers (they may carry credentials)."""

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Parley-Integrations/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is answered as it is, never followed


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class RequestFailed(Exception):
    """No HTTP answer: `kind` is "timeout" or "connection"; the message is safe to store."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def send(
    method: str, url: str, headers: dict[str, str], timeout: float, body: bytes | None = None
) -> Response:
    """One request; any HTTP status is a Response, a network failure is RequestFailed."""
    if not url.lower().startswith(("http://", "https://")):
        raise RequestFailed("connection", "only http and https URLs are called")
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (checked above)
    request.add_header("User-Agent", USER_AGENT)
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with _opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.read(MAX_RESPONSE_BYTES))
    except TimeoutError:
        raise RequestFailed("timeout", f"no answer within {timeout:g} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise RequestFailed("timeout", f"no answer within {timeout:g} s") from None
        raise RequestFailed("connection", _reason(error.reason)) from None
    except (OSError, http.client.HTTPException) as error:
        raise RequestFailed("connection", _reason(error)) from None


def _reason(error) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"connection failed: {error.strerror}"
    return f"connection failed: {type(error).__name__}"
