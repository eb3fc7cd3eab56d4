"""The ledger's schema, as numbered migrations per database: a ledger records the version it
is at (`schema_version`), and opening it applies the ones it lacks, in one transaction, so an
upgrade that adds a column never meets a ledger without it at run time. A ledger newer than
this docex is refused rather than misread.

The two lists describe the same tables; PostgreSQL's adds what only a shared ledger needs
(routers, config_applied, counts kept as appended deltas).
"""

from __future__ import annotations

from docex.ledger.board_reads import BOARD_INDEXES

_COMMAND_DOCUMENTS = """
ALTER TABLE commands ADD COLUMN doc_id TEXT;
CREATE INDEX IF NOT EXISTS commands_by_document ON commands (doc_id, received_at)
    WHERE doc_id IS NOT NULL;
"""

_PERSONS = """
CREATE TABLE IF NOT EXISTS persons (
    unit TEXT NOT NULL,
    name TEXT NOT NULL,
    chinese_name TEXT NOT NULL,
    roles TEXT NOT NULL,
    mobile TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    system INTEGER NOT NULL DEFAULT 0,
    key_id TEXT NOT NULL,
    public_key {blob} NOT NULL,
    created_at TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (unit, name)
);
CREATE TABLE IF NOT EXISTS person_credentials (
    key_id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    name TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    revoked_at TEXT
);
ALTER TABLE commands ADD COLUMN person TEXT;
"""

_PERSONS_CHANGED_BY = "ALTER TABLE persons ADD COLUMN changed_by TEXT NOT NULL DEFAULT '';"

# Version 1 is the schema from before versions were recorded; its statements are written to
# be a no-op on such a ledger, so it is simply applied again and recorded.
SQLITE: list[str] = [
    """
CREATE TABLE IF NOT EXISTS contents (
    sha256 BLOB PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    title TEXT NOT NULL,
    doc_no TEXT NOT NULL,
    sha256 BLOB NOT NULL REFERENCES contents(sha256),
    envelope BLOB NOT NULL,
    command_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    sent_exchange_date TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    doc_id TEXT NOT NULL REFERENCES documents(id),
    recipient TEXT NOT NULL,
    role TEXT NOT NULL,
    print_quota INTEGER NOT NULL,
    printed INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    delivered_at TEXT,
    received_at TEXT,
    received_exchange_date TEXT,
    attachments_received_at TEXT,
    PRIMARY KEY (doc_id, recipient)
);
-- What units have yet to take in: small however long the ledger grows, so the link watch and
-- the metrics scrape do not read every delivery ever made.
CREATE INDEX IF NOT EXISTS deliveries_untaken ON deliveries (recipient, state)
    WHERE received_at IS NULL;
-- How many deliveries are in each state, kept by triggers in the very transactions that change
-- a state, so the metrics scrape reads a few rows instead of counting every delivery ever
-- made. A ledger from before the table is counted once, before the triggers exist.
CREATE TABLE IF NOT EXISTS delivery_states (
    state TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
INSERT INTO delivery_states (state, count)
    SELECT state, count(*) FROM deliveries
    WHERE NOT EXISTS (SELECT 1 FROM delivery_states) GROUP BY state;
CREATE TRIGGER IF NOT EXISTS delivery_state_added AFTER INSERT ON deliveries BEGIN
    INSERT INTO delivery_states (state, count) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER IF NOT EXISTS delivery_state_changed AFTER UPDATE OF state ON deliveries
    WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE delivery_states SET count = count - 1 WHERE state = OLD.state;
    INSERT INTO delivery_states (state, count) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET count = count + 1;
END;
CREATE TABLE IF NOT EXISTS commands (
    id TEXT NOT NULL,
    unit TEXT NOT NULL,
    type TEXT NOT NULL,
    received_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (unit, id)
);
CREATE TABLE IF NOT EXISTS unit_names (
    unit_id TEXT NOT NULL,
    old_name TEXT NOT NULL,
    new_name TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    routing_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body BLOB,
    doc_id TEXT,
    recipient TEXT
);
-- The publisher takes each destination's oldest rows in turn (docex/router/outbox.py).
CREATE INDEX IF NOT EXISTS outbox_by_destination ON outbox (routing_key, seq);
-- Outbox rows the broker can never take (too large, an invalid property, no queue even after
-- declaring it again): set aside so they stop nobody else, and kept for the operator.
CREATE TABLE IF NOT EXISTS outbox_dead (
    seq INTEGER PRIMARY KEY,
    routing_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body BLOB,
    doc_id TEXT,
    recipient TEXT,
    reason TEXT NOT NULL,
    error TEXT NOT NULL,
    dead_at TEXT NOT NULL
);
-- The last time each unit was heard from (a heartbeat or any command), and whether it has
-- ever sent a heartbeat: only units that have are watched by heartbeat (docex/router/linkwatch.py).
CREATE TABLE IF NOT EXISTS links (
    unit TEXT PRIMARY KEY,
    last_seen_at TEXT NOT NULL,
    heartbeats INTEGER NOT NULL DEFAULT 0
);
-- Link faults (§46): scope is a unit id, or '*' when the exchange itself is down. Kept here so
-- a restart does not reset the 24-hour clock of §47.
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    office_notified_at TEXT,
    paper_issued_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS faults_one_open ON faults (scope) WHERE ended_at IS NULL;
-- Paper notices (§47): one printable PDF for one unit, and the deliveries it lists.
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fault_id INTEGER NOT NULL REFERENCES faults(id),
    unit TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notice_documents (
    notice_id INTEGER NOT NULL REFERENCES notices(id),
    doc_id TEXT NOT NULL,
    PRIMARY KEY (notice_id, doc_id)
);
-- Information items (§39-§45), kept as delivered (`item`: an encoded wire.InfoItem). Work
-- updates carry period and part; requests their deadline (a stamp in exchange local time, so
-- stamps compare as strings) and what became of them.
CREATE TABLE IF NOT EXISTS info_items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    item BLOB NOT NULL,
    created_at TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT '',
    part TEXT NOT NULL DEFAULT '',
    deadline TEXT NOT NULL DEFAULT '',
    replied_at TEXT,
    delay_explained_at TEXT,
    overdue_at TEXT,
    adopted_at TEXT
);
CREATE TABLE IF NOT EXISTS info_recipients (
    info_id TEXT NOT NULL REFERENCES info_items(id),
    recipient TEXT NOT NULL,
    PRIMARY KEY (info_id, recipient)
);
-- Reminders and late flags already sent (docex/router/info_watch.py), so each goes out once.
CREATE TABLE IF NOT EXISTS info_flags (
    unit TEXT NOT NULL,
    subject TEXT NOT NULL,
    what TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (unit, subject, what)
);
-- SMS reminders (§16) waiting for the gateway or for their number's hourly allowance
-- (docex/router/sms.py), one row per text and number; and what went out, for that allowance.
CREATE TABLE IF NOT EXISTS sms_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    name TEXT NOT NULL,
    mobile TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_outbox_by_mobile ON sms_outbox (mobile, seq);
CREATE TABLE IF NOT EXISTS sms_sent (
    id TEXT PRIMARY KEY,
    mobile TEXT NOT NULL,
    -- Unix time: the allowance counts the last hour whatever the time zone.
    sent_at REAL NOT NULL,
    reminders INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_sent_by_mobile ON sms_sent (mobile, sent_at);
-- One row, rewritten every few seconds (docex/router/ledger_health.py): the router is ready only
-- while such a commit gets through.
CREATE TABLE IF NOT EXISTS liveness (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
""",
    # 2: paper notices keep their PDF, so a notice does not depend on the host that wrote it.
    "ALTER TABLE notices ADD COLUMN pdf BLOB;",
    # 3: what the board searches and lists (docex/ledger/board_reads.py).
    BOARD_INDEXES,
    # 4: which document a command was about, so its history has every act with its time.
    _COMMAND_DOCUMENTS,
    # 5: the register of persons and roles (§13–§15), and who acted for each command.
    _PERSONS.format(blob="BLOB"),
    # 6: who made each change to the register: the unit's administrator, '' for the office.
    _PERSONS_CHANGED_BY,
]

POSTGRES: list[str] = [
    r"""
CREATE TABLE contents (
    sha256 bytea PRIMARY KEY,
    body bytea NOT NULL
);
CREATE TABLE documents (
    id text PRIMARY KEY,
    sender text NOT NULL,
    title text NOT NULL,
    doc_no text NOT NULL,
    sha256 bytea NOT NULL REFERENCES contents(sha256),
    envelope bytea NOT NULL,
    command_id text NOT NULL,
    sent_at text NOT NULL,
    sent_exchange_date text NOT NULL
);
-- `rowid` keeps the order rows were made in, as SQLite's implicit rowid does there.
CREATE TABLE deliveries (
    rowid bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    doc_id text NOT NULL REFERENCES documents(id),
    recipient text NOT NULL,
    role text NOT NULL,
    print_quota integer NOT NULL,
    printed integer NOT NULL DEFAULT 0,
    state text NOT NULL,
    attempt integer NOT NULL DEFAULT 1,
    delivered_at text,
    received_at text,
    received_exchange_date text,
    attachments_received_at text,
    PRIMARY KEY (doc_id, recipient)
);
CREATE INDEX deliveries_untaken ON deliveries (recipient, state) WHERE received_at IS NULL;
-- How many deliveries are in each state. Every router's transactions append to
-- delivery_state_deltas, which nobody updates, so they never wait for one another on a
-- counter row; the leader folds the deltas into delivery_states (fold_state_counts).
CREATE TABLE delivery_states (
    state text PRIMARY KEY,
    count bigint NOT NULL
);
CREATE TABLE delivery_state_deltas (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state text NOT NULL,
    delta integer NOT NULL
);
CREATE FUNCTION docex_count_delivery_states() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_state_deltas (state, delta) VALUES (NEW.state, 1);
    ELSIF OLD.state IS DISTINCT FROM NEW.state THEN
        INSERT INTO delivery_state_deltas (state, delta) VALUES (OLD.state, -1), (NEW.state, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER delivery_states_counted AFTER INSERT OR UPDATE OF state ON deliveries
    FOR EACH ROW EXECUTE FUNCTION docex_count_delivery_states();
CREATE TABLE commands (
    id text NOT NULL,
    unit text NOT NULL,
    type text NOT NULL,
    received_at text NOT NULL,
    outcome text NOT NULL,
    reason text NOT NULL DEFAULT '',
    PRIMARY KEY (unit, id)
);
CREATE TABLE unit_names (
    rowid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    unit_id text NOT NULL,
    old_name text NOT NULL,
    new_name text NOT NULL,
    changed_at text NOT NULL
);
CREATE TABLE outbox (
    seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    routing_key text NOT NULL,
    message_id text NOT NULL,
    type text NOT NULL,
    body bytea,
    doc_id text,
    recipient text
);
CREATE INDEX outbox_by_destination ON outbox (routing_key, seq);
CREATE TABLE outbox_dead (
    seq bigint PRIMARY KEY,
    routing_key text NOT NULL,
    message_id text NOT NULL,
    type text NOT NULL,
    body bytea,
    doc_id text,
    recipient text,
    reason text NOT NULL,
    error text NOT NULL,
    dead_at text NOT NULL
);
CREATE TABLE links (
    unit text PRIMARY KEY,
    last_seen_at text NOT NULL,
    heartbeats integer NOT NULL DEFAULT 0
);
CREATE TABLE faults (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    scope text NOT NULL,
    kind text NOT NULL,
    started_at text NOT NULL,
    ended_at text,
    office_notified_at text,
    paper_issued_at text
);
CREATE UNIQUE INDEX faults_one_open ON faults (scope) WHERE ended_at IS NULL;
CREATE TABLE notices (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    fault_id bigint NOT NULL REFERENCES faults(id),
    unit text NOT NULL,
    path text NOT NULL,
    created_at text NOT NULL,
    pdf bytea
);
CREATE TABLE notice_documents (
    rowid bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    notice_id bigint NOT NULL REFERENCES notices(id),
    doc_id text NOT NULL,
    PRIMARY KEY (notice_id, doc_id)
);
CREATE TABLE info_items (
    id text PRIMARY KEY,
    kind text NOT NULL,
    sender text NOT NULL,
    item bytea NOT NULL,
    created_at text NOT NULL,
    period text NOT NULL DEFAULT '',
    part text NOT NULL DEFAULT '',
    deadline text NOT NULL DEFAULT '',
    replied_at text,
    delay_explained_at text,
    overdue_at text,
    adopted_at text
);
CREATE TABLE info_recipients (
    rowid bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    info_id text NOT NULL REFERENCES info_items(id),
    recipient text NOT NULL,
    PRIMARY KEY (info_id, recipient)
);
CREATE TABLE info_flags (
    unit text NOT NULL,
    subject text NOT NULL,
    what text NOT NULL,
    at text NOT NULL,
    PRIMARY KEY (unit, subject, what)
);
CREATE TABLE sms_outbox (
    seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    unit text NOT NULL,
    name text NOT NULL,
    mobile text NOT NULL,
    text text NOT NULL,
    created_at text NOT NULL
);
CREATE INDEX sms_outbox_by_mobile ON sms_outbox (mobile, seq);
CREATE TABLE sms_sent (
    id text PRIMARY KEY,
    mobile text NOT NULL,
    sent_at double precision NOT NULL,
    reminders integer NOT NULL
);
CREATE INDEX sms_sent_by_mobile ON sms_sent (mobile, sent_at);
CREATE TABLE liveness (
    id integer PRIMARY KEY CHECK (id = 1),
    at text NOT NULL
);
-- The routers sharing this ledger (docex/router/cluster.py): each rewrites its row every few
-- seconds; `docex router status` and the board show them.
CREATE TABLE routers (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at timestamptz NOT NULL,
    broker_connected boolean NOT NULL,
    config_digest text NOT NULL,
    clock_skew_ms integer NOT NULL,
    leader boolean NOT NULL,
    partitions integer[] NOT NULL DEFAULT '{}'
);
-- Configuration changes whose ledger side (renames, moving what waited for a revoked unit)
-- was applied, once per cluster however many routers reload.
CREATE TABLE config_applied (
    digest text PRIMARY KEY,
    applied_at text NOT NULL,
    router text NOT NULL
);
""",
    # 2: what the board searches and lists (docex/ledger/board_reads.py).
    BOARD_INDEXES,
    # 3: which document a command was about (as SQLite's 4).
    _COMMAND_DOCUMENTS,
    # 4: the register of persons and roles (as SQLite's 5).
    _PERSONS.format(blob="bytea"),
    # 5: who made each change to the register (as SQLite's 6).
    _PERSONS_CHANGED_BY,
]


class SchemaTooNew(Exception):
    pass


def pending(kind: str, version: int) -> list[tuple[int, str]]:
    """The migrations a ledger at `version` lacks, numbered; SchemaTooNew past the last."""
    migrations = SQLITE if kind == "sqlite" else POSTGRES
    if version > len(migrations):
        raise SchemaTooNew(
            f"the ledger is at schema version {version}, this docex knows up to"
            f" {len(migrations)}: run the docex that wrote it, or a newer one"
        )
    return [(number, migrations[number - 1]) for number in range(version + 1, len(migrations) + 1)]
