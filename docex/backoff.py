"""Jittered exponential backoff: how docex waits before trying again, wherever it does
(reconnects, a destination the broker refused, a failed task, a locked ledger).

aiomqtt 2.x does not reconnect by itself (the MQTT bridge, the router's SMS sender). The
jitter keeps clients that lost the same broker from all knocking on it in the same instant
when it comes back.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_s: float = 0.25, cap_s: float = 30.0) -> None:
        self._initial_s = initial_s
        self._cap_s = cap_s
        self._failures = 0

    def next_delay(self) -> float:
        """Half the doubled delay fixed, half random: never a tight loop, never in lockstep."""
        ceiling = min(self._cap_s, self._initial_s * 2**self._failures)
        # Bounded, or a broker away for days would overflow the float.
        self._failures = min(self._failures + 1, 32)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self._failures = 0
