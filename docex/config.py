"""The router's TOML configuration, validated whole before anything uses it (DESIGN.md §6).

Relative paths are taken relative to the configuration file, so a config directory can be
moved or checked out anywhere.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Literal

import msgspec

from docex.config_lines import line_of, parse_path
from docex.config_shape import msgspec_problem, shape_problems
from docex.error_text import file_problem, toml_problem
from docex.exchange_date import ExchangeCalendar
from docex.i18n import _
from docex.ids import ID_RULE, is_safe_id
from docex.ledger.location import LedgerLocationError, is_postgresql, sqlite_file

# §27 names CEB; PDF and OFD are the fixed-layout formats an operator may add (docex/formats.py).
BUILTIN_FORMATS = ("ceb", "pdf", "ofd")
# What a delivery carries besides the document's body: its envelope's headers and seal.
DELIVERY_ALLOWANCE = 64 * 1024


class ConfigError(Exception):
    pass


class RouterSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # The other nodes of a RabbitMQ cluster, same user and vhost: when the node in use stays
    # away for 5 s the router moves to the next (docex/broker_link.py).
    amqp_urls: list[str] = []
    # The RabbitMQ node `docex units provision` administers (rabbitmqctl --node), e.g.
    # rabbit@broker1; "" is rabbitmqctl's own default, the node on this machine.
    broker_node: str = ""
    prefix: str = "docex"
    ledger: str = "ledger.sqlite"
    max_document_bytes: int = 50 * 1024 * 1024
    # The broker's own limit on a message (RabbitMQ's max_message_size, 128 MiB by default):
    # the router never publishes more, so a message over it cannot break a channel.
    max_message_bytes: int = 128 * 1024 * 1024
    # §27: CEB, the rulebook's format; "pdf" and "ofd" are additions (docex/formats.py).
    allowed_formats: list[str] = msgspec.field(default_factory=lambda: ["ceb"])
    # Commands the router holds unacked from each unit's intake queue at a time: it takes
    # from every unit in turn, so this bounds what one unit can have in hand at once.
    prefetch: int = 64
    # Commands one unit may have waiting in its intake queue; past this the broker refuses
    # (nacks) that unit's publishes and no one else's. Fixed when the queue is first made.
    intake_limit: int = 10_000
    # What is due to one unit in the same publishing pass (answers, notices and deliveries;
    # the name is older than batched deliveries) goes out as one `batch` message
    # (docex/wire.py), one broker round trip instead of one each. Set false while a unit's own
    # system still reads its queue with a client that does not unpack batches.
    batch_answers: bool = True
    office_unit: str = ""
    # With a PostgreSQL ledger, several routers share the exchange: the units are split into
    # this many parts, taken up evenly by the routers alive (docex/router/cluster.py). The same
    # on every router; change it only with every router stopped.
    partitions: int = 16
    # Prometheus metrics, /healthz and /readyz; port 0 turns the endpoint off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    # The exchange's own seal (kind "exchange"): it seals receipts and print grants. Its
    # password: this file, or under systemd the credential seal-password (LoadCredential=).
    seal_carrier: str
    seal_password_file: str = ""


class ExchangeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    timezone: str = "Asia/Shanghai"
    cutoff: time = time(15, 0)
    # Days that differ from the national calendar (or fill a year it does not know yet).
    holidays: list[date] = []
    workdays: list[date] = []
    # Years whose holidays and make-up workdays are all listed above, for years the
    # chinesecalendar package does not cover yet.
    configured_years: list[int] = []
    # Years with no holiday data (neither the package nor configured_years) in which the
    # operator accepts exchange dates that count weekends only. Without this the router
    # refuses what needs an exchange date in such a year (`calendar_not_covered`).
    allow_uncovered_years: list[int] = []
    # Bounds on one command (docex/limits.py): the units a document or information item goes
    # to (a circular to every unit must fit), and the copies one recipient may print (§31).
    max_recipients: int = 5000
    max_print_quota: int = 1000


class LinkSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Link watch and paper fallback (§46, §47); see docex/core/links.py for the rules."""

    # A unit that has sent a heartbeat is down after this long without hearing from it.
    heartbeat_timeout_s: float = 120.0
    # A unit without heartbeats is down when a document delivered this long ago is still
    # untaken and nothing has been heard from it since.
    queue_timeout_s: float = 4 * 3600.0
    check_interval_s: float = 15.0
    # §47: a fault not cleared within this time switches its documents to paper.
    paper_fallback_hours: float = 24.0
    # Where the printable paper notices (PDF) are written.
    spool_dir: str = "paper"
    # §33: a recipient that has not received a document this many hours after it reached its
    # queue, counting only hours on workdays, is reminded once (a notice, and a text to its
    # registered mobiles); 0 turns the reminders off.
    receive_reminder_hours: float = 24.0


class InformationSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Information exchange (§39–§45); see docex/router/information.py and info_watch.py.

    Work updates (§41) are due on a calendar date: the annual filing (last year's summary,
    this year's plan) on `annual_due_month`/`annual_due_day` (day 0: the last day of that
    month, so February's end is the 28th or, in a leap year, the 29th); the monthly filing
    (last month's results, this month's plan) on `monthly_due_day` of each month. A due date
    on a holiday or weekend stays where it is: filing is electronic and needs no office
    open, and the rule says "before the 10th", not "before the 10th workday".
    """

    annual_due_month: int = 2
    annual_due_day: int = 0
    monthly_due_day: int = 10
    # Units that have not filed are reminded this many days before the due date, and again
    # on the due date itself.
    remind_days_before: int = 3
    check_interval_s: float = 3600.0
    # Named reader scopes a periodical (§45) may be published to: group -> unit ids.
    reader_groups: dict[str, list[str]] = {}


class SealSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    ca_certificate: str
    # The CA-signed revocation list the seal ceremonies write (revocations.crl); "" = none.
    revocation_list: str = ""


class SmsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """SMS reminders (§16) leave through an MQTT broker that an SMS gateway listens on, one
    topic per unit (`<topic_prefix>/<unit>`); see docex/router/sms.py. Read once at start; the
    units' contacts are read as they change."""

    # "" turns SMS reminders off.
    mqtt_host: str = ""
    mqtt_port: int = 1883
    mqtt_username: str = ""
    # Read once at start; a password never sits in this file.
    mqtt_password_file: str = ""
    topic_prefix: str = "docex/sms"
    # Put before every text: gateways send only under the signature registered with them.
    signature: str = "【公文交换】"
    # At most this many texts to one number in any hour; reminders beyond that wait, and go
    # out together in the next text the number may have.
    per_number_per_hour: int = 6


class BoardSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The General Office's web board (`docex board`, docex/board/): it listens on loopback
    behind a TLS proxy that checks client certificates and names the subject it verified."""

    listen: str = "127.0.0.1:8480"
    # Certificate subject DN, as the proxy passes it, -> "office" (sees everything) or the id
    # of the unit whose registrar it is (sees only what that unit sent or received).
    subjects: dict[str, str] = {}


class RetentionSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How long the ledger keeps what (docex/ledger/retention.py): a document's body for
    `body_days` after it was sent (0: for ever), its evidence (the document, its deliveries,
    commands and audit events) for `evidence_years`."""

    body_days: int = 0
    evidence_years: int = 30


class Contact(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A user who registered a mobile number for SMS reminders (§16)."""

    name: str
    mobile: str


class Unit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: str
    name: str
    amqp_user: str
    status: Literal["active", "revoked"] = "active"
    successor: str = ""
    contacts: list[Contact] = []


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    router: RouterSettings
    exchange: ExchangeSettings = msgspec.field(default_factory=ExchangeSettings)
    seals: SealSettings
    links: LinkSettings = msgspec.field(default_factory=LinkSettings)
    information: InformationSettings = msgspec.field(default_factory=InformationSettings)
    sms: SmsSettings = msgspec.field(default_factory=SmsSettings)
    board: BoardSettings = msgspec.field(default_factory=BoardSettings)
    retention: RetentionSettings = msgspec.field(default_factory=RetentionSettings)
    # Magic bytes (hex) of formats beyond CEB, PDF and OFD; or CEB's, whose signature is not
    # public, to check CEB bodies by it rather than by what they are not (docex/formats.py).
    formats: dict[str, str] = {}
    units: list[Unit] = []

    def unit(self, unit_id: str) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    def units_by_id(self) -> dict[str, Unit]:
        """For checking many ids at once, in time linear in their number."""
        return {unit.id: unit for unit in self.units}

    def unit_by_user(self, amqp_user: str) -> Unit | None:
        return next((u for u in self.units if u.amqp_user == amqp_user), None)

    def unreadable_files(self) -> list[str]:
        """The files the router reads as it starts that cannot be read now, each with its
        setting: `docex config check` names them, rather than the router failing to start."""
        files = {
            "router.seal_carrier": self.router.seal_carrier,
            "router.seal_password_file": self.router.seal_password_file,
            "seals.ca_certificate": self.seals.ca_certificate,
            "seals.revocation_list": self.seals.revocation_list,
            "sms.mqtt_password_file": self.sms.mqtt_password_file,
        }
        problems = []
        for setting, path in files.items():
            if not path:
                continue
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                problems.append(f"{setting}: {file_problem(exc, path)}")
        return problems

    def calendar(self) -> ExchangeCalendar:
        return ExchangeCalendar.build(
            self.exchange.timezone,
            self.exchange.cutoff,
            self.exchange.holidays,
            self.exchange.workdays,
            self.exchange.configured_years,
            self.exchange.allow_uncovered_years,
        )

    def calendar_warnings(self, today: date) -> list[str]:
        """Years needed now, or from 1 December the next one, that nobody has holiday data
        for: a month is what the operator has to configure them before the router refuses
        to date documents (the State Council usually publishes in November)."""
        calendar = self.calendar()
        years = [today.year] + ([today.year + 1] if today.month == 12 else [])
        warnings = []
        for year in years:
            if calendar.covers(year):
                continue
            if year in calendar.uncovered_allowed:
                warning = _(
                    "exchange calendar: no holiday data for {year}; exchange dates in {year2}"
                    " count weekends only, as allowed, until its holidays and make-up workdays"
                    ' are listed under [exchange] (README: "A year the calendar does not know")'
                )
            else:
                warning = _(
                    "exchange calendar: no holiday data for {year}; the router refuses to date"
                    " documents in {year2} until its holidays and make-up workdays are listed"
                    ' under [exchange] (README: "A year the calendar does not know")'
                )
            warnings.append(warning.format(year=year, year2=year))
        return warnings


Problem = tuple[tuple[str | int, ...], str]


def _problems(config: Config) -> list[Problem]:
    """Each problem with where it is: the path of the setting it concerns."""
    problems: list[Problem] = []
    seen: set[str] = set()
    users: set[str] = set()
    for index, unit in enumerate(config.units):
        if not is_safe_id(unit.id):
            problems.append(
                (
                    ("units", index, "id"),
                    _("{id!r} is not an id: {rule}").format(id=unit.id, rule=ID_RULE),
                )
            )
        if unit.id in seen:
            problems.append(
                (("units", index, "id"), _("duplicate unit id {id!r}").format(id=unit.id))
            )
        if unit.amqp_user in users:
            problems.append(
                (
                    ("units", index, "amqp_user"),
                    _("{user!r} is given to two units").format(user=unit.amqp_user),
                )
            )
        seen.add(unit.id)
        users.add(unit.amqp_user)
    active = {unit.id for unit in config.units if unit.status == "active"}
    for index, unit in enumerate(config.units):
        where = ("units", index, "successor")
        if not unit.successor:
            continue
        if unit.successor not in seen:
            problems.append((where, _("no unit {unit!r}").format(unit=unit.successor)))
        elif unit.successor not in active:
            problems.append(
                (
                    where,
                    _("{unit!r} is revoked itself; name the unit that survives").format(
                        unit=unit.successor
                    ),
                )
            )
    if config.router.office_unit and config.router.office_unit not in seen:
        problems.append(
            (
                ("router", "office_unit"),
                _("no unit {unit!r}").format(unit=config.router.office_unit),
            )
        )
    for name in config.router.allowed_formats:
        if name not in BUILTIN_FORMATS and name not in config.formats:
            problems.append(
                (
                    ("router", "allowed_formats"),
                    _("{name!r} is neither ceb, pdf, ofd nor in [formats]").format(name=name),
                )
            )
    for name, magic in config.formats.items():
        try:
            if not bytes.fromhex(magic):
                problems.append((("formats", name), _("magic bytes are empty")))
        except ValueError:
            problems.append((("formats", name), _("{magic!r} is not hex").format(magic=magic)))
    if config.router.max_document_bytes < 1:
        problems.append((("router", "max_document_bytes"), _("must be at least 1")))
    elif config.router.max_document_bytes + DELIVERY_ALLOWANCE > config.router.max_message_bytes:
        problems.append(
            (
                ("router", "max_document_bytes"),
                _(
                    "a delivery of a document this large would be over max_message_bytes"
                    " ({limit}), the broker's limit"
                ).format(limit=config.router.max_message_bytes),
            )
        )
    if not 0 <= config.router.metrics_port <= 65535:
        problems.append((("router", "metrics_port"), _("must be between 0 and 65535")))
    if not 1 <= config.router.prefetch <= 65535:
        problems.append((("router", "prefetch"), _("must be between 1 and 65535")))
    if config.router.intake_limit < 1:
        problems.append((("router", "intake_limit"), _("must be at least 1")))
    for name in ("max_recipients", "max_print_quota"):
        if getattr(config.exchange, name) < 1:
            problems.append((("exchange", name), _("must be at least 1")))
    for name in ("heartbeat_timeout_s", "queue_timeout_s", "check_interval_s"):
        if getattr(config.links, name) <= 0:
            problems.append((("links", name), _("must be more than 0 seconds")))
    if config.links.paper_fallback_hours <= 0:
        problems.append((("links", "paper_fallback_hours"), _("must be more than 0 hours")))
    if config.links.receive_reminder_hours < 0:
        problems.append((("links", "receive_reminder_hours"), _("must be 0 (off) or more hours")))
    problems += _information_problems(config, seen)
    problems += _sms_problems(config)
    problems += _board_problems(config, seen)
    try:
        config.calendar()
    except (KeyError, ValueError) as exc:
        problems.append((("exchange", "timezone"), _("unknown time zone {zone}").format(zone=exc)))
    return problems


def _information_problems(config: Config, units: set[str]) -> list[Problem]:
    info = config.information
    problems: list[Problem] = []
    if not 1 <= info.annual_due_month <= 12:
        problems.append((("information", "annual_due_month"), _("must be between 1 and 12")))
    if not 0 <= info.annual_due_day <= 28:
        problems.append((("information", "annual_due_day"), _("must be 0 (month end) to 28")))
    if not 1 <= info.monthly_due_day <= 28:
        problems.append((("information", "monthly_due_day"), _("must be between 1 and 28")))
    if info.remind_days_before < 0:
        problems.append((("information", "remind_days_before"), _("must be 0 or more")))
    if info.check_interval_s <= 0:
        problems.append((("information", "check_interval_s"), _("must be more than 0 seconds")))
    for group, members in info.reader_groups.items():
        for member in members:
            if member not in units:
                problems.append(
                    (
                        ("information", "reader_groups", group),
                        _("no unit {unit!r}").format(unit=member),
                    )
                )
    return problems


# Digits, optionally after a +: 11 for a mainland mobile, more with a country code.
_MOBILE = re.compile(r"\+?[0-9]{5,15}")


def _sms_problems(config: Config) -> list[Problem]:
    sms = config.sms
    problems: list[Problem] = []
    if not 1 <= sms.mqtt_port <= 65535:
        problems.append((("sms", "mqtt_port"), _("must be between 1 and 65535")))
    if config.retention.body_days < 0:
        problems.append((("retention", "body_days"), _("must be 0 (keep) or more")))
    if config.retention.evidence_years < 1:
        problems.append((("retention", "evidence_years"), _("must be at least 1")))
    if sms.per_number_per_hour < 1:
        problems.append((("sms", "per_number_per_hour"), _("must be at least 1")))
    if not sms.topic_prefix or any(c in sms.topic_prefix for c in "#+"):
        problems.append((("sms", "topic_prefix"), _("must be a topic without # or +")))
    for index, unit in enumerate(config.units):
        for number, contact in enumerate(unit.contacts):
            if not _MOBILE.fullmatch(contact.mobile):
                where = ("units", index, "contacts", number, "mobile")
                problems.append(
                    (where, _("{mobile!r} is not a phone number").format(mobile=contact.mobile))
                )
    return problems


def _board_problems(config: Config, units: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    host, _colon, port = config.board.listen.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        problems.append(
            (
                ("board", "listen"),
                _("{listen!r} is not HOST:PORT").format(listen=config.board.listen),
            )
        )
    for subject, viewer in config.board.subjects.items():
        if viewer != "office" and viewer not in units:
            problems.append(
                (
                    ("board", "subjects", subject),
                    _('{viewer!r} is neither "office" nor a unit').format(viewer=viewer),
                )
            )
    return problems


def _describe(text: str, where: tuple[str | int, ...], message: str) -> str:
    if not where:
        return message
    dotted = ".".join(f"[{part}]" if isinstance(part, int) else part for part in where)
    dotted = dotted.replace(".[", "[")
    line = line_of(text, where)
    if line:
        return _("line {line}: {key}: {problem}").format(line=line, key=dotted, problem=message)
    return f"{dotted}: {message}"


def load_config(path: Path) -> Config:
    """Read and validate the file; every problem found is listed in one ConfigError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(file_problem(exc, path)) from exc
    try:
        text = raw.decode()
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_problem(path, exc)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            _("{path}: not UTF-8 text (byte {at}); save it as UTF-8").format(
                path=path, at=exc.start
            )
        ) from exc
    # Every unknown key and wrong type at once; what remains is still checked for meaning.
    shape, data = shape_problems(data, Config)
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        message, _at, at = str(exc).partition(" - at `")
        shape = shape or [(parse_path(at.rstrip("`")) if at else (), msgspec_problem(message))]
        described = [_describe(text, where, message) for where, message in shape]
        raise ConfigError(f"{path}:\n  " + "\n  ".join(described)) from exc
    base = path.parent.resolve()
    try:
        if not is_postgresql(config.router.ledger):
            config.router.ledger = str(sqlite_file(config.router.ledger, base))
    except LedgerLocationError as exc:
        raise ConfigError(f"{path}: {_describe(text, ('router', 'ledger'), str(exc))}") from exc
    config.router.seal_carrier = str(base / config.router.seal_carrier)
    if config.router.seal_password_file:
        config.router.seal_password_file = str(base / config.router.seal_password_file)
    config.seals.ca_certificate = str(base / config.seals.ca_certificate)
    if config.seals.revocation_list:
        config.seals.revocation_list = str(base / config.seals.revocation_list)
    config.links.spool_dir = str(base / config.links.spool_dir)
    if config.sms.mqtt_password_file:
        config.sms.mqtt_password_file = str(base / config.sms.mqtt_password_file)
    problems = shape + _problems(config)
    if problems:
        described = [_describe(text, where, message) for where, message in problems]
        raise ConfigError(f"{path}:\n  " + "\n  ".join(described))
    return config
