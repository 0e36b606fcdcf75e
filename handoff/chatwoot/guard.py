"""Private addresses (SSRF): Chatwoot's own SafeFetch refuses the same ranges for its webhooks (API-NOTES F.5)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from handoff.chatwoot.errors import ChatwootConfigurationError

PRIVATE_NETWORK_HINT = "set CHATWOOT_ALLOW_PRIVATE_NETWORK=true only if Chatwoot really runs on your private network"


def private_network_allowed() -> bool:
    """The deployment's CHATWOOT_ALLOW_PRIVATE_NETWORK, for callers that do not say; False outside Django."""
    from django.conf import settings

    return settings.configured and bool(getattr(settings, "CHATWOOT_ALLOW_PRIVATE_NETWORK", False))


def address_is_public(address: str) -> bool:
    """False for private, loopback, link-local, shared (CGNAT), reserved and multicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def host_public_check(base_url: str) -> None:
    """Refuse a CHATWOOT_BASE_URL whose host resolves to any non-public address, before anything is sent."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (OSError, ValueError, UnicodeError):
        return  # unresolvable for now: the request fails as a connection error and is retried
    refused = sorted(address for address in found if not address_is_public(address))
    if refused:
        raise ChatwootConfigurationError(
            f"CHATWOOT_BASE_URL ({host}) resolves to a private, loopback or link-local address "
            f"({', '.join(refused)}), which Nexa refuses: {PRIVATE_NETWORK_HINT}."
        )


class _PublicPeerMixin:
    """Check the address actually connected to, so DNS that changes after host_public_check cannot slip through."""

    def _new_conn(self):
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        if not address_is_public(peer):
            sock.close()
            raise ChatwootConfigurationError(
                f"CHATWOOT_BASE_URL ({self.host}) now leads to {peer}, a private address; "
                f"nothing was sent: {PRIVATE_NETWORK_HINT}."
            )
        return sock


class _PublicHTTPConnection(_PublicPeerMixin, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeerMixin, HTTPSConnection):
    pass


class _PublicHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicNetworkAdapter(HTTPAdapter):
    """A transport that only completes connections to public addresses (a proxy, if configured, decides for itself)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPConnectionPool,
            "https": _PublicHTTPSConnectionPool,
        }
