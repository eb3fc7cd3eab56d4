"""The sd_notify protocol, by hand: one datagram per state change.

The `sdnotify` package swallows errors on non-ASCII status text and systemd-python needs a
compiler; the protocol itself is a datagram to the socket systemd names in NOTIFY_SOCKET.
"""

from __future__ import annotations

import os
import socket
import time


def notify(*states: str) -> bool:
    """Send states such as READY=1; False when not run by systemd (no NOTIFY_SOCKET)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall("\n".join(states).encode())
    return True


def reloading() -> bool:
    """RELOADING=1 with the monotonic timestamp systemd asks for since version 253."""
    return notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd set for this process, in seconds, if any."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000
