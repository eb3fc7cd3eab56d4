"""Hands queued SMS reminders (docex/router/sms.py) to the SMS gateway's MQTT broker.

Each text is a JSON object published with QoS 1 to `<topic_prefix>/<unit>`; its reminders
leave the ledger only once the broker acknowledged it, so a crash or a broker outage delays
texts but loses none (after a crash, one may go twice under the same `id`, for the gateway to
drop). A number gets at most `per_number_per_hour` texts in any hour: reminders beyond that
wait, and all of a number's waiting reminders then go in one text that says how many more
there are. SMS is optional: routing does not wait for it. A gateway away is waited for here;
anything else that goes wrong is the supervisor's to log and retry (docex/router/supervision.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable

import aiomqtt
import structlog

from docex.backoff import Backoff
from docex.clock import Clock
from docex.config import SmsSettings
from docex.core import texts
from docex.ids import uuid7
from docex.ledger.port import Ledger
from docex.ledger.records import SmsRow
from docex.router.ledger_health import LedgerHealth
from docex.router.metrics import Metrics

log = structlog.get_logger("docex.sms")

_HOUR_S = 3600.0
_PUBLISH_TIMEOUT_S = 10.0
# Texts waiting for an allowance are looked at again this often.
_RECHECK_S = 1.0


class SmsSender:
    def __init__(
        self,
        ledger: Ledger,
        ledger_health: LedgerHealth,
        settings: SmsSettings,
        password: str | None,
        clock: Clock,
        metrics: Metrics,
        stamp: Callable[[], str],
    ) -> None:
        self.ledger = ledger
        self.ledger_health = ledger_health
        self.settings = settings
        self.password = password
        self.clock = clock
        self.metrics = metrics
        self.stamp = stamp
        self.connected = asyncio.Event()
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """New reminders are committed: look now rather than at the next recheck."""
        self._wakeup.set()

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                async with self._client() as client:
                    self.connected.set()
                    backoff.reset()
                    log.info("sms_gateway_connected", host=self.settings.mqtt_host)
                    while True:
                        self._wakeup.clear()
                        await self._send_waiting(client)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wakeup.wait(), _RECHECK_S)
            except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
                log.warning("sms_gateway_unreachable", error=str(exc), waiting=self._depth())
            finally:
                self.connected.clear()
            await asyncio.sleep(backoff.next_delay())

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            username=self.settings.mqtt_username or None,
            password=self.password,
            # The random tail: a UUIDv7 begins with the time, alike for routers started together.
            identifier=f"docex-router-sms-{uuid7()[-8:]}",
        )

    async def _send_waiting(self, client: aiomqtt.Client) -> None:
        """Number by number, so numbers held back by their allowance never hold up others."""
        for mobile in self.ledger.sms_numbers_waiting():
            now = self.clock.now().timestamp()
            allowed = self.settings.per_number_per_hour
            if self.ledger.sms_sent_since(mobile, now - _HOUR_S) >= allowed:
                continue
            await self._send(client, self.ledger.sms_waiting_for(mobile), now)

    async def _send(self, client: aiomqtt.Client, rows: list[SmsRow], now: float) -> None:
        first = rows[0]
        text = first.text
        if len(rows) > 1:
            text += texts.sms_more(len(rows) - 1)
        text_id = uuid7()
        payload = {
            "id": text_id,
            "unit": first.unit,
            "name": first.name,
            "mobile": first.mobile,
            "text": text,
            "reminders": len(rows),
            "at": self.stamp(),
        }
        await client.publish(
            f"{self.settings.topic_prefix}/{first.unit}",
            json.dumps(payload, ensure_ascii=False).encode(),
            qos=1,
            timeout=_PUBLISH_TIMEOUT_S,
        )
        # The text is out: its reminders leave the ledger under this id, however long that
        # has to wait, rather than go again under another.
        await self.ledger_health.commit(
            "sms",
            functools.partial(
                self.ledger.sms_gone, text_id, first.mobile, now, [row.seq for row in rows]
            ),
        )
        self.metrics.sms_sent.inc()
        self.metrics.sms_reminders.inc(len(rows))
        log.info("sms_sent", unit=first.unit, mobile=masked(first.mobile), reminders=len(rows))

    def _depth(self) -> int:
        return self.ledger.sms_depth()


def masked(mobile: str) -> str:
    """Logs are read by more people than the contact list: the last four digits will do."""
    return "*" * max(len(mobile) - 4, 0) + mobile[-4:]
