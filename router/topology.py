"""The broker objects of the exchange (DESIGN.md §3), all named under one prefix."""

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange
from aiormq.abc import FieldTable


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def inbound(self) -> str:
        """Every unit writes here and only here."""
        return f"{self.prefix}.in"

    @property
    def outbound(self) -> str:
        return f"{self.prefix}.out"

    @property
    def router_queue(self) -> str:
        return f"{self.prefix}.router"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"

    def unit_queue(self, unit_id: str) -> str:
        return f"{self.prefix}.unit.{unit_id}"


_QUORUM: FieldTable = {"x-queue-type": "quorum"}


async def declare(channel: AbstractChannel, names: Names, unit_ids: list[str]) -> AbstractExchange:
    """Declare everything (idempotent) and return the exchange the router publishes to."""
    dlx = await channel.declare_exchange(
        names.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead = await channel.declare_queue(names.dead_queue, durable=True, arguments=_QUORUM)
    await dead.bind(dlx)
    inbound = await channel.declare_exchange(
        names.inbound, aio_pika.ExchangeType.FANOUT, durable=True
    )
    router_queue = await channel.declare_queue(
        names.router_queue,
        durable=True,
        arguments={**_QUORUM, "x-dead-letter-exchange": names.dead_letter_exchange},
    )
    await router_queue.bind(inbound)
    outbound = await channel.declare_exchange(
        names.outbound, aio_pika.ExchangeType.DIRECT, durable=True
    )
    for unit_id in unit_ids:
        queue = await channel.declare_queue(
            names.unit_queue(unit_id), durable=True, arguments=_QUORUM
        )
        await queue.bind(outbound, routing_key=unit_id)
    return outbound
