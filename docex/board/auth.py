"""Who is looking: the board trusts the identity the TLS proxy verified, and nothing else.

The proxy (config/nginx-board.conf) checks the client certificate and passes
`X-Client-Verified: SUCCESS` with the certificate's subject DN in `X-Client-DN`. Anyone who can
reach the board directly could send those headers too, so they count only from a loopback peer,
where only the proxy runs; and a subject counts only when `[board] subjects` names it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

VERIFIED_HEADER = "X-Client-Verified"
SUBJECT_HEADER = "X-Client-DN"
OFFICE = "office"


class Refused(Exception):
    """The request may see nothing; the message is what the person is shown, in Chinese."""


@dataclass(frozen=True)
class Viewer:
    subject: str
    unit: str | None  # None: the General Office, which sees everything

    @property
    def is_office(self) -> bool:
        return self.unit is None


def identify(
    peer: str | None, verified: str | None, subject: str | None, subjects: dict[str, str]
) -> Viewer:
    """The viewer a request comes from, or Refused with why."""
    if peer is None or not _is_loopback(peer):
        raise Refused("拒绝访问：请通过办公厅的证书认证代理访问本看板。")
    if verified != "SUCCESS" or not subject:
        raise Refused("拒绝访问：未通过客户端证书认证。")
    wanted = unescape_dn(subject)
    for allowed, sees in subjects.items():
        if unescape_dn(allowed) == wanted:
            return Viewer(wanted, None if sees == OFFICE else sees)
    raise Refused("拒绝访问：该证书未获授权查看本看板。")


def _is_loopback(peer: str) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False  # a Unix socket or something stranger: not the proxy we know
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback  # IPv4 on a dual-stack socket
    return address.is_loopback


_HEX_ESCAPE = re.compile(r"(?:\\[0-9A-Fa-f]{2})+")


def unescape_dn(dn: str) -> str:
    """nginx writes a DN per RFC 2253, with each byte of a non-ASCII character as `\\XX`
    (`CN=\\E6\\9D\\8E\\E5\\9B\\9B`); the config may name it either way, so both are compared
    with the characters themselves."""

    def decoded(match: re.Match[str]) -> str:
        data = bytes.fromhex(match.group(0).replace("\\", ""))
        return data.decode("utf-8", errors="replace")

    return _HEX_ESCAPE.sub(decoded, dn.strip())
