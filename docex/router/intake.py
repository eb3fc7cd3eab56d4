"""Commands waiting for the router, taken from every unit in turn.

Each unit's intake queue is consumed on its own; what arrives waits here per unit, and a
batch takes one command from each unit that has any, round after round. A unit that has sent
5,000 commands gets one place per round like a unit that sent one, so the one command goes in
the next batch instead of after the 5,000. Within a unit the order stays the order sent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

Item = TypeVar("Item")


class FairIntake(Generic[Item]):
    def __init__(self) -> None:
        self._waiting: dict[str, deque[Item]] = {}
        # Units with something waiting, in the order they get their next turn.
        self._turns: deque[str] = deque()
        self._arrived = asyncio.Event()

    def put(self, unit: str, item: Item) -> None:
        waiting = self._waiting.setdefault(unit, deque())
        if not waiting:
            self._turns.append(unit)
        waiting.append(item)
        self._arrived.set()

    def __len__(self) -> int:
        return sum(len(waiting) for waiting in self._waiting.values())

    async def batch(self, limit: int) -> list[Item]:
        """Up to `limit` commands, one per unit per round; waits until there is one."""
        while not self._turns:
            self._arrived.clear()
            await self._arrived.wait()
        taken: list[Item] = []
        while self._turns and len(taken) < limit:
            unit = self._turns.popleft()
            waiting = self._waiting[unit]
            taken.append(waiting.popleft())
            if waiting:
                self._turns.append(unit)
        return taken
