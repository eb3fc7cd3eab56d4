"""The directories of a hot folder and every file operation on them (see the package doc for
the layout). Moves are renames within one filesystem, so a file is either in its old place or
whole in its new one; each step can be repeated after a crash with the same result.
"""

from __future__ import annotations

import os
from pathlib import Path

from docex.adapters.hotfolder.sidecar import DropError
from docex.error_text import file_problem
from docex.filenames import write_inside
from docex.i18n import _
from docex.ledger.journal import Drop
from docex.ledger.mailbox import StoredDelivery
from docex.unit.delivery_files import (
    document_name,
    metadata_path,
    save_delivery,
    write_metadata,
)

SIDECAR = ".toml"
_NOTES = {"sent": ".sent.json", "rejected": ".rejected.txt"}


class Folder:
    def __init__(self, root: Path) -> None:
        self.outbox = root / "outbox"
        self.sent = root / "sent"
        self.rejected = root / "rejected"
        self.inbox = root / "inbox"
        self.done = self.inbox / "done"
        self.refused = self.inbox / "refused"
        self.news = root / "news"
        for directory in (
            self.outbox,
            self.sent,
            self.rejected,
            self.done,
            self.refused,
            self.news,
        ):
            directory.mkdir(parents=True, exist_ok=True)

    def complete_drops(self) -> list[str]:
        """Documents whose sidecar has appeared, by name. Dot files and `.part` files are
        still being written and are never taken."""
        return sorted(
            entry.name.removesuffix(SIDECAR)
            for entry in os.scandir(self.outbox)
            if entry.name.endswith(SIDECAR)
            and not entry.name.startswith(".")
            and not entry.name.removesuffix(SIDECAR).endswith(".part")
            and entry.is_file()
        )

    def read_drop(self, name: str, max_bytes: int) -> tuple[bytes, str]:
        """The document and its sidecar's text."""
        document = self.outbox / name
        try:
            size = document.stat().st_size
            if size > max_bytes:
                raise DropError(
                    "too_large",
                    _("{name} is {size} bytes, the limit is {limit}").format(
                        name=name, size=size, limit=max_bytes
                    ),
                )
            sidecar = (self.outbox / f"{name}{SIDECAR}").read_text(encoding="utf-8")
            return document.read_bytes(), sidecar
        except FileNotFoundError:
            raise DropError(
                "missing_document",
                _("no {name} next to its sidecar {sidecar}").format(
                    name=name, sidecar=f"{name}{SIDECAR}"
                ),
            ) from None
        except UnicodeDecodeError:
            raise DropError(
                "invalid_sidecar",
                _("{sidecar} is not UTF-8; save it as UTF-8").format(sidecar=f"{name}{SIDECAR}"),
            ) from None
        except OSError as exc:
            raise DropError("unreadable", file_problem(exc, name)) from None

    def result_taken(self, outcome: str, name: str) -> bool:
        """Whether an earlier drop of this name was filed under `outcome` already."""
        directory = self._results(outcome)
        return any(
            (directory / f"{name}{suffix}").exists() for suffix in ("", SIDECAR, _NOTES[outcome])
        )

    def file_result(self, drop: Drop) -> None:
        """Move the drop to sent/ or rejected/ under its journaled name; the note comes last,
        so its appearance tells the office system the result is complete."""
        assert drop.outcome is not None and drop.dest is not None and drop.note is not None
        directory = self._results(drop.outcome)
        for suffix in ("", SIDECAR):
            try:
                os.replace(self.outbox / f"{drop.name}{suffix}", directory / f"{drop.dest}{suffix}")
            except FileNotFoundError:
                pass  # moved before a crash, or taken away by the office system
        write_inside(directory, f"{drop.dest}{_NOTES[drop.outcome]}", drop.note.encode())

    def file_delivery(self, stored: StoredDelivery) -> Path:
        """Write a delivered document, then its `.json`, where the office system takes it in;
        deliveries it must not take in go to refused/. The names are the sender's id and
        format made safe (docex.filenames)."""
        refusal = _refusal(stored)
        directory = self.refused if refusal else self.inbox
        name = document_name(stored.deliver.envelope)
        if (self.done / name).exists():
            return directory / name  # written and taken in before a crash kept it from the mailbox
        return save_delivery(directory, stored.deliver, _refused(refusal))

    def refuse(self, stored: StoredDelivery) -> Path | None:
        """Move a delivery withdrawn or switched to paper since it was written out of inbox/
        into refused/; returns where it went, or None if there is nothing to move. One the
        office system has taken in already stays in inbox/done/: the news tells it."""
        refusal = _refusal(stored)
        if not refusal or stored.saved_path is None:
            return None
        path = Path(stored.saved_path)
        if path.parent != self.inbox:
            return None  # written to refused/ in the first place
        target = self.refused / path.name
        # This rename decides it if the office system is taking the document in at this moment.
        try:
            os.replace(path, target)
        except FileNotFoundError:
            if not target.exists():
                return None  # taken in, or taken away, by the office system
            # Else moved before a crash: finish the move.
        write_metadata(target, stored.deliver, _refused(refusal))
        metadata_path(path).unlink(missing_ok=True)
        return target

    def write_news(self, rowid: int, type_: str, text: bytes) -> Path:
        """News is named by its place in the mailbox, so the names sort in arrival order and a
        message written again after a crash lands on its own file."""
        return write_inside(self.news, f"{rowid:010d}-{type_}.json", text)

    def taken_in(self, saved_path: str) -> bool:
        """Whether the office system moved this delivered document to inbox/done/."""
        path = Path(saved_path)
        return path.parent == self.inbox and (self.done / path.name).exists()

    def _results(self, outcome: str) -> Path:
        return self.sent if outcome == "sent" else self.rejected


def _refusal(stored: StoredDelivery) -> str:
    if stored.seal_error:
        return f"the seal does not verify: {stored.seal_error}"
    if stored.withdrawn_at:
        return f"withdrawn by the sender at {stored.withdrawn_at}"
    if stored.paper_at:
        return f"exchanged on paper since {stored.paper_at} (§47)"
    return ""


def _refused(refusal: str) -> dict[str, object]:
    """What the `.json` adds for a delivery in refused/."""
    return {"refused": refusal} if refusal else {}
