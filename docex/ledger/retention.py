"""Retention: bodies kept `[retention] body_days` (0: for ever), evidence `evidence_years`.

A body past its days is emptied (`contents.body`, and the PDFs of paper notices), its hash
kept, an audit event saying so; a recipient who asks for it again is told `document_expired`.
Evidence past its years is deleted entirely: the document and its deliveries, commands,
notice links, outbox rows and (once no document carries it) its content; and the audit
chain's records from before then, with their events and checkpoints (the chain then starts
at its first kept record, which `docex audit verify` takes as given).

Run by the leader once a day and by `docex ledger prune`, in batches, each its own
transaction, so a router keeps routing meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from docex.config import RetentionSettings
from docex.i18n import _
from docex.ledger.port import Ledger

BATCH = 500


@dataclass
class Pruned:
    bodies: int = 0
    notice_pdfs: int = 0
    evidence: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """What `docex ledger prune` did, in the operator's language (table names as the
        ledger spells them)."""
        deleted = _(", ").join(
            _("{table} {count}").format(table=table, count=n)
            for table, n in sorted(self.evidence.items())
        )
        return _(
            "pruned {bodies} bodies and {pdfs} notice PDFs; evidence deleted: {deleted}"
        ).format(bodies=self.bodies, pdfs=self.notice_pdfs, deleted=deleted or _("none"))


def cutoffs(settings: RetentionSettings, now: datetime) -> tuple[datetime | None, datetime]:
    """(before this a body goes, or None: kept for ever; before this evidence goes)."""
    bodies = now - timedelta(days=settings.body_days) if settings.body_days else None
    try:
        evidence = now.replace(year=now.year - settings.evidence_years)
    except ValueError:  # 29 February
        evidence = now.replace(year=now.year - settings.evidence_years, day=28)
    return bodies, evidence


def prune(
    ledger: Ledger,
    settings: RetentionSettings,
    now: datetime,
    progress: Callable[[str], None] = lambda line: None,
    batch: int = BATCH,
) -> Pruned:
    """`now`: an aware datetime (the router's clock)."""
    pruned = Pruned()
    body_cutoff, evidence_cutoff = cutoffs(settings, now)
    at = now.isoformat(timespec="seconds")
    if body_cutoff is not None:
        cutoff = body_cutoff.isoformat(timespec="seconds")
        while True:
            with ledger.transaction():
                bodies, pdfs = ledger.prune_bodies(cutoff, at, batch)
            pruned.bodies += bodies
            pruned.notice_pdfs += pdfs
            progress(
                _("bodies sent before {cutoff}: {count} emptied").format(
                    cutoff=cutoff, count=pruned.bodies
                )
            )
            if bodies < batch:
                break
    cutoff = evidence_cutoff.isoformat(timespec="seconds")
    while True:
        with ledger.transaction():
            counts = ledger.prune_evidence(cutoff, batch)
        for table, n in counts.items():
            pruned.evidence[table] = pruned.evidence.get(table, 0) + n
        progress(
            _("evidence from before {cutoff}: {count} documents").format(
                cutoff=cutoff, count=pruned.evidence.get("documents", 0)
            )
        )
        if counts.get("documents", 0) < batch:
            break
    return pruned
