"""Store admins choose the URLs Parley calls (webhooks, order look-ups), so Parley never connects
to a loopback, private or link-local address (cloud metadata, the database, Redis) unless
INTEGRATIONS_ALLOW_PRIVATE_NETWORKS says so. The rest of the suite sets it to reach its local
receivers; these tests turn it off. (Saving such a URL through the API: tests/api.)"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from local_http import LocalServer

from chatbot.integrations import http

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guarded(settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False
    return settings


@pytest.mark.parametrize(
    "address, refused",
    [
        ("127.0.0.1", True),
        ("10.2.3.4", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),  # noqa: S104
        ("::1", True),
        ("fd00::1", True),
        ("fe80::1%eth0", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("224.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_non_public_addresses(address, refused):
    assert http.non_public(address) is refused


def test_no_connection_to_a_loopback_receiver(guarded):
    with LocalServer(lambda request: (200, {"ok": True}, 0)) as server:
        with pytest.raises(http.RequestFailed) as failure:
            http.send("POST", server.url + "/hook", {}, timeout=2, body=b"{}")
        assert str(failure.value) == http.UNREACHABLE
        assert server.received == []
        guarded.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True  # the same call, allowed
        assert http.send("POST", server.url + "/hook", {}, timeout=2, body=b"{}").status == 200


@pytest.fixture
def listener():
    """A bare listening socket: a TCP connection to it completes in the kernel's backlog even if
    nobody accepts, so a pending connection shows that one was made."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.settimeout(0.3)
        yield sock


def test_the_address_is_checked_before_connecting(guarded, listener):
    port = listener.getsockname()[1]
    for host in ("127.0.0.1", "localhost"):
        with pytest.raises(http.RequestFailed):
            http.send("GET", f"http://{host}:{port}/", {}, timeout=2)
    with pytest.raises(TimeoutError):  # no TCP handshake ever reached the private address
        listener.accept()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_every_failure_gives_the_same_reason(guarded, listener):
    """Whether the address is private, refuses, never answers or does not resolve, the stored
    reason is the same: the delivery log cannot tell open ports from closed ones."""
    port = listener.getsockname()[1]
    blocked = _failure(f"http://127.0.0.1:{port}/hook")
    guarded.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True  # now the connections are really made
    refused = _failure(f"http://127.0.0.1:{_closed_port()}/hook")
    silent = _failure(f"http://127.0.0.1:{port}/hook")  # accepted by the kernel, never answered
    unresolvable = _failure("http://parley-test.invalid/hook")
    assert blocked == refused == silent == unresolvable == http.UNREACHABLE


def _failure(url: str) -> str:
    with pytest.raises(http.RequestFailed) as failure:
        http.send("POST", url, {}, timeout=0.5, body=b"{}")
    return str(failure.value)


PROXIED_CALL = """
import sys
from django.conf import settings
settings.configure(INTEGRATIONS_ALLOW_PRIVATE_NETWORKS=True)
from chatbot.integrations import http
print(http.send("GET", sys.argv[1], {}, timeout=5).status)
"""


def test_proxy_variables_are_ignored():
    """A proxy would make the connection for us, past the address check: a worker started with
    proxy variables still connects directly."""
    with (
        LocalServer(lambda request: (200, {}, 0)) as target,
        LocalServer(lambda request: (418, {}, 0)) as proxy,
    ):
        proxies = {name: proxy.url for name in ("http_proxy", "HTTP_PROXY", "https_proxy")}
        env = {**os.environ, **proxies, "no_proxy": "", "NO_PROXY": ""}
        answer = subprocess.run(
            [sys.executable, "-c", PROXIED_CALL, target.url + "/orders"],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert answer.stdout.strip() == "200"
        assert [r.path for r in target.received] == ["/orders"] and proxy.received == []
