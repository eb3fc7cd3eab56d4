"""The hot folder's control files against the real router: print, status, quota request and
a file that is no command, each answered in control/done/ (or rejected/) and in news/."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from docex import wire
from docex.adapters.hotfolder.service import serve
from docex.adapters.hotfolder.settings import HotFolderSettings
from docex.router.service import Router
from tests.conftest import SEAL_PASSWORD, Pki, UnitClientFactory, eventually, unit_settings
from tests.documents import paged_pdf, sealed_envelope, submit
from tests.edge.test_clerk_print import pdf_text


def control(folder: Path, name: str, text: str) -> Path:
    """Written under a dot name and renamed into place, as the folder's contract asks."""
    hidden = folder / "control" / f".{name}"
    hidden.parent.mkdir(parents=True, exist_ok=True)
    hidden.write_text(text)
    hidden.rename(folder / "control" / name)
    return folder / "control" / "done" / f"{name}.answer.json"


async def test_control_files_print_ask_and_refuse(
    router: Router,
    unit_client_for: UnitClientFactory,
    prefix: str,
    pki: Pki,
    broker_users: Path,
    tmp_path: Path,
) -> None:
    """§35: a print control file gives numbered, sealed copies in print/; §38: a quota request
    goes to the sender; a status is answered; a file that is no command is set aside."""
    unit = unit_settings(prefix, pki, broker_users, "finance", tmp_path / "state")
    unit.verification_carrier = str(pki.directory / "finance-verification.carrier")
    settings = HotFolderSettings(
        unit=unit,
        folder=tmp_path / "folder",
        journal=tmp_path / "state" / "journal.sqlite",
        seal_password=SEAL_PASSWORD,
        sealed_by="收发室",
        poll_interval_s=0.05,
        max_document_bytes=1024 * 1024,
    )
    envelope = sealed_envelope(
        pki.signing["gov-office"],
        to=["finance"],
        print_quota={"finance": 2},
        content=paged_pdf(2),
        doc_no="穗府办〔2026〕21号",
        title="关于节日值班的通知",
    )
    async with unit_client_for("gov-office") as office:
        answer = await office.request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer

    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(settings, pki.signing["finance"], stop, pki.verification["finance"])
    )
    try:
        folder = settings.folder
        await eventually(lambda: list((folder / "inbox").glob("*.json")), "the delivery", 15)

        printed = control(
            folder, "print.toml", f'action = "print"\ndoc_id = "{envelope.id}"\ncopies = 2\n'
        )
        await eventually(printed.exists, "the print answer", 15)
        note = json.loads(printed.read_text())
        assert note["answer"]["t"] == "print_grant" and len(note["printed"]) == 2
        text = pdf_text(Path(note["printed"][1]))
        assert "份号 2/2" in text and "市财政局" in text
        assert (folder / "control" / "done" / "print.toml").exists()

        asked = control(
            folder,
            "more.toml",
            f'action = "quota_request"\ndoc_id = "{envelope.id}"\ncopies = 1\nreason = "存档"\n',
        )
        status = control(folder, "status.toml", f'action = "status"\ndoc_id = "{envelope.id}"\n')
        await eventually(lambda: asked.exists() and status.exists(), "the answers", 15)
        assert json.loads(asked.read_text())["answer"]["state"] == "quota_requested"
        recipients = json.loads(status.read_text())["answer"]["recipients"]
        assert [(r["recipient"], r["printed"]) for r in recipients] == [("finance", 2)]

        control(folder, "fly.toml", f'action = "fly"\ndoc_id = "{envelope.id}"\n')
        refused = folder / "control" / "rejected" / "fly.toml.rejected.txt"
        await eventually(refused.exists, "the rejection", 15)
        assert refused.read_text().startswith("invalid_control")

        message_id = json.loads(status.read_text())["message_id"]
        news = [json.loads(p.read_text()) for p in (folder / "news").glob("*.json")]
        assert any(item.get("ref") == message_id for item in news)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
