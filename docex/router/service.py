"""The router daemon: takes commands off the broker, applies them to the ledger, publishes answers.

Two loops share one SQLite connection on the event loop thread, so their transactions never
interleave:
- intake takes whatever commands have arrived (up to a batch, one per unit in turn: see
  docex/router/intake.py), applies them in one transaction, and only then acks them (or
  dead-letters the rejected ones);
- the outbox publisher (docex/router/outbox.py) sends committed messages with publisher confirms,
  many in flight at once, and removes them from the outbox once the broker has confirmed them.
A crash between any two steps loses nothing: unacked commands come back and are recognised by
their message id; unconfirmed messages are published again and recipients dedupe them by id.
The connection never waits for a lock on the loop: a ledger that cannot commit is waited out
by docex/router/ledger_health.py. Every background task runs under docex/router/supervision.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from docex import broker_link, topology
from docex.backoff import Backoff
from docex.clock import Clock, SystemClock
from docex.config import Config, ConfigError, Unit, load_config
from docex.ledger import retention
from docex.ledger.checkpoint import Checkpointer
from docex.ledger.errors import LedgerError
from docex.ledger.location import is_postgresql
from docex.ledger.open import open_ledger
from docex.ledger.port import Ledger
from docex.ledger.postgres import LEADER_LOCK, PostgresLedger, listen_for_outbox
from docex.ledger.sqlite import SqliteLedger
from docex.router import credentials, health, provision, systemd
from docex.router.acks import Acks
from docex.router.cluster import SharedCluster, SoloCluster
from docex.router.handler import CommandHandler, Inbound, Verdict
from docex.router.info_watch import InfoWatch
from docex.router.intake import FairIntake
from docex.router.ledger_health import LedgerHealth
from docex.router.linkwatch import LinkWatch
from docex.router.metrics import Metrics
from docex.router.outbox import OutboxPublisher
from docex.router.receive_watch import ReceiveWatch
from docex.router.reload import LoadResult, compare, digest
from docex.router.sms_sender import SmsSender
from docex.router.supervision import Supervisor
from docex.seals.errors import SealError
from docex.seals.seal import open_seal
from docex.seals.verify import SealVerifier

log = structlog.get_logger("docex.router")

_INTAKE_BATCH = 256
_FOLD_INTERVAL_S = 15.0
_AUDIT_CHAIN_INTERVAL_S = 5.0
# Events chained in one transaction: about 2.5 ms of the event loop's time here.
_AUDIT_CHAIN_BATCH = 500
_AUDIT_CHECKPOINT_S = 300.0
_RETENTION_INTERVAL_S = 86400.0
_RECONNECT_INTERVAL_S = 1.0
_MAX_CONNECT_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class _Arrived:
    """A command waiting in the intake, and since when (time.monotonic()): how long commands
    wait for their turn shows when the router itself is what holds documents back."""

    message: AbstractIncomingMessage
    at: float


class Router:
    def __init__(
        self,
        config: Config,
        clock: Clock | None = None,
        config_path: Path | None = None,
        router_id: str | None = None,
        *,
        create_ledger: bool = False,
    ) -> None:
        """`router_id`: how this router is known to the others sharing its ledger; by
        default host:pid. `create_ledger`: make the ledger if it is missing (`router run
        --init-ledger`); otherwise a missing ledger is LedgerMissing, never silently a new,
        empty one."""
        self.config = config
        self.config_path = config_path
        self.names = topology.Names(config.router.prefix)
        self.ledger = open_ledger(
            config.router.ledger,
            checkpoints=False,
            waits_for_locks=False,
            create=create_ledger,
            syncs_commits=False,
        )
        ledger_file = None if is_postgresql(config.router.ledger) else Path(config.router.ledger)
        self.cluster: SoloCluster | SharedCluster
        if ledger_file is None:
            # The leader's jobs run on its control session, fenced by its lease.
            control = PostgresLedger(config.router.ledger, fenced_by=LEADER_LOCK)
            leader_ledger: Ledger = control
            self.cluster = SharedCluster(
                control,
                config.router.partitions,
                self.config_digest,
                self.broker_connected,
                self._follow_partitions,
                self._lead,
                router_id,
            )
        else:
            leader_ledger = self.ledger
            self.cluster = SoloCluster()
        self.metrics = Metrics(self.ledger, lambda: self.cluster.leader)
        # A SQLite ledger's commits are made durable off the event loop (group commit).
        sync = self.ledger.sync if isinstance(self.ledger, SqliteLedger) else None
        self.ledger_health = LedgerHealth(self.ledger, self.metrics.ledger_retries, sync)
        # PostgreSQL checkpoints by itself; a SQLite ledger's are done off the event loop.
        self.checkpointer = (
            Checkpointer(ledger_file, hold_writes=self.ledger_health.writes_held)
            if ledger_file
            else None
        )
        if (checkpointer := self.checkpointer) is not None:
            self.metrics.watch_ledger_log(lambda: checkpointer.log_bytes)
        self.supervisor = Supervisor(self.metrics.task_failures)
        revocation_list = config.seals.revocation_list
        verifier = SealVerifier.from_files(
            Path(config.seals.ca_certificate), Path(revocation_list) if revocation_list else None
        )
        password_file = credentials.seal_password_file(config)
        if password_file is None:
            raise SealError(
                "no_seal_password",
                "router.seal_password_file is not set, and no seal-password credential",
            )
        seal = open_seal(Path(config.router.seal_carrier), password_file.read_text().strip())
        clock = clock or SystemClock()
        self.handler = CommandHandler(self.ledger, config, verifier, seal, clock, self.metrics)
        if leader_ledger is self.ledger:
            self.leader_handler, self.leader_health = self.handler, self.ledger_health
        else:
            self.leader_handler = CommandHandler(
                leader_ledger, config, verifier, seal, clock, self.metrics
            )
            self.leader_health = LedgerHealth(leader_ledger, self.metrics.ledger_retries)
        self.metrics.watch_calendar(
            lambda: self.handler.calendar.covered_until(self._today().year),
            lambda: len(self.calendar_warnings()),
        )
        self.ready = asyncio.Event()
        self._intake: FairIntake[_Arrived] = FairIntake()
        self._acks = Acks()
        self.sms = _sms_sender(config, self.leader_handler, self.metrics, self.leader_health)
        self.outbox = OutboxPublisher(
            self.handler,
            self.metrics,
            self.ledger_health,
            config.router.max_message_bytes,
            self.broker_connected,
            self._redeclare,
            self._published,
            self.cluster.owns,
            config.router.batch_answers,
        )
        self.linkwatch = LinkWatch(
            self.leader_handler, self.leader_health, self.broker_connected, self.outbox.wakeup.set
        )
        self.infowatch = InfoWatch(self.leader_handler, self.leader_health, self.outbox.wakeup.set)
        self.receivewatch = ReceiveWatch(
            self.leader_handler, self.leader_health, self.outbox.wakeup.set
        )
        self._connection: AbstractRobustConnection | None = None
        # Each unit's intake queue and the tag of the router's consumer on it.
        self._consuming: dict[str, tuple[AbstractQueue, str]] = {}
        self._consume_channel: AbstractChannel | None = None
        self._outbound: AbstractExchange | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._health: asyncio.Server | None = None
        self._stopping = False
        self.last_load: LoadResult | None = None
        if config_path is not None:
            self._record_load(LoadResult("loaded", self.handler.clock.now(), digest(config_path)))

    async def start(self) -> None:
        self._connection = await self._connect()
        self.metrics.broker_up.set_function(lambda: 1 if self.broker_connected() else 0)
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        assert isinstance(channel, AbstractRobustChannel)
        self._publish_channel = channel
        unit_ids = [unit.id for unit in self.config.units]
        await topology.declare(
            self._connection, self.names, unit_ids, self.config.router.intake_limit
        )
        self._outbound = await channel.get_exchange(self.names.outbound, ensure=False)
        self._consume_channel = await self._connection.channel()
        # Per consumer: the router holds at most this many commands of any one unit.
        await self._consume_channel.set_qos(prefetch_count=self.config.router.prefetch)
        if not self.supervisor.running:
            await self._start_watching()
        self.supervisor.start("intake", self._take_in)
        self.supervisor.start("outbox", functools.partial(self.outbox.run, channel, self._outbound))
        await self._follow_partitions()
        self.ready.set()
        systemd.notify("READY=1", f"STATUS=routing for {len(unit_ids)} units")
        for warning in self.calendar_warnings():
            log.warning("calendar_not_covered", detail=warning)
        log.info(
            "router_started",
            prefix=self.names.prefix,
            units=len(unit_ids),
            outbox_depth=self.ledger.outbox_depth(),
            event_loop=type(asyncio.get_running_loop()).__module__.partition(".")[0],
        )

    async def _connect(self) -> AbstractRobustConnection:
        """RabbitMQ away when the router starts is an exchange-wide outage like any other
        (§46): the link watch runs meanwhile, so the fault and its 24-hour clock (§47) start,
        and the router keeps trying. A refused login is a mistake to fix, not to wait out."""
        urls = credentials.amqp_urls(self.config)
        backoff = Backoff(initial_s=0.5, cap_s=_MAX_CONNECT_BACKOFF_S)
        while True:
            try:
                return await broker_link.connect(urls, reconnect_interval=_RECONNECT_INTERVAL_S)
            except aio_pika.exceptions.ProbableAuthenticationError:
                raise
            except (aio_pika.exceptions.AMQPConnectionError, OSError) as exc:
                if not self.supervisor.running:
                    await self._start_watching()
                delay = backoff.next_delay()
                log.warning("broker_unreachable", error=str(exc), retry_in=round(delay, 1))
                # Waiting for the broker is part of starting; systemd is told not to give up.
                systemd.notify(
                    f"EXTEND_TIMEOUT_USEC={int((delay + _MAX_CONNECT_BACKOFF_S) * 1e6)}",
                    "STATUS=waiting for the broker (RabbitMQ)",
                )
                await asyncio.sleep(delay)

    async def _start_watching(self) -> None:
        """What needs the ledger but not the broker: the ledger's probe, the link and
        information watches, checkpoints, SMS, the watchdog and the health endpoints."""
        self.supervisor.start("ledger_probe", self.ledger_health.probe)
        if self.checkpointer is not None:
            self.supervisor.start("checkpoint", self.checkpointer.run)
        if isinstance(self.cluster, SharedCluster):
            # Started having tried for the lease and a share, not two seconds later.
            await self.cluster.tick()
            self.supervisor.start("cluster", self.cluster.run)
            self.supervisor.start(
                "outbox_listener",
                functools.partial(
                    listen_for_outbox, self.config.router.ledger, self.outbox.wakeup.set
                ),
            )
        else:
            await self._lead(True)
        if (interval := systemd.watchdog_interval()) is not None:
            self.supervisor.start("watchdog", functools.partial(self._watchdog, interval))
        if self.config.router.metrics_port:
            self._health = await health.serve(
                self.config.router.metrics_host,
                self.config.router.metrics_port,
                self.metrics.registry,
                self.not_ready,
                self.about,
                self.calendar_warnings,
            )

    async def stop(self, flush_timeout: float = 10.0) -> None:
        """Stop taking commands, finish those taken, and give the outbox a bounded time to empty."""
        if self._stopping:
            return  # stopped already, or stopping
        self.ready.clear()
        self._stopping = True
        systemd.notify("STOPPING=1")
        if self._health is not None:
            self._health.close()
        for queue, tag in list(self._consuming.values()):
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        if self.broker_connected():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(), flush_timeout)
        await self.supervisor.stop()
        if isinstance(self.cluster, SharedCluster):
            await self.cluster.stop()
            self.cluster.session.close()
        if self._connection is not None:
            await self._connection.close()
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.ledger.close()
        log.info("router_stopped")

    def _today(self) -> date:
        return self.handler.clock.now().astimezone(self.handler.calendar.timezone).date()

    def calendar_warnings(self) -> list[str]:
        """Holiday data missing for this year, or from 1 December the next (§30, §33): the
        router still routes, so a warning, not unreadiness, until the year comes."""
        return self.handler.config.calendar_warnings(self._today())

    def not_ready(self) -> list[str]:
        """Why the router cannot route right now; empty when it can."""
        problems = []
        if not self.ready.is_set():
            problems.append("not started, or stopping")
        if not self.broker_connected():
            problems.append("broker: not connected")
        if self.cluster.leader and self.leader_health is not self.ledger_health:
            problems += self.leader_health.problems()
        return (
            problems
            + self.ledger_health.problems()
            + self.supervisor.problems()
            + self.cluster.problems()
        )

    def about(self) -> list[str]:
        """What /readyz says besides readiness: the result of the last config reload."""
        return [self.last_load.line()] if self.last_load is not None else []

    def _record_load(self, result: LoadResult) -> None:
        self.last_load = result
        self.metrics.reload_success.set(1 if result.ok else 0)
        self.metrics.reload_timestamp.set(result.at.timestamp())

    def broker_connected(self) -> bool:
        """A robust connection is not `is_closed` while it reconnects; `connected` tells."""
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def reload(self) -> bool:
        """Apply the configuration file as it is now (SIGHUP); a bad file changes nothing."""
        assert self.config_path is not None
        read = functools.partial(
            LoadResult, "reloaded", self.handler.clock.now(), digest(self.config_path)
        )
        if self._publish_channel is None:
            log.warning("config_reload_deferred", reason="still waiting for the broker")
            self._record_load(read("still waiting for the broker; reload again once ready"))
            return False
        systemd.reloading()
        try:
            new = load_config(self.config_path)
            if new.seals.revocation_list:
                self.handler.verifier.replace_revocations(Path(new.seals.revocation_list))
        except (ConfigError, SealError) as exc:
            problems = f"{exc.code}: {exc.message}" if isinstance(exc, SealError) else str(exc)
            self.metrics.reloads.labels("failure").inc()
            self._record_load(read(problems))
            log.error("config_reload_failed", problems=problems)
            systemd.notify("READY=1", "STATUS=reload failed; running on the previous config")
            return False
        change = compare(self.config, new)
        for unit in change.gone:
            await self._revoke(new, unit)
        assert self._connection is not None
        await topology.declare(
            self._connection, self.names, [u.id for u in new.units], self.config.router.intake_limit
        )
        applied = self.config_digest()

        def apply() -> None:
            # Several routers reload the same file; the ledger side is applied once.
            at = self.handler.calendar.stamp(self.handler.clock.now())
            if self.ledger.apply_once(applied, at, getattr(self.cluster, "id", "solo")):
                self.handler.reconfigure(new, change)

        await self.ledger_health.commit("reload", apply)
        for unit in change.gone:
            await self._drop_queued(unit)
        self.config = new
        for handler in {self.handler, self.leader_handler}:
            handler.config = new
        self.outbox.batch_answers = new.router.batch_answers
        await self._follow_partitions()
        self.metrics.reloads.labels("success").inc()
        self._record_load(read())
        log.info(
            "config_reloaded",
            added=[u.id for u in change.added],
            renamed=[u.id for _, u in change.renamed],
            gone=[u.id for u in change.gone],
        )
        if change.restart_needed:
            log.warning("restart_required", settings=change.restart_needed)
        systemd.notify("READY=1", f"STATUS=routing for {len(new.units)} units")
        self.outbox.wakeup.set()
        return True

    async def _revoke(self, config: Config, unit: Unit) -> None:
        """§9(二)(三): a unit that left the exchange can no longer log in, read or write. Done
        with rabbitmqctl, as `docex units provision` does; where the router may not run it,
        the operator is told to, and the router refuses the unit's commands meanwhile."""
        try:
            await asyncio.to_thread(provision.revoke, config, unit)
        except provision.ProvisionError as exc:
            self.metrics.revocations.labels("failure").inc()
            log.error(
                "broker_user_not_revoked",
                unit=unit.id,
                amqp_user=unit.amqp_user,
                error=str(exc),
                fix="run `docex units provision --config FILE` where rabbitmqctl works",
            )
            return
        self.metrics.revocations.labels("success").inc()
        log.info("broker_user_revoked", unit=unit.id, amqp_user=unit.amqp_user)

    async def _drop_queued(self, unit: Unit) -> None:
        """What waited in a departed unit's queue was moved in the ledger, to its successor
        or back to its senders (§9): the copies left in its queue must reach no one."""
        assert self._connection is not None
        name = self.names.unit_queue(unit.id)
        # A channel of its own: a queue someone deleted closes the channel that asks for it.
        try:
            async with self._connection.channel() as channel:
                queue = await channel.get_queue(name, ensure=False)
                dropped = await queue.purge()
        except aio_pika.exceptions.ChannelClosed as exc:
            log.warning("departed_unit_queue_not_purged", unit=unit.id, queue=name, error=str(exc))
            return
        log.info("departed_unit_queue_purged", unit=unit.id, messages=dropped.message_count)

    async def _watchdog(self, interval: float) -> None:
        """Pinged from the event loop itself, so a stuck loop gets the daemon restarted."""
        while True:
            systemd.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _drained(self) -> None:
        while len(self._intake) or self.ledger.outbox_depth():
            self.outbox.wakeup.set()
            await asyncio.sleep(0.05)

    def config_digest(self) -> str:
        """Which configuration file this router runs on, as the other routers see it."""
        if self.config_path is None:
            return ""
        return digest(self.config_path)

    async def _lead(self, leader: bool) -> None:
        """Start or stop the jobs that run once for the whole exchange."""
        jobs = {
            "linkwatch": self.linkwatch.run,
            "infowatch": self.infowatch.run,
            "receivewatch": self.receivewatch.run,
        }
        if self.sms is not None:
            jobs["sms"] = self.sms.run
        if isinstance(self.cluster, SharedCluster):
            jobs["fold_counts"] = self._fold_counts
        jobs["audit_chain"] = self._chain_audit
        jobs["retention"] = self._retention
        if not leader:
            await self.supervisor.cancel(*jobs)
            return
        for name, job in jobs.items():
            self.supervisor.start(name, job)

    async def _chain_audit(self) -> None:
        """Link committed audit events into the chain every few seconds, and sign its head
        with the exchange seal now and then (docex/ledger/audit.py). Each round chains every
        event waiting, a batch a transaction: a document leaves two events or more, so one
        batch a round fell behind for good at a sustained 100 documents/s."""
        handler = self.leader_handler
        chain = functools.partial(handler.ledger.chain_events, _AUDIT_CHAIN_BATCH)
        # None until the first signature, which comes after the first round: the monotonic
        # clock counts from boot, so "0.0" would hold it back for the first 5 minutes of uptime.
        signed_at: float | None = None
        while True:
            while True:
                chained = await self.leader_health.commit("audit_chain", chain)
                self.metrics.audit_chained.inc(chained)
                if chained < _AUDIT_CHAIN_BATCH:
                    break
                # Between batches the intake and the publisher get the loop.
                await asyncio.sleep(0)
            if signed_at is None or time.monotonic() - signed_at >= _AUDIT_CHECKPOINT_S:
                at = handler.calendar.stamp(handler.clock.now())

                checkpoint = functools.partial(
                    handler.ledger.add_checkpoint,
                    handler.seal.sign,
                    handler.seal.certificate_der,
                    at,
                )
                if await self.leader_health.commit("audit_checkpoint", checkpoint) is not None:
                    self.metrics.audit_checkpoints.inc()
                signed_at = time.monotonic()
            await asyncio.sleep(_AUDIT_CHAIN_INTERVAL_S)

    async def _retention(self) -> None:
        """Once a day: bodies past `[retention] body_days`, evidence past `evidence_years`
        (docex/ledger/retention.py), a batch a transaction."""
        ledger = self.leader_handler.ledger
        while True:
            now = self.leader_handler.clock.now()
            at = now.isoformat(timespec="seconds")
            body_cutoff, evidence_cutoff = retention.cutoffs(self.config.retention, now)
            while body_cutoff is not None:
                cutoff = body_cutoff.isoformat(timespec="seconds")
                bodies, _pdfs = await self.leader_health.commit(
                    "retention",
                    functools.partial(ledger.prune_bodies, cutoff, at, retention.BATCH),
                )
                self.metrics.pruned_bodies.inc(bodies)
                if bodies < retention.BATCH:
                    break
            while True:
                counts = await self.leader_health.commit(
                    "retention",
                    functools.partial(
                        ledger.prune_evidence,
                        evidence_cutoff.isoformat(timespec="seconds"),
                        retention.BATCH,
                    ),
                )
                for table, n in counts.items():
                    self.metrics.pruned_evidence.labels(table).inc(n)
                if counts.get("documents", 0) < retention.BATCH:
                    break
            await asyncio.sleep(_RETENTION_INTERVAL_S)

    async def _fold_counts(self) -> None:
        while True:
            await self.leader_health.commit(
                "fold_counts", self.leader_handler.ledger.fold_state_counts
            )
            await asyncio.sleep(_FOLD_INTERVAL_S)

    async def _follow_partitions(self, owned: set[int] | None = None) -> None:
        """Consume the intake queues of the units this router owns, and only those."""
        if self._consume_channel is None or self._stopping:
            return
        for unit in self.config.units:
            if self.cluster.owns(unit.id):
                await self._consume(unit.id)
            elif unit.id in self._consuming:
                queue, tag = self._consuming.pop(unit.id)
                with contextlib.suppress(Exception):
                    await queue.cancel(tag)
        self.outbox.wakeup.set()

    async def _consume(self, unit_id: str) -> None:
        """Take this unit's commands into the intake, where each unit gets its turn."""
        assert self._consume_channel is not None
        if unit_id in self._consuming:
            return
        # Declared passively: a robust channel re-consumes after a reconnect only the queues
        # it declared.
        queue = await self._consume_channel.get_queue(self.names.intake_queue(unit_id))

        async def receive(message: AbstractIncomingMessage) -> None:
            self._acks.received(message)
            self._intake.put(unit_id, _Arrived(message, time.monotonic()))

        self._consuming[unit_id] = (queue, await queue.consume(receive))

    async def _redeclare(self, unit_id: str) -> bool:
        """Declare a unit's queues again (someone deleted one); False if there is no such unit."""
        if self.config.unit(unit_id) is None or self._connection is None:
            return False
        await topology.declare(
            self._connection, self.names, [unit_id], self.config.router.intake_limit
        )
        return True

    def _published(self) -> None:
        if self.sms is not None:
            self.sms.wake()

    async def _take_in(self) -> None:
        while True:
            arrivals = await self._intake.batch(_INTAKE_BATCH)
            taken = time.monotonic()
            for arrived in arrivals:
                self.metrics.intake_wait.observe(taken - arrived.at)
            batch = [arrived.message for arrived in arrivals]
            try:
                # A locked ledger or a full disk is waited out with the batch in hand, unacked.
                verdicts = await self.ledger_health.retry(
                    "intake", functools.partial(self._apply, batch)
                )
            except LedgerError:
                log.exception("ledger_commit_failed", batch=len(batch))
                await self._settle(batch, None)
                await asyncio.sleep(1.0)
                continue
            self.metrics.intake_commit.observe(time.monotonic() - taken)
            await self._settle(batch, verdicts)
            self.outbox.wakeup.set()
            # Under a flood a batch is always ready and nothing above need wait: without this
            # the outbox (and every watch) would not run until the flood was over.
            await asyncio.sleep(0)

    def _apply(self, batch: list[AbstractIncomingMessage]) -> list[Verdict]:
        return self.handler.handle_batch(
            [
                Inbound(message.message_id, message.user_id, message.body, message.headers or {})
                for message in batch
            ]
        )

    async def _settle(
        self, batch: list[AbstractIncomingMessage], verdicts: list[Verdict] | None
    ) -> None:
        """Ack what is committed; with no verdicts (nothing committed) hand it all back."""
        if verdicts is None:
            for message in batch:
                await self._acks.reject(message, requeue=True)
            return
        for message, verdict in zip(batch, verdicts, strict=True):
            if verdict is Verdict.DEAD:
                await self._acks.reject(message, requeue=False)
        await self._acks.ack(
            [
                message
                for message, verdict in zip(batch, verdicts, strict=True)
                if verdict is Verdict.ACK
            ]
        )


def _sms_sender(
    config: Config, handler: CommandHandler, metrics: Metrics, ledger_health: LedgerHealth
) -> SmsSender | None:
    settings = config.sms
    if not settings.mqtt_host:
        return None
    password = None
    if settings.mqtt_password_file:
        password = Path(settings.mqtt_password_file).read_text().strip()
    sender = SmsSender(
        handler.ledger,
        ledger_health,
        settings,
        password,
        handler.clock,
        metrics,
        lambda: handler.calendar.stamp(handler.clock.now()),
    )
    metrics.watch_sms_gateway(sender.connected.is_set)
    return sender


async def run(config: Config, config_path: Path, *, create_ledger: bool = False) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly; SIGHUP reloads the config."""
    router = Router(config, config_path=config_path, create_ledger=create_ledger)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    reloads: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        task = asyncio.create_task(router.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    starting = asyncio.create_task(router.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    try:
        if not starting.done():
            # Stopped while still waiting for the broker.
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        else:
            starting.result()
            await stopping
    finally:
        await router.stop()
