"""Where a ledger is: a path to a SQLite file, or a URL — `sqlite:///absolute/path`,
`sqlite:relative/path`. A PostgreSQL URL is recognised and refused, in one line, until that
ledger exists. Other text is a path, as it always was, colons and all.

Apart from opening it (open.py) so that the configuration can check a location without
loading a database driver.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

_POSTGRESQL = ("postgresql", "postgres")


class LedgerLocationError(ValueError):
    pass


def sqlite_file(location: str | Path, base: Path = Path()) -> Path:
    """The SQLite file a location names; a relative one is taken from `base` (docex/config.py
    gives the config file's folder). LedgerLocationError for a location naming no such file."""
    text = str(location)
    scheme, colon, _ = text.partition(":")
    if colon and scheme.lower() in _POSTGRESQL:
        raise LedgerLocationError(
            f"{text}: a PostgreSQL ledger is not built yet; give a SQLite file instead"
        )
    if not colon or scheme.lower() != "sqlite":
        return base / text
    url = urlsplit(text)
    if url.netloc or url.query or url.fragment or not url.path:
        raise LedgerLocationError(
            f"{text}: a sqlite: URL names a file: sqlite:///absolute/path or sqlite:relative/path"
        )
    return base / unquote(url.path)
