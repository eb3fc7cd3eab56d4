"""The broker objects of the exchange (DESIGN.md §3), all named under one prefix.

Each unit writes to an inbound exchange of its own, which feeds an intake queue of its own:
the broker's permissions keep a unit out of every other unit's intake, a length limit with
`reject-publish` pushes back on a unit that floods (its publishes are nacked, nobody else's),
and the router takes from every intake queue in turn, so one unit's backlog never stands in
front of another unit's document.
"""

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange
from aiormq.abc import FieldTable


@dataclass(frozen=True)
class Names:
    prefix: str

    def inbound(self, unit_id: str) -> str:
        """The one exchange this unit may write to."""
        return f"{self.prefix}.in.{unit_id}"

    def intake_queue(self, unit_id: str) -> str:
        """Where the router takes this unit's commands from."""
        return f"{self.prefix}.intake.{unit_id}"

    @property
    def outbound(self) -> str:
        return f"{self.prefix}.out"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"

    def unit_queue(self, unit_id: str) -> str:
        return f"{self.prefix}.unit.{unit_id}"


_QUORUM: FieldTable = {"x-queue-type": "quorum"}


async def declare(
    channel: AbstractChannel, names: Names, unit_ids: list[str], intake_limit: int
) -> AbstractExchange:
    """Declare everything (idempotent) and return the exchange the router publishes to.

    `intake_limit` is the most commands one unit may have waiting; it is fixed when a queue is
    first declared (RabbitMQ refuses to redeclare a queue with other arguments)."""
    dlx = await channel.declare_exchange(
        names.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead = await channel.declare_queue(names.dead_queue, durable=True, arguments=_QUORUM)
    await dead.bind(dlx)
    outbound = await channel.declare_exchange(
        names.outbound, aio_pika.ExchangeType.DIRECT, durable=True
    )
    for unit_id in unit_ids:
        await declare_unit(channel, names, unit_id, intake_limit, outbound)
    return outbound


async def declare_unit(
    channel: AbstractChannel,
    names: Names,
    unit_id: str,
    intake_limit: int,
    outbound: AbstractExchange,
) -> None:
    """A unit's inbound exchange and intake queue, and its own queue on the outbound side."""
    inbound = await channel.declare_exchange(
        names.inbound(unit_id), aio_pika.ExchangeType.FANOUT, durable=True
    )
    intake = await channel.declare_queue(
        names.intake_queue(unit_id),
        durable=True,
        arguments={
            **_QUORUM,
            "x-dead-letter-exchange": names.dead_letter_exchange,
            "x-max-length": intake_limit,
            "x-overflow": "reject-publish",
        },
    )
    await intake.bind(inbound)
    queue = await channel.declare_queue(names.unit_queue(unit_id), durable=True, arguments=_QUORUM)
    await queue.bind(outbound, routing_key=unit_id)
