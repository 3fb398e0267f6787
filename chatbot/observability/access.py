"""Who may read metrics: a scraper presenting METRICS_TOKEN as a bearer token, or one whose address
is in METRICS_ALLOWED_NETWORKS. With neither configured nobody may (metrics tell load and models).

An address only means something where the server sees the scraper's own address: behind a proxy
on the same host every request comes from loopback, so use the token there."""

import hmac
import ipaddress

from django.conf import settings


def allowed(address: str, authorization: str) -> bool:
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        client in ipaddress.ip_network(network) for network in settings.METRICS_ALLOWED_NETWORKS
    )
