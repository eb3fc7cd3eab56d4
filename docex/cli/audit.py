"""`docex audit verify|show --config FILE`: the audit chain (docex/ledger/audit.py), checked
and read beside the running router."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docex.cli import rejections
from docex.cli.options import add_config_option
from docex.config import ConfigError, load_config
from docex.error_text import file_problem
from docex.i18n import _


def add_audit_commands(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help=_("the audit chain: verify it, show a document's"))
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify",
        help=_("recompute the chain and check its signed checkpoints; exit 1 at the first bad row"),
    )
    add_config_option(verify, _("the router's config"))
    verify.set_defaults(func=_verify)
    show = commands.add_parser("show", help=_("a document's evidence: its events, hashes, places"))
    add_config_option(show, _("the router's config"))
    show.add_argument("doc", help=_("the document id"))
    show.set_defaults(func=_show)


def _verify(args: argparse.Namespace) -> int:
    from docex.ledger.audit import ChainBroken, verify_ledger
    from docex.ledger.errors import LedgerError
    from docex.ledger.open import open_ledger
    from docex.seals.ca import load_ca_certificate
    from docex.seals.errors import SealError

    try:
        config = load_config(args.config)
        ca = load_ca_certificate(Path(config.seals.ca_certificate))
        ledger = open_ledger(config.router.ledger, read_only=True)
    except SealError as exc:
        problem = f"{exc.code}: {rejections.detail(exc.message)}"
        print(_("error: {problem}").format(problem=problem), file=sys.stderr)
        return 2
    except OSError as exc:
        print(_("error: {problem}").format(problem=file_problem(exc)), file=sys.stderr)
        return 2
    except (ConfigError, LedgerError) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    try:
        records, checkpoints = verify_ledger(ledger, ca)
        waiting = ledger.unchained_count()
    except ChainBroken as exc:
        print(_("audit chain BROKEN: {problem}").format(problem=exc))
        return 1
    except LedgerError as exc:
        from docex.cli.errors import ledger_failed

        return ledger_failed(args.config, exc)
    finally:
        ledger.close()
    print(
        _(
            "audit chain ok: {records} records, {checkpoints} signed checkpoints,"
            " {waiting} events not chained yet"
        ).format(records=records, checkpoints=checkpoints, waiting=waiting)
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from docex.ledger.errors import LedgerError
    from docex.ledger.open import open_ledger

    try:
        config = load_config(args.config)
        ledger = open_ledger(config.router.ledger, read_only=True)
    except OSError as exc:
        print(_("error: {problem}").format(problem=file_problem(exc)), file=sys.stderr)
        return 2
    except (ConfigError, LedgerError) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    try:
        events = ledger.document_events(args.doc)
        document = ledger.document(args.doc)
        pruned = ledger.content_pruned_at(document.sha256) if document else None
    finally:
        ledger.close()
    if not events:
        problem = _("no evidence of a document {doc!r}").format(doc=args.doc)
        print(_("error: {problem}").format(problem=problem), file=sys.stderr)
        return 1
    if document is not None:
        kept = _("body deleted {at}").format(at=pruned) if pruned else _("body kept")
        print(
            _("{doc}: sha256 {hash}, {kept}").format(
                doc=args.doc, hash=document.sha256.hex(), kept=kept
            )
        )
    for event in events:
        place = f"#{event.seq}" if event.seq is not None else _("(not chained yet)")
        print(
            f"{event.at}  {event.what:<17} {event.unit or '-':<12} {event.detail}"
            f"  {place} {event.hash.hex()[:16]}"
        )
    return 0
