"""`docex users add|list|disable|reset --unit U`: a unit's people and their roles (§13–§15);
`docex users passwd CREDENTIAL`: a person replaces their initial password (§15).

The register is kept by the exchange, in the ledger that `[router] ledger` names, beside the
running router (the §13 filing, which the General Office sees with `docex users list`).
The General Office files a unit's first administrator (管理); from then on every change to
that unit's people names its administrator (`--by NAME --by-credential FILE`), who proves it
with their own credential, and the register records who made each change.
`add` and `reset` write a new personal credential under an initial password, printed once
for the administrator to hand to its owner; the client will not sign with it until its owner
has changed it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from docex.cli.options import add_config_option
from docex.i18n import N_, _

if TYPE_CHECKING:
    from docex.config import Config
    from docex.ledger.port import Ledger

# Where `passwd` takes the new password from when it should not ask (scripts, tests).
NEW_PASSWORD_ENV = "DOCEX_NEW_PERSON_PASSWORD"


def add_users_commands(subparsers: argparse._SubParsersAction) -> None:
    users = subparsers.add_parser(
        "users", help=_("a unit's people, their roles and credentials (用户与角色, §13–§15)")
    )
    commands = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")

    add = commands.add_parser("add", help=_("open an account: a person, their roles, a credential"))
    _unit_and_name(add)
    add.add_argument("--chinese-name", required=True, help=_("the person's name, e.g. 张三"))
    add.add_argument(
        "--roles",
        required=True,
        help=_("comma-separated: 发文/send, 收文/receive, 打印/print, 信息/info, 管理/admin"),
    )
    add.add_argument("--mobile", default="", help=_("for SMS reminders (§16)"))
    add.add_argument(
        "--system",
        action="store_true",
        help=_("a system account of the unit (a hot folder, an MQTT bridge), not a person"),
    )
    _credential_out(add)
    add.set_defaults(func=_add)

    listing = commands.add_parser("list", help=_("the register: everyone, or one unit's people"))
    add_config_option(listing, _("the router's config"))
    listing.add_argument("--unit", default="", help=_("only this unit"))
    listing.set_defaults(func=_list)

    disable = commands.add_parser("disable", help=_("the person may no longer act"))
    _unit_and_name(disable)
    disable.set_defaults(func=_disable)

    reset = commands.add_parser(
        "reset", help=_("a new credential with an initial password; the old one is revoked")
    )
    _unit_and_name(reset)
    _credential_out(reset)
    reset.set_defaults(func=_reset)

    passwd = commands.add_parser(
        "passwd",
        help=_("replace a credential's password (the initial one first of all)"),
        description=_(
            "Asks for the current and the new password (or reads them from {old_env} and"
            " {new_env})."
        ).format(old_env="$DOCEX_PERSON_PASSWORD", new_env=f"${NEW_PASSWORD_ENV}"),
    )
    passwd.add_argument("credential", type=Path, help=_("the personal credential file"))
    passwd.set_defaults(func=_passwd)


def _unit_and_name(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, _("the router's config"))
    parser.add_argument("--unit", required=True, help=_("the unit's id"))
    parser.add_argument("name", help=_("the account's id (letters, digits, . _ -), e.g. zhangsan"))
    parser.add_argument(
        "--by",
        default="",
        help=_("the unit's administrator (管理) making the change; required once it has one"),
    )
    parser.add_argument(
        "--by-credential",
        type=Path,
        help=_("the administrator's credential (password from $DOCEX_PERSON_PASSWORD, or asked)"),
    )


def _credential_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--credential-out",
        type=Path,
        required=True,
        help=_("where to write the new credential file (must not exist)"),
    )


class _Refused(Exception):
    pass


# A person's status in the register, as `list` shows it.
_STATUSES = {"active": N_("active"), "disabled": N_("disabled")}


def _not_registered(args: argparse.Namespace) -> str:
    return _("no {name!r} in the register of unit {unit!r}").format(name=args.name, unit=args.unit)


def _run(args: argparse.Namespace, act: object) -> int:
    from docex.config import ConfigError, load_config
    from docex.ledger.errors import LedgerError
    from docex.ledger.open import LedgerMissing, open_ledger
    from docex.seals.errors import SealError

    assert callable(act)
    try:
        config = load_config(args.config)
        ledger = open_ledger(config.router.ledger, create=False)
        try:
            print(act(config, ledger))
        finally:
            ledger.close()
    except SealError as exc:
        print(_("error: {problem}").format(problem=_sealed(exc)), file=sys.stderr)
        return 2
    except (ConfigError, _Refused, ValueError) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    except (LedgerError, LedgerMissing, OSError) as exc:
        from docex.cli.errors import ledger_failed

        return ledger_failed(args.config, exc)
    return 0


def _sealed(exc: Exception) -> str:
    """A credential's refusal (docex/persons.py) in the reader's language."""
    from docex.cli.rejections import detail
    from docex.seals.errors import SealError

    return detail(exc.message) if isinstance(exc, SealError) else str(exc)


def _checked(config: Config, unit: str, name: str) -> None:
    from docex.ids import ID_MAX, is_safe_id

    if config.unit(unit) is None:
        raise _Refused(_("no unit {unit!r} in the router's config").format(unit=unit))
    if not is_safe_id(name):
        raise _Refused(
            _(
                "{name!r} is not an account id: 1–{max} letters, digits, '.', '_' or '-',"
                " starting with a letter or digit"
            ).format(name=name, max=ID_MAX)
        )


def _administrator(ledger: Ledger, args: argparse.Namespace) -> str:
    """Who makes this change (§13): the unit's administrator, proved by their credential; ""
    for the General Office filing a unit that has no administrator yet."""
    from docex import persons

    admins = [
        p.name for p in ledger.persons(args.unit) if p.status == "active" and "admin" in p.roles
    ]
    if not args.by:
        if admins:
            raise _Refused(
                _(
                    "unit {unit!r} has an administrator ({admins}): the change is theirs to"
                    " make, with --by NAME --by-credential FILE (§13)"
                ).format(unit=args.unit, admins=", ".join(admins))
            )
        return ""
    if args.by not in admins:
        raise _Refused(
            _("{name!r} is not an active administrator (管理) of {unit!r}").format(
                name=args.by, unit=args.unit
            )
        )
    if args.by_credential is None:
        raise _Refused(
            _("--by {name} needs --by-credential, the credential file of {person}").format(
                name=args.by, person=args.by
            )
        )
    password = os.environ.get(persons.PASSWORD_ENV)
    if password is None:
        password = getpass.getpass(_("password of {name}: ").format(name=args.by))
    credential = persons.open_for_use(args.by_credential, password, args.unit)
    admin = ledger.person(args.unit, args.by)
    if credential.person != args.by or admin is None or credential.key != admin.key_id:
        raise _Refused(
            _("{file} is not the current credential of {name}").format(
                file=args.by_credential, name=args.by
            )
        )
    return args.by


def _now(config: Config) -> str:
    from datetime import UTC, datetime

    return config.calendar().stamp(datetime.now(UTC))


def _issue(args: argparse.Namespace) -> tuple[str, str, bytes]:
    """A new credential file under a fresh initial password: (password, key id, public key)."""
    from docex import persons

    if args.credential_out.exists():
        raise _Refused(_("{file} exists; name a new file").format(file=args.credential_out))
    password = persons.initial_password()
    key, public_key = persons.new_credential(args.credential_out, args.unit, args.name, password)
    return password, key, public_key


def _handed_over(args: argparse.Namespace, password: str) -> str:
    return "\n".join(
        [
            _("credential: {file}").format(file=args.credential_out),
            _("initial password: {password}").format(password=password),
            _(
                "hand both to {name} in person; the credential signs nothing until its owner"
                " has changed the password: `docex users passwd {file}` (§15)"
            ).format(name=args.name, file=args.credential_out),
        ]
    )


def _add(args: argparse.Namespace) -> int:
    def act(config: Config, ledger: Ledger) -> str:
        from docex import persons
        from docex.ledger.records import PersonRecord

        _checked(config, args.unit, args.name)
        roles = persons.parse_roles(args.roles)
        if ledger.person(args.unit, args.name) is not None:
            raise _Refused(
                _("{name!r} is already in the register of unit {unit!r}").format(
                    name=args.name, unit=args.unit
                )
            )
        by = _administrator(ledger, args)
        password, key, public_key = _issue(args)
        at = _now(config)
        with ledger.transaction():
            ledger.add_person(
                PersonRecord(
                    unit=args.unit,
                    name=args.name,
                    chinese_name=args.chinese_name,
                    roles=roles,
                    mobile=args.mobile,
                    status="active",
                    system=args.system,
                    key_id=key,
                    public_key=public_key,
                    created_at=at,
                    changed_at=at,
                    changed_by=by,
                )
            )
        added = (
            _("added system account {name} ({chinese_name}) to {unit}: {roles}")
            if args.system
            else _("added person {name} ({chinese_name}) to {unit}: {roles}")
        )
        return (
            added.format(
                name=args.name,
                chinese_name=args.chinese_name,
                unit=args.unit,
                roles=persons.shown_roles(roles),
            )
            + "\n"
            + _handed_over(args, password)
        )

    return _run(args, act)


def _list(args: argparse.Namespace) -> int:
    def act(config: Config, ledger: Ledger) -> str:
        from docex import persons

        rows = ledger.persons(args.unit)
        if not rows:
            if args.unit:
                return _("nobody registered in {unit}").format(unit=args.unit)
            return _("nobody registered")
        header = [
            _("unit"),
            _("name"),
            "姓名",
            _("roles"),
            _("mobile"),
            _("status"),
            _("kind"),
            _("credential"),
            _("since"),
            _("by"),
        ]
        lines = ["\t".join(header)]
        for p in rows:
            lines.append(
                "\t".join(
                    [
                        p.unit,
                        p.name,
                        p.chinese_name,
                        persons.shown_roles(p.roles),
                        p.mobile or "-",
                        _(_STATUSES.get(p.status, p.status)),
                        _("system") if p.system else _("person"),
                        p.key_id[:12],
                        p.changed_at,
                        p.changed_by or _("office"),
                    ]
                )
            )
        return "\n".join(lines)

    return _run(args, act)


def _disable(args: argparse.Namespace) -> int:
    def act(config: Config, ledger: Ledger) -> str:
        _checked(config, args.unit, args.name)
        by = _administrator(ledger, args)
        with ledger.transaction():
            if not ledger.set_person_status(args.unit, args.name, "disabled", _now(config), by):
                raise _Refused(_not_registered(args))
        return _("disabled {name} of {unit}: their commands are refused from now on").format(
            name=args.name, unit=args.unit
        )

    return _run(args, act)


def _reset(args: argparse.Namespace) -> int:
    def act(config: Config, ledger: Ledger) -> str:
        _checked(config, args.unit, args.name)
        if ledger.person(args.unit, args.name) is None:
            raise _Refused(_not_registered(args))
        by = _administrator(ledger, args)
        password, key, public_key = _issue(args)
        with ledger.transaction():
            ledger.replace_credential(args.unit, args.name, key, public_key, _now(config), by)
        reset = _("reset {name} of {unit}: the earlier credential is revoked").format(
            name=args.name, unit=args.unit
        )
        return reset + "\n" + _handed_over(args, password)

    return _run(args, act)


def _passwd(args: argparse.Namespace) -> int:
    from docex import persons
    from docex.seals.errors import SealError

    try:
        old = os.environ.get(persons.PASSWORD_ENV) or getpass.getpass(_("current password: "))
        new = os.environ.get(NEW_PASSWORD_ENV)
        if new is None:
            new = getpass.getpass(_("new password: "))
            if getpass.getpass(_("new password again: ")) != new:
                raise SealError("credential_password_mismatch", _("the two new passwords differ"))
        credential = persons.change_password(args.credential, old, new)
    except SealError as exc:
        print(_("error: {problem}").format(problem=_sealed(exc)), file=sys.stderr)
        return 2
    print(
        _("changed the password of the credential of {name} ({unit})").format(
            name=credential.person, unit=credential.unit
        )
    )
    return 0
