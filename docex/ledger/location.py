"""Where a ledger is: a path to a SQLite file, or a URL — `sqlite:///absolute/path`,
`sqlite:relative/path`, or `postgresql://user@host/database` (libpq's URL: several hosts,
`target_session_attrs=read-write` and the rest work as libpq documents them). Other text is a
path, as it always was, colons and all.

Apart from opening it (open.py) so that the configuration can check a location without
loading a database driver.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from docex.i18n import _

_POSTGRESQL = ("postgresql", "postgres")


class LedgerLocationError(ValueError):
    pass


def is_postgresql(location: str | Path) -> bool:
    scheme, colon, _rest = str(location).partition(":")
    return bool(colon) and scheme.lower() in _POSTGRESQL


def sqlite_file(location: str | Path, base: Path = Path()) -> Path:
    """The SQLite file a location names; a relative one is taken from `base` (docex/config.py
    gives the config file's folder). LedgerLocationError for a location naming no such file."""
    text = str(location)
    scheme, colon, _rest = text.partition(":")
    if is_postgresql(text):
        raise LedgerLocationError(
            _("{location}: a PostgreSQL database, not a SQLite file").format(location=text)
        )
    if not colon or scheme.lower() != "sqlite":
        return base / text
    url = urlsplit(text)
    if url.netloc or url.query or url.fragment or not url.path:
        raise LedgerLocationError(
            _(
                "{location}: a sqlite: URL names a file: sqlite:///absolute/path or"
                " sqlite:relative/path"
            ).format(location=text)
        )
    return base / unquote(url.path)
