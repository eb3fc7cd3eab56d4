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

from docex.error_text import os_reason
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
    N_("the body of {doc_id} was deleted by retention at {at}; its evidence is kept"),
    # docex/router/handler.py (persons, §13–§15) and docex/persons.py
    N_(
        "unit {unit!r} has a register of persons: a command must name who acts and be "
        "signed with their credential (§14)"
    ),
    N_("the acting person is not an id: {rule}"),
    N_("a person's command carries their key id and a 64-byte signature in hex"),
    N_("no person {name!r} in unit {unit!r}'s register (§13)"),
    N_("person {name!r} of unit {unit!r} is disabled"),
    N_("{name!r}'s credential {key} was revoked at {at} (reset, §15); use the one issued then"),
    N_("{key} is not {name!r}'s credential"),
    N_("the signature is not {name!r}'s over this command and message id"),
    N_(
        "{name!r} does not hold the role {role} ({label}) that {command} needs; the "
        "unit's administrator assigns roles (§13, §14)"
    ),
    N_("{path} is not a {format} credential"),
    N_("{path} uses unsupported key derivation"),
    N_("cannot read credential {path}: {error}"),
    N_("wrong password for credential {path}"),
    N_("credential {path} is damaged: {error}"),
    N_(
        "{person}'s credential {path} still has its initial password; change it first: "
        "docex users passwd {file} (§15)"
    ),
    N_("credential {path} is for unit {unit!r}, not {other!r}"),
    N_("set {env} or person_password_file to open the personal credential"),
    N_("choose a new password"),
    # docex/core/arrangements.py, docex/router/arrangements.py (§30, §33)
    N_("day {day!r} is not a date (YYYY-MM-DD)"),
    N_("until {until!r} is not a time of day (HH:MM)"),
    N_("{day} is not a workday: an arrangement extends a workday's exchange hours (§30, §33)"),
    N_(
        "until {until} is within exchange hours (before {cutoff}): those documents count for"
        " that day anyway"
    ),
    N_("the agreed time, {day} {until}, has passed"),
    N_("{unit!r} is not another active unit on the exchange"),
    N_("no arrangement {id!r} proposed to you"),
    N_("arrangement {id} was {state} at {at}"),
    N_("arrangement {id} was answered meanwhile"),
    # what an arrangement is (news to both units, not refusals)
    N_("{asker!r} asks {other!r} to send it document {doc_no} on {day} until {until} (§30)"),
    N_("{asker!r} asks {other!r} to send it its documents on {day} until {until} (§30)"),
    N_("{asker!r} asks {other!r} to receive its document {doc_no} on {day} until {until} (§33)"),
    N_("{asker!r} asks {other!r} to receive its documents on {day} until {until} (§33)"),
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
    # The seals' own refusals (docex/seals/): shown by `docex seal …`, and passed on in a
    # rejection when a seal does not verify.
    N_("a CA already exists at {directory} ({certificate})"),
    N_("the CA key was put away at the end of the ceremony"),
    N_("cannot read CA certificate {path}: {reason}"),
    N_("{path} does not hold a PEM certificate"),
    N_("cannot read carrier {path}: {reason}"),
    N_("{path} is not a {format} carrier: {found!r}"),
    N_("{path} holds no seal certificate"),
    N_("{path} uses unsupported key derivation {kdf}"),
    N_("wrong password for carrier {path}, or its certificate was replaced"),
    N_("carrier {path} is damaged: {error}"),
    N_("{path} is not empty; a CA is made in a new directory"),
    N_(
        "the {kind} seal is the exchange's own: only unit {unit!r} holds one,"
        " and holds no other kind"
    ),
    N_("a seal is changed when {reasons}; a {reason} unit's seal is destroyed"),
    N_("unit id {unit!r} is also a custodian role; rename the role"),
    N_("§23: a person of unit {unit}, whose seal it is, must be present (--attendee {unit2}=NAME)"),
    N_("the shares must not be written into the CA directory"),
    N_("refusing to overwrite shares: {files}"),
    N_(
        "refusing to overwrite {carrier}: a seal's carrier is destroyed in a ceremony,"
        " not written over"
    ),
    N_("§21: a ceremony needs {what}"),
    N_("§21: {what} must be one line of at most {max} characters"),
    N_("unit {unit} already has a valid {kind} seal ({serial}); change it instead"),
    N_("a renamed unit's new seal needs its new name"),
    N_("seal {serial} was {revocation}"),
    N_("this machine's clock ({now}) is behind the last ceremony ({last})"),
    N_("{role!r} is neither a custodian role nor the unit {unit!r} whose seal it is"),
    N_("{role!r} is neither a custodian role"),
    N_("§23: {title} ({role}) must be present with its share"),
    N_("name the person who brings the {role} share (--attendee {role2}=NAME)"),
    N_("cannot open CA directory {path}: {reason}"),
    N_("another ceremony is being held at {path}"),
    N_("cannot read {path}: {reason}"),
    N_("certificate {serial} carries a damaged seal image"),
    N_("certificate {serial} does not name exactly one unit id and seal kind"),
    N_("the seal image is not a PNG file"),
    N_("the seal image is {size} bytes; at most {max} are allowed"),
    N_("certificate {serial} names unknown seal kind {kind!r}"),
    N_("custodian roles repeat: {roles}"),
    N_("there must be 2 to {max} custodians, not {count}"),
    N_(
        "the threshold must be 2 to {max} shares (no single person may use the CA key),"
        " not {threshold}"
    ),
    N_("{threshold} custodians' shares rebuild the CA key; {count} given"),
    N_("{path} is not the custody policy the CA signed last"),
    N_("the shares rebuild a key that is not this CA's"),
    N_(
        "custodian role {role!r} must be lowercase letters, digits and '-', starting with a"
        " letter, at most 32 characters"
    ),
    N_("cannot read share file {path}: {reason}"),
    N_("share file {path} is not UTF-8 text"),
    N_("no custodian role {role!r} in {file}"),
    N_("the share given for {role} belongs to another CA (or another split of its key)"),
    N_("the shares given for {role} and {role2} are the same share"),
    N_("the share given for {role} is another custodian's share"),
    N_("the share given for {role} is not valid: {error}"),
    N_("the shares do not fit together: {error}"),
    N_("the CA never issued a seal with serial {serial}"),
    N_("{path} line {line}: not a certificate issued by this CA"),
    N_("revocation list {path} is not signed by this exchange's CA"),
    N_("cannot read revocation list {path}: {reason}"),
    N_("{path} is not a PEM revocation list"),
    N_("revocation list {path} lacks a CRL number or an entry's docex reason code"),
    N_("revocation list number {number} is older than the one in use ({current})"),
    N_("seal {serial} is not yet valid at {at}: valid from {start}"),
    N_("seal {serial} expired at {end}, before {at}"),
    N_("seal {serial} was {revocation}; it seals nothing from then on (judged at {at})"),
    N_("seal {serial} belongs to unit {owner!r}, not {unit!r}"),
    N_("seal {serial} is a {kind} seal; a {required} seal is required"),
    N_("seal {serial} is not an Ed25519 key"),
    N_("signature does not match the data for seal {serial}"),
    N_("seal certificate is not valid DER X.509"),
    N_("seal {serial} is not issued by this exchange's CA"),
    N_("router.seal_password_file is not set, and no seal-password credential"),
)

# Words the router puts into its sentences as values: states, actions, kinds.
WORDS = {
    # states of a unit or a delivery (a delivery's Chinese is the board's, docex/board/present.py)
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
    # what the router answers a command that went through
    "accepted": N_("accepted"),
    "rejected": N_("rejected"),
    "attachments_received": N_("attachments_received"),
    "quota_granted": N_("quota_granted"),
    "printed": N_("printed"),
    "undeliverable": N_("undeliverable"),
    "adopted": N_("adopted"),
    "arrangement_proposed": N_("arrangement_proposed"),
    "arrangement_accepted": N_("arrangement_accepted"),
    "arrangement_declined": N_("arrangement_declined"),
    "declined": N_("declined"),
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
    # kinds of seal, and why one is changed or destroyed
    "signing": N_("signing"),
    "verification": N_("verification"),
    "exchange": N_("exchange"),
    "renamed": N_("renamed"),
    "merged": N_("merged"),
    "lost": N_("lost"),
    "damaged": N_("damaged"),
    "urgent": N_("urgent"),
    "extra_urgent": N_("extra_urgent"),
}


def state_word(state: str) -> str:
    """A document's, a delivery's or a unit's state in the reader's language; one the catalog
    does not know (a newer router's) as it came."""
    known = WORDS.get(state)
    return _(known) if known else state


# The values that are such words; others (a unit id, a path) are shown as they came.
_WORD_FIELDS = {"status", "state", "action", "what", "classification", "kind", "required", "reason"}


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
    # The most specific first: "cannot read CA certificate {path}: {reason}" before
    # "cannot read {path}: {reason}".
    patterns.sort(key=lambda found: -len(shape(found[1]).replace("{}", "")))
    return tuple(patterns)


def detail(message: str) -> str:
    """The router's sentence in the reader's language, or as it came when no template fits."""
    for pattern, template in _patterns():
        match = pattern.fullmatch(message)
        if match:
            values = {
                name: _(WORDS[value])
                if name in _WORD_FIELDS and value in WORDS
                else os_reason(value)
                for name, value in match.groupdict().items()
            }
            # The quotes the router put around a value came with it: keep them as they are.
            return _(template).replace("!r}", "}").format(**values)
    return message
