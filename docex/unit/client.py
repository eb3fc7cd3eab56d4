"""The Python client a unit's system uses to talk to the exchange over AMQP.

A unit writes only to its own inbound exchange and reads only its own queue. Every
message read is kept in the unit's mailbox before it is acked, so nothing read is lost and a
document delivered twice shows up once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import aio_pika
import aiormq
import structlog
import yarl
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue

from docex import broker_link, persons, wire
from docex.core.rejection import Rejection
from docex.core.rules import check_envelope_seal
from docex.ids import uuid7
from docex.ledger.mailbox import Mailbox
from docex.seals.verify import SealVerifier
from docex.topology import Names
from docex.unit.settings import UnitSettings

log = structlog.get_logger("docex.unit")

T = TypeVar("T")


class ExchangeTimeout(Exception):
    pass


class ExchangeBusy(Exception):
    """The broker refused the command: this unit's intake queue is full (the router is far
    behind, or stopped). Nothing was sent; the same command may be sent again later."""


# What the client raises while RabbitMQ is away: the robust connection comes back by itself,
# so an adapter that runs for good retries rather than stops.
BROKER_UNAVAILABLE = (
    ExchangeBusy,
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    OSError,
    TimeoutError,
)
# Without it a publish made while the broker is away would wait for a confirm forever.
PUBLISH_TIMEOUT_S = 10.0
# Keep it well under the router's [links] heartbeat_timeout_s (120 s by default), so one lost
# beat does not make the unit look down.
HEARTBEAT_INTERVAL_S = 30.0


class UnitClient:
    def __init__(self, settings: UnitSettings) -> None:
        self.settings = settings
        self.unit_id = settings.unit
        self.names = Names(settings.prefix)
        # Seals are judged at the router's acceptance time (see _check_seal), so a document
        # accepted before its seal was revoked stays valid here too.
        self.verifier = SealVerifier.from_files(
            Path(settings.ca_certificate),
            Path(settings.revocation_list) if settings.revocation_list else None,
        )
        # Who acts (§14): every command is signed with their credential; None for a unit that
        # acts as a whole. Opened before anything else, so a credential still under its
        # initial password (§15) stops the client before it connects.
        self.credential: persons.Credential | None = None
        if settings.person_credential:
            self.credential = persons.open_for_use(
                Path(settings.person_credential),
                persons.password_from(settings.person_password_file),
                settings.unit,
            )
        self.mailbox = Mailbox(Path(settings.mailbox))
        self._user = yarl.URL(settings.amqp_url).user or "guest"
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._inbound: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None
        self._arrived = asyncio.Event()
        self._heartbeats: asyncio.Task[None] | None = None

    async def __aenter__(self) -> UnitClient:
        self._connection = await broker_link.connect(
            [self.settings.amqp_url, *self.settings.amqp_urls], reconnect_interval=1.0
        )
        try:
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            await self._channel.set_qos(prefetch_count=64)
            self._inbound = await self._channel.get_exchange(
                self.names.inbound(self.unit_id), ensure=False
            )
            # Passive declares: a unit may not configure anything, and a robust channel
            # restores consumers after a reconnect only on queues it declared.
            self._queue = await self._channel.get_queue(self.names.unit_queue(self.unit_id))
        except BaseException:
            # No queue for this unit (an unknown id): a robust connection left open would
            # keep trying to restore the channel.
            await self._connection.close()
            self.mailbox.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_heartbeats()
        if self._connection is not None:
            await self._connection.close()
        self.mailbox.close()

    async def send(self, command: wire.Command) -> str:
        """Publish a command with a fresh message id (the router's idempotency key)."""
        message_id = uuid7()
        await self.publish(command, message_id)
        return message_id

    async def publish(self, command: wire.Command, message_id: str) -> None:
        """Publish with a given id: sending the same id again is harmless, so retry freely."""
        tag = type(command).__struct_config__.tag
        assert isinstance(tag, str)
        await self.publish_encoded(wire.encode(command), message_id, tag)

    async def publish_encoded(self, body: bytes, message_id: str, type_: str) -> None:
        """Forward a command already encoded elsewhere (a bridge, a hot folder) as it is."""
        assert self._inbound is not None
        try:
            await self._inbound.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    user_id=self._user,
                    type=type_,
                    content_type=wire.CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers=(
                        dict(self.credential.headers(message_id, body))
                        if self.credential is not None
                        else None
                    ),
                ),
                routing_key="",
                mandatory=True,
                timeout=PUBLISH_TIMEOUT_S,
            )
        except aiormq.exceptions.DeliveryError as exc:
            if isinstance(exc, aiormq.exceptions.PublishError):
                raise
            raise ExchangeBusy(
                f"the exchange refused unit {self.unit_id!r}'s command: its intake queue"
                f" {self.names.intake_queue(self.unit_id)} is full (the router is behind or"
                " stopped); nothing was sent, send it again later"
            ) from exc

    async def heartbeat(self) -> None:
        """Tell the router this unit's system is alive (§46). Never answered: silence is what
        the router listens for, and an answer to each beat would only fill the unit's queue."""
        await self.send(wire.Heartbeat(v=wire.VERSION))

    def start_heartbeats(self, interval_s: float = HEARTBEAT_INTERVAL_S) -> asyncio.Task[None]:
        """Beat in the background until `stop_heartbeats` or the client closes. An adapter that
        runs for good (a bridge, a hot folder) starts this once; once a unit has sent a
        heartbeat, the router expects them to keep coming."""
        self.stop_heartbeats()
        self._heartbeats = asyncio.create_task(self._beat(interval_s), name="heartbeats")
        return self._heartbeats

    def stop_heartbeats(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
            self._heartbeats = None

    async def _beat(self, interval_s: float) -> None:
        while True:
            try:
                await self.heartbeat()
            except Exception as exc:
                # The broker is away: the robust connection comes back by itself; so do we.
                log.warning("heartbeat_failed", unit=self.unit_id, error=repr(exc))
            await asyncio.sleep(interval_s)

    async def request(
        self, command: wire.Command, timeout: float = 30.0, message_id: str | None = None
    ) -> wire.Answer:
        """Send a command and wait for the router's answer to it. Pass `message_id` when the
        command signs its own id (a print request)."""
        message_id = message_id or uuid7()
        await self.publish(command, message_id)
        return await self.wait_for(lambda: self.mailbox.answer_to(message_id), timeout)

    async def answer_if_router_listens(self, message_id: str, timeout: float) -> wire.Answer | None:
        """The router's answer to a command already published, or None at once when no router
        is taking this unit's commands (stopped, or cut off): the broker keeps the command
        and the router applies it when it is back. None also when no answer came in time."""
        if not await self.router_listening():
            return None
        try:
            return await self.wait_for(lambda: self.mailbox.answer_to(message_id), timeout)
        except ExchangeTimeout:
            return None

    async def router_listening(self) -> bool:
        """Whether a router consumes this unit's intake queue now. Asked on a channel of its
        own: a broker that refuses the question closes the channel it was asked on."""
        assert self._connection is not None
        channel = await self._connection.channel()
        try:
            queue = await channel.declare_queue(self.names.intake_queue(self.unit_id), passive=True)
        except aio_pika.exceptions.AMQPError:
            return True  # the broker will not say: wait for the answer instead
        finally:
            if not channel.is_closed:
                await channel.close()
        result = queue.declaration_result
        return result.consumer_count is None or result.consumer_count > 0

    async def wait_for(self, found: Callable[[], T | None], timeout: float) -> T:
        """Read the queue into the mailbox until `found` returns something."""
        assert self._queue is not None
        tag = await self._queue.consume(self._take)
        try:
            async with asyncio.timeout(timeout):
                while (result := found()) is None:
                    self._arrived.clear()
                    if (result := found()) is not None:
                        break
                    await self._arrived.wait()
                return result
        except TimeoutError:
            raise ExchangeTimeout(f"no answer from the exchange within {timeout:.0f} s") from None
        finally:
            await self._queue.cancel(tag)

    async def drain(self) -> int:
        """Read everything waiting in the queue into the mailbox; returns how many AMQP messages
        were read (a `batch` counts once, however many it carried)."""
        assert self._queue is not None
        count = 0
        while (message := await self._queue.get(no_ack=False, fail=False)) is not None:
            await self._take(message)
            count += 1
        return count

    @contextlib.asynccontextmanager
    async def consuming(
        self, take: Callable[[aio_pika.abc.AbstractIncomingMessage], Awaitable[None]]
    ) -> AsyncIterator[None]:
        """Hand every message of the unit's queue to `take` as it came, past the mailbox: for
        a bridge that passes messages on and acks each only once it is passed on."""
        assert self._queue is not None
        tag = await self._queue.consume(take)
        try:
            yield
        finally:
            await self._queue.cancel(tag)

    async def _take(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            contents = wire.unpack(message.message_id or uuid7(), message.type or "", message.body)
        except wire.WireError as exc:
            log.error("unreadable_message", message_id=message.message_id, error=exc.message)
            await message.reject(requeue=False)
            return
        for item in contents:
            self._file(item.message_id, item.body)
        await message.ack()
        self._arrived.set()

    def _file(self, message_id: str, body: bytes) -> None:
        """Into the mailbox, once per message id, whether it came alone or in a batch."""
        try:
            decoded = wire.decode_router_message(body)
        except wire.WireError as exc:
            log.error("unreadable_message", message_id=message_id, error=exc.message)
            return
        if isinstance(decoded, wire.Deliver):
            error = self._check_seal(decoded)
            if self.mailbox.add_delivery(message_id, decoded, body, error) and error:
                log.error("delivered_seal_invalid", doc_id=decoded.envelope.id, error=error)
        else:
            self.mailbox.add_message(message_id, decoded, body)
            if (
                isinstance(decoded, wire.Notice)
                and decoded.kind == "paper"
                and decoded.recipient == self.unit_id
            ):
                self.mailbox.mark_paper(decoded.documents, decoded.at)

    def _check_seal(self, deliver: wire.Deliver) -> str:
        """Verify the sender's seal as of the router's acceptance time; '' when it holds."""
        envelope = deliver.envelope
        if wire.content_digest(envelope.content) != envelope.sha256:
            return "content_hash_mismatch: the body is not what was sealed"
        try:
            check_envelope_seal(envelope, self.verifier, datetime.fromisoformat(deliver.sent_at))
        except Rejection as exc:
            return f"{exc.code}: {exc.message}"
        return ""
