"""The directories of a hot folder and every file operation on them (see the package doc for
the layout). Moves are renames within one filesystem, so a file is either in its old place or
whole in its new one; each step can be repeated after a crash with the same result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from adapters.amqp.delivery_files import delivery_metadata
from adapters.amqp.mailbox import StoredDelivery
from adapters.hotfolder.journal import Drop
from adapters.hotfolder.sidecar import DropError

SIDECAR = ".toml"
_NOTES = {"sent": ".sent.json", "rejected": ".rejected.txt"}
# Names the sender chose (document id, format) become file names only if they are plainly safe.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


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
                raise DropError("too_large", f"{name} is {size} bytes, the limit is {max_bytes}")
            sidecar = (self.outbox / f"{name}{SIDECAR}").read_text(encoding="utf-8")
            return document.read_bytes(), sidecar
        except FileNotFoundError:
            raise DropError(
                "missing_document", f"no {name} next to its sidecar {name}{SIDECAR}"
            ) from None
        except UnicodeDecodeError:
            raise DropError("invalid_sidecar", f"{name}{SIDECAR} is not UTF-8") from None
        except OSError as exc:
            raise DropError("unreadable", f"cannot read {name}: {exc.strerror}") from None

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
        write_atomically(directory / f"{drop.dest}{_NOTES[drop.outcome]}", drop.note.encode())

    def file_delivery(self, stored: StoredDelivery) -> Path:
        """Write a delivered document, then its `.json`, where the office system takes it in;
        deliveries it must not take in go to refused/."""
        envelope = stored.deliver.envelope
        refusal = _refusal(stored)
        stem = envelope.id if _SAFE_NAME.fullmatch(envelope.id) else _digest(envelope.id)
        suffix = envelope.format if _SAFE_NAME.fullmatch(envelope.format) else "bin"
        path = (self.refused if refusal else self.inbox) / f"{stem}.{suffix}"
        if (self.done / path.name).exists():
            return path  # written and taken in before a crash kept it from the mailbox
        write_atomically(path, envelope.content)
        _write_metadata(path, stored, refusal)
        return path

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
        _write_metadata(target, stored, refusal)
        path.with_suffix(".json").unlink(missing_ok=True)
        return target

    def write_news(self, rowid: int, type_: str, text: bytes) -> Path:
        """News is named by its place in the mailbox, so the names sort in arrival order and a
        message written again after a crash lands on its own file."""
        path = self.news / f"{rowid:010d}-{type_}.json"
        write_atomically(path, text)
        return path

    def taken_in(self, saved_path: str) -> bool:
        """Whether the office system moved this delivered document to inbox/done/."""
        path = Path(saved_path)
        return path.parent == self.inbox and (self.done / path.name).exists()

    def _results(self, outcome: str) -> Path:
        return self.sent if outcome == "sent" else self.rejected


def write_atomically(path: Path, data: bytes) -> None:
    """Written under a dot name and renamed, so no reader ever sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _write_metadata(document: Path, stored: StoredDelivery, refusal: str) -> None:
    metadata = delivery_metadata(stored.deliver) | ({"refused": refusal} if refusal else {})
    text = json.dumps(metadata, ensure_ascii=False, indent=2)
    write_atomically(document.with_suffix(".json"), text.encode())


def _refusal(stored: StoredDelivery) -> str:
    if stored.seal_error:
        return f"the seal does not verify: {stored.seal_error}"
    if stored.withdrawn_at:
        return f"withdrawn by the sender at {stored.withdrawn_at}"
    if stored.paper_at:
        return f"exchanged on paper since {stored.paper_at} (§47)"
    return ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
