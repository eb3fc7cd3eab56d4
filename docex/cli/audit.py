"""`docex audit verify|show --config FILE`: the audit chain (docex/ledger/audit.py), checked
and read beside the running router."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docex.cli.options import add_config_option
from docex.config import ConfigError, load_config
from docex.i18n import _


def add_audit_commands(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help=_("the audit chain: verify it, show a document's"))
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify",
        help=_("recompute the chain and check its signed checkpoints; exit 1 at the first bad row"),
    )
    add_config_option(verify, "the router's config")
    verify.set_defaults(func=_verify)
    show = commands.add_parser("show", help=_("a document's evidence: its events, hashes, places"))
    add_config_option(show, "the router's config")
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
    except (ConfigError, SealError, LedgerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        records, checkpoints = verify_ledger(ledger, ca)
        waiting = ledger.unchained_count()
    except ChainBroken as exc:
        print(f"audit chain BROKEN: {exc}")
        return 1
    except LedgerError as exc:
        print(
            _("error: {problem}").format(
                problem=_("the ledger of {file}: {error}").format(file=args.config, error=exc)
            ),
            file=sys.stderr,
        )
        return 2
    finally:
        ledger.close()
    print(
        f"audit chain ok: {records} records, {checkpoints} signed checkpoints,"
        f" {waiting} events not chained yet"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from docex.ledger.errors import LedgerError
    from docex.ledger.open import open_ledger

    try:
        config = load_config(args.config)
        ledger = open_ledger(config.router.ledger, read_only=True)
    except (ConfigError, LedgerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        events = ledger.document_events(args.doc)
        document = ledger.document(args.doc)
        pruned = ledger.content_pruned_at(document.sha256) if document else None
    finally:
        ledger.close()
    if not events:
        print(f"error: no evidence of a document {args.doc!r}", file=sys.stderr)
        return 1
    if document is not None:
        kept = f"body deleted {pruned}" if pruned else "body kept"
        print(f"{args.doc}: sha256 {document.sha256.hex()}, {kept}")
    for event in events:
        place = f"#{event.seq}" if event.seq is not None else "(not chained yet)"
        print(
            f"{event.at}  {event.what:<17} {event.unit or '-':<12} {event.detail}"
            f"  {place} {event.hash.hex()[:16]}"
        )
    return 0
