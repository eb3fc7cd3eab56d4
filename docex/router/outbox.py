"""Publishes what the ledger's outbox holds, with confirms, and keeps one bad row from
stopping the others.

Rows go out in batches, many in flight at once, and leave the outbox when the broker has
confirmed them. What goes wrong is judged per row or per destination, never for the whole
outbox:
- a row the broker can never take (a property it cannot encode, a body over the broker's
  size limit, no queue for it even after declaring that queue again) is set aside in the
  ledger at once, with a log line, a metric and a notice to the General Office;
- a destination whose queue refuses (nack: full, or electing a leader) is held back for a
  while, alone, and the next pass publishes on a new channel;
- a channel that breaks under a batch does not say which row broke it: the rows of that
  batch are tried one at a time next, and a row that breaks the channel on its own, again
  and again, is set aside.
Each destination's rows keep their order, because a unit reads its news in that order.

Whatever is due to one unit in the same pass (answers, notices and deliveries alike) goes out
together as one `batch` message (`[router] batch_answers`): each publish costs the broker a
message in a quorum queue, the router a frame's encoding and a confirm, and the unit a message
to take; under load a pass finds many rows for one unit, and one message carries them all. A
batch that fails is broken up: its rows are tried one at a time next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

import aiormq
import structlog
from aio_pika.abc import AbstractExchange, AbstractRobustChannel
from pamqp.commands import Basic

from docex import wire
from docex.backoff import Backoff
from docex.ids import uuid7
from docex.ledger.records import OutboxRow, StoredDocument
from docex.router.handler import CommandHandler
from docex.router.ledger_health import LedgerHealth
from docex.router.metrics import Metrics

log = structlog.get_logger("docex.router")

_BATCH = 256
# A batch stays well below any broker's message size limit; a larger message goes alone.
_MAX_BATCH_BYTES = 1024 * 1024
_PUBLISH_TIMEOUT_S = 15.0
_PERSISTENT = 2  # AMQP delivery mode: written to disk by the broker
# A row that broke the channel on its own this many times is set aside.
_MAX_FAILURES = 5
# AMQP short strings (message_id, type, routing key) are at most 255 bytes.
_SHORTSTR_BYTES = 255


class Failure(Enum):
    # The broker can never take this row.
    PERMANENT = "permanent"
    # No queue is bound for the destination.
    UNROUTABLE = "unroutable"
    # The destination's queue nacked the row: full, or electing a leader.
    REFUSED = "refused"
    # The channel or connection failed; not necessarily because of this row.
    UNCLEAR = "unclear"


def classify(error: BaseException) -> Failure:
    """What a failed publish says about the row that was being published."""
    match error:
        case aiormq.exceptions.PublishError(frame=Basic.Return()):
            return Failure.UNROUTABLE
        case aiormq.exceptions.DeliveryError(frame=Basic.Nack() | Basic.Reject()):
            return Failure.REFUSED
        case TypeError() | ValueError() | OverflowError():
            # Raised while encoding the frame: a property AMQP cannot carry.
            return Failure.PERMANENT
        case _:
            return Failure.UNCLEAR


@dataclass(frozen=True)
class Unpublishable(Exception):
    """A row refused before it is sent, for a reason no retry can change."""

    reason: str
    detail: str


def check_publishable(
    routing_key: str, message_id: str, body: bytes, max_message_bytes: int
) -> None:
    """Refuse what the broker would refuse by closing the channel under every row in flight."""
    for name, value in (("message_id", message_id), ("routing_key", routing_key)):
        if len(value.encode()) > _SHORTSTR_BYTES:
            raise Unpublishable("invalid_property", f"{name} is over {_SHORTSTR_BYTES} bytes")
    if len(body) > max_message_bytes:
        raise Unpublishable(
            "too_large", f"{len(body)} bytes; the broker takes at most {max_message_bytes}"
        )


# An outbox row and the bytes it goes out with (docex/router/handler.py renders deliveries).
Rendered = tuple[OutboxRow, bytes]


def publishing_groups(
    rows: list[Rendered], batch_answers: bool, max_bytes: int = _MAX_BATCH_BYTES
) -> list[list[Rendered]]:
    """The messages a pass publishes: each destination's rows in runs of up to `max_bytes`
    (a larger row alone), so every destination still receives its rows in their order."""
    if not batch_answers:
        return [[row] for row in rows]
    groups: list[list[Rendered]] = []
    # Per destination: the group its next row may join, and that group's bytes.
    open_runs: dict[str, tuple[list[Rendered], int]] = {}
    for row, body in rows:
        group, size = open_runs.get(row.routing_key, (None, 0))
        if group is None or size + len(body) > max_bytes:
            group, size = [], 0
            groups.append(group)
        group.append((row, body))
        open_runs[row.routing_key] = (group, size + len(body))
    return groups


class OutboxPublisher:
    def __init__(
        self,
        handler: CommandHandler,
        metrics: Metrics,
        ledger_health: LedgerHealth,
        max_message_bytes: int,
        broker_connected: Callable[[], bool],
        redeclare: Callable[[str], Awaitable[bool]],
        on_published: Callable[[], None],
        mine: Callable[[str], bool],
        batch_answers: bool = True,
    ) -> None:
        """`redeclare(unit)` declares a unit's queue again; False when there is no such unit.
        `on_published` is called after rows were confirmed and committed. `mine(unit)`: this
        router publishes to that unit (docex/router/cluster.py)."""
        self._mine = mine
        self.batch_answers = batch_answers
        self._broker_connected = broker_connected
        self._handler = handler
        self._ledger = handler.ledger
        self._metrics = metrics
        self._ledger_health = ledger_health
        self._max_message_bytes = max_message_bytes
        self._redeclare = redeclare
        self._on_published = on_published
        self.wakeup = asyncio.Event()
        # Destinations held back, until this time.monotonic().
        self._held: dict[str, float] = {}
        self._backoffs: dict[str, Backoff] = {}
        # Rows that were in flight when a channel broke: next tried one at a time.
        self._suspects: set[int] = set()
        self._failures: dict[int, int] = {}

    async def run(self, channel: AbstractRobustChannel, outbound: AbstractExchange) -> None:
        while True:
            self.wakeup.clear()
            now = time.monotonic()
            self._held = {key: until for key, until in self._held.items() if until > now}
            rows = self._ledger.outbox_batch(_BATCH, self._held, self._mine)
            if not rows:
                wait = min([1.0, *(until - now for until in self._held.values())])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), wait)
                continue
            # Nothing leaves before the commits that wrote it are on disk: the transactional
            # outbox holds across a power cut too.
            await self._ledger_health.durable()
            # While the broker is away every publish fails; that says nothing about any row.
            await channel.ready()
            await self._publish(rows, channel, outbound)

    async def _publish(
        self, rows: list[OutboxRow], channel: AbstractRobustChannel, outbound: AbstractExchange
    ) -> None:
        # (row, error, published alone, published in a batch)
        outcomes: list[tuple[OutboxRow, BaseException | None, bool, bool]] = []
        documents: dict[str, tuple[StoredDocument, bytes]] = {}
        rendered: list[Rendered] = []
        for row in rows:
            try:
                body = self._handler.render(row, documents)
            except Exception as exc:
                outcomes.append((row, exc, True, False))
                continue
            if body is None:
                # Withdrawn or returned while it waited: nothing goes out, and it is done.
                outcomes.append((row, None, True, False))
            else:
                rendered.append((row, body))
        for item in (item for item in rendered if item[0].seq in self._suspects):
            await channel.ready()
            outcomes.append((item[0], await self._try([item], channel, outbound.name), True, False))
        groups = publishing_groups(
            [item for item in rendered if item[0].seq not in self._suspects],
            self.batch_answers,
            # A batch is never what breaks a broker's lower limit: rows over it go alone.
            min(_MAX_BATCH_BYTES, self._max_message_bytes // 2),
        )
        results = await asyncio.gather(
            *(self._try(group, channel, outbound.name) for group in groups)
        )
        for group, result in zip(groups, results, strict=True):
            outcomes += [(row, result, False, len(group) > 1) for row, _ in group]
        confirmed: list[OutboxRow] = []
        set_aside: list[tuple[OutboxRow, str, str]] = []
        for row, error, alone, batched in outcomes:
            if error is None:
                confirmed.append(row)
                self._suspects.discard(row.seq)
                self._failures.pop(row.seq, None)
                self._backoffs.pop(row.routing_key, None)
            elif (verdict := await self._judge(row, error, alone, batched)) is not None:
                set_aside.append((row, *verdict))
        if any(
            error is not None and classify(error) is Failure.REFUSED for _, error, _, _ in outcomes
        ):
            await self._fresh_channel(channel)
        if confirmed or set_aside:

            def record() -> None:
                self._handler.published(confirmed, documents)
                for row, reason, detail in set_aside:
                    self._handler.set_aside(row, reason, detail)

            # Lost in a power cut, this is redone: the rows are still in the outbox, go out
            # again under their message ids, and recipients keep each once. While the ledger
            # cannot commit, the publisher waits here and sends nothing more.
            await self._ledger_health.commit("outbox", record, durable=False)
        for row, reason, detail in set_aside:
            self._suspects.discard(row.seq)
            self._failures.pop(row.seq, None)
            self._metrics.outbox_set_aside.labels(reason).inc()
            log.error(
                "outbox_row_set_aside",
                seq=row.seq,
                to=row.routing_key[:64],
                type=row.type,
                message_id=row.message_id[:64],
                doc_id=row.doc_id,
                reason=reason,
                error=detail,
            )
        if confirmed:
            self._on_published()

    async def _try(
        self, group: list[Rendered], channel: AbstractRobustChannel, exchange: str
    ) -> BaseException | None:
        """Publish one row, or a batch of rows to one destination, and wait for the confirm."""
        first, body = group[0]
        try:
            if len(group) == 1:
                message_id, type_ = first.message_id, first.type
            else:
                message_id, type_ = uuid7(), wire.BATCH_TYPE
                body = wire.encode_batch(
                    [wire.Batched(row.message_id, row.type, rendered) for row, rendered in group]
                )
            check_publishable(first.routing_key, message_id, body, self._max_message_bytes)
            # What aio-pika's Exchange.publish does, without building an aio_pika.Message
            # first: that took 50 µs a message, 15 times the frame properties themselves.
            if channel.is_closed:
                raise aiormq.exceptions.ChannelInvalidStateError("the publishing channel closed")
            underlay = await channel.get_underlay_channel()
            started = time.monotonic()
            await underlay.basic_publish(
                body,
                exchange=exchange,
                routing_key=first.routing_key,
                properties=Basic.Properties(
                    message_id=message_id,
                    message_type=type_,
                    content_type=wire.CONTENT_TYPE,
                    delivery_mode=_PERSISTENT,
                ),
                mandatory=True,
                timeout=_PUBLISH_TIMEOUT_S,
            )
        except Exception as exc:
            return exc
        self._metrics.publish_confirm.observe(time.monotonic() - started)
        if len(group) > 1:
            deliveries = sum(1 for row, _ in group if row.type == "deliver")
            self._metrics.deliveries_batched.inc(deliveries)
            self._metrics.answers_batched.inc(len(group) - deliveries)
        return None

    async def _judge(
        self, row: OutboxRow, error: BaseException, alone: bool, batched: bool
    ) -> tuple[str, str] | None:
        """(reason, detail) when the row is to be set aside; otherwise arrange its retry."""
        failure = classify(error)
        if batched and (isinstance(error, Unpublishable) or failure is Failure.PERMANENT):
            # Which of the batch's rows the broker cannot take shows when each goes alone.
            self._suspects.add(row.seq)
            return None
        if isinstance(error, Unpublishable):
            return error.reason, error.detail
        if failure is Failure.PERMANENT:
            return "invalid_property", str(error)
        if failure is Failure.UNROUTABLE:
            # Someone deleted the queue, or it was never declared: declare it once more.
            if self._count(row) == 1 and await self._redeclare(row.routing_key):
                log.warning("unit_queue_redeclared", unit=row.routing_key)
                return None
            return "unroutable", str(error)
        if failure is Failure.UNCLEAR and not self._broker_connected():
            # The connection went; the robust connection brings it back and the row retries.
            return None
        if failure is Failure.UNCLEAR and not alone:
            self._suspects.add(row.seq)
            return None
        if failure is Failure.UNCLEAR and not isinstance(error, TimeoutError):
            if self._count(row) >= _MAX_FAILURES:
                return "publish_failed", repr(error)
        self._hold(row.routing_key, repr(error))
        return None

    async def _fresh_channel(self, channel: AbstractRobustChannel) -> None:
        """A nack may mean the queue was electing a leader; RabbitMQ 3.10 goes on nacking
        every publish on a channel first used during the election (../shared/SCALE.md §8.2),
        while a new channel is acked. So the next pass publishes on a new one."""
        try:
            await channel.reopen()
        except Exception as exc:
            # The robust connection restores it; the held rows are retried either way.
            log.warning("publish_channel_reopen_failed", error=repr(exc))
        else:
            self._metrics.publish_channel_reopened.inc()
            log.info("publish_channel_reopened", reason="nacked")

    def _count(self, row: OutboxRow) -> int:
        self._failures[row.seq] = self._failures.get(row.seq, 0) + 1
        return self._failures[row.seq]

    def _hold(self, destination: str, error: str) -> None:
        backoff = self._backoffs.setdefault(destination, Backoff(initial_s=0.1, cap_s=30.0))
        delay = backoff.next_delay()
        self._held[destination] = time.monotonic() + delay
        log.warning("destination_held", to=destination[:64], retry_in=round(delay, 2), error=error)
