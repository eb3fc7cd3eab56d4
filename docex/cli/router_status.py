"""`docex router status --config FILE`: what an operator called at night looks at first.

Whether the router answers and is ready (its /readyz), a warning when this or (from 1 December)
next year has no holiday data (§30, §33), the open faults and how long until their documents go
on paper (§47), each unit's link (§46), what waits to be published or texted, and the
deliveries by state. It reads the ledger read-only, beside the running router. Exit status 0
when the router is ready and no fault is open, 1 otherwise: usable from a monitoring script;
a calendar warning does not change it.
"""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from docex.config import Config
from docex.ledger.port import LedgerReads
from docex.ledger.queries import OpenFault, UnitLink, exchange_status
from docex.ledger.reader import with_ledger
from docex.ledger.records import EXCHANGE, RouterRecord

_PROBE_TIMEOUT_S = 3.0


def add_status_command(router_commands: argparse._SubParsersAction) -> None:
    status = router_commands.add_parser(
        "status",
        help="is the router ready; open faults, unit links, what waits (exit 1 if unwell)",
    )
    status.add_argument("--config", type=Path, required=True)
    status.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    return with_ledger(args.config, _report)


def _report(config: Config, ledger: LedgerReads) -> int:
    ready, readiness, about = _readiness(config)
    print(f"router:  {readiness}")
    for line in about:
        # "config: reloaded at …, sha256 …, ok": did the last `systemctl reload` take?
        print(line.replace("config: ", "config:  ", 1))
    now = datetime.now(UTC)
    for warning in config.calendar_warnings(now.astimezone(config.calendar().timezone).date()):
        print(f"calendar: WARNING {warning}")
    status = exchange_status(ledger, config, now)
    for router in ledger.routers():
        print(f"  {_router(router, config.router.partitions)}")
    print(f"faults:  {len(status.faults) or 'none'} open")
    for fault in status.faults:
        print(f"  {_fault(fault)}")
    print(f"waiting: {status.to_publish} to publish, {status.sms_waiting} SMS reminders")
    if status.set_aside:
        print(
            f"set aside: {status.set_aside} messages the broker can never take (ledger table"
            " outbox_dead; the General Office was told of each; see the router's log)"
        )
    states = ", ".join(f"{state} {count}" for state, count in status.deliveries_by_state)
    print(f"deliveries: {states or 'none yet'}")
    rows = [("UNIT", "LINK", "LAST HEARD", "UNTAKEN", "OLDEST UNTAKEN")]
    rows += [_unit_row(link) for link in status.units]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0 if ready and not status.faults else 1


def _router(router: RouterRecord, partitions: int) -> str:
    """One of several routers sharing a PostgreSQL ledger, as it last reported itself."""
    role = "leader" if router.leader else "member"
    if router.seen_ago_s > 10:
        role = f"gone? ({role} when last seen)"
    broker = "broker connected" if router.broker_connected else "BROKER NOT CONNECTED"
    return (
        f"{router.id}: {role}, {len(router.partitions)} of {partitions} partitions"
        f" {router.partitions}, {broker}, seen {router.seen_ago_s:.0f} s ago,"
        f" clock {router.clock_skew_ms:+d} ms off the database's"
    )


def _readiness(config: Config) -> tuple[bool, str, list[str]]:
    """Asked of the running router itself; the ledger cannot say whether it runs. The lines
    of /readyz's body that start `config:` tell how its last config reload went."""
    if not config.router.metrics_port:
        return False, "unknown: [router] metrics_port is 0, so it has no /readyz to ask", []
    host = config.router.metrics_host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{config.router.metrics_port}"
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=_PROBE_TIMEOUT_S) as answer:
            _, about = _split(answer.read())
            return True, f"ready ({url})", about
    except urllib.error.HTTPError as error:
        problems, about = _split(error.read())
        return False, f"NOT READY: {'; '.join(problems)} ({url})", about
    except OSError as error:
        reason = getattr(error, "reason", error)
        return False, f"NOT RUNNING, or not answering at {url}: {reason}", []


def _split(body: bytes) -> tuple[list[str], list[str]]:
    lines = [line for line in body.decode(errors="replace").splitlines() if line.strip()]
    about = [line for line in lines if line.startswith("config: ")]
    return [line for line in lines if line not in about], about


def _unit_row(link: UnitLink) -> tuple[str, str, str, str, str]:
    heard = "never"
    if link.heard_ago is not None:
        heard = f"{_duration(link.heard_ago)} ago" + (" (heartbeats)" if link.heartbeats else "")
    oldest = link.oldest_untaken_ago
    return (
        link.unit,
        "DOWN" if link.down else "up",
        heard,
        str(link.untaken),
        f"{_duration(oldest)} ago" if oldest is not None else "-",
    )


def _fault(fault: OpenFault) -> str:
    scope = "the exchange itself" if fault.scope == EXCHANGE else fault.scope
    line = f"{scope}: {fault.kind} for {_duration(fault.open_for)}"
    if fault.paper_issued_at:
        return line + f"; on paper since {fault.paper_issued_at} (docex notices list)"
    return line + f"; documents go on paper in {_duration(fault.paper_in)} (§47)"


def _duration(span: timedelta) -> str:
    seconds = max(int(span.total_seconds()), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s"
