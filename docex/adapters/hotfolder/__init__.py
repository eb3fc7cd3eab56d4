"""The hot folder: a unit's office system joins the exchange by writing files into one directory
and picking up what arrives in another, as most office systems integrate.

The folder's layout is the contract with the office system:

    outbox/           the office system drops documents here to send them
    sent/             … and finds them here once the exchange accepted them, with
                      `x.pdf.sent.json` (document id, send time, exchange date)
    rejected/         … or here, with `x.pdf.rejected.txt`: the reason code and message
    inbox/            documents delivered to the unit, `<doc id>.pdf` and `<doc id>.json`; an id
                      that is not a safe file name is made one, with a hash (docex/filenames.py).
                      A document that cannot be written is logged (`delivery_not_saved`) and
                      tried again each round; those after it are written all the same
    inbox/done/       the office system moves a document here once it has taken it in: that is
                      the read receipt (§37)
    inbox/refused/    deliveries not to be taken in electronically: a seal that does not
                      verify, a withdrawn document, one switched to paper (§47); the `.json`
                      says which. A document withdrawn or switched to paper while it waits in
                      inbox/ is moved here with its `.json`; one already in inbox/done/ stays
    news/             everything else the router tells the unit, one file per message in the
                      order it arrived: `<sequence, 10 digits>-<type>.json` (status,
                      document_status, print_grant, print_denied, withdrawn, withdraw_result,
                      notice, info_item, info_notice), the message as JSON; sorting the names
                      is reading in order, and a name met again (rewritten after a crash) is
                      the same message. A withdrawal or paper notice is written once the
                      document it concerns is out of inbox/
    control/          control files: print, return, resend_request, resend, quota_request,
                      quota_grant, withdraw, status (control.py); answered in control/done/
    print/            print-ready copies a print control file was granted (§35)

Sending `x.pdf` takes two files: the document, then its sidecar `x.pdf.toml` (recipients `to`,
`cc`, print `copies`, `title`, `doc_no` (文号), `classification`; sidecar.py, and the example
config/hotfolder/notice.pdf.toml). Each must appear whole, so the
office system writes it under another name on the same filesystem (`x.pdf.part`, or a dot
file) and renames it into place; the sidecar comes last, and its appearance is the signal
that the document is complete. A document without a sidecar is never touched. Files this
adapter writes for the office system appear the same way: the `.json` of a delivery last.
"""
