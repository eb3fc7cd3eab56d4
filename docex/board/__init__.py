"""The General Office's web board (办公厅公文交换状态): receipts, untaken documents, link faults
with their countdown to paper, paper notices, late information and the router's health.

Its own process (`docex board`), reading the ledger read-only, behind a TLS proxy that checks
client certificates (config/nginx-board.conf): a slow page never stalls routing, and the
board holds no seal key and no broker credentials. `app.py` wires it, `auth.py` decides who is
looking, `views.py` answers each page, `present.py` turns ledger values into what people read.
"""
