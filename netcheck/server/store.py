"""The collector's storage: SQLite (WAL, fsynced commits) and a hive-partitioned Parquet archive.

In: enrollment codes, probes' public keys, and verified batches (header text, signature, record
texts). Out: answers to "is this batch new, a repeat, or a fork", the latest state of each
(target, network), exports, and ``records/date=YYYY-MM-DD/network=LABEL/*.parquet`` that
``netcheck report`` reads directly.

Why SQLite (not DuckDB): the collector's hot path is many small transactions from many probes,
each of which must be durable before the collector answers; SQLite's WAL with
``synchronous=FULL`` fsyncs each commit and lets readers (dashboard, metrics, export) run beside
the one writer. Analysis over months reads the Parquet archive, where columnar engines shine.

Durability order: a batch is committed to SQLite (header, signature, every record's text) before
the collector answers 2xx; the Parquet file for it is written after, to a temporary name, fsynced
and renamed, and the batch marked archived. A collector killed between the two re-archives on
start (``archive_pending``): the archive is derived from the database, never the other way round.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from netcheck.errors import InputError
from netcheck.fleet.evidence import GENESIS, Header, sha256_hex
from netcheck.models import duration_seconds, utc_now

#: a network label names a folder of the archive: letters, digits, dot, dash, underscore only
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DB_NAME = "collector.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS codes (
    code_sha256 TEXT PRIMARY KEY, network TEXT NOT NULL, created_at TEXT NOT NULL,
    expires_at REAL NOT NULL, used_by TEXT
);
CREATE TABLE IF NOT EXISTS probes (
    id TEXT PRIMARY KEY, network TEXT NOT NULL, public_key TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL, revoked_at TEXT, platform TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0, last_hash TEXT NOT NULL,
    last_seen REAL, dropped INTEGER NOT NULL DEFAULT 0, records INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batches (
    probe TEXT NOT NULL, seq INTEGER NOT NULL, sha256 TEXT NOT NULL, prev TEXT NOT NULL,
    header TEXT NOT NULL, signature TEXT NOT NULL, received_at TEXT NOT NULL,
    records INTEGER NOT NULL, archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (probe, seq)
);
CREATE TABLE IF NOT EXISTS records (
    probe TEXT NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL, sha256 TEXT NOT NULL,
    same_as_seq INTEGER, same_as_idx INTEGER, network TEXT NOT NULL, body TEXT,
    measured_at TEXT, url TEXT, service TEXT, function TEXT, official INTEGER,
    verdict TEXT, technique TEXT,
    PRIMARY KEY (probe, seq, idx)
);
CREATE INDEX IF NOT EXISTS records_sha ON records (probe, sha256);
CREATE TABLE IF NOT EXISTS archive_jobs (
    id INTEGER PRIMARY KEY, first_rowid INTEGER NOT NULL, last_rowid INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS latest (
    url TEXT NOT NULL, network TEXT NOT NULL, service TEXT, function TEXT, official INTEGER,
    verdict TEXT NOT NULL, technique TEXT, since TEXT NOT NULL, measured_at TEXT NOT NULL,
    probe TEXT NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (url, network)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- dashboard users (read-only): scrypt hashes, never passwords (netcheck.server.dashboard.auth)
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password TEXT NOT NULL, created_at TEXT NOT NULL
);
-- change alerts: the state last announced per (url, network), and deliveries waiting or done
-- (netcheck.notify); announced and queued in one transaction, so an alert is sent once
CREATE TABLE IF NOT EXISTS announced (
    url TEXT NOT NULL, network TEXT NOT NULL, state TEXT NOT NULL, measured_at TEXT NOT NULL,
    announced_at TEXT NOT NULL, PRIMARY KEY (url, network)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, destination TEXT NOT NULL, subject TEXT NOT NULL,
    payload TEXT NOT NULL, created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, last_error TEXT, sent_at TEXT, gave_up INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class Probe:
    id: str
    network: str
    public_key: str
    revoked: bool
    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class Stored:
    status: str  # "stored" | "already-stored"
    records: int
    duplicates: int


class Conflict(Exception):
    """The batch breaks the probe's chain (409): a fork, a gap, or a wrong ``prev``."""


def check_label(label: str) -> str:
    if not LABEL.match(label):
        raise InputError(
            "a network label is 1-64 letters, digits, '.', '-' or '_' (it names an archive folder)",
            field="--network",
        )
    return label


#: the longest duration a flag takes (a code's lifetime, the agent's interval): ten years
MAX_DURATION = 3650 * 86400.0


def parse_duration(
    text: str, field: str = "--expires", *, minimum: float = 1.0, maximum: float = MAX_DURATION
) -> float:
    """``90s``, ``30m``, ``24h``, ``7d`` → seconds, from ``minimum`` to ``maximum`` (zero would
    expire a code at once or loop an agent without pause; ``9…9d`` is infinite); ``InputError``
    naming ``field`` otherwise."""
    try:
        seconds = duration_seconds(text)
    except ValueError as exc:
        raise InputError(str(exc), field=field) from None
    if not minimum <= seconds <= maximum:
        raise InputError(
            f"{text.strip()!r} is out of range: from {minimum:g} s to {maximum / 86400:g} days",
            field=field,
        )
    return seconds


class Store:
    """One data folder: ``collector.sqlite3`` and ``records/`` (the Parquet archive)."""

    def __init__(self, data: Path, *, create: bool = True, readonly: bool = False) -> None:
        """``create``: make the folder and database when missing; ``readonly``: open an existing
        database without writing a byte (``verify`` on evidence, maybe on read-only media)."""
        self.data = data
        db = data / DB_NAME
        # os.path's tests, not Path's: they answer False where a folder cannot be searched
        # (Path's raise PermissionError, which would be a crash, not a message)
        if os.path.exists(data) and not os.path.isdir(data):
            raise InputError("not a folder", file=str(data), field="--data")
        if (not create or readonly) and not os.path.isfile(db):
            raise InputError("not a collector data folder (no collector.sqlite3)", file=str(data))
        self.archive = data / "records"
        if os.path.lexists(self.archive) and not os.path.isdir(self.archive):
            raise InputError("the archive is not a folder", file=str(self.archive))
        self._lock = threading.Lock()
        try:
            if not readonly:
                data.mkdir(parents=True, exist_ok=True)
            self.db = _connect(db, readonly)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(
                f"cannot open the collector's database: {exc}", file=str(db), field="--data"
            ) from None

    def close(self) -> None:
        self.db.close()

    # --- enrollment ---------------------------------------------------------------------------

    def create_code(self, network: str, expires_s: float) -> str:
        check_label(network)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.db.execute(
                "INSERT INTO codes VALUES (?, ?, ?, ?, NULL)",
                (sha256_hex(code), network, utc_now(), time.time() + expires_s),
            )
        return code

    def enroll(self, code: str, public_key: str, platform: str = "") -> tuple[str, str]:
        """Spend a one-time code: (probe id, network). ``LookupError`` for an unknown, used or
        expired code; ``Conflict`` for a key already enrolled."""
        digest = sha256_hex(code)
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute(
                    "SELECT network, expires_at, used_by FROM codes WHERE code_sha256 = ?",
                    (digest,),
                ).fetchone()
                if row is None or row[2] is not None or row[1] < time.time():
                    raise LookupError("unknown, used or expired enrollment code")
                if self.db.execute(
                    "SELECT 1 FROM probes WHERE public_key = ?", (public_key,)
                ).fetchone():
                    raise Conflict("this key is already enrolled")
                probe = secrets.token_hex(16)
                self.db.execute(
                    "INSERT INTO probes (id, network, public_key, enrolled_at, platform, last_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (probe, row[0], public_key, utc_now(), platform[:200], GENESIS),
                )
                self.db.execute(
                    "UPDATE codes SET used_by = ? WHERE code_sha256 = ?", (probe, digest)
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return probe, row[0]

    def revoke(self, probe: str) -> None:
        with self._lock:
            cur = self.db.execute(
                "UPDATE probes SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (utc_now(), probe),
            )
        if cur.rowcount == 0 and self.probe(probe) is None:  # unknown, not already revoked
            raise InputError(f"no probe {probe!r} in this collector", field="--probe")

    def probe(self, probe: str) -> Probe | None:
        with self._lock:
            row = self._probe_row(probe)
        if row is None:
            return None
        return Probe(row[0], row[1], row[2], row[3] is not None, row[4], row[5])

    def _probe_row(self, probe: str) -> Any:
        return self.db.execute(
            "SELECT id, network, public_key, revoked_at, last_seq, last_hash FROM probes "
            "WHERE id = ?",
            (probe,),
        ).fetchone()

    # --- ingest -----------------------------------------------------------------------------------

    @dataclass(frozen=True)
    class Item:
        """One verified batch waiting for the writer."""

        probe: Probe
        header: Header
        header_text: str
        signature: str
        texts: list[str]
        facts: list[dict[str, Any]]

    def ingest(self, item: Store.Item) -> Stored:
        """Store one verified batch durably, or recognise it as a repeat (``Conflict``: 409)."""
        result = self.ingest_many([item])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def ingest_many(self, items: list[Store.Item]) -> list[Stored | Conflict]:
        """Group commit: every batch in its own savepoint, one fsynced commit for all of them.
        A batch that breaks its chain rolls back alone; the others are stored. Nothing is
        answered before the commit returns."""
        results: list[Stored | Conflict] = []
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for item in items:
                    self.db.execute("SAVEPOINT batch")
                    try:
                        results.append(self._ingest(item))
                    except Conflict as exc:
                        self.db.execute("ROLLBACK TO batch")
                        results.append(exc)
                    self.db.execute("RELEASE batch")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return results

    def _ingest(self, item: Store.Item) -> Stored:
        db, probe, header, texts = self.db, item.probe, item.header, item.texts
        digest = sha256_hex(item.header_text)
        row = db.execute(
            "SELECT sha256 FROM batches WHERE probe = ? AND seq = ?", (probe.id, header.seq)
        ).fetchone()
        if row is not None:
            if row[0] == digest:
                return Stored("already-stored", len(texts), 0)
            raise Conflict(f"a different batch {header.seq} is already stored: a forked chain")
        last_seq, last_hash = db.execute(
            "SELECT last_seq, last_hash FROM probes WHERE id = ?", (probe.id,)
        ).fetchone()
        if header.seq != last_seq + 1:
            raise Conflict(f"expected batch {last_seq + 1}, got {header.seq}: a gap in the chain")
        if header.prev != last_hash:
            raise Conflict("prev is not the hash of the probe's last stored batch")
        db.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                probe.id,
                header.seq,
                digest,
                header.prev,
                item.header_text,
                item.signature,
                utc_now(),
                len(texts),
            ),
        )
        first = self._first_copies(probe.id, header.records)
        rows: list[tuple[Any, ...]] = []
        fresh: list[tuple[int, dict[str, Any]]] = []
        for idx, (text, sha, fact) in enumerate(
            zip(texts, header.records, item.facts, strict=True)
        ):
            same = first.get(sha)
            if same is not None:
                rows.append(
                    (
                        probe.id,
                        header.seq,
                        idx,
                        sha,
                        same[0],
                        same[1],
                        probe.network,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                    )
                )
                continue
            first[sha] = (header.seq, idx)
            rows.append(
                (
                    probe.id,
                    header.seq,
                    idx,
                    sha,
                    None,
                    None,
                    probe.network,
                    text,
                    fact["measured_at"],
                    fact["url"],
                    fact["service"],
                    fact["function"],
                    int(bool(fact["official"])),
                    fact["verdict"],
                    fact["technique"],
                )
            )
            fresh.append((idx, fact))
        db.executemany("INSERT INTO records VALUES (" + ",".join("?" * 15) + ")", rows)
        self._latest(probe, header.seq, fresh)
        duplicates = len(texts) - len(fresh)
        db.execute(
            "UPDATE probes SET last_seq = ?, last_hash = ?, last_seen = ?, "
            "dropped = dropped + ?, records = records + ? WHERE id = ?",
            (header.seq, digest, time.time(), header.dropped, len(fresh), probe.id),
        )
        return Stored("stored", len(fresh), duplicates)

    def _first_copies(self, probe: str, hashes: tuple[str, ...]) -> dict[str, tuple[int, int]]:
        """Records of ``probe`` already stored with these hashes: hash -> (seq, idx)."""
        found: dict[str, tuple[int, int]] = {}
        wanted = list(set(hashes))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found.update(
                (sha, (seq, idx))
                for sha, seq, idx in self.db.execute(
                    "SELECT sha256, seq, idx FROM records WHERE probe = ? AND same_as_seq IS NULL "
                    f"AND sha256 IN ({','.join('?' * len(chunk))})",
                    (probe, *chunk),
                )
            )
        return found

    def _latest(self, probe: Probe, seq: int, fresh: list[tuple[int, dict[str, Any]]]) -> None:
        """The latest state of each (target, network): the newest record wins; ``since`` is when
        its verdict began (kept while the verdict stays the same)."""
        newest: dict[str, tuple[int, dict[str, Any]]] = {}
        for idx, fact in sorted(fresh, key=lambda f: f[1]["measured_at"]):
            url = fact["url"]
            old = newest.get(url)
            since = fact["measured_at"]
            if old is not None and old[1]["verdict"] == fact["verdict"]:
                since = old[1]["since"]
            newest[url] = (idx, {**fact, "since": since})
        if not newest:
            return
        urls = list(newest)
        existing = {
            url: (verdict, since, measured_at)
            for url, verdict, since, measured_at in self.db.execute(
                "SELECT url, verdict, since, measured_at FROM latest WHERE network = ? AND url "
                f"IN ({','.join('?' * len(urls))})",
                (probe.network, *urls),
            )
        }
        rows = []
        for url, (idx, fact) in newest.items():
            before = existing.get(url)
            if before is not None and before[2] >= fact["measured_at"]:
                continue
            since = fact["since"]
            if before is not None and before[0] == fact["verdict"] and before[1] <= since:
                since = before[1]
            rows.append(
                (
                    url,
                    probe.network,
                    fact["service"],
                    fact["function"],
                    int(bool(fact["official"])),
                    fact["verdict"],
                    fact["technique"],
                    since,
                    fact["measured_at"],
                    probe.id,
                    seq,
                    idx,
                )
            )
        self.db.executemany(
            "INSERT OR REPLACE INTO latest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )

    def touch(self, probe: str) -> None:
        with self._lock:
            self.db.execute("UPDATE probes SET last_seen = ? WHERE id = ?", (time.time(), probe))

    # --- reading ----------------------------------------------------------------------------------

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of a read-only query, under the store's lock (one connection, many threads)."""
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def execute(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Run a few writes in one transaction (users, alerts, outbox): all or nothing."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self.db.execute(sql, args)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def batches(self, probe: str) -> list[tuple[int, str, str, str]]:
        """(seq, sha256, header, signature) of a probe's batches, in order."""
        return self.query(
            "SELECT seq, sha256, header, signature FROM batches WHERE probe = ? ORDER BY seq",
            (probe,),
        )

    def records_of(
        self, probe: str, seq: int
    ) -> list[tuple[int, str, str | None, int | None, int | None]]:
        """(idx, sha256, body, same_as_seq, same_as_idx) of one batch, in order."""
        return self.query(
            "SELECT idx, sha256, body, same_as_seq, same_as_idx FROM records "
            "WHERE probe = ? AND seq = ? ORDER BY idx",
            (probe, seq),
        )

    def probes(self) -> list[dict[str, Any]]:
        cols = (
            "id",
            "network",
            "public_key",
            "enrolled_at",
            "revoked_at",
            "platform",
            "last_seq",
            "last_seen",
            "dropped",
            "records",
        )
        rows = self.query(f"SELECT {', '.join(cols)} FROM probes ORDER BY network, id")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def latest(self, *, facts: bool = False) -> list[dict[str, Any]]:
        """The latest state of each (url, network); with ``facts``, also the record's
        ``vendor`` and ``evidence`` (the dashboard and the alerts say them in words)."""
        cols = (
            "url",
            "network",
            "service",
            "function",
            "official",
            "verdict",
            "technique",
            "since",
            "measured_at",
            "probe",
            "seq",
            "idx",
        )
        if not facts:
            rows = self.query(f"SELECT {', '.join(cols)} FROM latest ORDER BY url, network")
            return [dict(zip(cols, r, strict=True)) for r in rows]
        rows = self.query(
            f"SELECT {', '.join('l.' + c for c in cols)}, json_extract(r.body, '$.vendor'), "
            "json_extract(r.body, '$.evidence') FROM latest l LEFT JOIN records r "
            "ON r.probe = l.probe AND r.seq = l.seq AND r.idx = l.idx ORDER BY l.url, l.network"
        )
        return [dict(zip((*cols, "vendor", "evidence"), r, strict=True)) for r in rows]

    def bump(self, name: str, by: int = 1) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                "value = value + excluded.value",
                (name, by),
            )

    def counters(self) -> dict[str, int]:
        return dict(self.query("SELECT name, value FROM counters"))


def _connect(db: Path, readonly: bool) -> sqlite3.Connection:
    """The database, checked: a file that is not SQLite, or a SQLite file that is not a
    collector's, is refused here (``sqlite3.Error``) before anything is written to it."""
    if readonly:
        conn = _connect_readonly(db)
    else:
        conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "probes" not in tables:
            raise sqlite3.DatabaseError("a SQLite database, but not a collector's")
        if readonly:
            if "probes" not in tables:
                raise sqlite3.DatabaseError("an empty database: no probes, no batches")
            return conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_readonly(db: Path) -> sqlite3.Connection:
    """Read-only, without a byte written beside it: with no write-ahead log (the collector
    stopped cleanly, or this is a copy of the evidence) the file is complete and is read as
    immutable, so SQLite makes no ``-wal``/``-shm`` files either (nor fails on read-only media);
    with one, a collector may be running, and ``mode=ro`` reads the log too."""
    uri = db.resolve().as_uri()
    mode = "mode=ro" if os.path.exists(f"{db}-wal") else "immutable=1"
    return sqlite3.connect(f"{uri}?{mode}", uri=True, check_same_thread=False)


#: a secret shorter than this is refused: an empty or truncated ``admin.token`` must not open
#: ``/metrics`` and the read API to anyone who sends ``Authorization: Bearer``
MIN_SECRET = 16
MAX_SECRET = 512


def read_secret(path: Path, what: str, *, minimum: int = MIN_SECRET) -> str:
    """The one word in a secret file the collector made (admin token, dashboard key); an
    ``InputError`` naming the file when it is not that (empty, truncated, binary, too long, a
    folder): a weak or empty secret would let anyone in."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SECRET + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from None
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = "\x00"
    if len(raw) > MAX_SECRET or not text.isascii() or not text.isprintable() or " " in text:
        raise InputError(
            f"{what} is not one word of at most {MAX_SECRET} characters", file=str(path), line=1
        )
    if len(text) < minimum:
        raise InputError(
            f"{what} is empty or shorter than {minimum} characters (delete the file: a new one "
            "is made on the next start)",
            file=str(path),
            line=1,
        )
    return text


def expires_at(seconds: float) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
