"""mailfollow's local SQLite database: the only module containing SQL.

What it keeps:

- ``folders``: the sync position of each IMAP folder (UIDVALIDITY, last UID,
  HIGHESTMODSEQ), saved in the same transaction as the messages it covers, so
  a scan interrupted at any point resumes with nothing lost or duplicated.
- ``messages``: one row per Message-ID, the parsed message as compact JSON
  (zlib-compressed when that is smaller);
  ``locations``: where each message sits (folder, UID, flags). A message whose
  locations are all gone is kept: a deleted reply is still a reply.
- ``corrections``: the user's ``track`` / ``ignore`` decisions.
- ``conversations``: the latest policy verdicts, for ``status`` and digests.
- ``drafts`` and ``draft_events``: the approval queue and its history. Every
  status change is checked against ``core.approval`` and made with a
  compare-and-set on the old status, so two processes cannot both move a
  draft to ``sending``.
- ``meta``: small daemon facts (last poll, last error...).

Every write is one explicit transaction (``BEGIN IMMEDIATE``), so a crash at
any point leaves a consistent database. Datetimes are stored as ISO 8601 UTC
text with a fixed width, so text order is time order, and read back aware.
sqlite3 errors become ``errors.StoreError`` in one place, ``Store._sqlite_errors``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, get_args

from mailfollow import errors
from mailfollow.core import approval
from mailfollow.model import (
    Address,
    Conversation,
    Draft,
    FolderRole,
    Message,
    QueueState,
    Stage,
    State,
    Verdict,
)

logger = logging.getLogger(__name__)

CorrectionKind = Literal["track", "ignore"]

DEFAULT_BUSY_TIMEOUT = 10.0  # seconds to wait for another process's write lock
_BUSY_RETRY_SECONDS = 0.02

# Which location of a message speaks for it: where the user keeps mail they
# sent or received comes before copies, drafts and bins.
# Drafts ranks above All Mail and Archive: Gmail shows each draft in "All Mail"
# too, without the \Draft flag, and an unsent draft must never pass for sent mail.
ROLE_PREFERENCE: tuple[FolderRole, ...] = (
    FolderRole.SENT,
    FolderRole.INBOX,
    FolderRole.DRAFTS,
    FolderRole.ARCHIVE,
    FolderRole.ALL,
    FolderRole.OTHER,
    FolderRole.JUNK,
    FolderRole.TRASH,
)
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLE_PREFERENCE)}

# A draft's body may change only while nothing has gone out.
_EDITABLE_STATES = frozenset(
    {QueueState.PENDING, QueueState.SNOOZED, QueueState.APPROVED, QueueState.FAILED}
)

# Forward migrations. Entry N takes the schema from version N to N + 1; each
# runs in its own transaction together with the version bump. Never edit a
# released entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE folders (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        uidvalidity INTEGER,
        last_uid INTEGER NOT NULL DEFAULT 0,
        highest_modseq INTEGER,
        synced_at TEXT
    );

    -- folder/role: the best place the message was ever seen, which still
    -- speaks for it once every location is gone.
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        date TEXT NOT NULL,
        folder TEXT NOT NULL,
        role TEXT NOT NULL,
        data NOT NULL -- compact JSON text, or a BLOB of it zlib-compressed
    );
    CREATE INDEX messages_by_date ON messages (date);

    CREATE TABLE locations (
        folder TEXT NOT NULL REFERENCES folders (name) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        flags TEXT NOT NULL DEFAULT '',
        modseq INTEGER,
        PRIMARY KEY (folder, uid)
    ) WITHOUT ROWID;
    CREATE INDEX locations_by_message ON locations (message);

    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('track', 'ignore')),
        target TEXT NOT NULL,
        stage TEXT,
        created_at TEXT NOT NULL
    );

    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        state TEXT NOT NULL,
        counterpart_email TEXT NOT NULL,
        counterpart_name TEXT NOT NULL,
        company TEXT NOT NULL,
        subject TEXT NOT NULL,
        due_at TEXT,
        last_sent_at TEXT,
        last_reply_at TEXT,
        nudges_sent INTEGER NOT NULL,
        message_ids TEXT NOT NULL,
        reasons TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE drafts (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        mailfollow_id TEXT NOT NULL UNIQUE,
        message_id TEXT NOT NULL UNIQUE,
        sender_email TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        recipient_email TEXT NOT NULL,
        recipient_name TEXT NOT NULL,
        subject TEXT NOT NULL,
        in_reply_to TEXT NOT NULL,
        refs TEXT NOT NULL,
        body TEXT NOT NULL,
        nudge_number INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'sending', 'sent',
            'unconfirmed', 'skipped', 'snoozed', 'withdrawn', 'failed')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        snooze_until TEXT,
        approved_at TEXT,
        sent_at TEXT,
        imap_folder TEXT,
        imap_uid INTEGER,
        user_edited INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    -- The database itself refuses a second active draft for a conversation.
    CREATE UNIQUE INDEX drafts_one_active_per_conversation ON drafts (conversation_id)
        WHERE status IN ('pending', 'snoozed', 'approved', 'sending', 'unconfirmed');
    CREATE INDEX drafts_by_status ON drafts (status);
    CREATE INDEX drafts_by_conversation ON drafts (conversation_id);

    CREATE TABLE draft_events (
        id INTEGER PRIMARY KEY,
        draft_id INTEGER NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX draft_events_by_draft ON draft_events (draft_id);

    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: a large sync leaves the text of most messages on the server until it
    # could matter (Message.text_deferred).
    """
    ALTER TABLE messages ADD COLUMN text_deferred INTEGER NOT NULL DEFAULT 0;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class DraftConflictError(errors.StoreError):
    """The draft is not in the state the caller expected (another process moved it),
    or its conversation already has an active draft."""


class DraftEditRefusedError(errors.StoreError):
    """A body change that would overwrite the user's edit or rewrite history."""


# --- records ----------------------------------------------------------------


@dataclass(frozen=True)
class FolderState:
    """Where the scan of one folder stands."""

    name: str
    role: FolderRole
    uidvalidity: int | None
    last_uid: int = 0
    highest_modseq: int | None = None
    synced_at: datetime | None = None


@dataclass(frozen=True)
class MessageLocation:
    """One place a message was found."""

    folder: str
    role: FolderRole
    uid: int
    flags: frozenset[str]
    modseq: int | None


@dataclass(frozen=True)
class StoredCorrection:
    """A ``track`` / ``ignore`` decision the user made."""

    kind: CorrectionKind
    target: str  # an address, a domain or a conversation id
    stage: Stage | None
    created_at: datetime
    id: int = 0


@dataclass(frozen=True)
class ConversationRow:
    """One conversation as the policy last judged it."""

    id: str
    stage: Stage
    state: State
    counterpart: Address
    company: str
    subject: str
    due_at: datetime | None
    last_sent_at: datetime | None
    last_reply_at: datetime | None
    nudges_sent: int
    message_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    updated_at: datetime


@dataclass(frozen=True)
class DraftRecord:
    """A queue item: the draft with its status and bookkeeping."""

    id: int
    conversation_id: str
    mailfollow_id: str
    message_id: str
    sender: Address
    recipient: Address
    subject: str
    in_reply_to: str
    references: tuple[str, ...]
    body: str
    nudge_number: int
    status: QueueState
    created_at: datetime
    updated_at: datetime
    snooze_until: datetime | None
    approved_at: datetime | None
    sent_at: datetime | None
    imap_folder: str | None
    imap_uid: int | None
    user_edited: bool
    error: str | None

    def to_draft(self) -> Draft:
        return Draft(
            conversation_id=self.conversation_id,
            mailfollow_id=self.mailfollow_id,
            message_id=self.message_id,
            sender=self.sender,
            to=self.recipient,
            subject=self.subject,
            in_reply_to=self.in_reply_to,
            references=self.references,
            body=self.body,
            created_at=self.created_at,
            nudge_number=self.nudge_number,
        )


@dataclass(frozen=True)
class DraftEvent:
    """One line of a draft's history."""

    id: int
    draft_id: int
    at: datetime
    from_status: QueueState | None  # None for the event that created the draft
    to_status: QueueState
    reason: str


# --- the store --------------------------------------------------------------


class Store:
    """A connection to mailfollow's database. Use one per thread (sqlite3's rule)."""

    def __init__(self, connection: sqlite3.Connection, *, label: str) -> None:
        self._conn = connection
        self._label = label
        self._savepoints = itertools.count(1)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> Self:
        """Open (creating if needed) the database at ``path`` and migrate it.

        The directory is created 0700 and the file 0600: it holds mail.
        Raises SchemaVersionError for a database written by a newer mailfollow.
        """
        path = Path(path)
        _create_private_file(path)
        connection = _connect(str(path), busy_timeout=busy_timeout)
        store = cls(connection, label=str(path))
        try:
            store._configure(busy_timeout=busy_timeout, wal=True)
            store._migrate()
            _tighten_sidecar_files(path)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def memory(cls) -> Self:
        """A private in-memory database, for tests."""
        store = cls(_connect(":memory:", busy_timeout=0), label=":memory:")
        store._configure(busy_timeout=0, wal=False)
        store._migrate()
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        return int(self._one("SELECT version FROM schema_version")[0])

    # --- the seam: every sqlite3 error becomes a StoreError here -------------

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise errors.StoreError(f"database {self._label}: {exc}") from exc

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._sqlite_errors():
            return self._conn.execute(sql, params)

    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        with self._sqlite_errors():
            return self._conn.executemany(sql, rows).rowcount

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._sqlite_errors():
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row:
        rows = self._all(sql, params)
        if not rows:
            raise errors.StoreError(f"database {self._label}: no row for {sql!r}")
        return rows[0]

    def _first(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def mirror_writes(self) -> Iterator[None]:
        """Commits inside wait for no disk flush (WAL, synchronous NORMAL).

        For what can be fetched again, such as a sync's batches: a power cut
        may lose the last of them (with the folder position saved beside
        them), never leave the database inconsistent. Everything else keeps
        synchronous FULL, so a committed "sending" always survives.
        """
        if self._conn.in_transaction:
            raise errors.StoreError(f"database {self._label}: mirror_writes inside a transaction")
        self._run("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            self._run("PRAGMA synchronous = FULL")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work: BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any exception.

        Nested use becomes a savepoint, so methods that write can be combined
        into one larger transaction.
        """
        if self._conn.in_transaction:
            with self._savepoint():
                yield
            return
        self._run("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._rollback_quietly("ROLLBACK")
            raise
        try:
            self._run("COMMIT")
        except BaseException:
            self._rollback_quietly("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _consistent_read(self) -> Iterator[None]:
        """Several SELECTs that see one snapshot, even while another process writes."""
        if self._conn.in_transaction:
            yield
            return
        self._run("BEGIN")
        try:
            yield
        finally:
            self._rollback_quietly("ROLLBACK")  # read only: nothing to commit

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        name = f"sp{next(self._savepoints)}"
        self._run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._rollback_quietly(f"ROLLBACK TO {name}")
            self._rollback_quietly(f"RELEASE {name}")
            raise
        self._run(f"RELEASE {name}")

    def _rollback_quietly(self, sql: str) -> None:
        # The original exception matters more than a failed rollback; SQLite
        # rolls back an unfinished transaction by itself on the next open.
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute(sql)

    # --- setup and migrations ------------------------------------------------

    def _configure(self, *, busy_timeout: float, wal: bool) -> None:
        self._run(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._run("PRAGMA foreign_keys = ON")
        if wal:
            mode = self._enable_wal(deadline=time.monotonic() + busy_timeout)
            if mode != "wal":
                logger.warning("database %s: WAL mode unavailable, using %s", self._label, mode)
        # FULL: a committed "sending" survives a power cut, so nothing is resent.
        self._run("PRAGMA synchronous = FULL")

    def _enable_wal(self, *, deadline: float) -> str:
        """Switch to WAL, retrying while another connection holds the lock.

        SQLite answers a journal-mode change with SQLITE_BUSY at once, without
        its busy handler, so two processes opening a new file can collide.
        """
        while True:
            try:
                mode = str(self._one("PRAGMA journal_mode")[0]).lower()
                if mode == "wal":
                    return mode
                return str(self._one("PRAGMA journal_mode = WAL")[0]).lower()
            except errors.StoreError as exc:
                if not _is_busy(exc.__cause__) or time.monotonic() >= deadline:
                    raise
            time.sleep(_BUSY_RETRY_SECONDS)

    def _migrate(self) -> None:
        while self._apply_next_migration():
            pass

    def _apply_next_migration(self) -> bool:
        """Apply one migration in its own transaction; False when up to date."""
        with self.transaction():
            version = self._current_version()
            if version > SCHEMA_VERSION:
                raise errors.SchemaVersionError(
                    f"database {self._label} has schema version {version}, but this "
                    f"mailfollow knows only up to {SCHEMA_VERSION}: upgrade mailfollow"
                )
            if version == SCHEMA_VERSION:
                return False
            for statement in _split_statements(MIGRATIONS[version]):
                self._run(statement)
            self._run("UPDATE schema_version SET version = ?", (version + 1,))
        logger.info("database %s: migrated to schema version %d", self._label, version + 1)
        return True

    def _current_version(self) -> int:
        self._run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._first("SELECT version FROM schema_version")
        if row is None:
            self._run("INSERT INTO schema_version (version) VALUES (0)")
            return 0
        return int(row[0])

    # --- folders -------------------------------------------------------------

    def get_folder_state(self, name: str) -> FolderState | None:
        row = self._first("SELECT * FROM folders WHERE name = ?", (name,))
        return None if row is None else _folder_state(row)

    def folder_states(self) -> list[FolderState]:
        return [_folder_state(r) for r in self._all("SELECT * FROM folders ORDER BY name")]

    def save_folder_state(self, state: FolderState) -> None:
        """Record a folder's sync position.

        Refuses a new UIDVALIDITY while old UIDs are still recorded: call
        reset_folder first, since the old UIDs now name other messages.
        """
        with self.transaction():
            self._save_folder_state(state)

    def _save_folder_state(self, state: FolderState) -> None:
        old = self.get_folder_state(state.name)
        if (
            old is not None
            and old.uidvalidity is not None
            and old.uidvalidity != state.uidvalidity
            and self._first("SELECT 1 FROM locations WHERE folder = ? LIMIT 1", (state.name,))
        ):
            raise errors.StoreError(
                f"folder {state.name!r}: UIDVALIDITY changed from {old.uidvalidity} to "
                f"{state.uidvalidity}; reset the folder before saving the new position"
            )
        self._run(
            "INSERT INTO folders (name, role, uidvalidity, last_uid, highest_modseq, synced_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role = excluded.role,"
            " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
            " highest_modseq = excluded.highest_modseq, synced_at = excluded.synced_at",
            (
                state.name,
                state.role.value,
                state.uidvalidity,
                state.last_uid,
                state.highest_modseq,
                _opt_text(state.synced_at),
            ),
        )

    def reset_folder(self, name: str, uidvalidity: int | None) -> None:
        """Forget a folder's UIDs after its UIDVALIDITY changed; its messages stay."""
        with self.transaction():
            self._run("DELETE FROM locations WHERE folder = ?", (name,))
            changed = self._run(
                "UPDATE folders SET uidvalidity = ?, last_uid = 0, highest_modseq = NULL"
                " WHERE name = ?",
                (uidvalidity, name),
            ).rowcount
            if changed == 0:
                raise errors.StoreError(f"folder {name!r} is not known to the database")

    def _ensure_folder(self, name: str, role_hint: FolderRole) -> FolderRole:
        self._run(
            "INSERT INTO folders (name, role) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, role_hint.value),
        )
        return FolderRole(self._one("SELECT role FROM folders WHERE name = ?", (name,))[0])

    def _save_state_for(self, folder: str, state: FolderState | None) -> None:
        if state is None:
            return
        if state.name != folder:
            raise ValueError(f"folder state for {state.name!r} given with folder {folder!r}")
        self._save_folder_state(state)

    # --- messages ------------------------------------------------------------

    def store_messages(
        self,
        folder: str,
        items: Sequence[tuple[int, Message, int | None]],
        *,
        folder_state: FolderState | None = None,
    ) -> int:
        """Record messages found in ``folder`` as (uid, message, modseq).

        Messages are upserted by Message-ID (a copy seen in a better folder
        replaces the stored one); locations by (folder, uid). ``folder_state``
        is saved in the same transaction. Returns how many Message-IDs are new.
        """
        encoded = [(uid, encode_message(message), modseq) for uid, message, modseq in items]
        return self.store_encoded_messages(folder, encoded, folder_state=folder_state)

    def store_encoded_messages(
        self,
        folder: str,
        items: Sequence[tuple[int, EncodedMessage, int | None]],
        *,
        folder_state: FolderState | None = None,
    ) -> int:
        """`store_messages` for messages already encoded by `encode_message`
        (a sync encodes them in a worker process)."""
        with self.transaction():
            self._save_state_for(folder, folder_state)
            hint = items[0][1].folder_role if items else FolderRole.OTHER
            role = self._ensure_folder(folder, hint)
            known = self._stored_rows([message.message_id for _, message, _ in items])
            fresh: dict[str, EncodedMessage] = {}
            for _, message, _ in items:
                stored = known.get(message.message_id)
                if stored is not None:
                    self._replace_if_better(message, folder, role, stored)
                else:  # of two copies in one batch, the later wins, as in an upsert
                    fresh[message.message_id] = message
            # A first sync writes thousands of new messages: one statement each
            # for the whole batch, run by SQLite without a round trip to Python.
            self._run_many(
                "INSERT INTO messages (message_id, date, folder, role, data, text_deferred)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (m.message_id, m.date, folder, role.value, m.data, m.text_deferred)
                    for m in fresh.values()
                ],
            )
            self._run_many(
                "INSERT INTO locations (folder, uid, message, flags, modseq)"
                " VALUES (?, ?, (SELECT id FROM messages WHERE message_id = ?), ?, ?)"
                " ON CONFLICT (folder, uid) DO UPDATE SET"
                " message = excluded.message, flags = excluded.flags, modseq = excluded.modseq",
                [(folder, uid, m.message_id, m.flags, modseq) for uid, m, modseq in items],
            )
            return len(fresh)

    def _stored_rows(self, message_ids: Sequence[str]) -> dict[str, _StoredRow]:
        """Row id, role and text state of each of ``message_ids`` the store already has."""
        known: dict[str, _StoredRow] = {}
        for start in range(0, len(message_ids), _IN_LIST_LIMIT):
            chunk = message_ids[start : start + _IN_LIST_LIMIT]
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT message_id, id, folder, role, text_deferred FROM messages"  # noqa: S608 (placeholders only)
                f" WHERE message_id IN ({marks})"
            )
            for row in self._all(query, chunk):
                known[row["message_id"]] = _StoredRow(
                    int(row["id"]),
                    row["folder"],
                    FolderRole(row["role"]),
                    bool(row["text_deferred"]),
                )
        return known

    def _replace_if_better(
        self, message: EncodedMessage, folder: str, role: FolderRole, stored: _StoredRow
    ) -> None:
        """Overwrite a stored message with a copy from a folder of equal or higher rank.

        A copy without its text never replaces one with it, and a copy with
        its text fills in one without, whatever the folders' ranks.
        """
        if message.text_deferred and not stored.text_deferred:
            return
        if _ROLE_RANK[role] > _ROLE_RANK[stored.role]:
            if not stored.text_deferred or message.text_deferred:
                return
            folder, role = stored.folder, stored.role  # keep the better folder, take the text
        values = (message.date, folder, role.value, message.data, message.text_deferred)
        self._run(
            "UPDATE messages SET date = ?, folder = ?, role = ?, data = ?, text_deferred = ?"
            " WHERE id = ? AND (date, folder, role, data, text_deferred) != (?, ?, ?, ?, ?)",
            (*values, stored.row_id, *values),
        )

    def update_flags(
        self,
        folder: str,
        changes: Sequence[tuple[int, frozenset[str], int | None]],
        *,
        folder_state: FolderState | None = None,
    ) -> int:
        """Set new flags (and modseq) for known UIDs; returns how many were found."""
        with self.transaction():
            self._save_state_for(folder, folder_state)
            return self._run_many(
                "UPDATE locations SET flags = ?, modseq = ? WHERE folder = ? AND uid = ?",
                [(_flags_text(flags), modseq, folder, uid) for uid, flags, modseq in changes],
            )

    def remove_locations(
        self, folder: str, uids: Iterable[int], *, folder_state: FolderState | None = None
    ) -> int:
        """Forget expunged UIDs. The messages stay (see locations_of)."""
        with self.transaction():
            self._save_state_for(folder, folder_state)
            return self._run_many(
                "DELETE FROM locations WHERE folder = ? AND uid = ?",
                [(folder, uid) for uid in uids],
            )

    def folder_uids(self, folder: str) -> dict[int, str]:
        """Every recorded UID of ``folder`` with its Message-ID."""
        rows = self._all(
            "SELECT l.uid, m.message_id FROM locations l JOIN messages m ON m.id = l.message"
            " WHERE l.folder = ?",
            (folder,),
        )
        return {int(r[0]): str(r[1]) for r in rows}

    def locations_of(self, message_id: str) -> list[MessageLocation]:
        """Where the message is now; empty once it vanished from every folder."""
        rows = self._all(
            "SELECT l.folder, f.role, l.uid, l.flags, l.modseq FROM locations l"
            " JOIN folders f ON f.name = l.folder JOIN messages m ON m.id = l.message"
            " WHERE m.message_id = ? ORDER BY l.folder, l.uid",
            (message_id,),
        )
        return [_location(r) for r in rows]

    def load_messages(self, *, since: datetime | None = None) -> list[Message]:
        """Every message once (dated ``since`` or later), oldest first.

        folder and folder_role come from the preferred location (ROLE_PREFERENCE),
        flags are the union over all locations. A message with no location left
        keeps the best folder it was seen in, with no flags.
        """
        # "" sorts before every date, so no bound means every message.
        params = (_dt_text(since) if since else "",)
        locations: dict[int, list[MessageLocation]] = {}
        with self._consistent_read():
            for row in self._all(
                "SELECT l.message, l.folder, f.role, l.uid, l.flags, l.modseq FROM locations l"
                " JOIN folders f ON f.name = l.folder JOIN messages m ON m.id = l.message"
                " WHERE m.date >= ?",
                params,
            ):
                locations.setdefault(int(row[0]), []).append(_location(row[1:]))
            rows = self._all(
                "SELECT * FROM messages WHERE date >= ? ORDER BY date, message_id", params
            )
        return [_message(r, locations.get(int(r["id"]), [])) for r in rows]

    def get_message(self, message_id: str) -> Message | None:
        with self._consistent_read():
            row = self._first("SELECT * FROM messages WHERE message_id = ?", (message_id,))
            return None if row is None else _message(row, self.locations_of(message_id))

    def count_messages(self) -> int:
        return int(self._one("SELECT count(*) FROM messages")[0])

    def find_message_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are stored."""
        rows = self._all(
            "SELECT message_id FROM messages WHERE message_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return {str(r[0]) for r in rows}

    # --- corrections ---------------------------------------------------------

    def add_correction(
        self, kind: CorrectionKind, target: str, *, stage: Stage | None = None, at: datetime
    ) -> StoredCorrection:
        if kind not in get_args(CorrectionKind):
            raise ValueError(f"correction kind must be 'track' or 'ignore', not {kind!r}")
        with self.transaction():
            cursor = self._run(
                "INSERT INTO corrections (kind, target, stage, created_at) VALUES (?, ?, ?, ?)",
                (kind, target, stage.value if stage else None, _dt_text(at)),
            )
        return StoredCorrection(kind, target, stage, _parse_dt(_dt_text(at)), _lastrowid(cursor))

    def corrections(self) -> list[StoredCorrection]:
        """Every correction, oldest first (a later one overrides an earlier one)."""
        return [
            StoredCorrection(
                kind=r["kind"],
                target=r["target"],
                stage=Stage(r["stage"]) if r["stage"] else None,
                created_at=_parse_dt(r["created_at"]),
                id=int(r["id"]),
            )
            for r in self._all("SELECT * FROM corrections ORDER BY id")
        ]

    # --- conversation snapshot -----------------------------------------------

    def save_snapshot(
        self, verdicts_with_conversations: Iterable[tuple[Verdict, Conversation]], *, at: datetime
    ) -> None:
        """Replace the stored conversations with this judgement, atomically."""
        rows = [_snapshot_row(v, c, at) for v, c in verdicts_with_conversations]
        with self.transaction():
            self._run("DELETE FROM conversations")
            self._run_many(
                "INSERT INTO conversations (id, stage, state, counterpart_email,"
                " counterpart_name, company, subject, due_at, last_sent_at, last_reply_at,"
                " nudges_sent, message_ids, reasons, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def snapshot(self) -> list[ConversationRow]:
        """The last saved conversations, soonest due first (never-due last)."""
        rows = self._all("SELECT * FROM conversations ORDER BY due_at IS NULL, due_at, subject, id")
        return [_conversation_row(r) for r in rows]

    # --- drafts --------------------------------------------------------------

    def add_draft(self, draft: Draft, *, at: datetime, reason: str = "drafted") -> DraftRecord:
        """Queue a new draft as pending. Refuses a second active draft for a conversation."""
        with self.transaction():
            active = self.active_draft(draft.conversation_id)
            if active is not None:
                raise DraftConflictError(
                    f"conversation {draft.conversation_id} already has draft {active.id}"
                    f" ({active.status.value})"
                )
            cursor = self._run(
                "INSERT INTO drafts (conversation_id, mailfollow_id, message_id, sender_email,"
                " sender_name, recipient_email, recipient_name, subject, in_reply_to, refs,"
                " body, nudge_number, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    draft.conversation_id,
                    draft.mailfollow_id,
                    draft.message_id,
                    draft.sender.email,
                    draft.sender.name,
                    draft.to.email,
                    draft.to.name,
                    draft.subject,
                    draft.in_reply_to,
                    _json(list(draft.references)),
                    draft.body,
                    draft.nudge_number,
                    QueueState.PENDING.value,
                    _dt_text(draft.created_at),
                    _dt_text(at),
                ),
            )
            draft_id = _lastrowid(cursor)
            self._add_event(draft_id, at, None, QueueState.PENDING, reason)
            return self._require_draft(draft_id)

    def get_draft(self, draft_id: int) -> DraftRecord | None:
        row = self._first("SELECT * FROM drafts WHERE id = ?", (draft_id,))
        return None if row is None else _draft_record(row)

    def get_draft_by_mailfollow_id(self, mailfollow_id: str) -> DraftRecord | None:
        row = self._first("SELECT * FROM drafts WHERE mailfollow_id = ?", (mailfollow_id,))
        return None if row is None else _draft_record(row)

    def get_draft_by_message_id(self, message_id: str) -> DraftRecord | None:
        row = self._first("SELECT * FROM drafts WHERE message_id = ?", (message_id,))
        return None if row is None else _draft_record(row)

    def active_draft(self, conversation_id: str) -> DraftRecord | None:
        """The conversation's draft in an ACTIVE status, if any (there is at most one)."""
        row = self._first(
            "SELECT * FROM drafts WHERE conversation_id = ?"
            " AND status IN (SELECT value FROM json_each(?))",
            (conversation_id, _json(sorted(s.value for s in approval.ACTIVE))),
        )
        return None if row is None else _draft_record(row)

    def list_drafts(
        self,
        statuses: Iterable[QueueState] | None = None,
        *,
        conversation_id: str | None = None,
    ) -> list[DraftRecord]:
        """Drafts in any of ``statuses`` (all when None), oldest first."""
        wanted = None if statuses is None else _json(sorted(QueueState(s).value for s in statuses))
        rows = self._all(
            "SELECT * FROM drafts WHERE (?1 IS NULL OR status IN (SELECT value FROM json_each(?1)))"
            " AND (?2 IS NULL OR conversation_id = ?2) ORDER BY id",
            (wanted, conversation_id),
        )
        return [_draft_record(r) for r in rows]

    def transition(
        self,
        draft_id: int,
        to: QueueState,
        *,
        at: datetime,
        reason: str,
        expected: QueueState | None = None,
        snooze_until: datetime | None = None,
        sent_at: datetime | None = None,
        error: str | None = None,
    ) -> DraftRecord:
        """Move a draft to ``to`` and record why, in one transaction.

        ``expected``: refuse (DraftConflictError) unless the draft is still in
        that status, e.g. APPROVED before marking it SENDING. The update itself
        is a compare-and-set on the status read, so concurrent writers cannot
        both succeed. ``snooze_until`` is required for SNOOZED; ``sent_at``
        defaults to ``at`` for SENT; ``approved_at`` is set on approval and
        cleared on un-approval; ``error`` describes the new status only.
        Raises approval.TransitionError for a change the queue does not allow.
        """
        if (to is QueueState.SNOOZED) != (snooze_until is not None):
            raise ValueError("snooze_until is required for, and only for, SNOOZED")
        if sent_at is not None and to is not QueueState.SENT:
            raise ValueError("sent_at is only for SENT")
        with self.transaction():
            current = self._require_draft(draft_id)
            if expected is not None and current.status is not expected:
                raise DraftConflictError(
                    f"draft {draft_id} is {current.status.value}, not {expected.value}"
                )
            approval.check_transition(current.status, to)
            approved_at = _approved_at_after(current, to, at)
            sent_at = (sent_at or at) if to is QueueState.SENT else current.sent_at
            self._compare_and_set_status(
                current,
                to,
                (
                    _dt_text(at),
                    _opt_text(snooze_until),
                    _opt_text(approved_at),
                    _opt_text(sent_at),
                    error,
                ),
            )
            self._add_event(draft_id, at, current.status, to, reason)
            return self._require_draft(draft_id)

    def _compare_and_set_status(
        self, current: DraftRecord, to: QueueState, fields: tuple[Any, ...]
    ) -> None:
        if to in approval.ACTIVE and current.status not in approval.ACTIVE:
            other = self.active_draft(current.conversation_id)
            if other is not None:
                raise DraftConflictError(
                    f"draft {current.id} cannot become {to.value}: conversation "
                    f"{current.conversation_id} already has draft {other.id} "
                    f"({other.status.value})"
                )
        changed = self._run(
            "UPDATE drafts SET status = ?, updated_at = ?, snooze_until = ?, approved_at = ?,"
            " sent_at = ?, error = ? WHERE id = ? AND status = ?",
            (to.value, *fields, current.id, current.status.value),
        ).rowcount
        if changed != 1:
            raise DraftConflictError(f"draft {current.id} changed status while being updated")

    def update_draft_body(
        self, draft_id: int, body: str, *, at: datetime, user_edited: bool, reason: str
    ) -> DraftRecord:
        """Replace a draft's body, recording why.

        Once the user edited a body, only another user edit may replace it
        (DraftEditRefusedError otherwise); and nothing changes once the draft
        is sending or beyond.
        """
        with self.transaction():
            current = self._require_draft(draft_id)
            if current.status not in _EDITABLE_STATES:
                raise DraftEditRefusedError(
                    f"draft {draft_id} is {current.status.value}; its body can no longer change"
                )
            if current.user_edited and not user_edited:
                raise DraftEditRefusedError(
                    f"draft {draft_id} was edited by the user; mailfollow will not overwrite it"
                )
            changed = self._run(
                "UPDATE drafts SET body = ?, user_edited = max(user_edited, ?), updated_at = ?"
                " WHERE id = ? AND status = ? AND user_edited = ?",
                (
                    body,
                    int(user_edited),
                    _dt_text(at),
                    draft_id,
                    current.status.value,
                    int(current.user_edited),
                ),
            ).rowcount
            if changed != 1:
                raise DraftConflictError(f"draft {draft_id} changed while its body was updated")
            self._add_event(draft_id, at, current.status, current.status, reason)
            return self._require_draft(draft_id)

    def set_draft_imap_location(self, draft_id: int, folder: str | None, uid: int | None) -> None:
        """Remember where the draft's copy sits in the mailbox (None: nowhere)."""
        with self.transaction():
            changed = self._run(
                "UPDATE drafts SET imap_folder = ?, imap_uid = ? WHERE id = ?",
                (folder, uid, draft_id),
            ).rowcount
            if changed == 0:
                raise errors.StoreError(f"no draft with id {draft_id}")

    def history(self, draft_id: int) -> list[DraftEvent]:
        rows = self._all("SELECT * FROM draft_events WHERE draft_id = ? ORDER BY id", (draft_id,))
        return [_draft_event(r) for r in rows]

    def count_sent_since(self, at: datetime, *, recipient: str | None = None) -> int:
        """Drafts sent, or possibly sent (sending, unconfirmed), at or after ``at``.

        Counting the uncertain ones keeps daily/hourly caps on the safe side.
        ``recipient`` (an email address) limits the count to that person.
        """
        since = _dt_text(at)
        row = self._one(
            "SELECT count(*) FROM drafts WHERE ((status = 'sent' AND sent_at >= ?)"
            " OR (status IN ('sending', 'unconfirmed') AND updated_at >= ?))"
            " AND (? IS NULL OR recipient_email = ?)",
            (since, since, recipient, recipient),
        )
        return int(row[0])

    def _require_draft(self, draft_id: int) -> DraftRecord:
        record = self.get_draft(draft_id)
        if record is None:
            raise errors.StoreError(f"no draft with id {draft_id}")
        return record

    def _add_event(
        self,
        draft_id: int,
        at: datetime,
        from_status: QueueState | None,
        to_status: QueueState,
        reason: str,
    ) -> None:
        self._run(
            "INSERT INTO draft_events (draft_id, at, from_status, to_status, reason)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                draft_id,
                _dt_text(at),
                from_status.value if from_status else None,
                to_status.value,
                reason,
            ),
        )

    # --- meta ----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._first("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        """Set a daemon fact; None removes it."""
        with self.transaction():
            if value is None:
                self._run("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self._run(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )


# --- files and connections ---------------------------------------------------


def _create_private_file(path: Path) -> None:
    """Make the directory (0700) and the database file (0600) before SQLite does.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o700)
            path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)
        _make_private(path)
    except OSError as exc:
        raise errors.StoreError(f"cannot create database {path}: {exc}") from exc


def _tighten_sidecar_files(path: Path) -> None:
    try:
        for suffix in ("-wal", "-shm", "-journal"):
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                _make_private(sidecar)
    except OSError as exc:
        raise errors.StoreError(f"cannot protect database files of {path}: {exc}") from exc


def _make_private(path: Path) -> None:
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _connect(database: str, *, busy_timeout: float) -> sqlite3.Connection:
    try:
        # isolation_level=None: no implicit transactions; ours are explicit.
        connection = sqlite3.connect(database, timeout=busy_timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise errors.StoreError(f"cannot open database {database}: {exc}") from exc
    connection.row_factory = sqlite3.Row
    return connection


def _split_statements(script: str) -> Iterator[str]:
    """The statements of an SQL script (executescript would COMMIT our transaction)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]!r}")


def _is_busy(exc: BaseException | None) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))
    )


def _lastrowid(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:
        raise errors.StoreError("the database did not report the new row's id")
    return cursor.lastrowid


# --- conversions --------------------------------------------------------------


def _dt_text(value: datetime) -> str:
    """Fixed-width UTC text, so that comparing texts compares instants."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: mailfollow stores aware datetimes only")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _opt_text(value: datetime | None) -> str | None:
    return None if value is None else _dt_text(value)


def _parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)  # "...Z" reads back as aware UTC


def _opt_dt(text: str | None) -> datetime | None:
    return None if text is None else _parse_dt(text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _flags_text(flags: Iterable[str]) -> str:
    return " ".join(sorted(flags))  # IMAP flags are atoms: never contain spaces


def _flags(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _folder_state(row: sqlite3.Row) -> FolderState:
    return FolderState(
        name=row["name"],
        role=FolderRole(row["role"]),
        uidvalidity=row["uidvalidity"],
        last_uid=int(row["last_uid"]),
        highest_modseq=row["highest_modseq"],
        synced_at=_opt_dt(row["synced_at"]),
    )


def _location(row: Sequence[Any]) -> MessageLocation:
    folder, role, uid, flags, modseq = row
    return MessageLocation(folder, FolderRole(role), int(uid), _flags(flags), modseq)


def _preferred(locations: Sequence[MessageLocation]) -> MessageLocation:
    return min(locations, key=lambda loc: (_ROLE_RANK[loc.role], loc.folder, loc.uid))


def _approved_at_after(current: DraftRecord, to: QueueState, at: datetime) -> datetime | None:
    if to is QueueState.APPROVED:
        return at
    if to is QueueState.PENDING:
        return None  # un-approved: the old approval no longer stands
    return current.approved_at


# Message <-> compact JSON. Short keys and omitted defaults keep a row small;
# message_id and date have their own columns, folder/role/flags come from
# locations.
_STORED_OUTSIDE_DATA = frozenset(
    {"message_id", "date", "folder", "folder_role", "flags", "text_deferred"}
)
_TEXT_KEYS = {"subject": "s", "content_type": "ct", "snippet": "n"}
_TEXT_DEFAULTS = {"subject": "", "content_type": "text/plain", "snippet": ""}
_TUPLE_KEYS = {
    "in_reply_to": "i",
    "references": "R",
    "attachment_names": "a",
    "part_types": "p",
    "problems": "x",
}
_ADDRESS_TUPLE_KEYS = {"to": "t", "cc": "c", "reply_to": "r"}
_BOOL_KEYS = {"date_is_fallback": "df", "id_is_synthetic": "sy"}
_OTHER_KEYS = {"sender": "f", "headers": "h", "gm_thread_id": "g"}
# Every Message field must be in exactly one of these (a test checks).
HANDLED_MESSAGE_FIELDS = _STORED_OUTSIDE_DATA | {
    name
    for keys in (_TEXT_KEYS, _TUPLE_KEYS, _ADDRESS_TUPLE_KEYS, _BOOL_KEYS, _OTHER_KEYS)
    for name in keys
}
_OFFSET_KEY = "z"  # the Date header's UTC offset in seconds, when not zero
_ZLIB_LEVEL = 6
# Rows shorter than this stay JSON text: compressing one costs about as much
# as encoding it, and reading it back costs a decompression every time the
# messages are loaded. A message without its text (text_deferred) takes about
# 500 bytes, one with a 600-character Latin snippet about 1,000; longer rows
# (other scripts, long headers) are compressed, which keeps every message
# within 1.5 KiB of store.
_COMPRESS_FROM = 1200
_IN_LIST_LIMIT = 500  # values bound in one "IN (...)": well under SQLite's limit


def _encode_address(address: Address) -> str | list[str]:
    return [address.email, address.name] if address.name else address.email


def _decode_address(value: str | list[str]) -> Address:
    return Address(value) if isinstance(value, str) else Address(value[0], value[1])


@dataclass(frozen=True)
class EncodedMessage:
    """A message as the store writes it (see `encode_message`)."""

    message_id: str
    date: str
    data: str | bytes
    flags: str
    folder_role: FolderRole
    text_deferred: bool = False


@dataclass(frozen=True)
class _StoredRow:
    row_id: int
    folder: str
    role: FolderRole
    text_deferred: bool


def encode_message(message: Message) -> EncodedMessage:
    """What the store writes for ``message``; pure, so it can run in another process."""
    return EncodedMessage(
        message_id=message.message_id,
        date=_dt_text(message.date),
        data=_encode_message(message),
        flags=_flags_text(message.flags),
        folder_role=message.folder_role,
        text_deferred=message.text_deferred,
    )


def _encode_message(message: Message) -> str | bytes:
    data: dict[str, Any] = {}
    for name, key in _TEXT_KEYS.items():
        if getattr(message, name) != _TEXT_DEFAULTS[name]:
            data[key] = getattr(message, name)
    for name, key in _TUPLE_KEYS.items():
        if getattr(message, name):
            data[key] = list(getattr(message, name))
    for name, key in _ADDRESS_TUPLE_KEYS.items():
        if getattr(message, name):
            data[key] = [_encode_address(a) for a in getattr(message, name)]
    for name, key in _BOOL_KEYS.items():
        if getattr(message, name):
            data[key] = 1
    if message.sender is not None:
        data["f"] = _encode_address(message.sender)
    if message.headers:
        data["h"] = dict(message.headers)
    if message.gm_thread_id is not None:
        data["g"] = message.gm_thread_id
    offset = message.date.utcoffset()
    if offset:
        data[_OFFSET_KEY] = int(offset.total_seconds())
    return _pack(_json(data))


def _pack(text: str) -> str | bytes:
    """JSON text, or its zlib compression (a BLOB) when that is smaller.

    A 600-character snippet of real mail roughly halves, which keeps a stored
    message near 1 KiB; short ones stay readable text.
    """
    raw = text.encode()
    if len(raw) < _COMPRESS_FROM:
        return text
    packed = zlib.compress(raw, _ZLIB_LEVEL)
    return packed if len(packed) < len(raw) else text


def _unpack(value: str | bytes) -> Any:
    return json.loads(zlib.decompress(value) if isinstance(value, bytes) else value)


def _message(row: sqlite3.Row, locations: Sequence[MessageLocation]) -> Message:
    data: dict[str, Any] = _unpack(row["data"])
    fields: dict[str, Any] = {}
    for name, key in _TEXT_KEYS.items():
        fields[name] = data.get(key, _TEXT_DEFAULTS[name])
    for name, key in _TUPLE_KEYS.items():
        fields[name] = tuple(data.get(key, ()))
    for name, key in _ADDRESS_TUPLE_KEYS.items():
        fields[name] = tuple(_decode_address(a) for a in data.get(key, ()))
    for name, key in _BOOL_KEYS.items():
        fields[name] = bool(data.get(key, 0))
    date = _parse_dt(row["date"])
    if _OFFSET_KEY in data:
        date = date.astimezone(timezone(timedelta(seconds=data[_OFFSET_KEY])))
    if locations:
        best = _preferred(locations)
        folder, role = best.folder, best.role
        flags = frozenset().union(*(loc.flags for loc in locations))
    else:
        folder, role, flags = row["folder"], FolderRole(row["role"]), frozenset()
    return Message(
        message_id=row["message_id"],
        date=date,
        sender=_decode_address(data["f"]) if "f" in data else None,
        headers=data.get("h", {}),
        gm_thread_id=data.get("g"),
        folder=folder,
        folder_role=role,
        flags=flags,
        text_deferred=bool(row["text_deferred"]),
        **fields,
    )


def _snapshot_row(verdict: Verdict, conversation: Conversation, at: datetime) -> tuple[Any, ...]:
    if verdict.conversation_id != conversation.id:
        raise ValueError(
            f"verdict for {verdict.conversation_id} paired with conversation {conversation.id}"
        )
    return (
        conversation.id,
        conversation.stage.value,
        verdict.state.value,
        conversation.counterpart.email,
        conversation.counterpart.name,
        conversation.company,
        conversation.subject,
        _opt_text(verdict.due_at),
        _opt_text(verdict.last_sent_at),
        _opt_text(verdict.last_reply_at),
        conversation.nudges_sent,
        _json(list(conversation.message_ids)),
        _json(list(verdict.reasons)),
        _dt_text(at),
    )


def _conversation_row(row: sqlite3.Row) -> ConversationRow:
    return ConversationRow(
        id=row["id"],
        stage=Stage(row["stage"]),
        state=State(row["state"]),
        counterpart=Address(row["counterpart_email"], row["counterpart_name"]),
        company=row["company"],
        subject=row["subject"],
        due_at=_opt_dt(row["due_at"]),
        last_sent_at=_opt_dt(row["last_sent_at"]),
        last_reply_at=_opt_dt(row["last_reply_at"]),
        nudges_sent=int(row["nudges_sent"]),
        message_ids=tuple(json.loads(row["message_ids"])),
        reasons=tuple(json.loads(row["reasons"])),
        updated_at=_parse_dt(row["updated_at"]),
    )


def _draft_record(row: sqlite3.Row) -> DraftRecord:
    return DraftRecord(
        id=int(row["id"]),
        conversation_id=row["conversation_id"],
        mailfollow_id=row["mailfollow_id"],
        message_id=row["message_id"],
        sender=Address(row["sender_email"], row["sender_name"]),
        recipient=Address(row["recipient_email"], row["recipient_name"]),
        subject=row["subject"],
        in_reply_to=row["in_reply_to"],
        references=tuple(json.loads(row["refs"])),
        body=row["body"],
        nudge_number=int(row["nudge_number"]),
        status=QueueState(row["status"]),
        created_at=_parse_dt(row["created_at"]),
        updated_at=_parse_dt(row["updated_at"]),
        snooze_until=_opt_dt(row["snooze_until"]),
        approved_at=_opt_dt(row["approved_at"]),
        sent_at=_opt_dt(row["sent_at"]),
        imap_folder=row["imap_folder"],
        imap_uid=row["imap_uid"],
        user_edited=bool(row["user_edited"]),
        error=row["error"],
    )


def _draft_event(row: sqlite3.Row) -> DraftEvent:
    return DraftEvent(
        id=int(row["id"]),
        draft_id=int(row["draft_id"]),
        at=_parse_dt(row["at"]),
        from_status=QueueState(row["from_status"]) if row["from_status"] else None,
        to_status=QueueState(row["to_status"]),
        reason=row["reason"],
    )
