"""`docex report`: per-unit statistics for a year or a month, as CSV (docex/router/report.py says
what each column counts) and a PNG chart of who is late. Reads the ledger read-only, beside
a running router. The statistics and matplotlib are imported when the command runs."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from docex.cli.options import add_config_option
from docex.config import Config
from docex.exchange_date import CalendarError
from docex.i18n import _
from docex.ledger.port import LedgerReads
from docex.ledger.reader import with_ledger


def add_report_commands(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser("report", help=_("per-unit statistics for a year or a month"))
    add_config_option(report, _("the router's config"))
    report.add_argument("--period", required=True, help=_("a year (2026) or a month (2026-03)"))
    report.add_argument(
        "--out", type=Path, required=True, help=_("directory for the CSV and the chart")
    )
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from docex.router.report import statistics, write_csv
    from docex.router.report_chart import write_chart
    from docex.router.work_updates import PeriodError

    def report(config: Config, ledger: LedgerReads) -> int:
        today = datetime.now(UTC).astimezone(config.calendar().timezone).date()
        try:
            rows = statistics(config, ledger, args.period, today)
        except (PeriodError, CalendarError) as exc:
            print(_("error: {problem}").format(problem=exc), file=sys.stderr)
            return 2
        table = args.out / f"docex-report-{args.period}.csv"
        chart = table.with_suffix(".png")
        write_csv(rows, table)
        write_chart(rows, args.period, chart)
        print(_("{table}: {count} units").format(table=table, count=len(rows)))
        print(chart)
        return 0

    return with_ledger(args.config, report)
