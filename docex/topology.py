"""The broker objects of the exchange (DESIGN.md §3), all named under one prefix.

Each unit writes to an inbound exchange of its own, which feeds an intake queue of its own:
the broker's permissions keep a unit out of every other unit's intake, a length limit with
`reject-publish` pushes back on a unit that floods (its publishes are nacked, nobody else's),
and the router takes from every intake queue in turn, so one unit's backlog never stands in
front of another unit's document.
"""

from dataclasses import dataclass

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.abc import FieldTable

log = structlog.get_logger("docex.router")


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
    connection: AbstractConnection, names: Names, unit_ids: list[str], intake_limit: int
) -> None:
    """Declare everything (idempotent), on channels of its own.

    `intake_limit` is the most commands one unit may have waiting. RabbitMQ refuses to declare
    an existing queue with other arguments, so a changed limit applies to new units only; the
    existing queues are kept as they are, with a warning (a policy can change them)."""
    channel = await connection.channel()
    try:
        dlx = await channel.declare_exchange(
            names.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        dead = await channel.declare_queue(names.dead_queue, durable=True, arguments=_QUORUM)
        await dead.bind(dlx)
        await channel.declare_exchange(names.outbound, aio_pika.ExchangeType.DIRECT, durable=True)
        for unit_id in unit_ids:
            try:
                await declare_unit(channel, names, unit_id, intake_limit)
            except aiormq.exceptions.ChannelPreconditionFailed as exc:
                log.warning(
                    "intake_queue_kept",
                    queue=names.intake_queue(unit_id),
                    detail=f"{exc}; intake_limit applies to new units only",
                )
                channel = await connection.channel()
                await declare_unit(channel, names, unit_id, None)
    finally:
        await channel.close()


async def declare_unit(
    channel: AbstractChannel, names: Names, unit_id: str, intake_limit: int | None
) -> None:
    """A unit's inbound exchange and intake queue, and its own queue on the outbound side.
    With `intake_limit` None the intake queue must exist already, and is kept as it is."""
    inbound = await channel.declare_exchange(
        names.inbound(unit_id), aio_pika.ExchangeType.FANOUT, durable=True
    )
    if intake_limit is None:
        intake = await channel.declare_queue(names.intake_queue(unit_id), passive=True)
    else:
        intake = await channel.declare_queue(
            names.intake_queue(unit_id),
            durable=True,
            arguments={
                **_QUORUM,
                "x-dead-letter-exchange": names.dead_letter_exchange,
                "x-max-length": intake_limit,
                "x-overflow": "reject-publish",
                # One router at a time takes a unit's commands, however many run
                # (docex/router/cluster.py): they are applied in the order the unit sent them.
                "x-single-active-consumer": True,
            },
        )
    await intake.bind(inbound)
    queue = await channel.declare_queue(names.unit_queue(unit_id), durable=True, arguments=_QUORUM)
    await queue.bind(names.outbound, routing_key=unit_id)
