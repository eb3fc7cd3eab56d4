"""A PostgreSQL ledger for a test: a schema of its own in the test run's database, dropped after.

The server is the machine's (127.0.0.1:5432, or $DOCEX_TEST_POSTGRES); the run's database is
named for the run's prefix, so runs beside each other and a real exchange on the same server
never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from psycopg import sql

# The role scripts/ensure-services makes: it may create databases and nothing else.
SERVER = os.environ.get(
    "DOCEX_TEST_POSTGRES", "postgresql://docex_test:docex_test@127.0.0.1:5432/postgres"
)


def server_url(database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(SERVER)
    password = f":{quote(info['password'])}" if info.get("password") else ""
    return (
        f"postgresql://{info.get('user', 'postgres')}{password}@{info.get('host', '127.0.0.1')}"
        f":{info.get('port', 5432)}/{database}"
    )


@contextmanager
def run_database(prefix: str) -> Iterator[str]:
    """The run's own database, created for it and dropped after; yields its name."""
    name = f"docex_test_{prefix.replace('-', '_').lower()}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def schema_url(database: str) -> Iterator[str]:
    """A ledger URL whose tables live in a new schema of their own."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = server_url(database)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
