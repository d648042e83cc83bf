"""Address lists from the configuration (trusted proxies, who may read metrics), and the client
address trusted proxies report.

Headers such as ``X-Forwarded-For`` or ``X-Forwarded-Host`` are anyone's to write; they count
only when the connection comes from a configured proxy address or network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

MAX_HOPS = 16  # X-Forwarded-For entries looked at, from the right


class AddressList:
    def __init__(self, networks: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def contains(self, remote: str | None) -> bool:
        if not self.networks or not remote:
            return False
        try:
            address = ipaddress.ip_address(remote.strip())
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    def client_address(self, remote: str | None, forwarded_for: str | None) -> str:
        """The caller's address, for a list of trusted proxies: the connection's, or behind them the
        nearest untrusted hop of ``X-Forwarded-For`` (hops further left are the client's own claims)."""
        address = remote or ""
        if not forwarded_for or not self.contains(address):
            return address
        for hop in reversed(forwarded_for.split(",")[-MAX_HOPS:]):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return address  # a malformed chain: count it against the proxy that sent it
            address = hop
            if not self.contains(hop):
                return hop
        return address
