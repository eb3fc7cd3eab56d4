"""`docex seal …`: the General Office's commands for the exchange CA and the seal ceremonies.

Secrets never go on the command line (shell history, `ps`): shares come from files or are
typed at a prompt, carrier passwords from a file, an environment variable or a prompt.
Names are validated at parse time, so a bad value is a usage message, not a traceback from
deep inside certificate building. Every refusal is one line, `error: <code>: <message>`,
exit status 2.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from docex.cli import rejections
from docex.cli.seal_presence import add_presence_arguments, assignment, collect_presence
from docex.i18n import N_, _
from docex.seals import ceremony
from docex.seals.carrier import PASSWORD_ENV
from docex.seals.ceremony import CHANGE_REASONS
from docex.seals.certificate import serial_hex
from docex.seals.custody import DEFAULT_CUSTODY, Custodian, Custody, share_path
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.revocation import REVOCATION_LIST_FILE, Reason
from docex.seals.seal import Seal

MAX_COMMON_NAME_BYTES = 64  # X.509 upper bound, counted in UTF-8 bytes: ~21 Chinese characters

_CEREMONY_EPILOG = N_(
    "§21: held on the unit's written application (--application), signed by its head "
    "(--unit-head) and approved by a General Office leader (--approved-by). "
    "§23: the custodians custody.toml marks required must bring their shares, and a person of "
    "the unit whose seal it is must attend (--attendee UNIT=NAME). Each ceremony is appended "
    "to the CA-signed log ceremonies.jsonl, with its approval."
)


def add_seal_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register under the main CLI's subcommands, so `seal` sits beside `router`, `units`…"""
    seal = subparsers.add_parser("seal", help=_("exchange CA and seal ceremonies"))
    commands = seal.add_subparsers(dest="seal_command", required=True, metavar="COMMAND")
    _add_ca_init(commands)
    _add_ca_reshare(commands)
    _add_make(commands)
    _add_change(commands)
    _add_destroy(commands)

    listing = commands.add_parser("list", help=_("every seal ever issued, with its status"))
    listing.add_argument("--ca-dir", type=Path, required=True, help=_("directory made by ca-init"))
    listing.set_defaults(func=_handler(_list))

    log = commands.add_parser("log", help=_("the ceremony log"))
    log_commands = log.add_subparsers(dest="log_command", required=True, metavar="COMMAND")
    verify = log_commands.add_parser(
        "verify", help=_("check the log's signatures and chain; name the first bad record")
    )
    verify.add_argument("--ca-dir", type=Path, required=True, help=_("directory made by ca-init"))
    verify.set_defaults(func=_handler(_log_verify))
    show = log_commands.add_parser(
        "show", help=_("every ceremony, verified first: who attended, on whose approval (§21)")
    )
    show.add_argument("--ca-dir", type=Path, required=True, help=_("directory made by ca-init"))
    show.set_defaults(func=_handler(_log_show))


def _add_ca_init(commands: argparse._SubParsersAction) -> None:
    default_roles = ", ".join(f"{c.role}={c.title}" for c in DEFAULT_CUSTODY.custodians)
    ca_init = commands.add_parser(
        "ca-init",
        help=_("create the exchange CA and split its key among custodians"),
        description=_(
            "Create the CA certificate (ca.crt), split the CA key into SLIP-39 shares,"
            " one file per custodian in --shares-dir (mode 0600; hand each to its custodian and"
            " delete it there), and write custody.toml, the empty revocation list"
            " (revocations.crl), the register (issued.jsonl) and the ceremony log"
            " (ceremonies.jsonl). Without --custodian: {roles} (§23), both required."
        ).format(roles=default_roles),
    )
    ca_init.add_argument("--dir", type=Path, required=True, help=_("new, empty CA directory"))
    ca_init.add_argument("--name", type=_common_name, required=True, help=_("CA display name"))
    ca_init.add_argument(
        "--shares-dir", type=Path, required=True, help=_("where the share files go (not --dir)")
    )
    _add_custodian_arguments(ca_init)
    ca_init.set_defaults(func=_handler(_ca_init))


def _add_ca_reshare(commands: argparse._SubParsersAction) -> None:
    reshare = commands.add_parser(
        "ca-reshare",
        help=_("ceremony: split the CA key anew (a custodian changed, a share was lost or seen)"),
        description=_(
            "The custodians present open the CA with their shares, as at any"
            " ceremony; the key is split again into new share files in --shares-dir and"
            " custody.toml is replaced. Every later ceremony refuses the old shares: have them"
            " destroyed (they would still rebuild the key in other SLIP-39 tools). The CA key"
            " and every seal stay as they are. Without --custodian the custodians stay the same."
        ),
        epilog=_(_CEREMONY_EPILOG),
    )
    reshare.add_argument("--ca-dir", type=Path, required=True, help=_("directory made by ca-init"))
    reshare.add_argument(
        "--shares-dir",
        type=Path,
        required=True,
        help=_("where the new share files go (not --ca-dir)"),
    )
    _add_custodian_arguments(reshare)
    add_presence_arguments(reshare)
    reshare.set_defaults(func=_handler(_ca_reshare))


def _add_custodian_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--custodian",
        type=assignment,
        action="append",
        default=[],
        metavar="ROLE=TITLE",
        help=_("a custodian who holds a share and must attend every ceremony (repeat)"),
    )
    parser.add_argument(
        "--backup-custodian",
        type=assignment,
        action="append",
        default=[],
        metavar="ROLE=TITLE",
        help=_(
            "a custodian who holds a share counting toward the threshold,"
            " but need not attend (repeat)"
        ),
    )
    parser.add_argument(
        "--threshold",
        type=int,
        help=_("shares needed to rebuild the key (default: the number of --custodian roles)"),
    )


def _add_make(commands: argparse._SubParsersAction) -> None:
    make = commands.add_parser(
        "make",
        help=_("ceremony: issue a unit a new seal into a carrier"),
        epilog=_(_CEREMONY_EPILOG),
    )
    make.add_argument("--ca-dir", type=Path, required=True, help=_("directory made by ca-init"))
    make.add_argument("--unit", type=_unit_id, required=True, help=_("unit id"))
    make.add_argument("--unit-name", type=_common_name, required=True, help=_("unit display name"))
    make.add_argument(
        "--kind",
        type=SealKind,
        choices=list(SealKind),
        required=True,
        help=_("exchange: the exchange's own seal, for unit id 'exchange' only"),
    )
    _add_carrier_arguments(make)
    _add_approval_arguments(make)
    add_presence_arguments(make)
    make.set_defaults(func=_handler(_make))


def _add_change(commands: argparse._SubParsersAction) -> None:
    change = commands.add_parser(
        "change",
        help=_("ceremony: replace a seal (new carrier) and revoke the old one"),
        epilog=_(_CEREMONY_EPILOG),
    )
    change.add_argument("--ca-dir", type=Path, required=True, help=_("directory made by ca-init"))
    change.add_argument("--serial", required=True, help=_("serial of the seal to replace"))
    change.add_argument("--reason", type=Reason, choices=CHANGE_REASONS, required=True)
    change.add_argument(
        "--unit-name", type=_common_name, help=_("the unit's new name (required when renamed)")
    )
    _add_carrier_arguments(change)
    _add_approval_arguments(change)
    add_presence_arguments(change)
    change.set_defaults(func=_handler(_change))


def _add_destroy(commands: argparse._SubParsersAction) -> None:
    destroy = commands.add_parser(
        "destroy", help=_("ceremony: revoke a seal from now on"), epilog=_(_CEREMONY_EPILOG)
    )
    destroy.add_argument("--ca-dir", type=Path, required=True, help=_("directory made by ca-init"))
    destroy.add_argument("--serial", required=True, help=_("serial of the seal to revoke"))
    destroy.add_argument("--reason", type=Reason, choices=list(Reason), required=True)
    _add_approval_arguments(destroy)
    add_presence_arguments(destroy)
    destroy.set_defaults(func=_handler(_destroy))


def _add_approval_arguments(parser: argparse.ArgumentParser) -> None:
    """§21: no ceremony without the unit's signed application and the office's approval."""
    parser.add_argument(
        "--application", required=True, help=_("the reference of the unit's written application")
    )
    parser.add_argument(
        "--unit-head", required=True, help=_("the head of the unit who signed the application")
    )
    parser.add_argument(
        "--approved-by", required=True, help=_("the General Office leader who approved it")
    )


def _approval(args: argparse.Namespace) -> ceremony.Approval:
    return ceremony.Approval(args.application, args.unit_head, args.approved_by)


def _add_carrier_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help=_("new carrier file to write"))
    parser.add_argument(
        "--carrier-password-file",
        type=Path,
        help=_(
            "carrier password (else ${env}, else prompt); §24: give the carrier and its"
            " password to different people"
        ).format(env=PASSWORD_ENV),
    )
    parser.add_argument(
        "--image", type=Path, help=_("the seal's registered image (PNG, at most 64 KiB)")
    )


def _ca_init(args: argparse.Namespace) -> None:
    custody = ceremony.establish(
        args.dir, args.name, args.shares_dir, _custody(args, DEFAULT_CUSTODY), now=datetime.now(UTC)
    )
    print(_("CA {name} created in {dir}").format(name=args.name, dir=args.dir))
    _print_shares(custody, args.shares_dir)


def _ca_reshare(args: argparse.Namespace) -> None:
    current = ceremony.custody_of(args.ca_dir)
    presence = collect_presence(args, current, None)
    custody = ceremony.reshare(
        args.ca_dir, presence, _custody(args, current), args.shares_dir, now=datetime.now(UTC)
    )
    print(
        _("the CA key of {dir} is split anew; the old shares are refused from now on").format(
            dir=args.ca_dir
        )
    )
    _print_shares(custody, args.shares_dir)
    print(_("destroy the old share files and any paper copies of their words"))


def _custody(args: argparse.Namespace, default: Custody) -> Custody:
    """The policy the --custodian flags describe; without any, `default`'s custodians."""
    custodians = [Custodian(role=r, title=t) for r, t in args.custodian]
    custodians += [Custodian(role=r, title=t, required=False) for r, t in args.backup_custodian]
    if not args.custodian:
        kept = [msgspec.structs.replace(c, share=0) for c in default.custodians]
        custodians = [*kept, *custodians]
    if args.threshold:
        threshold = args.threshold
    elif args.custodian or args.backup_custodian:
        threshold = sum(c.required for c in custodians)
    else:
        threshold = default.threshold
    return Custody(threshold=threshold, custodians=tuple(custodians))


def _print_shares(custody: Custody, shares_dir: Path) -> None:
    print(
        _("any {threshold} of these shares rebuild its key; give each to its custodian:").format(
            threshold=custody.threshold
        )
    )
    for c in custody.custodians:
        required = _("must attend ceremonies") if c.required else _("backup")
        print(f"  {share_path(shares_dir, c.role)}  {c.title} ({required})")


def _make(args: argparse.Namespace) -> None:
    presence = collect_presence(args, ceremony.custody_of(args.ca_dir), args.unit)
    seal = ceremony.make(
        args.ca_dir,
        presence,
        args.unit,
        args.unit_name,
        args.kind,
        args.out,
        _carrier_password(args),
        now=datetime.now(UTC),
        approval=_approval(args),
        image=_image(args.image),
    )
    _print_seal(seal, args.out)


def _change(args: argparse.Namespace) -> None:
    owner = ceremony.seal_owner(args.ca_dir, args.serial)
    presence = collect_presence(args, ceremony.custody_of(args.ca_dir), owner)
    seal, revocation = ceremony.change(
        args.ca_dir,
        presence,
        args.serial,
        args.reason,
        args.out,
        _carrier_password(args),
        now=datetime.now(UTC),
        approval=_approval(args),
        unit_name=args.unit_name,
        image=_image(args.image),
    )
    print(
        _("seal {serial} {revocation}").format(serial=args.serial, revocation=revocation.describe())
    )
    _print_seal(seal, args.out)


def _destroy(args: argparse.Namespace) -> None:
    owner = ceremony.seal_owner(args.ca_dir, args.serial)
    presence = collect_presence(args, ceremony.custody_of(args.ca_dir), owner)
    revocation = ceremony.destroy(
        args.ca_dir,
        presence,
        args.serial,
        args.reason,
        now=datetime.now(UTC),
        approval=_approval(args),
    )
    print(
        _("seal {serial} of unit {unit} {revocation}").format(
            serial=args.serial, unit=owner, revocation=revocation.describe()
        )
    )
    print(
        _("revocation list: {path}; reload the router to apply it").format(
            path=args.ca_dir / REVOCATION_LIST_FILE
        )
    )


def _list(args: argparse.Namespace) -> None:
    rows = [
        (
            seal.unit_id,
            seal.kind.value,
            seal.serial,
            f"{seal.certificate.not_valid_before_utc:%Y-%m-%d}"
            f"..{seal.certificate.not_valid_after_utc:%Y-%m-%d}",
            _approved(approval),
            status,
        )
        for seal, status, approval in ceremony.list_seals(args.ca_dir, datetime.now(UTC))
    ]
    header = (_("UNIT"), _("KIND"), _("SERIAL"), _("VALID"), _("APPROVAL (§21)"), _("STATUS"))
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        cells = [row[i] + " " * (widths[i] - _width(row[i])) for i in range(5)] + [row[5]]
        print("  ".join(cells))


def _width(text: str) -> int:
    """Columns on a terminal: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _approved(approval: ceremony.Approval | None) -> str:
    if approval is None:
        return "-"
    return _("{reference}, signed {unit_head}, approved {approved_by}").format(
        reference=approval.reference,
        unit_head=approval.unit_head,
        approved_by=approval.approved_by,
    )


def _log_verify(args: argparse.Namespace) -> None:
    records = ceremony.verify_records(args.ca_dir)
    print(
        _("{count} ceremony records verified; the register and revocation list agree").format(
            count=len(records)
        )
    )


def _log_show(args: argparse.Namespace) -> None:
    """One line per ceremony, then who attended; only a log that verifies is shown."""
    for record in ceremony.verify_records(args.ca_dir):
        what = " ".join(
            f"{key}={record[key]}"
            for key in ("unit", "kind", "serial", "replaces", "reason")
            if record.get(key)
        )
        print(f"{record['seq']:>4}  {record['at']}  {record['act']:<10} {what}".rstrip())
        if record["act"] in ("make", "change", "destroy"):
            print(
                _("      approval: {approval}").format(
                    approval=_approved(ceremony.approval_of(record))
                )
            )
        attendees = _(", ").join(
            (_("{name} ({role}, share)") if a["share"] else _("{name} ({role})")).format(
                name=a["name"], role=a["role"]
            )
            for a in record.get("attendees", [])
        )
        if attendees:
            print(_("      present: {attendees}").format(attendees=attendees))


def _print_seal(seal: Seal, carrier: Path) -> None:
    certificate = seal.certificate
    print(
        _("made {kind} seal for unit {unit}: serial {serial}").format(
            kind=_(rejections.WORDS[seal.kind]), unit=seal.unit_id, serial=serial_hex(certificate)
        )
    )
    print(
        _("valid {start} to {end}").format(
            start=certificate.not_valid_before_utc.isoformat(),
            end=certificate.not_valid_after_utc.isoformat(),
        )
    )
    print(
        _("carrier: {path} (§24: the carrier and its password go to different people)").format(
            path=carrier
        )
    )


def _handler(action: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            action(args)
        except SealError as e:
            problem = f"{e.code}: {rejections.detail(e.message)}"
            print(_("error: {problem}").format(problem=problem), file=sys.stderr)
            return 2
        return 0

    return run


def _carrier_password(args: argparse.Namespace) -> str:
    """A new password is typed twice."""
    if args.carrier_password_file is not None:
        try:
            password = args.carrier_password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise SealError(
                "password_unreadable",
                _("cannot read password file {path}: {error}").format(
                    path=args.carrier_password_file, error=e
                ),
            ) from None
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        password = getpass.getpass(_("new carrier password: "))
        if getpass.getpass(_("repeat new carrier password: ")) != password:
            raise SealError("password_mismatch", _("the two passwords differ"))
    if not password:
        raise SealError("password_empty", _("the carrier password is empty"))
    return password


def _image(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as e:
        raise SealError(
            "seal_image_invalid",
            _("cannot read seal image {path}: {reason}").format(path=path, reason=e.strerror),
        ) from None


def _unit_id(value: str) -> str:
    if not value or value != value.strip():
        raise argparse.ArgumentTypeError(_("unit id must be non-empty, without surrounding spaces"))
    return value


def _common_name(value: str) -> str:
    size = len(value.encode("utf-8"))
    if not 1 <= size <= MAX_COMMON_NAME_BYTES:
        raise argparse.ArgumentTypeError(
            _(
                "name is {size} bytes in UTF-8; a certificate name holds 1 to {max}"
                " (about 21 Chinese characters)"
            ).format(size=size, max=MAX_COMMON_NAME_BYTES)
        )
    return value
