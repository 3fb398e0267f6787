"""Store admins choose the URLs Parley calls (webhooks, order look-ups), so Parley never connects
to a loopback, private or link-local address (cloud metadata, the database, Redis) unless
INTEGRATIONS_ALLOW_PRIVATE_NETWORKS says so. The rest of the suite sets it to reach its local
receivers; these tests turn it off. (Saving such a URL through the API: tests/api.)"""

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
        assert failure.value.kind == "connection"
        assert str(failure.value) == "refused: the host is not at a public address"
        assert server.received == []
        guarded.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = True  # the same call, allowed
        assert http.send("POST", server.url + "/hook", {}, timeout=2, body=b"{}").status == 200
