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
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from docex.cli.options import add_config_option
from docex.cli.rejections import state_word
from docex.cli.table import table_lines
from docex.config import Config
from docex.core.links import BROKER_UNREACHABLE, HEARTBEAT_LOST, QUEUE_UNTAKEN
from docex.error_text import connection_reason
from docex.i18n import N_, _
from docex.ledger.port import LedgerReads
from docex.ledger.queries import OpenFault, UnitLink, exchange_status
from docex.ledger.reader import with_ledger
from docex.ledger.records import EXCHANGE, RouterRecord

_PROBE_TIMEOUT_S = 3.0
_CONFIG_OK = re.compile(r"config: (?P<kind>\w+) at (?P<at>\S+), sha256 (?P<digest>\S+), ok")
_CONFIG_FAILED = re.compile(
    r"config: (?P<kind>\w+) at (?P<at>\S+) FAILED, sha256 (?P<digest>\S+): (?P<errors>.*);"
    r" running on the config read before"
)
_LOADS = {"loaded": N_("loaded"), "reloaded": N_("reloaded")}
# A link fault's kind (§46), as the operator reads it.
_FAULT_KINDS = {
    HEARTBEAT_LOST: N_("heartbeat_lost"),
    QUEUE_UNTAKEN: N_("queue_untaken"),
    BROKER_UNREACHABLE: N_("broker_unreachable"),
}


def add_status_command(router_commands: argparse._SubParsersAction) -> None:
    status = router_commands.add_parser(
        "status",
        help=_("is the router ready; open faults, unit links, what waits (exit 1 if unwell)"),
    )
    add_config_option(status, _("the router's config"))
    status.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    return with_ledger(args.config, _report)


def _report(config: Config, ledger: LedgerReads) -> int:
    ready, readiness, about = _readiness(config)
    print(_("router:  {readiness}").format(readiness=readiness))
    for line in about:
        print(_config_line(line))
    now = datetime.now(UTC)
    for warning in config.calendar_warnings(now.astimezone(config.calendar().timezone).date()):
        print(_("calendar: WARNING {warning}").format(warning=warning))
    status = exchange_status(ledger, config, now)
    for router in ledger.routers():
        print(f"  {_router(router, config.router.partitions)}")
    if status.faults:
        print(_("faults:  {count} open").format(count=len(status.faults)))
    else:
        print(_("faults:  none open"))
    for fault in status.faults:
        print(f"  {_fault(fault)}")
    print(
        _("waiting: {publish} to publish, {sms} SMS reminders").format(
            publish=status.to_publish, sms=status.sms_waiting
        )
    )
    if status.set_aside:
        print(
            _(
                "set aside: {count} messages the broker can never take (ledger table"
                " outbox_dead; the General Office was told of each; see the router's log)"
            ).format(count=status.set_aside)
        )
    states = _(", ").join(
        f"{state_word(state)} {count}" for state, count in status.deliveries_by_state
    )
    print(_("deliveries: {states}").format(states=states or _("none yet")))
    rows = [(_("UNIT"), _("LINK"), _("LAST HEARD"), _("UNTAKEN"), _("OLDEST UNTAKEN"))]
    rows += [_unit_row(link) for link in status.units]
    for line in table_lines(rows, indent="  "):
        print(line)
    return 0 if ready and not status.faults else 1


def _router(router: RouterRecord, partitions: int) -> str:
    """One of several routers sharing a PostgreSQL ledger, as it last reported itself."""
    role = _("leader") if router.leader else _("member")
    if router.seen_ago_s > 10:
        role = _("gone? ({role} when last seen)").format(role=role)
    broker = _("broker connected") if router.broker_connected else _("BROKER NOT CONNECTED")
    return _(
        "{id}: {role}, {count} of {partitions} partitions {list}, {broker}, seen {seen} s ago,"
        " clock {skew} ms off the database's"
    ).format(
        id=router.id,
        role=role,
        count=len(router.partitions),
        partitions=partitions,
        list=router.partitions,
        broker=broker,
        seen=f"{router.seen_ago_s:.0f}",
        skew=f"{router.clock_skew_ms:+d}",
    )


def _readiness(config: Config) -> tuple[bool, str, list[str]]:
    """Asked of the running router itself; the ledger cannot say whether it runs. The lines
    of /readyz's body that start `config:` tell how its last config reload went."""
    if not config.router.metrics_port:
        return (
            False,
            _("unknown: [router] metrics_port is 0, so it has no /readyz to ask"),
            [],
        )
    host = config.router.metrics_host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{config.router.metrics_port}"
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=_PROBE_TIMEOUT_S) as answer:
            _ready, about = _split(answer.read())
            return True, _("ready ({url})").format(url=url), about
    except urllib.error.HTTPError as error:
        problems, about = _split(error.read())
        return (
            False,
            _("NOT READY: {problems} ({url})").format(problems="; ".join(problems), url=url),
            about,
        )
    except OSError as error:
        cause = getattr(error, "reason", error)
        reason = connection_reason(cause) if isinstance(cause, BaseException) else cause
        return (
            False,
            _("NOT RUNNING, or not answering at {url}: {reason}").format(url=url, reason=reason),
            [],
        )


def _config_line(line: str) -> str:
    """The router's "config: reloaded at …, sha256 …, ok" (docex/router/reload.py): did the
    last `systemctl reload` take? Written again in the reader's language; a line of another
    shape (a newer router's) is shown as it came."""
    found = _CONFIG_OK.fullmatch(line)
    if found:
        return _("config:  {kind} at {at}, sha256 {digest}, ok").format(
            kind=_(_LOADS.get(found["kind"], found["kind"])), at=found["at"], digest=found["digest"]
        )
    found = _CONFIG_FAILED.fullmatch(line)
    if found:
        return _(
            "config:  {kind} at {at} FAILED, sha256 {digest}: {errors}; running on the config"
            " read before"
        ).format(
            kind=_(_LOADS.get(found["kind"], found["kind"])),
            at=found["at"],
            digest=found["digest"],
            errors=found["errors"],
        )
    return line.replace("config: ", "config:  ", 1)


def _split(body: bytes) -> tuple[list[str], list[str]]:
    lines = [line for line in body.decode(errors="replace").splitlines() if line.strip()]
    about = [line for line in lines if line.startswith("config: ")]
    return [line for line in lines if line not in about], about


def _unit_row(link: UnitLink) -> tuple[str, str, str, str, str]:
    heard = _("never")
    if link.heard_ago is not None:
        heard = _("{time} ago").format(time=_duration(link.heard_ago))
        heard += _(" (heartbeats)") if link.heartbeats else ""
    oldest = link.oldest_untaken_ago
    return (
        link.unit,
        _("DOWN") if link.down else _("up"),
        heard,
        str(link.untaken),
        _("{time} ago").format(time=_duration(oldest)) if oldest is not None else "-",
    )


def _fault(fault: OpenFault) -> str:
    scope = _("the exchange itself") if fault.scope == EXCHANGE else fault.scope
    kind = _(_FAULT_KINDS[fault.kind]) if fault.kind in _FAULT_KINDS else fault.kind
    line = _("{scope}: {kind} for {time}").format(
        scope=scope, kind=kind, time=_duration(fault.open_for)
    )
    if fault.paper_issued_at:
        return line + _("; on paper since {at} (docex notices list)").format(
            at=fault.paper_issued_at
        )
    return line + _("; documents go on paper in {time} (§47)").format(
        time=_duration(fault.paper_in)
    )


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
