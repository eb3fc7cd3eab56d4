"""How fast the General Office's board answers on a large ledger: prints each page's time.

Fills a SQLite ledger (made by the ledger itself, so with its schema and the board's indexes)
with `--deliveries` deliveries (default 1,000,000: documents of 1 to 7 recipients among 60
units, sent over most of a year, most received, some waiting, some withdrawn or on paper) plus
faults, paper notices and late information; then runs the board on it, as `docex board` does,
and asks every page over HTTP from loopback with the proxy's identity headers, as the office
and as a unit's registrar. Prints the first (cold) and the median of `--repeat` timings per
page, in milliseconds. Numbers only: nothing is asserted.

    .venv/bin/python bench/board.py                  # 1,000,000 deliveries, a minute or two
    .venv/bin/python bench/board.py --deliveries 100000
    .venv/bin/python bench/board.py --keep DIR       # keep (or reuse) the filled ledger in DIR
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from docex import logs
from docex.board.app import start
from docex.config import Config, load_config
from docex.ledger.board_reads import DocumentSearch
from docex.ledger.open import open_ledger

# bench/ is not a package: ledger_fill.py, beside this file, is imported as a module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_fill import BEIJING, Fill, fill_deliveries, stamp

UNITS = 60
OFFICE_DN = "CN=bench-office,O=gov-office"
START = datetime(2026, 1, 5, 9, 0, tzinfo=BEIJING)
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=BEIJING)


def unit_id(number: int) -> str:
    return "gov-office" if number == 0 else f"unit-{number:02d}"


def write_config(directory: Path) -> Path:
    units = "".join(
        f'[[units]]\nid = "{unit_id(n)}"\nname = "单位{n:02d}"\namqp_user = "u{n}"\n\n'
        for n in range(UNITS + 1)  # unit-60 sends and receives nothing: a registrar's worst case
    )
    path = directory / "router.toml"
    path.write_text(
        f"""
[router]
ledger = "ledger.sqlite"
office_unit = "gov-office"
metrics_port = 0
seal_carrier = "x.carrier"
seal_password_file = "x.password"

[seals]
ca_certificate = "ca.crt"

[links]
spool_dir = "paper"

[board.subjects]
"{OFFICE_DN}" = "office"
"CN=bench-registrar,O=unit-07" = "unit-07"
"CN=bench-registrar,O=unit-60" = "unit-60"

{units}"""
    )
    return path


def fill(ledger_path: Path, deliveries: int) -> None:
    """Straight into SQLite in one transaction: the router's own path would take hours."""
    open_ledger(ledger_path).close()  # the schema and indexes, as the router makes them
    db = sqlite3.connect(ledger_path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    rng = random.Random(15)
    # unit-60 sends and receives nothing: a registrar's worst case.
    units = [unit_id(n) for n in range(UNITS)]
    plan = Fill(units, deliveries, START, NOW, NOW - timedelta(days=3), received=0.9)
    fill_deliveries(db, plan, rng)
    _faults_and_information(db, rng)
    db.execute("COMMIT")
    db.close()


def _faults_and_information(db: sqlite3.Connection, rng: random.Random) -> None:
    for n in range(UNITS):
        db.execute(
            "INSERT INTO links (unit, last_seen_at, heartbeats) VALUES (?, ?, 1)",
            (unit_id(n), stamp(NOW - timedelta(seconds=rng.randint(0, 600)))),
        )
    for n in range(200):
        started = NOW - timedelta(days=200 - n)
        ended = None if n >= 197 else stamp(started + timedelta(hours=rng.randint(1, 30)))
        db.execute(
            "INSERT INTO faults (scope, kind, started_at, ended_at, office_notified_at)"
            " VALUES (?, 'heartbeat_lost', ?, ?, ?)",
            (unit_id(1 + n % (UNITS - 1)), stamp(started), ended, stamp(started)),
        )
    doc_ids = [row[0] for row in db.execute("SELECT id FROM documents LIMIT 3000")]
    for n in range(300):
        cursor = db.execute(
            "INSERT INTO notices (fault_id, unit, path, created_at) VALUES (?, ?, ?, ?)",
            (1 + n % 200, unit_id(1 + n % 59), f"paper/notice-{n}.pdf", stamp(NOW)),
        )
        db.executemany(
            "INSERT INTO notice_documents (notice_id, doc_id) VALUES (?, ?)",
            [(cursor.lastrowid, doc_id) for doc_id in doc_ids[n * 10 : n * 10 + 10]],
        )
    for n in range(2000):
        created = NOW - timedelta(days=rng.randint(1, 300))
        overdue = stamp(created + timedelta(days=3)) if n % 4 == 0 else None
        db.execute(
            "INSERT INTO info_items (id, kind, sender, item, created_at, deadline, overdue_at)"
            " VALUES (?, 'request', ?, ?, ?, ?, ?)",
            (f"info-{n}", unit_id(n % UNITS), b"", stamp(created), stamp(created), overdue),
        )
        db.execute(
            "INSERT INTO info_recipients (info_id, recipient) VALUES (?, ?)",
            (f"info-{n}", unit_id((n + 1) % UNITS)),
        )
    for n in range(500):
        db.execute(
            "INSERT INTO info_flags (unit, subject, what, at) VALUES (?, ?, 'late', ?)",
            (unit_id(n % UNITS), f"2026-{1 + n // UNITS:02d}", stamp(NOW)),
        )


class FixedClock:
    def now(self) -> datetime:
        return NOW.astimezone(UTC)


async def measure(config: Config, repeat: int) -> None:
    ledger = open_ledger(config.router.ledger, read_only=True)
    newest = ledger.board_documents(DocumentSearch(), 1)[0]
    page_two = ledger.board_documents(DocumentSearch(), 50)[-1]
    runner = await start(config, ledger, FixedClock(), "127.0.0.1", 0)
    port = runner.addresses[0][1]
    pages = [
        ("office", "/documents"),
        ("office", f"/documents?before={page_two.sent_at}~{page_two.id}"),
        ("office", "/documents?doc_no=穗07〔2026〕"),
        ("office", f"/documents?doc_no={newest.doc_no}"),
        ("office", "/documents?title=预算"),
        ("office", "/documents?title=没有这个词"),
        ("office", "/documents?sender=unit-07"),
        ("office", "/documents?recipient=unit-07"),
        ("office", "/documents?from=2026-06-01&until=2026-06-01"),
        ("office", "/documents?sender=unit-07&title=预算&from=2026-03-01&until=2026-09-30"),
        ("office", f"/documents/{newest.id}"),
        ("office", "/waiting"),
        ("office", "/waiting?page=200"),
        ("office", "/links"),
        ("office", "/notices"),
        ("office", "/info"),
        ("office", "/ops"),
        ("unit-07", "/documents"),
        ("unit-07", "/documents?title=预算"),
        ("unit-07", "/documents?title=没有这个词"),
        ("unit-07", "/documents?doc_no=穗07〔2026〕"),
        ("unit-07", "/waiting"),
        ("unit-60", "/documents"),
        ("unit-60", "/documents?title=预算"),
        ("unit-60", "/waiting"),
    ]
    subjects = {
        "office": OFFICE_DN,
        "unit-07": "CN=bench-registrar,O=unit-07",
        "unit-60": "CN=bench-registrar,O=unit-60",
    }
    print(f"{'viewer':8} {'cold ms':>8} {'median ms':>9}  page")
    async with aiohttp.ClientSession() as session:
        for viewer, path in pages:
            headers = {"X-Client-Verified": "SUCCESS", "X-Client-DN": subjects[viewer]}
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as got:
                    await got.read()
                    if got.status != 200:
                        raise SystemExit(f"{path}: HTTP {got.status}")
                times.append((time.perf_counter() - began) * 1000)
            print(f"{viewer:8} {times[0]:8.1f} {statistics.median(times):9.1f}  {path}")
    await runner.cleanup()
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the ledger here; reuse it if filled")
    args = parser.parse_args()
    logs.configure("warning")  # not a line per page view
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        config = load_config(write_config(directory))
        ledger_path = Path(config.router.ledger)
        if not ledger_path.exists():
            began = time.perf_counter()
            fill(ledger_path, args.deliveries)
            print(f"filled {args.deliveries} deliveries in {time.perf_counter() - began:.0f} s")
        else:
            open_ledger(ledger_path).close()  # indexes added since it was filled
        db = sqlite3.connect(f"{ledger_path.resolve().as_uri()}?mode=ro", uri=True)
        counts = [
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("documents", "deliveries")
        ]
        db.close()
        size = ledger_path.stat().st_size >> 20
        print(f"ledger: {counts[0]} documents, {counts[1]} deliveries, {size} MiB")
        asyncio.run(measure(config, args.repeat))


if __name__ == "__main__":
    main()
