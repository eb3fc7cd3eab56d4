"""The sidecar: what the office system says about a document it drops (§31, §29).

    to = ["finance"]                 # main recipients (主送)
    cc = ["education"]               # copy recipients (抄送), optional
    copies = { finance = 3 }         # print copies per recipient (§31), optional
    title = "关于做好年终工作的通知"
    doc_no = "穗府办〔2026〕12号"      # document number (文号)
    classification = "public"        # required: public or internal
    format = "ceb"                   # optional; PDF and OFD are recognised by their bytes
    paper_attachments = ["附件2 图纸"] # optional: attachments that go on paper (§28)
    sealed_by = "张三"                # optional: who applies the seal, if not the default
    again = true                     # optional: send as a new document what a clerk already
                                     # sent with `docex unit send` (same file, 文号, recipients)

The classification is required rather than defaulted: a document whose sidecar forgets it
must not go out as public.
"""

from __future__ import annotations

import tomllib

import msgspec

from docex import wire
from docex.config_shape import msgspec_problem, shape_problems
from docex.error_text import toml_problem
from docex.i18n import _

# §4: secret and above never go through the exchange. The router refuses them too; refusing
# here keeps such a document's bytes out of the exchange's queues altogether.
_EXCHANGEABLE = {"public", "internal"}


class DropError(Exception):
    """A drop the adapter refuses itself; `code` and `message` go into the rejection note."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Sidecar(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: list[str]
    cc: list[str] = []
    copies: dict[str, int] = {}
    title: str
    doc_no: str
    classification: wire.Classification
    format: str | None = None
    paper_attachments: list[str] = []
    sealed_by: str | None = None
    again: bool = False

    def check_exchangeable(self) -> None:
        if self.classification not in _EXCHANGEABLE:
            raise DropError(
                "excluded_classification",
                _(
                    "{classification} documents are not exchanged electronically (§4);"
                    " send it on paper"
                ).format(classification=self.classification),
            )


def parse_sidecar(text: str, name: str) -> Sidecar:
    """`name`: the sidecar's file name, for the note. Every problem of its shape at once, in
    the reader's language (docex/config_shape.py)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DropError("invalid_sidecar", toml_problem(name, exc)) from exc
    problems, _kept = shape_problems(data, Sidecar)
    if problems:
        described = "; ".join(
            f"{'.'.join(map(str, where))}: {problem}" for where, problem in problems
        )
        raise DropError("invalid_sidecar", f"{name}: {described}")
    try:
        sidecar = msgspec.convert(data, Sidecar)
    except msgspec.ValidationError as exc:
        raise DropError("invalid_sidecar", f"{name}: {msgspec_problem(str(exc))}") from exc
    sidecar.check_exchangeable()
    return sidecar
