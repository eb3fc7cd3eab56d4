"""Settling the intake's commands with the broker in as few frames as AMQP allows.

Once a batch is committed every command in it is acked (or dead-lettered). One ack frame per
command cost the router a frame and a socket write each, as much as publishing a delivery.
AMQP lets one ack with `multiple` settle every delivery of the channel up to a tag, so the
router acks, in one frame, everything up to the highest tag below which nothing is unsettled
any more, and acks the rest one by one: a command still waiting its turn in the intake
(docex/router/intake.py) must not be acked with them, and acks held back would fill the
sending unit's prefetch and stall it.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field

import structlog
from aio_pika.abc import AbstractIncomingMessage

log = structlog.get_logger("docex.router")


@dataclass
class Unsettled:
    """The delivery tags of one channel that the broker still counts as unacked."""

    tags: list[int] = field(default_factory=list)  # a min-heap
    # Settled one by one while a lower tag was still open: dropped when they reach the top.
    settled_alone: set[int] = field(default_factory=set)

    def add(self, tag: int) -> None:
        heapq.heappush(self.tags, tag)

    def plan(self, acking: Collection[int]) -> tuple[int | None, list[int]]:
        """Settle `acking`: (the tag to ack with `multiple`, or None; the tags to ack alone).
        Records them as settled."""
        remaining = set(acking)
        upto = None
        while self.tags and (self.tags[0] in remaining or self.tags[0] in self.settled_alone):
            tag = heapq.heappop(self.tags)
            if tag in remaining:
                remaining.discard(tag)
                upto = tag
            else:
                self.settled_alone.discard(tag)
        self.settled_alone |= remaining
        return upto, sorted(remaining)

    def settled(self, tag: int) -> None:
        """Rejected, or handed back: no longer unacked at the broker."""
        self.settled_alone.add(tag)
        self.plan(())


class Acks:
    def __init__(self) -> None:
        # Per channel (tags are the channel's own); a channel that closed is forgotten.
        self._channels: dict[object, Unsettled] = {}

    def received(self, message: AbstractIncomingMessage) -> None:
        if message.delivery_tag is not None:
            self._unsettled(message).add(message.delivery_tag)

    async def ack(self, messages: list[AbstractIncomingMessage]) -> None:
        by_channel: dict[object, list[AbstractIncomingMessage]] = {}
        for message in messages:
            by_channel.setdefault(_channel(message), []).append(message)
        for on_channel in by_channel.values():
            tags = {m.delivery_tag: m for m in on_channel if m.delivery_tag is not None}
            upto, alone = self._unsettled(on_channel[0]).plan(tags)
            if upto is not None:
                await _settle(tags[upto], multiple=True)
            for tag in alone:
                await _settle(tags[tag], multiple=False)

    async def reject(self, message: AbstractIncomingMessage, *, requeue: bool) -> None:
        if message.delivery_tag is not None:
            self._unsettled(message).settled(message.delivery_tag)
        try:
            if requeue:
                await message.nack(requeue=True)
            else:
                await message.reject(requeue=False)
        except Exception as exc:
            log.warning("settle_failed", message_id=message.message_id, error=repr(exc))

    def _unsettled(self, message: AbstractIncomingMessage) -> Unsettled:
        channel = _channel(message)
        if channel not in self._channels:
            # Tags start again on a new channel; those of a closed one settle nothing.
            self._channels = {
                key: state
                for key, state in self._channels.items()
                if not getattr(key, "is_closed", False)
            }
            self._channels[channel] = Unsettled()
        return self._channels[channel]


def _channel(message: AbstractIncomingMessage) -> object:
    try:
        return message.channel
    except Exception:
        # Closed under it: its acks fail anyway, and the broker hands the message out again.
        return None


async def _settle(message: AbstractIncomingMessage, *, multiple: bool) -> None:
    try:
        await message.ack(multiple=multiple)
    except Exception as exc:
        # The channel it came on is gone; the broker redelivers it and the ledger recognises
        # its message id.
        log.warning("settle_failed", message_id=message.message_id, error=repr(exc))
