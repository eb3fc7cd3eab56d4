"""Who is at a ceremony, from the command line: share files and names, or prompts.

For automation every share comes from `--share-file ROLE=PATH` and every person from
`--attendee ROLE=NAME`. At a terminal, whatever the flags leave out is asked for: each
custodian in turn (a name, or nothing if absent; then the share's words, not echoed), and the
person of the owning unit.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from docex.i18n import _
from docex.seals.ceremony import Presence
from docex.seals.custody import Custody, read_share_file
from docex.seals.errors import SealError


def assignment(value: str) -> tuple[str, str]:
    """ROLE=VALUE, for argparse."""
    role, equals, rest = value.partition("=")
    if not equals or not role.strip() or not rest.strip():
        raise argparse.ArgumentTypeError(
            _("expected ROLE=VALUE, got {value!r}").format(value=value)
        )
    return role.strip(), rest.strip()


def add_presence_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--share-file",
        type=assignment,
        action="append",
        default=[],
        metavar="ROLE=PATH",
        help=_(
            "a custodian's share file (repeat per custodian); at a terminal, missing shares"
            " are asked for"
        ),
    )
    parser.add_argument(
        "--attendee",
        type=assignment,
        action="append",
        default=[],
        metavar="ROLE=NAME",
        help=_(
            "the person present for a custodian role, or for the owning unit (ROLE = its"
            " unit id); repeat per person"
        ),
    )


def collect_presence(args: argparse.Namespace, custody: Custody, owner: str | None) -> Presence:
    """`owner`: the unit whose seal it is, or None for the CA's own ceremonies."""
    if len({role for role, _ in args.share_file}) != len(args.share_file):
        raise SealError("share_duplicate", _("--share-file names a role more than once"))
    names = dict(args.attendee)
    if len(names) != len(args.attendee):
        raise SealError("attendee_duplicate", _("--attendee names a role more than once"))
    shares = {role: read_share_file(Path(path)) for role, path in args.share_file}
    if sys.stdin.isatty():
        _ask(custody, owner, shares, names)
    return Presence(shares=shares, names=names)


def _ask(
    custody: Custody, owner: str | None, shares: dict[str, str], names: dict[str, str]
) -> None:
    for custodian in custody.custodians:
        label = f"{custodian.title} ({custodian.role})"
        if custodian.role not in names:
            name = input(
                _("person present for {custodian}, empty if absent: ").format(custodian=label)
            ).strip()
            if not name:
                continue
            names[custodian.role] = name
        if custodian.role not in shares:
            words = getpass.getpass(_("share words of {custodian}: ").format(custodian=label))
            shares[custodian.role] = " ".join(words.split())
    if owner is not None and owner not in names:
        names[owner] = input(
            _("person present for unit {unit}, whose seal it is: ").format(unit=owner)
        ).strip()
