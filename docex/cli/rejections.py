"""The router's rejection details, told in the clerk's language.

The router answers a refused command with a reason code and one English sentence
(`Status.message`), whatever the unit's locale: it does not know who reads it, and the wire
stays as it is. The sentences come from a small set of templates in the router
(docex/core/rules.py, documents.py, docex/router/handler.py, lifecycle.py, information.py);
the same templates are listed here, so the unit matches the sentence against them, takes the
values back out and writes the sentence again from the catalog. A sentence that matches none
(a newer router's, or one passed on from elsewhere such as a seal check) is shown as the
router wrote it. tests/core/test_rejection_details.py checks every template in the router is
listed here."""

from __future__ import annotations

import functools
import re
import string

from docex.i18n import N_, _

# Each as the router writes it, with its values named: `{unit!r}` where the router quotes one.
DETAILS = (
    # docex/core/rules.py
    N_("envelope names sender {named!r} but it came from unit {unit!r}"),
    N_("{classification} {what} are not exchanged electronically (§4)"),
    N_("private {what} are not exchanged (§4)"),
    N_("document body is {size} bytes, the limit is {limit}"),
    N_("format {format!r} is not accepted (allowed: {allowed})"),
    N_("the document body is not a {format} file"),
    N_("the body does not match the SHA-256 sealed in the envelope"),
    N_("a document needs at least one main (主送) recipient"),
    N_("listed more than once: {units}"),
    N_("the document carries no signing seal (§18)"),
    N_("the seal's serial is not its certificate's"),
    N_("a unit cannot send a document to itself"),
    N_("no unit {unit!r} is registered"),
    N_("unit {unit!r} is {status}"),
    N_("print quota for {unit!r}, who is no recipient"),
    # docex/core/documents.py
    N_("cannot {action} document {doc_id} for {recipient}: it changed meanwhile"),
    N_("cannot {action} document {doc_id} for {recipient}: it is {state}"),
    N_("document {doc_id} was received at {at}; too late to {action} it"),
    N_("not sent to {count} of them: {units}"),
    # docex/router/handler.py
    N_("the router could not process this command; it has been logged"),
    N_("message_id {id} is not an id: {rule}"),
    N_("message is {size} bytes, the limit is {limit}"),
    N_("document {doc_id!r} was already sent"),
    N_("no document {doc_id!r} of yours"),
    N_("set message_id"),
    # docex/router/lifecycle.py
    N_("say why the document is returned"),
    N_("this document has no paper attachments"),
    N_("you sent no document {doc_id!r}"),
    N_("a print request must carry the verification seal (§35)"),
    N_("no document {doc_id!r} was sent to you"),
    N_("{doc_id} was not sent to {recipient!r}"),
    # docex/router/information.py
    N_("an information item needs a title"),
    N_("no request {id!r}"),
    N_("request {id!r} was not sent to you"),
    N_("request {id!r} was replied to"),
    N_("say what was done, or why it is late"),
    N_("a delay is explained before the deadline ({deadline}); reply instead"),
    N_("only the General Office adopts government information"),
    N_("no government information {id!r}"),
    N_("{id!r} was adopted at {at}"),
    N_("part is {parts}, not {part!r}"),
    N_("say what the recipient is to handle"),
    N_("the deadline {deadline} has passed"),
    N_("a joint submission names its authors (§44)"),
    N_("no General Office is configured to receive it"),
    N_("name at least one recipient"),
    N_("unknown info kind {kind!r}"),
    N_("{deadline!r} is not an ISO 8601 time with offset"),
    N_("no unit {unit!r} to submit jointly with"),
    N_("no reader group {group!r}"),
    N_("no unit {unit!r}"),
)

# Words the router puts into its sentences as values: states, actions, kinds.
WORDS = {
    # states of a unit or a delivery
    "revoked": N_("revoked"),
    "active": N_("active"),
    "queued": N_("queued"),
    "delivered": N_("delivered"),
    "received": N_("received"),
    "resend_requested": N_("resend_requested"),
    "returned": N_("returned"),
    "withdrawn": N_("withdrawn"),
    "paper": N_("paper"),
    "forwarded": N_("forwarded"),
    "recipient_revoked": N_("recipient_revoked"),
    # what a command does to a document
    "read or download": N_("read or download"),
    "print": N_("print"),
    "return": N_("return"),
    "resend": N_("resend"),
    "ask for copies of": N_("ask for copies of"),
    "grant copies of": N_("grant copies of"),
    "ask for a resend of": N_("ask for a resend of"),
    # what is excluded (§4)
    "documents": N_("documents"),
    "information": N_("information"),
    "secret": N_("secret"),
    "confidential": N_("confidential"),
    "top_secret": N_("top_secret"),
    "urgent": N_("urgent"),
    "extra_urgent": N_("extra_urgent"),
}


def shape(template: str) -> str:
    """The template with its values left out, as the router's f-string reads the same."""
    return "".join(
        literal + ("{}" if name is not None else "")
        for literal, name, _spec, _conv in string.Formatter().parse(template)
    )


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    patterns = []
    for template in DETAILS:
        regex = ""
        for literal, name, _spec, _conv in string.Formatter().parse(template):
            regex += re.escape(literal)
            if name is not None:
                regex += f"(?P<{name}>.+?)"
        patterns.append((re.compile(regex, re.DOTALL), template))
    return tuple(patterns)


def detail(message: str) -> str:
    """The router's sentence in the reader's language, or as it came when no template fits."""
    for pattern, template in _patterns():
        match = pattern.fullmatch(message)
        if match:
            values = {
                name: _(WORDS[value]) if value in WORDS else value
                for name, value in match.groupdict().items()
            }
            # The quotes the router put around a value came with it: keep them as they are.
            return _(template).replace("!r}", "}").format(**values)
    return message
