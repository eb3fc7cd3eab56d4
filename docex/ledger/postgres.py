"""The shared ledger: PostgreSQL, for several routers (docex/router/cluster.py) on one
exchange.

The statements are sql.py's, the same as SQLite's. What a shared ledger adds:
- subject locks (`lock_subject`): a transaction takes a transaction-level advisory lock on
  each document, information item or command it touches before reading it, so two routers
  never decide on one delivery from the same stale read (two prints given the same copy
  numbers, a withdraw and a print both told they succeeded); the compare-and-set updates
  (`move`, `add_printed`, `mark_received`) are the second fence;
- state counts as appended deltas, folded by the leader (`fold_state_counts`), so no
  transaction waits for another on a counter row;
- sessions that a hung router cannot keep: idle timeouts end them, and with them any lock.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from docex.error_text import postgres_problem
from docex.ledger import schema
from docex.ledger.errors import LedgerError, LedgerUnavailable
from docex.ledger.records import RouterRecord
from docex.ledger.sql import Cursor, SqlLedger

# docex's advisory locks: (ADVISORY_NAMESPACE, key), beside whatever else uses the database.
# Key 0 is the leader's lease, 1 + p partition p's (docex/router/cluster.py), -1 migrations.
ADVISORY_NAMESPACE = 0x646F6378  # "docx"
LEADER_LOCK = 0
_MIGRATION_LOCK = -1
# Committed outbox rows wake the routers through this channel.
OUTBOX_CHANNEL = "docex_outbox"
# The server ends a session that stays idle this long (a frozen router), and with it its locks;
# a live router's connections are used (or pinged) every few seconds.
_IDLE_TIMEOUT = "20s"
# Found dead in ~15 s instead of the OS's two hours: a cut network must free a router's locks.
_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10000,
}


class PostgresLedger(SqlLedger):
    _db: _Connection

    def __init__(self, url: str, *, read_only: bool = False, fenced_by: int | None = None) -> None:
        """`fenced_by`: a transaction commits only while this session holds that lock (the
        leader's session: docex/router/cluster.py)."""
        self.url = url
        self._read_only = read_only
        self._enqueued = False
        self._fence: int | None = None
        self._db = _Connection(url, read_only)
        if not read_only:
            self._migrate()
        self._fence = fenced_by

    def _migrate(self) -> None:
        """Under a lock: routers started together must not migrate twice."""
        with self.transaction():
            self._db.execute(
                "SELECT pg_advisory_xact_lock(?, ?)", (ADVISORY_NAMESPACE, _MIGRATION_LOCK)
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            row = self._db.execute("SELECT version FROM schema_version").fetchone()
            try:
                steps = schema.pending("postgres", row[0] if row else 0)
            except schema.SchemaTooNew as exc:
                raise LedgerError(f"{_safe(self.url)}: {exc}") from None
            for _, script in steps:
                self._db.execute_script(script)
            if steps:
                self._db.execute("DELETE FROM schema_version")
                self._db.execute("INSERT INTO schema_version (version) VALUES (?)", (steps[-1][0],))

    @property
    def connection(self) -> _Connection:
        """The session itself, for docex/ledger/migrate.py's bulk copy."""
        return self._db

    @property
    def description(self) -> str:
        """Where it is, without the password: for messages and logs."""
        return _safe(self.url)

    def close(self) -> None:
        self._db.close()

    def _instant(self, stamp: str) -> str:
        return f"({stamp})::timestamptz"

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[None]:
        """`durable=False`: committed without waiting for the standby and the disk, for
        bookkeeping that is redone if lost."""
        self._db.execute("BEGIN")
        self._enqueued = False
        try:
            if self._fence is not None and self._fence not in self.held_locks():
                raise LedgerUnavailable("this router is no longer the leader", "not_leader")
            if not durable:
                self._db.execute("SET LOCAL synchronous_commit = off")
            yield
            if self._enqueued:
                # Delivered at commit to every router listening (listen_for_outbox): the one
                # that publishes to the destination need not wait for its next poll.
                self._db.execute(f"NOTIFY {OUTBOX_CHANNEL}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.rollback()
            raise

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._db.execute("SAVEPOINT command")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK TO SAVEPOINT command")
                self._db.execute("RELEASE SAVEPOINT command")
            raise
        self._db.execute("RELEASE SAVEPOINT command")

    def enqueue(
        self,
        routing_key: str,
        message_id: str,
        type_: str,
        body: bytes | None = None,
        doc_id: str | None = None,
        recipient: str | None = None,
    ) -> None:
        super().enqueue(routing_key, message_id, type_, body, doc_id, recipient)
        self._enqueued = True

    def lock_subject(self, subject: str) -> None:
        """Held until the transaction ends; a hash collision only makes two unrelated subjects
        wait for each other."""
        self._db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (subject,))

    def fold_state_counts(self) -> None:
        self._db.execute(
            "WITH folded AS (DELETE FROM delivery_state_deltas RETURNING state, delta)"
            " INSERT INTO delivery_states (state, count)"
            " SELECT state, sum(delta) FROM folded GROUP BY state"
            " ON CONFLICT (state) DO UPDATE SET count = delivery_states.count + excluded.count"
        )

    def deliveries_by_state(self) -> list[tuple[str, int]]:
        """Folded counts plus the deltas not folded yet: exact, and still a few rows."""
        rows = self._db.execute(
            "SELECT state, sum(n)::bigint FROM (SELECT state, count AS n FROM delivery_states"
            " UNION ALL SELECT state, delta FROM delivery_state_deltas) AS counted"
            " GROUP BY state ORDER BY state"
        ).fetchall()
        return [(str(state), int(count)) for state, count in rows]

    # The cluster's bookkeeping (docex/router/cluster.py), on a router's control session.

    def held_locks(self) -> set[int]:
        """The docex advisory locks this session holds."""
        rows = self._db.execute(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory'"
            " AND pid = pg_backend_pid() AND granted AND classid = ? AND objsubid = 2",
            (ADVISORY_NAMESPACE,),
        ).fetchall()
        return {_signed(int(objid)) for (objid,) in rows}

    def try_lock(self, key: int) -> bool:
        (got,) = self._db.execute(
            "SELECT pg_try_advisory_lock(?, ?)", (ADVISORY_NAMESPACE, key)
        ).fetchone()
        return bool(got)

    def unlock(self, key: int) -> None:
        self._db.execute("SELECT pg_advisory_unlock(?, ?)", (ADVISORY_NAMESPACE, key))

    def reconnect(self) -> None:
        self._db.reopen()

    def heartbeat(
        self,
        router: str,
        *,
        broker_connected: bool,
        config_digest: str,
        clock_skew_ms: int,
        leader: bool,
        partitions: list[int],
    ) -> None:
        host, _, pid = router.rpartition(":")
        pid = pid if pid.isdigit() else "0"
        self._db.execute(
            "INSERT INTO routers (id, host, pid, started_at, seen_at, broker_connected,"
            " config_digest, clock_skew_ms, leader, partitions)"
            " VALUES (?, ?, ?, now(), now(), ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seen_at = now(),"
            " broker_connected = excluded.broker_connected,"
            " config_digest = excluded.config_digest, clock_skew_ms = excluded.clock_skew_ms,"
            " leader = excluded.leader, partitions = excluded.partitions",
            (
                router,
                host,
                int(pid or 0),
                broker_connected,
                config_digest,
                clock_skew_ms,
                leader,
                partitions,
            ),
        )

    def live_routers(self, alive_s: int) -> list[str]:
        rows = self._db.execute(
            "SELECT id FROM routers WHERE seen_at > now() - make_interval(secs => ?) ORDER BY id",
            (alive_s,),
        ).fetchall()
        return [str(router) for (router,) in rows]

    def routers(self) -> list[RouterRecord]:
        rows = self._db.execute(
            "SELECT id, leader, broker_connected, partitions,"
            " extract(epoch FROM now() - seen_at)::float8, clock_skew_ms"
            " FROM routers ORDER BY id"
        ).fetchall()
        return [
            RouterRecord(str(r[0]), bool(r[1]), bool(r[2]), list(r[3]), float(r[4]), int(r[5]))
            for r in rows
        ]

    def leave(self, router: str) -> None:
        self._db.execute("SELECT pg_advisory_unlock_all()")
        self._db.execute("DELETE FROM routers WHERE id = ?", (router,))

    def apply_once(self, digest: str, at: str, router: str) -> bool:
        """Inside a transaction: whether this configuration's ledger-side changes are still
        to be applied (True once per digest, whichever router asks first)."""
        row = self._db.execute(
            "INSERT INTO config_applied (digest, applied_at, router) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (digest, at, router),
        ).fetchone()
        if row is None:
            return False
        self.record_event("config_reloaded", at=at, digest=digest, router=router)
        return True

    def _uncount(self, doc_id: str) -> None:
        self._db.execute(
            "INSERT INTO delivery_state_deltas (state, delta)"
            " SELECT state, -count(*) FROM deliveries WHERE doc_id = ? GROUP BY state",
            (doc_id,),
        )

    def _unchained(self, after_event: int | None, limit: int) -> list[tuple[int, bytes]]:
        """Only events of transactions older than every one still running: an event of a
        transaction still open (or not yet visible) would otherwise be chained after events
        committed later, or skipped. (xid, id) is an order every chainer agrees on."""
        after = (
            " AND (e.xid, e.id) > (SELECT x.xid, x.id FROM audit_events x WHERE x.id = ?)"
            if after_event is not None
            else ""
        )
        params: tuple[Any, ...] = (after_event, limit) if after_event is not None else (limit,)
        rows = self._db.execute(
            "SELECT e.id, e.hash FROM audit_events e"
            " WHERE e.xid < pg_snapshot_xmin(pg_current_snapshot())"
            + after
            + " ORDER BY e.xid, e.id LIMIT ?",
            params,
        ).fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def database_clock_skew(self, local_epoch: float) -> float:
        """Seconds this host's clock is ahead of the database's (negative: behind)."""
        (server,) = self._db.execute(
            "SELECT extract(epoch FROM clock_timestamp())::float8"
        ).fetchone()
        return local_epoch - float(server)


async def listen_for_outbox(url: str, wake: Callable[[], None]) -> None:
    """Call `wake` whenever any router commits outbox rows, until cancelled. Its own
    connection: LISTEN holds a session that does nothing else."""
    try:
        connection = await psycopg.AsyncConnection.connect(url, autocommit=True, **_KEEPALIVES)
    except psycopg.Error as exc:
        raise _translated(exc, url) from exc
    async with connection:
        await connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
        async for _ in connection.notifies():
            wake()


class _Connection:
    """One psycopg session, with `?` placeholders and the ledger's errors. A lost session is
    opened again at the next transaction; its advisory locks are gone with it."""

    def __init__(self, url: str, read_only: bool) -> None:
        self._url = url
        self._read_only = read_only
        self._conn = self._open()
        self._texts: dict[str, str] = {}

    def _open(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                application_name=f"docex {socket.gethostname()}",
                **_KEEPALIVES,
            )
        except psycopg.OperationalError as exc:
            raise LedgerUnavailable(postgres_problem(exc, _address(self._url)), "gone") from exc
        except psycopg.Error as exc:
            raise _translated(exc, self._url) from exc
        conn.execute(
            f"SET idle_session_timeout = '{_IDLE_TIMEOUT}';"
            f" SET idle_in_transaction_session_timeout = '{_IDLE_TIMEOUT}'"
        )
        if self._read_only:
            conn.execute("SET default_transaction_read_only = on")
        return conn

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
        )

    def _text(self, sql: str) -> str:
        text = self._texts.get(sql)
        if text is None:
            text = self._texts[sql] = sql.replace("%", "%%").replace("?", "%s")
        return text

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self._conn.closed or self._conn.broken:
            if sql != "BEGIN":
                raise LedgerUnavailable("the database session was lost", "gone")
            self._conn = self._open()
        try:
            return self._conn.execute(self._text(sql), params)
        except psycopg.Error as exc:
            raise _translated(exc, self._url) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._text(sql), rows)
        except psycopg.Error as exc:
            raise _translated(exc, self._url) from exc

    def copy_rows(self, table: str, columns: str, rows: Iterable[Sequence[Any]]) -> None:
        """Bulk load (docex/ledger/migrate.py): COPY, not one INSERT per row."""
        try:
            with (
                self._conn.cursor() as cursor,
                cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            raise _translated(exc, self._url) from exc

    def execute_script(self, script: str) -> None:
        """Several statements, no parameters (a migration)."""
        try:
            self._conn.execute(script.encode())
        except psycopg.Error as exc:
            raise _translated(exc, self._url) from exc

    def reopen(self) -> None:
        with suppress(psycopg.Error):
            self._conn.close()
        self._conn = self._open()

    def rollback(self) -> None:
        if self._conn.closed or self._conn.broken:
            return
        try:
            self._conn.execute("ROLLBACK")
        except psycopg.Error:
            self._conn.close()

    def close(self) -> None:
        self._conn.close()


def _translated(error: psycopg.Error, url: str) -> LedgerError:
    where = _safe(url)
    if isinstance(error, pg_errors.DeadlockDetected | pg_errors.SerializationFailure):
        return LedgerUnavailable(f"{where}: {error}", "locked")
    if isinstance(error, pg_errors.DiskFull):
        return LedgerUnavailable(f"{where}: {error}", "disk_full")
    if isinstance(error, psycopg.OperationalError):
        return LedgerUnavailable(f"{where}: {str(error).strip()}", "gone")
    return LedgerError(f"{where}: {str(error).strip()}")


def _signed(objid: int) -> int:
    """pg_locks shows a lock's int4 key as an unsigned oid."""
    return objid - (1 << 32) if objid >= 1 << 31 else objid


def _address(url: str) -> str:
    """HOST:PORT/DATABASE of the URL, without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "?"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL ledger"
    host = info.get("host", "localhost")
    return f"PostgreSQL ledger {info.get('dbname', '')} on {host}:{info.get('port', 5432)}"
