"""The incremental mailbox sync: IMAP folders (or a local Maildir/mbox) -> the store.

Per folder the store keeps (UIDVALIDITY, last UID, HIGHESTMODSEQ). A poll:

1. lists the folders (with LIST-STATUS, their counters come in the same
   command; otherwise one STATUS per folder) and skips every folder whose
   counters did not move: an unchanged poll costs at most one command per
   folder, none with LIST-STATUS;
2. for a folder that moved, EXAMINEs it (read-only) and
   - on a new UIDVALIDITY forgets the folder's UIDs (``store.reset_folder``)
     and fetches it again; messages are matched by Message-ID, so nothing
     is duplicated;
   - applies flag changes and expunges: ``FETCH (CHANGEDSINCE m VANISHED)``
     with QRESYNC, CHANGEDSINCE plus ``UID SEARCH ALL`` with CONDSTORE only,
     ``UID SEARCH ALL`` (and, for Drafts, the flags) without either;
   - fetches the new UIDs in batches, saving the folder position with each
     batch in the same transaction, so an interrupted scan resumes exactly
     where it stopped. The fetches are pipelined (while one batch is parsed,
     the server prepares the next); a pass that brings thousands of messages
     deals every other batch to a second connection in a helper process
     (`mailfollow.lanes`). Batches are stored in UID order all the same.

`sync_mailbox` wraps this in retries: a dropped connection, a timeout or a
restarting server is retried with exponential backoff and jitter, resuming
from the saved positions. `sync_session` runs one pass on a session the
caller keeps open (the daemon's IDLE loop).

Decoding never stops a scan: a message with ``Message.problems`` is stored
and its problems are logged once, as a warning.

A folder pass that brings ``DEFER_TEXTS_FROM`` new messages or more (a first
sync, a folder fetched again) leaves their texts on the server: most of a
large mailbox can never join a conversation, and reading each message's text
costs the server a file read and the client a decoding. Headers and flags
are still stored for every message; the pipeline fetches the text and MIME
structure of those that could matter (`fetch_texts`) before classifying
them. Sent and Drafts always come with theirs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mailfollow import errors
from mailfollow.adapters.localmail import LocalFolder, LocalSource, open_source
from mailfollow.adapters.mailbox import (
    Credential,
    FolderInfo,
    FolderStatus,
    ImapSettings,
    MailboxSession,
    find_role_folders,
    guess_role,
)
from mailfollow.adapters.store import FolderState, Store
from mailfollow.lanes import Lane, LaneFailed, Lanes
from mailfollow.model import FolderRole, Message
from mailfollow.parsing import ParsedFetch, parse_batch
from mailfollow.progress import ProgressSink

if TYPE_CHECKING:
    from mailfollow.config import Config

logger = logging.getLogger(__name__)

# New messages in one folder pass from which their texts stay on the server
# until needed (see the module docstring); ordinary polls bring a handful.
DEFER_TEXTS_FROM = 1000
# With a lane, the size of the batches this process fetches itself, relative
# to the lane's: it also stores every batch and takes in the lane's rows, and
# at three quarters both processes spend about the same CPU (53 and 49 us a
# message in bench/sync_bench.py's mailbox, against 59 and 41 with equal batches).
OWN_BATCH_SHARE = 0.75
# Folders whose texts are always fetched: the user's own mail is classified
# (application, thank-you...) to find the conversations in the first place.
_TEXT_ROLES = frozenset({FolderRole.SENT, FolderRole.DRAFTS})

# The roles scanned on an ordinary server, in this order.
SCANNED_ROLES: tuple[FolderRole, ...] = (
    FolderRole.INBOX,
    FolderRole.SENT,
    FolderRole.DRAFTS,
    FolderRole.ARCHIVE,
)
# On Gmail every message is in All Mail once; Drafts is scanned for user edits.
GMAIL_ROLES: tuple[FolderRole, ...] = (FolderRole.ALL, FolderRole.DRAFTS)
_OVERRIDE_KEYS: Mapping[str, FolderRole] = {
    "inbox": FolderRole.INBOX,
    "sent": FolderRole.SENT,
    "drafts": FolderRole.DRAFTS,
    "archive": FolderRole.ARCHIVE,
    "all": FolderRole.ALL,
    "all_mail": FolderRole.ALL,
    "trash": FolderRole.TRASH,
    "junk": FolderRole.JUNK,
}


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a mailbox that went away.

    The n-th consecutive failure waits ``initial_delay * multiplier**(n-1)``
    seconds (at most ``max_delay``), shortened by a random fraction of up to
    ``jitter`` so that many clients do not come back in step. The count
    restarts once a retry made progress; after ``attempts`` failures in a row
    the error is raised.
    """

    attempts: int = 6
    initial_delay: float = 1.0
    max_delay: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.25

    def delay(self, failure: int, *, rng: random.Random) -> float:
        """Seconds to wait after the ``failure``-th failure in a row (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, failure - 1))
        return base * (1 - self.jitter * rng.random())


@dataclass(frozen=True)
class FolderReport:
    """What a sync did to one folder."""

    name: str
    role: FolderRole
    fetched: int = 0  # messages fetched (new UIDs)
    new: int = 0  # of which Message-IDs the store had not seen before
    changed: int = 0  # flag changes applied
    removed: int = 0  # UIDs expunged on the server and forgotten here
    unchanged: bool = False  # its counters had not moved: nothing fetched
    reset: bool = False  # UIDVALIDITY changed; the folder was fetched again
    commands: int = 0  # IMAP commands spent on this folder (LIST/STATUS not included)
    deferred: int = 0  # of the fetched, stored without their text (DEFER_TEXTS_FROM)


@dataclass(frozen=True)
class SyncReport:
    """What a sync did: per folder counts, warnings, and what it cost."""

    folders: tuple[FolderReport, ...] = ()
    warnings: tuple[str, ...] = ()
    commands: int = 0  # every IMAP command, login and logout included
    retries: int = 0
    seconds: float = 0.0

    @property
    def fetched(self) -> int:
        return sum(f.fetched for f in self.folders)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.folders)

    @property
    def changed(self) -> int:
        return sum(f.changed for f in self.folders)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.folders)

    @property
    def deferred(self) -> int:
        return sum(f.deferred for f in self.folders)

    def folder(self, name: str) -> FolderReport:
        return next(f for f in self.folders if f.name == name)


@dataclass
class _FolderCounts:
    """A folder's counters while a sync runs (mutable); frozen into a FolderReport."""

    name: str
    role: FolderRole
    fetched: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: bool = False
    reset: bool = False
    commands: int = 0
    deferred: int = 0

    def freeze(self) -> FolderReport:
        return FolderReport(**dataclasses.asdict(self))


class _Tally:
    """Counts that survive retries; becomes the SyncReport at the end."""

    def __init__(self) -> None:
        self.folders: dict[str, _FolderCounts] = {}
        self.warnings: list[str] = []
        self.warned_ids: set[str] = set()
        self.finished: set[str] = set()
        self.announced: dict[str, int] = {}  # highest UID announced to the progress sink
        self.commands = 0
        self.retries = 0
        self.batches = 0
        self.started = time.monotonic()

    def folder(self, name: str, role: FolderRole) -> _FolderCounts:
        return self.folders.setdefault(name, _FolderCounts(name=name, role=role))

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            logger.warning("%s", text)
            self.warnings.append(text)

    def warn_message(self, message: Message, *, uid: int) -> None:
        self._warn_once(message.message_id, message.folder, uid, message.problems)

    def warn_problems(self, parsed: ParsedFetch, *, folder: str) -> None:
        self._warn_once(parsed.message_id, folder, parsed.uid, parsed.problems)

    def _warn_once(self, message_id: str, folder: str, uid: int, problems: Sequence[str]) -> None:
        if not problems or message_id in self.warned_ids:
            return
        self.warned_ids.add(message_id)
        text = f"message {message_id} ({folder} UID {uid}) stored despite: " + "; ".join(problems)
        logger.warning("%s", text)
        self.warnings.append(text)

    def report(self) -> SyncReport:
        return SyncReport(
            folders=tuple(f.freeze() for f in self.folders.values()),
            warnings=tuple(self.warnings),
            commands=self.commands,
            retries=self.retries,
            seconds=time.monotonic() - self.started,
        )


# --------------------------------------------------------------------------- folder plan


@dataclass(frozen=True)
class PlannedFolder:
    name: str
    role: FolderRole


def plan_folders(
    folders: Sequence[FolderInfo],
    *,
    gmail: bool = False,
    overrides: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> tuple[list[PlannedFolder], list[str]]:
    """Which folders to scan, with their roles, and warnings about what is missing.

    ``overrides`` maps a role ("sent", "drafts", "archive", "all", "inbox")
    to a folder name; empty values mean "detect".
    """
    role_overrides = {_override_role(key): name for key, name in (overrides or {}).items() if name}
    found, warnings = find_role_folders(folders, role_overrides)
    roles = SCANNED_ROLES
    if gmail:
        if FolderRole.ALL in found:
            roles = GMAIL_ROLES
        else:
            warnings.append(
                "Gmail's All Mail folder is not visible over IMAP (Settings > Labels > Show in "
                "IMAP); scanning the usual folders instead, some messages may be scanned twice"
            )
    if FolderRole.SENT not in found:
        warnings.append(
            "no Sent folder found (no \\Sent flag, no usual name); set folders.sent in the "
            "configuration, or sent mail will not be tracked"
        )
    plan = [PlannedFolder(found[role], role) for role in roles if role in found]
    by_name = {f.name.casefold(): f for f in folders if f.selectable}
    role_of = {name: role for role, name in found.items()}
    for wanted in extra:
        folder = by_name.get(wanted.casefold())
        if folder is None:
            warnings.append(f"folder {wanted!r} (folders.extra_tracked) does not exist")
            continue
        role = role_of.get(folder.name) or guess_role(folder.name, folder.delimiter)
        plan.append(PlannedFolder(folder.name, role))
    unique: dict[str, PlannedFolder] = {}
    for planned in plan:
        unique.setdefault(planned.name, planned)
    return list(unique.values()), warnings


def _override_role(key: str) -> FolderRole:
    role = _OVERRIDE_KEYS.get(key.strip().lower())
    if role is None:
        known = ", ".join(sorted(_OVERRIDE_KEYS))
        raise errors.ConfigError([f"folders.{key}: unknown folder role (known: {known})"])
    return role


# --------------------------------------------------------------------------- entry points


def sync_mailbox(
    store: Store,
    *,
    settings: ImapSettings,
    credentials: Callable[[], Credential],
    folder_overrides: Mapping[str, str] | None = None,
    extra_folders: Sequence[str] = (),
    progress: ProgressSink | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> SyncReport:
    """Bring the store up to date with the mailbox, retrying when it goes away.

    Raises CredentialError at once, MailboxUnavailable after ``retry.attempts``
    failures in a row, MailboxError for what retrying cannot fix.
    """
    retry = retry or RetryPolicy()
    rng = rng or random.Random()  # noqa: S311 (jitter, not security)
    tally = _Tally()
    failures = 0
    while True:
        session = MailboxSession(settings, credentials)
        batches_before = tally.batches
        try:
            with session:
                _sync_folders(
                    store,
                    session,
                    tally,
                    folder_overrides=folder_overrides or {},
                    extra_folders=extra_folders,
                    progress=progress,
                )
        except errors.MailboxUnavailable as exc:
            tally.commands += session.commands
            failures = 1 if tally.batches > batches_before else failures + 1
            if failures >= retry.attempts:
                raise
            delay = retry.delay(failures, rng=rng)
            logger.warning(
                "%s; retrying in %.1f s (attempt %d of %d)",
                exc,
                delay,
                failures + 1,
                retry.attempts,
            )
            tally.retries += 1
            sleep(delay)
            continue
        tally.commands += session.commands
        return tally.report()


def sync_session(
    store: Store,
    session: MailboxSession,
    *,
    folder_overrides: Mapping[str, str] | None = None,
    extra_folders: Sequence[str] = (),
    progress: ProgressSink | None = None,
) -> SyncReport:
    """One sync pass over an open session (no retries: errors propagate)."""
    tally = _Tally()
    before = session.commands
    try:
        _sync_folders(
            store,
            session,
            tally,
            folder_overrides=folder_overrides or {},
            extra_folders=extra_folders,
            progress=progress,
        )
    finally:
        tally.commands = session.commands - before
    return tally.report()


def folder_overrides_from_config(config: Config) -> dict[str, str]:
    """folders.sent = "..." etc. as a role -> name mapping (empty names left out)."""
    folders = config.folders
    wanted = {
        "inbox": folders.inbox,
        "sent": folders.sent,
        "drafts": folders.drafts,
        "archive": folders.archive,
        "all": folders.all_mail,
    }
    return {role: name for role, name in wanted.items() if name}


# --------------------------------------------------------------------------- one pass


def _sync_folders(
    store: Store,
    session: MailboxSession,
    tally: _Tally,
    *,
    folder_overrides: Mapping[str, str],
    extra_folders: Sequence[str],
    progress: ProgressSink | None,
) -> None:
    folders, statuses = session.list_folders()
    plan, warnings = plan_folders(
        folders, gmail=session.gmail, overrides=folder_overrides, extra=extra_folders
    )
    for warning in warnings:
        tally.warn(warning)
    with _heap_frozen(), store.mirror_writes(), Lanes(session) as lanes:
        lanes.expect(_expected_new(store, plan, statuses))
        for planned in plan:
            if planned.name in tally.finished:
                continue  # done before a retry
            counts = tally.folder(planned.name, planned.role)
            before = session.commands + lanes.commands
            folder = _FolderSync(store, session, planned, tally, progress, lanes)
            try:
                folder.run(statuses.get(planned.name))
            except errors.MailboxUnavailable:
                raise
            except errors.MailboxError as exc:
                tally.warn(f"folder {planned.name!r} skipped this time: {exc}")
            finally:
                counts.commands += session.commands + lanes.commands - before
            tally.finished.add(planned.name)
        tally.commands += lanes.commands


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the cyclic garbage collector off what exists before the pass.

    A large pass makes millions of short-lived objects, and each full
    collection would walk every module, function and class loaded as well
    (about a tenth of a first sync's CPU); frozen, they are left out until
    the pass ends. Cycles made during the pass are still collected.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _deal(uids: Sequence[int], first: int, second: int) -> list[Sequence[int]]:
    """``uids`` cut into consecutive batches of ``first`` and ``second`` UIDs in turn."""
    dealt: list[Sequence[int]] = []
    start = 0
    while start < len(uids):
        size = second if len(dealt) % 2 else first
        dealt.append(uids[start : start + size])
        start += size
    return dealt


def _expected_new(
    store: Store, plan: Sequence[PlannedFolder], statuses: Mapping[str, FolderStatus]
) -> int:
    """How many new messages the pass will fetch, as far as LIST-STATUS tells
    (0 without it: each folder's STATUS tells later)."""
    expected = 0
    for planned in plan:
        status = statuses.get(planned.name)
        if status is None or status.uidnext is None:
            continue
        state = store.get_folder_state(planned.name)
        if state is None or state.uidvalidity != status.uidvalidity:
            expected += status.messages or 0
        else:
            expected += max(0, status.uidnext - 1 - state.last_uid)
    return expected


class _FolderSync:
    """Brings one folder up to date."""

    def __init__(
        self,
        store: Store,
        session: MailboxSession,
        planned: PlannedFolder,
        tally: _Tally,
        progress: ProgressSink | None,
        lanes: Lanes,
    ) -> None:
        self.lanes = lanes
        self.store = store
        self.session = session
        self.name = planned.name
        self.role = planned.role
        self.tally = tally
        self.progress = progress
        self.counts = tally.folder(planned.name, planned.role)

    def run(self, status: FolderStatus | None) -> None:
        state = self.store.get_folder_state(self.name)
        if status is None:
            status = self.session.status(self.name)
        if self._unchanged(state, status):
            self.counts.unchanged = True
            return
        if self.session.selected == self.name and status.uidvalidity is not None:
            selected = status  # already open (a kept session): STATUS says what EXAMINE would
        else:
            selected = self.session.select(self.name)
        if selected.uidvalidity is None:
            raise errors.MailboxError(f"{self.name}: the server gave no UIDVALIDITY")
        if state is not None and state.uidvalidity not in (None, selected.uidvalidity):
            logger.warning(
                "folder %s: UIDVALIDITY changed (%s -> %s); fetching it again",
                self.name,
                state.uidvalidity,
                selected.uidvalidity,
            )
            self.store.reset_folder(self.name, selected.uidvalidity)
            self.counts.reset = True
            state = None
        if state is None or state.uidvalidity is None:
            state = FolderState(self.name, self.role, selected.uidvalidity, 0, None)
            new_uids = self.session.search_uids()
        else:
            state = dataclasses.replace(state, role=self.role)
            state, new_uids = self._apply_changes(state, selected)
        state = self._fetch_new(state, new_uids, selected.uidvalidity)
        last_uid = max(state.last_uid, (selected.uidnext or 1) - 1)
        self.store.save_folder_state(
            dataclasses.replace(
                state,
                last_uid=last_uid,
                highest_modseq=selected.highest_modseq,
                synced_at=datetime.now(UTC),
            )
        )

    def _unchanged(self, state: FolderState | None, status: FolderStatus) -> bool:
        if state is None or state.uidvalidity is None or status.uidvalidity != state.uidvalidity:
            return False
        if status.uidnext is None or status.uidnext - 1 > state.last_uid:
            return False
        if status.highest_modseq is not None and state.highest_modseq is not None:
            return status.highest_modseq == state.highest_modseq
        # Without CONDSTORE only the count can reveal an expunge.
        return status.messages == len(self.store.folder_uids(self.name))

    def _apply_changes(
        self, state: FolderState, selected: FolderStatus
    ) -> tuple[FolderState, list[int]]:
        """Apply flag changes and expunges to known UIDs; returns the state and
        the UIDs above ``state.last_uid`` that the same commands revealed."""
        session = self.session
        flags: Mapping[int, tuple[frozenset[str], int | None]] = {}
        vanished: Iterable[int] | None = None
        new_uids: list[int] = []
        if (
            session.condstore
            and state.highest_modseq is not None
            and selected.highest_modseq is not None
        ):
            if selected.highest_modseq == state.highest_modseq:
                return state, []  # nothing changed, arrived or left
            # Over 1:*, so that new messages (whose MODSEQ is higher) show up too.
            changes = session.fetch_changes(since_modseq=state.highest_modseq)
            flags = {uid: f for uid, f in changes.flags.items() if uid <= state.last_uid}
            new_uids = sorted(uid for uid in changes.flags if uid > state.last_uid)
            vanished = changes.vanished
        if vanished is None:
            current = session.search_uids()
            vanished = self.store.folder_uids(self.name).keys() - set(current)
            new_uids = [uid for uid in current if uid > state.last_uid]
            if self._reread_flags(state):
                known = [uid for uid in current if uid <= state.last_uid]
                flags = {uid: (f, None) for uid, f in session.fetch_flags(known).items()}
        removed = self.store.remove_locations(self.name, sorted(vanished)) if vanished else 0
        # The saved HIGHESTMODSEQ stays the old one until the whole folder is
        # done: if this pass is interrupted, CHANGEDSINCE from there still lists
        # every message that arrived since, the ones not fetched yet included.
        changed = self.store.update_flags(
            self.name,
            [(uid, f, modseq) for uid, (f, modseq) in sorted(flags.items())],
            folder_state=state,
        )
        self.counts.changed += changed
        self.counts.removed += removed
        if changed or removed:
            logger.info("folder %s: %d flag change(s), %d expunged", self.name, changed, removed)
        return state, new_uids

    def _reread_flags(self, state: FolderState) -> bool:
        """Whether flags must be read again in full, for want of a usable MODSEQ."""
        if self.session.condstore:
            return state.highest_modseq is None  # resuming an interrupted first sync
        # Drafts change under the user's hands; other folders' flags matter little.
        return self.role is FolderRole.DRAFTS

    def _fetch_new(self, state: FolderState, uids: list[int], uidvalidity: int) -> FolderState:
        """Fetch, parse and store ``uids`` batch by batch, in UID order (every
        other batch over the lane's connection when the fetch is large)."""
        if not uids:
            return state
        self._announce(uids)
        texts = self._with_texts(len(uids))
        if not texts:
            logger.info("folder %s: %d new message(s), texts left for later", self.name, len(uids))
        lane = self.lanes.for_fetch(len(uids))
        if lane is None:
            state = self._fetch_here(state, uids, texts)
        else:
            state = self._fetch_with(lane, state, uids, uidvalidity, texts)
        logger.info(
            "folder %s: fetched %d message(s), %d new",
            self.name,
            self.counts.fetched,
            self.counts.new,
        )
        return state

    def _fetch_here(self, state: FolderState, uids: Sequence[int], texts: bool) -> FolderState:
        for batch, fetched in self.session.fetch_message_batches(uids, texts=texts):
            state = self._store_parsed(state, batch, parse_batch(fetched, self.name, self.role))
        return state

    def _fetch_with(
        self, lane: Lane, state: FolderState, uids: Sequence[int], uidvalidity: int, texts: bool
    ) -> FolderState:
        """The batches dealt out in turn: even ones fetched here, odd ones by the
        lane. If the lane fails, what is not stored yet is fetched here."""
        # A folder of fewer than two batches is cut in two, so the lane has a
        # share; this process also stores every batch, so its own are smaller.
        size = min(self.session.settings.batch_size, max(1, (len(uids) + 1) // 2))
        own_size = max(1, round(size * OWN_BATCH_SHARE))
        dealt = _deal(uids, own_size, size)
        theirs = [uid for batch in dealt[1::2] for uid in batch]
        mine = [uid for batch in dealt[0::2] for uid in batch]
        own = self.session.fetch_message_batches(mine, batch_size=own_size, texts=texts)
        batch: Sequence[int]
        try:
            if theirs:
                lane.fetch(self.name, self.role, uidvalidity, theirs, batch_size=size, texts=texts)
            for index in range(len(dealt)):
                if index % 2:
                    batch, parsed = lane.next_batch()
                else:
                    batch, fetched = next(own)
                    parsed = parse_batch(fetched, self.name, self.role)
                    lane.collect()
                state = self._store_parsed(state, batch, parsed)
        except LaneFailed as exc:
            own.close()  # reads what is still on its way, so the session can go on
            self.lanes.failed(exc)
            return self._fetch_here(state, [uid for uid in uids if uid > state.last_uid], texts)
        finally:
            own.close()
        return state

    def _with_texts(self, count: int) -> bool:
        return self.role in _TEXT_ROLES or count < DEFER_TEXTS_FROM

    def _store_parsed(
        self, state: FolderState, batch: Sequence[int], parsed_batch: Sequence[ParsedFetch]
    ) -> FolderState:
        items = []
        for parsed in parsed_batch:
            if parsed.message is None:
                logger.error(
                    "folder %s UID %d: could not parse the message\n%s",
                    self.name,
                    parsed.uid,
                    parsed.error.rstrip(),
                )
                self.tally.warn(f"folder {self.name} UID {parsed.uid}: unreadable message skipped")
                continue
            self.tally.warn_problems(parsed, folder=self.name)
            items.append((parsed.uid, parsed.message, parsed.modseq))
            self.counts.deferred += parsed.message.text_deferred
        state = dataclasses.replace(state, last_uid=batch[-1])
        self.counts.new += self.store.store_encoded_messages(self.name, items, folder_state=state)
        self.counts.fetched += len(items)
        self.tally.batches += 1
        if self.progress is not None:
            self.progress.advance(len(batch))
        return state

    def _announce(self, uids: list[int]) -> None:
        if self.progress is None:
            return
        announced = self.tally.announced.get(self.name, 0)
        self.progress.add_total(sum(1 for uid in uids if uid > announced))
        self.tally.announced[self.name] = max(announced, uids[-1])


# --------------------------------------------------------------------------- deferred texts


def fetch_texts(store: Store, session: MailboxSession, message_ids: Iterable[str]) -> set[str]:
    """Fetch and store the text of messages stored without it (``text_deferred``).

    Each message is fetched from one of the places the store knows it in.
    Returns the Message-IDs whose text is stored now; a message gone from
    every folder, or expunged since the last sync, stays without.
    """
    wanted: dict[str, tuple[FolderRole, list[int]]] = {}
    for message_id in dict.fromkeys(message_ids):
        locations = store.locations_of(message_id)
        if locations:
            where = locations[0]
            wanted.setdefault(where.folder, (where.role, []))[1].append(where.uid)
    done: set[str] = set()
    for folder, (role, uids) in sorted(wanted.items()):
        session.select(folder)
        for _, fetched in session.fetch_message_batches(sorted(uids)):
            items = []
            for parsed in parse_batch(fetched, folder, role):
                if parsed.message is None:
                    logger.error("folder %s UID %d: unreadable message", folder, parsed.uid)
                    continue
                items.append((parsed.uid, parsed.message, parsed.modseq))
                done.add(parsed.message_id)
            store.store_encoded_messages(folder, items)
    if done:
        logger.info("fetched the text of %d message(s) that could join a conversation", len(done))
    return done


# --------------------------------------------------------------------------- local sources


# Local folders are marked with UIDVALIDITY 0, which IMAP never uses (RFC 3501:
# a non-zero number), so the two kinds of source cannot mix UIDs in one folder.
LOCAL_UIDVALIDITY = 0
_LOCAL_BATCH = 500


def sync_local(store: Store, source: str, *, progress: ProgressSink | None = None) -> SyncReport:
    """Import a Maildir ("maildir:PATH") or mbox file ("mbox:PATH") into the store.

    Each folder is re-read only when its files changed; messages are matched
    by a stable key (Maildir file name, or a hash of the mbox message), so
    running it again adds only what is new and forgets what was deleted.
    """
    tally = _Tally()
    local = open_source(source)
    for folder in local.folders():
        counts = tally.folder(folder.name, folder.role)
        state = store.get_folder_state(folder.name)
        if state is not None and state.uidvalidity not in (None, LOCAL_UIDVALIDITY):
            raise errors.StoreError(
                f"folder {folder.name!r} in this database was synced from IMAP; import "
                f"{source!r} into a separate database (another state_dir)"
            )
        if state is not None and state.highest_modseq == folder.stamp:
            counts.unchanged = True
            continue
        _sync_local_folder(store, local, folder, counts, tally, progress)
    return tally.report()


def _sync_local_folder(
    store: Store,
    local: LocalSource,
    folder: LocalFolder,
    counts: _FolderCounts,
    tally: _Tally,
    progress: ProgressSink | None,
) -> None:
    known = store.folder_uids(folder.name)
    seen: set[int] = set()
    batch: list[tuple[int, Message, int | None]] = []
    flags: list[tuple[int, frozenset[str], int | None]] = []
    for item in local.messages(folder):
        if item.key in seen:
            continue  # the same bytes twice in one mbox
        seen.add(item.key)
        if item.key in known:
            flags.append((item.key, item.flags, None))
            continue
        message = item.parse(folder=folder.name, role=folder.role)
        tally.warn_message(message, uid=item.key)
        batch.append((item.key, message, None))
        if len(batch) >= _LOCAL_BATCH:
            _store_local_batch(store, folder.name, batch, counts, progress)
            batch = []
    _store_local_batch(store, folder.name, batch, counts, progress)
    gone = sorted(known.keys() - seen)
    counts.removed += store.remove_locations(folder.name, gone) if gone else 0
    # Flags are refreshed for every known message of a folder whose files changed.
    counts.changed += store.update_flags(folder.name, flags) if flags else 0
    store.save_folder_state(
        FolderState(
            folder.name,
            folder.role,
            uidvalidity=LOCAL_UIDVALIDITY,
            last_uid=0,
            highest_modseq=folder.stamp,
            synced_at=datetime.now(UTC),
        )
    )
    logger.info(
        "%s: read %d new message(s), %d removed", folder.name, counts.fetched, counts.removed
    )


def _store_local_batch(
    store: Store,
    folder: str,
    batch: list[tuple[int, Message, int | None]],
    counts: _FolderCounts,
    progress: ProgressSink | None,
) -> None:
    if not batch:
        return
    counts.new += store.store_messages(folder, batch)
    counts.fetched += len(batch)
    if progress is not None:
        progress.add_total(len(batch))
        progress.advance(len(batch))
