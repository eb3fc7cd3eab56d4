"""`docex seal …`: the operator commands that make the CA and issue seals.

Passwords never go on the command line (shell history, `ps`): they come from a file, an
environment variable, or a prompt. Validation of names happens at parse time so a bad value
is a usage message, not a traceback from deep inside certificate building.
"""

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from seals.ca import init_ca, open_ca
from seals.errors import SealError
from seals.kinds import SealKind
from seals.seal import issue_seal

CA_PASSWORD_ENV = "DOCEX_CA_PASSWORD"
SEAL_PASSWORD_ENV = "DOCEX_SEAL_PASSWORD"
MAX_COMMON_NAME_BYTES = 64  # X.509 upper bound, counted in UTF-8 bytes: ~21 Chinese characters


class _UsageError(Exception):
    """An operator mistake found after parsing, reported without a traceback."""


def add_seal_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register under the main CLI's subcommands, so `seal` sits beside `router`, `units`…"""
    seal = subparsers.add_parser("seal", help="exchange CA and electronic seals")
    commands = seal.add_subparsers(dest="seal_command", required=True, metavar="COMMAND")

    ca_init = commands.add_parser("ca-init", help="create the exchange CA (key and certificate)")
    ca_init.add_argument("--dir", type=Path, required=True, help="directory for ca.crt, ca.key")
    ca_init.add_argument("--name", type=_common_name, required=True, help="CA display name")
    ca_init.add_argument(
        "--password-file", type=Path, help=f"CA key password (else ${CA_PASSWORD_ENV}, else prompt)"
    )
    ca_init.set_defaults(func=_ca_init)

    issue = commands.add_parser("issue", help="issue a seal into a new carrier file")
    issue.add_argument("--ca-dir", type=Path, required=True, help="directory made by ca-init")
    issue.add_argument("--unit", type=_unit_id, required=True, help="unit id")
    issue.add_argument("--unit-name", type=_common_name, required=True, help="unit display name")
    issue.add_argument("--kind", type=SealKind, choices=list(SealKind), required=True)
    issue.add_argument("--out", type=Path, required=True, help="carrier file to write")
    issue.add_argument(
        "--password-file", type=Path, help=f"CA key password (else ${CA_PASSWORD_ENV}, else prompt)"
    )
    issue.add_argument(
        "--carrier-password-file",
        type=Path,
        help=f"carrier password (else ${SEAL_PASSWORD_ENV}, else prompt)",
    )
    issue.set_defaults(func=_issue)


def _ca_init(args: argparse.Namespace) -> int:
    try:
        password = _password(args.password_file, CA_PASSWORD_ENV, "new CA password", confirm=True)
        ca = init_ca(args.dir, args.name, password, now=datetime.now(UTC))
    except (SealError, _UsageError) as e:
        return _fail(e)
    print(f"CA {args.name} created in {args.dir}; valid until {ca.certificate.not_valid_after_utc}")
    return 0


def _issue(args: argparse.Namespace) -> int:
    try:
        if args.out.exists():
            # Replacing a carrier destroys a seal, which is a ceremony, not an issue.
            raise _UsageError(f"refusing to overwrite existing carrier {args.out}")
        ca_password = _password(args.password_file, CA_PASSWORD_ENV, "CA password", confirm=False)
        ca = open_ca(args.ca_dir, ca_password)
        carrier_password = _password(
            args.carrier_password_file, SEAL_PASSWORD_ENV, "new carrier password", confirm=True
        )
        seal = issue_seal(
            ca,
            args.unit,
            args.unit_name,
            args.kind,
            args.out,
            carrier_password,
            now=datetime.now(UTC),
        )
    except (SealError, _UsageError) as e:
        return _fail(e)
    print(f"issued {seal.kind} seal for unit {seal.unit_id}: serial {seal.serial}")
    print(f"carrier: {args.out}")
    return 0


def _password(file: Path | None, env: str, prompt: str, *, confirm: bool) -> str:
    """A new password is typed twice; one that opens an existing key is checked by opening it."""
    if file is not None:
        try:
            password = file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise _UsageError(f"cannot read password file {file}: {e}") from None
    elif os.environ.get(env):
        password = os.environ[env]
    else:
        password = getpass.getpass(f"{prompt}: ")
        if confirm and getpass.getpass(f"repeat {prompt}: ") != password:
            raise _UsageError("the two passwords differ")
    if not password:
        raise _UsageError(f"empty {prompt}")
    return password


def _fail(error: SealError | _UsageError) -> int:
    if isinstance(error, SealError):
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
    else:
        print(f"error: {error}", file=sys.stderr)
    return 2


def _unit_id(value: str) -> str:
    if not value or value != value.strip():
        raise argparse.ArgumentTypeError("unit id must be non-empty, without surrounding spaces")
    return value


def _common_name(value: str) -> str:
    size = len(value.encode("utf-8"))
    if not 1 <= size <= MAX_COMMON_NAME_BYTES:
        raise argparse.ArgumentTypeError(
            f"name is {size} bytes in UTF-8; a certificate name holds 1 to "
            f"{MAX_COMMON_NAME_BYTES} (about 21 Chinese characters)"
        )
    return value
