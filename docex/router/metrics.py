"""What the router tells Prometheus (DESIGN.md §9).

Counters and histograms are updated as things happen; the gauges that describe the ledger
(deliveries by state, receipts pending per unit, outbox depth) are read from it at scrape
time, so they are exact after a restart and cannot drift from the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from docex.ledger.port import LedgerReads

# Seconds: from the broker's confirm of a delivery, and from delivery to receipt, which is
# people's time (minutes to days: §38's resend requests and the 24-hour rules).
_DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_RECEIPT_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 48 * 3600, 7 * 86400)
# Where a document's time goes inside the router: milliseconds normally, minutes while the
# ledger is locked or the broker refuses.
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _LedgerCollector(Collector):
    def __init__(self, ledger: LedgerReads, exports: Callable[[], bool]) -> None:
        self.ledger = ledger
        self.exports = exports

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Of several routers on one ledger only the leader exports what the ledger holds, so
        # dashboards summing over routers do not multiply it.
        if not self.exports():
            return
        states = GaugeMetricFamily(
            "docex_deliveries", "Deliveries (document x recipient) by state", labels=["state"]
        )
        for state, count in self.ledger.deliveries_by_state():
            states.add_metric([state], count)
        yield states
        pending = GaugeMetricFamily(
            "docex_pending_receipts", "Deliveries not yet received, per recipient", labels=["unit"]
        )
        for unit, count in self.ledger.pending_receipts():
            pending.add_metric([unit], count)
        yield pending
        yield GaugeMetricFamily(
            "docex_outbox_depth",
            "Messages committed but not yet confirmed by the broker",
            value=self.ledger.outbox_depth(),
        )
        yield GaugeMetricFamily(
            "docex_sms_waiting",
            "SMS reminders waiting for the gateway or for their number's hourly allowance",
            value=self.ledger.sms_depth(),
        )


class Metrics:
    def __init__(self, ledger: LedgerReads, leader: Callable[[], bool] = lambda: True) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "docex_documents_accepted", "Documents accepted for exchange", registry=self.registry
        )
        self.rejected = Counter(
            "docex_commands_rejected",
            "Commands refused, by reason code",
            ["reason"],
            registry=self.registry,
        )
        self.send_to_deliver = Histogram(
            "docex_send_to_deliver_seconds",
            "From acceptance to the broker's confirm of delivery",
            buckets=_DELIVERY_BUCKETS,
            registry=self.registry,
        )

        # The three parts of send_to_deliver an operator can act on: the router's own backlog,
        # the ledger's disk, the broker.
        def stage(name: str, documentation: str) -> Histogram:
            return Histogram(name, documentation, buckets=_STAGE_BUCKETS, registry=self.registry)

        self.intake_wait = stage(
            "docex_intake_wait_seconds",
            "From a command's arrival at the router to the start of its batch's transaction",
        )
        self.intake_commit = stage(
            "docex_intake_commit_seconds",
            "A batch of commands: its transaction, and the fsync that makes it durable",
        )
        self.publish_confirm = stage(
            "docex_publish_confirm_seconds",
            "From publishing a message (alone or a batch) to the broker's confirm",
        )
        self.deliver_to_receipt = Histogram(
            "docex_deliver_to_receipt_seconds",
            "From delivery to the first print, download or read",
            buckets=_RECEIPT_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "docex_config_reload",
            "Configuration reloads (SIGHUP), by result",
            ["result"],
            registry=self.registry,
        )
        self.revocations = Counter(
            "docex_unit_revocations",
            "Broker users of units that left the exchange (§9) whose permissions were taken"
            " away on reload, by result (failure: run `docex units provision`)",
            ["result"],
            registry=self.registry,
        )
        self.reload_success = Gauge(
            "docex_config_reload_success",
            "1 if the last reading of the config (at start or on SIGHUP) was applied, 0 if"
            " it was refused and the router runs on the config read before",
            registry=self.registry,
        )
        self.reload_timestamp = Gauge(
            "docex_config_reload_timestamp_seconds",
            "When the config was last read (at start or on SIGHUP), applied or not",
            registry=self.registry,
        )
        self.pruned_bodies = Counter(
            "docex_pruned_bodies",
            "Document bodies emptied by retention ([retention] body_days)",
            registry=self.registry,
        )
        self.pruned_evidence = Counter(
            "docex_pruned_evidence_rows",
            "Rows deleted by retention ([retention] evidence_years), per table",
            ["table"],
            registry=self.registry,
        )
        self.audit_chained = Counter(
            "docex_audit_events_chained",
            "Audit events appended to the audit chain by this router's chainer",
            registry=self.registry,
        )
        self.audit_checkpoints = Counter(
            "docex_audit_checkpoints",
            "Audit chain heads signed with the exchange seal",
            registry=self.registry,
        )
        self.answers_batched = Counter(
            "docex_answers_batched",
            "Answers and notices published inside a batch with others due to the same unit",
            registry=self.registry,
        )
        self.deliveries_batched = Counter(
            "docex_deliveries_batched",
            "Deliveries published inside a batch with others due to the same unit",
            registry=self.registry,
        )
        self.publish_channel_reopened = Counter(
            "docex_publish_channel_reopened",
            "The outbox's channel replaced after a nack (a full queue, or a quorum queue that"
            " was electing a leader: RabbitMQ 3.10 may nack such a channel for good)",
            registry=self.registry,
        )
        self.broker_up = Gauge(
            "docex_broker_up",
            "1 while the router's broker connection is open",
            registry=self.registry,
        )
        # Link watch (§46, §47): set at each check of docex/router/linkwatch.py.
        self.link_up = Gauge(
            "docex_link_up",
            "1 while a unit's link is up, 0 while it has an open fault",
            ["unit"],
            registry=self.registry,
        )
        self.fault_age = Gauge(
            "docex_fault_age_seconds",
            "Age of each open fault, by scope (a unit id, or * for the exchange itself);"
            " paper notices follow at paper_fallback_hours",
            ["scope"],
            registry=self.registry,
        )
        self.paper_notices = Counter(
            "docex_paper_notices", "Paper notices written (§47)", registry=self.registry
        )
        self.paper_notice_failures = Counter(
            "docex_paper_notice_failures",
            "Paper notices that could not be written; each is retried at the next check",
            registry=self.registry,
        )
        self.receive_reminders = Counter(
            "docex_receive_reminders",
            "Reminders to recipients that had not received a document in time (§33), one per"
            " delivery",
            registry=self.registry,
        )
        # Information exchange (§41, §42): information.py and info_watch.py beside this file.
        self.info_items = Counter(
            "docex_info_items",
            "Information items accepted, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.requests_overdue = Counter(
            "docex_requests_overdue",
            "Requests (§42) whose deadline passed with neither a reply nor an explained delay",
            registry=self.registry,
        )
        self.work_updates_late = Counter(
            "docex_work_updates_late",
            "Work updates (§41) not filed by their due date, counted once per unit and period",
            registry=self.registry,
        )
        self.info_reminders = Counter(
            "docex_info_reminders", "Work-update reminders sent (§41)", registry=self.registry
        )
        # SMS reminders (§16): docex/router/sms.py and docex/router/sms_sender.py.
        self.sms_sent = Counter(
            "docex_sms_sent", "Texts handed to the SMS gateway's broker", registry=self.registry
        )
        self.sms_reminders = Counter(
            "docex_sms_reminders",
            "Reminders those texts carried (more than texts when a number's allowance ran out)",
            registry=self.registry,
        )
        self.outbox_set_aside = Counter(
            "docex_outbox_set_aside",
            "Outbox messages the broker can never take, set aside so they hold up no one,"
            " by reason",
            ["reason"],
            registry=self.registry,
        )
        # Supervision and the ledger's health: supervision.py and ledger_health.py beside this file.
        self.task_failures = Counter(
            "docex_task_failures",
            "Background tasks that failed and were started again, by task",
            ["task"],
            registry=self.registry,
        )
        self.ledger_retries = Counter(
            "docex_ledger_write_retries",
            "Ledger commits that did not get through and were tried again, by writer and"
            " reason (locked, disk_full, error)",
            ["writer", "reason"],
            registry=self.registry,
        )
        Info("docex_build", "The running docex", registry=self.registry).info(
            {"version": version("docex")}
        )
        self.registry.register(_LedgerCollector(ledger, leader))
        self.leader = Gauge(
            "docex_leader",
            "1 on the router that runs the exchange-wide jobs and exports the ledger's gauges",
            registry=self.registry,
        )
        self.leader.set_function(lambda: 1 if leader() else 0)

    def watch_calendar(self, covered_until: Callable[[], int], warnings: Callable[[], int]) -> None:
        """Read at scrape time, so they follow the clock and a reloaded [exchange]."""
        Gauge(
            "docex_calendar_covered_until_year",
            "Last year of the unbroken run from this year that has holiday data (the"
            " chinesecalendar package or [exchange] configured_years); this year - 1 if none",
            registry=self.registry,
        ).set_function(covered_until)
        Gauge(
            "docex_calendar_warnings",
            "Years without holiday data that are needed now or, from 1 December, next year;"
            " documents in such a year are refused unless allow_uncovered_years lists it",
            registry=self.registry,
        ).set_function(warnings)

    def watch_ledger_log(self, log_bytes: Callable[[], int]) -> None:
        """A SQLite ledger's write-ahead log (docex/ledger/checkpoint.py), read at scrape time."""
        Gauge(
            "docex_ledger_log_bytes",
            "What the SQLite ledger's write-ahead log holds; started over from 256 MiB, it grows"
            " past that only while another process keeps a transaction open on the ledger",
            registry=self.registry,
        ).set_function(log_bytes)

    def watch_sms_gateway(self, connected: Callable[[], bool]) -> None:
        """Only a router with SMS configured has this gauge, so that the alert on it never
        fires where no gateway is meant to be."""
        gauge = Gauge(
            "docex_sms_gateway_up",
            "1 while the router is connected to the SMS gateway's MQTT broker",
            registry=self.registry,
        )
        gauge.set_function(lambda: 1 if connected() else 0)
