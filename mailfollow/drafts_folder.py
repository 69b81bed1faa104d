"""The IMAP Drafts folder as a second view of the approval queue.

Every waiting draft (pending, snoozed, approved, failed, unconfirmed) has a
copy in the Drafts folder, flagged ``\\Draft`` and ``\\Seen``, made of exactly
the bytes :func:`build_mime` gives (with a quote of the message it answers
when ``drafts.quote_original`` is on). The user can edit, send, delete or
flag that copy in their mail client; after each sync the store holds the
folder's messages (headers, X-Mailfollow-Id included, flags and UIDs), and
this module reads their decisions back:

1. :func:`mark_sent_from_client`: a message carrying the draft's
   X-Mailfollow-Id or Message-ID outside Drafts means the user sent it
   themselves: ``sent``.
2. (``pipeline.withdraw_obsolete`` then withdraws drafts a reply made pointless.)
3. :func:`reconcile`, per mirrored draft:

   - a newer copy (another UID with the draft's X-Mailfollow-Id or
     Message-ID; or, from clients that drop unknown headers, a draft
     answering the same message) is a user edit: its text/plain body, minus
     mailfollow's quote, replaces the stored text as the user's
     (``update_draft_body(user_edited=True)``); an approved draft goes back
     to pending, since the text that was approved is gone;
   - a copy flagged ``\\Flagged`` approves the draft, when
     ``drafts.approve_by_flag`` is on;
   - no copy left: the user sent it from their client if they wrote into the
     conversation since the draft was made (clients often drop custom
     headers and assign a new Message-ID when sending): ``sent``; otherwise
     they deleted it: ``skipped``;
   - a copy still there although the user wrote to them since: ``withdrawn``
     (that message was the follow-up).

4. :func:`mirror` appends the missing copies and removes those of finished
   drafts (sent, skipped, withdrawn), saying why in the log.

A user-edited text is never replaced by a machine one (the store refuses).
Local sources (``maildir:``, ``mbox:``) have no Drafts folder to mirror: the
steps that need the server do nothing then. Trouble with the server is a
warning; the next poll tries again.
"""

from __future__ import annotations

import dataclasses
import email
import email.errors
import email.policy
import functools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from mailfollow import errors
from mailfollow.adapters.mailbox import (
    Credential,
    ImapSettings,
    MailboxSession,
    find_role_folders,
    imap_settings_from_config,
)
from mailfollow.adapters.store import DraftRecord, Store
from mailfollow.core import approval
from mailfollow.core.drafting import MAILFOLLOW_ID_HEADER, draft_to_mime, quote_message
from mailfollow.core.headers import decode_snippet
from mailfollow.model import Conversation, FolderRole, Identity, Message, QueueState

if TYPE_CHECKING:
    from mailfollow.config import Config
    from mailfollow.pipeline import Assessment

logger = logging.getLogger(__name__)

Q = QueueState

# Drafts that have a copy in the Drafts folder, and those whose copy goes.
MIRRORED: frozenset[QueueState] = frozenset(
    {Q.PENDING, Q.SNOOZED, Q.APPROVED, Q.FAILED, Q.UNCONFIRMED}
)
FINISHED: frozenset[QueueState] = frozenset({Q.SENT, Q.SKIPPED, Q.WITHDRAWN})
DRAFT_FLAGS: tuple[str, ...] = ("\\Draft", "\\Seen")  # \Seen: a draft is not unread mail

_HEADER_KEY = MAILFOLLOW_ID_HEADER.lower()
# Where a message the user sent can be found (not Drafts, Trash or Junk).
_SENT_PLACES = frozenset(
    {FolderRole.SENT, FolderRole.ALL, FolderRole.ARCHIVE, FolderRole.INBOX, FolderRole.OTHER}
)
# More vanished copies than this, with the folder now empty, looks like a
# server problem rather than the user's decision: nothing is skipped then.
_SUDDEN_EMPTY = 3
_STALE_META = "drafts_folder.stale.{id}"
_NO_QUOTE_META = "drafts_folder.no_quote.{id}"  # the user took the quote out
_MAX_EDIT_CHARS = 100_000
_CLOCK_SLACK = timedelta(days=1)  # a Date header may lag the draft's creation a little
_warned_once: set[str] = set()
_T = TypeVar("_T")


# --------------------------------------------------------------------------- the account


class MailboxAccess:
    """The IMAP account, connected on first use (most polls never need it).

    Disabled for local sources: ``enabled`` is False and nothing is mirrored.
    After the server went away once, later calls fail at once with the same
    error instead of reconnecting again within one pass.
    """

    def __init__(
        self,
        settings: ImapSettings | None,
        credentials: Callable[[], Credential] | None = None,
        *,
        folder_overrides: Mapping[FolderRole, str] | None = None,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._overrides = dict(folder_overrides or {})
        self._session: MailboxSession | None = None
        self._folders: dict[FolderRole, str] | None = None
        self._broken: errors.MailboxUnavailable | None = None

    @classmethod
    def for_config(cls, config: Config, *, source: str | None = None) -> Self:
        """The configured account; a disabled one for a local source."""
        if source is not None:
            return cls(None)
        from mailfollow.credentials import get_credentials
        from mailfollow.sync import folder_overrides_from_config

        overrides = {FolderRole(k): v for k, v in folder_overrides_from_config(config).items()}
        return cls(
            imap_settings_from_config(config),
            lambda: get_credentials(config),
            folder_overrides=overrides,
        )

    @property
    def enabled(self) -> bool:
        return self._settings is not None

    def session(self) -> MailboxSession:
        """The open session, logging in now if needed."""
        if self._settings is None or self._credentials is None:
            raise errors.MailboxError("a local source has no IMAP account")
        if self._broken is not None:
            raise self._broken
        if self._session is None or not self._session.is_open:
            self._session = MailboxSession(self._settings, self._credentials)
            try:
                self._session.open()
            except errors.MailboxUnavailable as exc:
                self._broken = exc
                raise
        return self._session

    def folder(self, role: FolderRole) -> str | None:
        """The folder playing ``role`` on the server (one LIST per connection)."""
        if self._folders is None:
            try:
                listed, _ = self.session().list_folders()
            except errors.MailboxUnavailable as exc:
                self._broken = exc
                raise
            self._folders, _ = find_role_folders(listed, self._overrides)
        return self._folders.get(role)

    def call(self, action: Callable[[MailboxSession], _T]) -> _T:
        """Run ``action`` on the session, remembering a lost connection."""
        try:
            return action(self.session())
        except errors.MailboxUnavailable as exc:
            self._broken = exc
            raise

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- the message


def quote_for(store: Store, config: Config, record: DraftRecord) -> str | None:
    """The quote of the message the draft answers, when drafts.quote_original is on
    and the user did not take it out of their edited copy."""
    if store.get_meta(_NO_QUOTE_META.format(id=record.id)):
        return None
    return _quote_of(store, config, record)


def _quote_of(store: Store, config: Config, record: DraftRecord) -> str | None:
    if not config.drafts.quote_original or not record.in_reply_to:
        return None
    original = store.get_message(record.in_reply_to)
    if original is None:
        return None
    return quote_message(original, timezone=config.policy_settings().timezone) or None


def build_mime(
    store: Store, config: Config, record: DraftRecord, *, date: datetime | None = None
) -> bytes:
    """The draft's message bytes, as put in Drafts and (dated ``date``) sent.

    Raises core.drafting.HeaderInjectionError when a header value holds a line break.
    """
    draft = record.to_draft()
    if date is not None:
        draft = dataclasses.replace(draft, created_at=date)
    return draft_to_mime(draft, quote=quote_for(store, config, record))


@dataclass(frozen=True)
class EditedText:
    """What the user wrote in an edited copy, and whether mailfollow's quote was in it."""

    text: str
    quoted: bool


def edited_text(raw: bytes, *, quote: str | None) -> EditedText | None:
    """The text the user wrote in an edited copy: its text/plain body (text/html
    turned into text when there is none), without mailfollow's quote. None when
    the message holds no text."""
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
    except (ValueError, TypeError, LookupError, email.errors.MessageError):
        return None
    if not isinstance(parsed, EmailMessage):
        return None
    part = parsed.get_body(preferencelist=("plain", "html"))
    if part is None:
        return None
    text = _part_text(part)
    if text is None:
        return None
    mine, quoted = strip_quote(normalize_text(text), quote)
    return EditedText(mine, quoted)


def _part_text(part: Any) -> str | None:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = part.get_content_charset() or "utf-8"
    if part.get_content_subtype() == "html":
        return decode_snippet(
            payload, transfer_encoding="", charset=charset, subtype="html", limit=_MAX_EDIT_CHARS
        )
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def normalize_text(text: str) -> str:
    """LF line ends, no trailing spaces, no blank lines at the end: how texts compare."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def strip_quote(text: str, quote: str | None) -> tuple[str, bool]:
    """``text`` without mailfollow's quote at its end (the exact quote, or our
    attribution line followed only by quoted ">" or blank lines), and whether
    it was there."""
    if not quote:
        return text, False
    ours = normalize_text(quote)
    if text.endswith(ours):
        return text[: -len(ours)].rstrip("\n"), True
    attribution = ours.split("\n", 1)[0]
    lines = text.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].strip() != attribution:
            continue
        if all(not line.strip() or line.lstrip().startswith(">") for line in lines[index + 1 :]):
            return "\n".join(lines[:index]).rstrip("\n"), True
        break
    return text, False


# --------------------------------------------------------------------------- moving drafts


def move_draft(
    store: Store,
    record: DraftRecord,
    target: QueueState,
    *,
    at: datetime,
    reason: str,
    snooze_until: datetime | None = None,
    sent_at: datetime | None = None,
    error: str | None = None,
) -> DraftRecord:
    """Move a draft to ``target`` by the shortest chain of allowed statuses, in one
    transaction (approved -> pending -> skipped; pending -> approved -> sending ->
    sent for a draft the user sent themselves). Each step records ``reason``.

    Raises approval.TransitionError when no chain exists, DraftConflictError
    when the draft changed meanwhile.
    """
    path = _path(record.status, target)
    if path is None:
        raise approval.TransitionError(record.status, target)
    with store.transaction():
        current = record.status
        updated = record
        for step in path:
            last = step is target
            updated = store.transition(
                record.id,
                step,
                at=at,
                reason=reason,
                expected=current,
                snooze_until=snooze_until if last else None,
                sent_at=sent_at if last else None,
                error=error if last else None,
            )
            current = step
    return updated


def _path(start: QueueState, target: QueueState) -> list[QueueState] | None:
    """The shortest chain of allowed transitions from ``start`` to ``target``.

    It never passes through a status that records an event (failed,
    unconfirmed), nor through sending unless the target is sent.
    """
    if start is target:
        return []
    avoid = {Q.FAILED, Q.UNCONFIRMED} | ({Q.SENDING} if target is not Q.SENT else set())
    previous: dict[QueueState, QueueState] = {start: start}
    todo = deque([start])
    while todo:
        state = todo.popleft()
        for step in sorted(approval.ALLOWED_TRANSITIONS[state], key=str):
            if step in previous or (step in avoid and step is not target):
                continue
            previous[step] = state
            if step is target:
                path = [step]
                while previous[path[-1]] is not start:
                    path.append(previous[path[-1]])
                return path[::-1]
            todo.append(step)
    return None


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class FolderReport:
    """What the Drafts folder told about the queue in one pass."""

    edited: tuple[DraftRecord, ...] = ()
    approved: tuple[DraftRecord, ...] = ()
    sent: tuple[DraftRecord, ...] = ()  # sent from the user's mail client
    skipped: tuple[DraftRecord, ...] = ()  # deleted from Drafts
    withdrawn: tuple[DraftRecord, ...] = ()  # the user wrote to them themselves
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.edited or self.approved or self.sent or self.skipped or self.withdrawn)


@dataclass(frozen=True)
class MirrorReport:
    """Copies put into and taken out of the Drafts folder."""

    appended: tuple[DraftRecord, ...] = ()
    removed: tuple[DraftRecord, ...] = ()
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- what the store saw


@dataclass(frozen=True)
class DraftCopy:
    """A message in the Drafts folder, as the last sync saw it."""

    folder: str
    uid: int
    flags: frozenset[str]
    message: Message

    @property
    def mailfollow_id(self) -> str:
        return self.message.headers.get(_HEADER_KEY, "").strip()


def drafts_folders(store: Store) -> dict[str, int]:
    """The synced Drafts folder(s), with the highest UID the last sync covered."""
    return {
        state.name: state.last_uid
        for state in store.folder_states()
        if state.role is FolderRole.DRAFTS and state.synced_at is not None
    }


def copies_in_drafts(store: Store) -> list[DraftCopy]:
    """Every message in the synced Drafts folder(s) except those flagged deleted."""
    copies = []
    for folder in drafts_folders(store):
        for uid, message_id in sorted(store.folder_uids(folder).items()):
            message = store.get_message(message_id)
            location = next(
                (x for x in store.locations_of(message_id) if (x.folder, x.uid) == (folder, uid)),
                None,
            )
            if message is None or location is None or _has_flag(location.flags, "\\Deleted"):
                continue
            copies.append(DraftCopy(folder, uid, location.flags, message))
    return copies


def copies_of(record: DraftRecord, copies: Iterable[DraftCopy]) -> list[DraftCopy]:
    """The copies that stand for ``record``, oldest UID first.

    Linked by X-Mailfollow-Id or Message-ID; failing that (clients that drop
    unknown headers when saving), a header-less draft to the same person
    answering the same message.
    """
    copies = list(copies)
    linked = [
        c
        for c in copies
        if c.mailfollow_id == record.mailfollow_id or c.message.message_id == record.message_id
    ]
    if linked or not record.in_reply_to:
        return sorted(linked, key=lambda c: c.uid)
    return sorted(
        (
            c
            for c in copies
            if not c.mailfollow_id
            and record.in_reply_to in c.message.in_reply_to
            and record.recipient.email in {a.email for a in c.message.to}
        ),
        key=lambda c: c.uid,
    )


def _has_flag(flags: Iterable[str], flag: str) -> bool:
    return any(f.lower() == flag.lower() for f in flags)


def _is_sent_message(message: Message, drafts_ids: frozenset[str]) -> bool:
    """Whether a message went out: it is in Sent; or it is elsewhere (All Mail, an
    archive) but neither in Drafts (on Gmail a draft shows in All Mail too, and
    without the \\Draft flag) nor flagged as a draft."""
    if message.folder_role is FolderRole.SENT:
        return True
    return (
        message.message_id not in drafts_ids
        and message.folder_role in _SENT_PLACES
        and not _has_flag(message.flags, "\\Draft")
    )


def _linked_sent_copy(
    record: DraftRecord,
    messages: Sequence[Message],
    drafts_ids: frozenset[str],
    identity: Identity,
) -> Message | None:
    for message in messages:
        linked = (
            message.message_id == record.message_id
            or message.headers.get(_HEADER_KEY, "").strip() == record.mailfollow_id
        )
        if linked and identity.is_me(message.sender) and _is_sent_message(message, drafts_ids):
            return message
    return None


def _written_since(
    record: DraftRecord, conversation: Conversation | None, drafts_ids: frozenset[str]
) -> Message | None:
    """A message the user sent into the conversation after the one the draft
    answers (after the draft was made, when that message is unknown): one the
    draft did not take into account."""
    if conversation is None:
        return None
    answered = [
        m.message.date for m in conversation.messages if m.message.message_id == record.in_reply_to
    ]
    since = max(answered) if answered else record.created_at
    for item in conversation.messages:
        message = item.message
        if (
            item.from_me
            and message.date > since
            and message.message_id != record.in_reply_to
            and _is_sent_message(message, drafts_ids)
        ):
            return message
    return None


# --------------------------------------------------------------------------- 1. sent elsewhere


def mark_sent_from_client(store: Store, config: Config, *, now: datetime) -> list[DraftRecord]:
    """Mark ``sent`` the waiting drafts whose X-Mailfollow-Id or Message-ID the
    last sync found in a message from the user outside Drafts: they sent it from
    their mail client (or, for an unconfirmed draft, mailfollow's send did go out)."""
    waiting = store.list_drafts(MIRRORED)
    if not waiting:
        return []
    drafts_ids = frozenset(c.message.message_id for c in copies_in_drafts(store))
    since = min(d.created_at for d in waiting)
    messages = store.load_messages(since=since - _CLOCK_SLACK)
    sent = []
    for record in waiting:
        found = _linked_sent_copy(record, messages, drafts_ids, config.identity())
        if found is None:
            continue
        if record.status is Q.UNCONFIRMED:
            why = f"it is in {found.folder}, so it did go out"
        else:
            why = f"sent from your mail client ({found.folder} has it)"
        sent.append(_finish_as_sent(store, record, found, why=why, now=now))
    return sent


def _finish_as_sent(
    store: Store, record: DraftRecord, found: Message, *, why: str, now: datetime
) -> DraftRecord:
    updated = move_draft(store, record, Q.SENT, at=now, reason=why, sent_at=min(found.date, now))
    logger.info("draft %d marked sent: %s (%s)", record.id, why, record.recipient.email)
    return updated


# --------------------------------------------------------------------------- 3. reconcile


def reconcile(
    store: Store,
    config: Config,
    assessments: Sequence[Assessment],
    *,
    mailbox: MailboxAccess,
    now: datetime,
) -> FolderReport:
    """Read the user's edits, flags, sends and deletions back from the Drafts folder."""
    mirrored = [d for d in store.list_drafts(MIRRORED) if d.imap_folder is not None]
    if not mirrored:
        return FolderReport()
    return _Reconciler(store, config, assessments, mailbox, now).run(mirrored)


class _Reconciler:
    def __init__(
        self,
        store: Store,
        config: Config,
        assessments: Sequence[Assessment],
        mailbox: MailboxAccess,
        now: datetime,
    ) -> None:
        self.store = store
        self.config = config
        self.mailbox = mailbox
        self.now = now
        self.conversations = {a.conversation.id: a.conversation for a in assessments}
        self.folders = drafts_folders(store)
        self.copies = copies_in_drafts(store)
        self.drafts_ids = frozenset(c.message.message_id for c in self.copies)
        self.found: dict[str, list[DraftRecord]] = {
            "edited": [],
            "approved": [],
            "sent": [],
            "skipped": [],
            "withdrawn": [],
        }
        self.warnings: list[str] = []

    def run(self, mirrored: Sequence[DraftRecord]) -> FolderReport:
        vanished = []
        for record in mirrored:
            copies = copies_of(record, self.copies)
            if copies:
                self._follow(record, copies)
            elif self._sync_has_seen(record):
                vanished.append(record)
        if self._suddenly_empty(vanished):
            return self._report()
        for record in vanished:
            self._vanished(record)
        return self._report()

    def _report(self) -> FolderReport:
        return FolderReport(
            edited=tuple(self.found["edited"]),
            approved=tuple(self.found["approved"]),
            sent=tuple(self.found["sent"]),
            skipped=tuple(self.found["skipped"]),
            withdrawn=tuple(self.found["withdrawn"]),
            warnings=tuple(self.warnings),
        )

    def _warn(self, text: str) -> None:
        logger.warning("%s", text)
        self.warnings.append(text)

    def _sync_has_seen(self, record: DraftRecord) -> bool:
        """Whether the last sync covered the draft's copy (one appended since has no
        location yet, and must not look deleted)."""
        last_uid = self.folders.get(record.imap_folder or "")
        return last_uid is not None and record.imap_uid is not None and record.imap_uid <= last_uid

    def _suddenly_empty(self, vanished: Sequence[DraftRecord]) -> bool:
        if len(vanished) < _SUDDEN_EMPTY or self.copies:
            return False
        self._warn(
            f"all {len(vanished)} mailfollow drafts vanished from an empty Drafts folder at once;"
            " assuming a server problem rather than your decision, nothing is skipped"
            " (skip them with `mailfollow skip ID` if you deleted them)"
        )
        return True

    # -- a copy is there --------------------------------------------------

    def _follow(self, record: DraftRecord, copies: Sequence[DraftCopy]) -> None:
        conversation = self.conversations.get(record.conversation_id)
        wrote = _written_since(record, conversation, self.drafts_ids)
        if wrote is not None and record.status in (Q.PENDING, Q.SNOOZED, Q.APPROVED):
            why = (
                f"you wrote to {record.recipient.email} yourself on"
                f" {wrote.date:%Y-%m-%d} since this draft was made"
            )
            updated = move_draft(self.store, record, Q.WITHDRAWN, at=self.now, reason=why)
            logger.info("draft %d withdrawn: %s", record.id, why)
            self.found["withdrawn"].append(updated)
            return
        latest = copies[-1]
        if latest.uid != record.imap_uid:
            record = self._take_new_version(record, latest)
        if self._flag_approves(record, latest):
            updated = move_draft(
                self.store,
                record,
                Q.APPROVED,
                at=self.now,
                reason="flagged in your Drafts folder (drafts.approve_by_flag)",
            )
            logger.info("draft %d approved: flagged in your Drafts folder", record.id)
            self.found["approved"].append(updated)

    def _take_new_version(self, record: DraftRecord, latest: DraftCopy) -> DraftRecord:
        """Read the newer copy; a different text is the user's edit."""
        if not self.mailbox.enabled:
            return record
        try:
            raw = self.mailbox.call(lambda s: s.fetch_full(latest.folder, latest.uid))
        except errors.MailboxError as exc:
            self._warn(f"draft {record.id}: could not read your edited copy this time: {exc}")
            return record
        if raw is None:
            return record  # gone since the sync; the next one will say where
        quote = _quote_of(self.store, self.config, record)
        edited = edited_text(raw, quote=quote)
        if edited is None:
            self._warn(
                f"draft {record.id}: the copy in {latest.folder} (UID {latest.uid}) has no"
                " readable text; the previous text is kept"
            )
        elif edited.text != normalize_text(record.body) or (
            quote is not None
            and edited.quoted != (quote_for(self.store, self.config, record) is not None)
        ):
            record = self._apply_edit(record, latest, edited, quote_offered=quote is not None)
        self.store.set_draft_imap_location(record.id, latest.folder, latest.uid)
        return dataclasses.replace(record, imap_folder=latest.folder, imap_uid=latest.uid)

    def _apply_edit(
        self, record: DraftRecord, latest: DraftCopy, edited: EditedText, *, quote_offered: bool
    ) -> DraftRecord:
        if record.status not in (Q.PENDING, Q.SNOOZED, Q.APPROVED, Q.FAILED):
            self._warn(
                f"draft {record.id} is {record.status.value}; your edit in {latest.folder} is not"
                " taken (approve or skip it first)"
            )
            return record
        changed = _changed_headers(record, latest.message)
        why = "edited in your mail client"
        if changed:
            why += (
                f"; only the text is kept: your change to the {' and '.join(changed)} is not"
                " (send it from your mail client to keep it)"
            )
            self._warn(f"draft {record.id}: {why}")
        with self.store.transaction():
            updated = self.store.update_draft_body(
                record.id, edited.text, at=self.now, user_edited=True, reason=why
            )
            if quote_offered:  # sent as the user left it: without the quote if they took it out
                self.store.set_meta(
                    _NO_QUOTE_META.format(id=record.id), None if edited.quoted else "1"
                )
            if updated.status is Q.APPROVED:
                updated = self.store.transition(
                    record.id,
                    Q.PENDING,
                    at=self.now,
                    reason="edited in your mail client after approval; approve the new text",
                    expected=Q.APPROVED,
                )
        logger.info("draft %d: %s", record.id, why)
        self.found["edited"].append(updated)
        return updated

    def _flag_approves(self, record: DraftRecord, latest: DraftCopy) -> bool:
        return (
            self.config.drafts.approve_by_flag
            and record.status in (Q.PENDING, Q.SNOOZED)
            and _has_flag(latest.flags, "\\Flagged")
            and not _changed_headers(record, latest.message)
        )

    # -- no copy left -----------------------------------------------------

    def _vanished(self, record: DraftRecord) -> None:
        conversation = self.conversations.get(record.conversation_id)
        wrote = _written_since(record, conversation, self.drafts_ids)
        if wrote is not None:
            why = (
                "sent from your mail client (it left Drafts and you wrote to"
                f" {record.recipient.email} on {wrote.date:%Y-%m-%d})"
            )
            self.found["sent"].append(
                _finish_as_sent(self.store, record, wrote, why=why, now=self.now)
            )
            return
        why = "deleted from your Drafts folder without sending"
        updated = move_draft(self.store, record, Q.SKIPPED, at=self.now, reason=why)
        self.store.set_draft_imap_location(record.id, None, None)
        logger.info("draft %d skipped: %s", record.id, why)
        self.found["skipped"].append(updated)


def _changed_headers(record: DraftRecord, message: Message) -> list[str]:
    """What the user changed besides the text: "subject", "recipients"."""
    changed = []
    if " ".join(message.subject.split()) != " ".join(record.subject.split()):
        changed.append("subject")
    recipients = {a.email for a in (*message.to, *message.cc)}
    if recipients != {record.recipient.email}:
        changed.append("recipients")
    return changed


# --------------------------------------------------------------------------- 4. mirror


def mark_copy_stale(store: Store, draft_id: int) -> None:
    """The draft's text changed outside the mail client: replace its Drafts copy."""
    store.set_meta(_STALE_META.format(id=draft_id), "1")


def mirror(store: Store, config: Config, *, mailbox: MailboxAccess) -> MirrorReport:
    """Put each waiting draft's copy into Drafts; take finished drafts' copies out.

    A draft the server refuses is a warning and the others go on; a lost
    connection ends the step until the next poll.
    """
    if not mailbox.enabled:
        return MirrorReport()
    waiting = store.list_drafts(MIRRORED)
    stale = [d for d in waiting if _is_stale(store, d)]
    missing = [d for d in waiting if d.imap_folder is None]
    finished = [d for d in store.list_drafts(FINISHED) if d.imap_folder is not None]
    appended: list[DraftRecord] = []
    removed: list[DraftRecord] = []
    warnings: list[str] = []
    try:
        folder = mailbox.folder(FolderRole.DRAFTS) if missing or stale else None
        if (missing or stale) and folder is None:
            _warn_once(
                warnings, "no Drafts folder found (set folders.drafts); drafts wait in pending"
            )
        for record in [*missing, *stale] if folder else []:
            add = functools.partial(
                _append_copy, store, config, mailbox, record, folder or "", replace=record in stale
            )
            _attempt(add, appended, warnings)
        for record in finished:
            _attempt(functools.partial(remove_copies, store, mailbox, record), removed, warnings)
    except errors.MailboxUnavailable as exc:
        text = f"Drafts folder not updated this time: {exc}"
        logger.warning("%s", text)
        warnings.append(text)
    return MirrorReport(tuple(appended), tuple(removed), tuple(warnings))


def _attempt(
    action: Callable[[], DraftRecord | None], into: list[DraftRecord], warnings: list[str]
) -> None:
    """One draft's mirroring: a refusal is a warning (a lost connection is not caught)."""
    try:
        done = action()
    except errors.MailboxUnavailable:
        raise
    except errors.MailboxError as exc:
        text = f"Drafts folder: {exc}; tried again at the next poll"
        logger.warning("%s", text)
        warnings.append(text)
    else:
        if done is not None:
            into.append(done)


def _is_stale(store: Store, record: DraftRecord) -> bool:
    return record.imap_folder is not None and bool(store.get_meta(_STALE_META.format(id=record.id)))


def _warn_once(warnings: list[str], text: str) -> None:
    warnings.append(text)
    if text not in _warned_once:
        _warned_once.add(text)
        logger.warning("%s", text)


def _append_copy(
    store: Store,
    config: Config,
    mailbox: MailboxAccess,
    record: DraftRecord,
    folder: str,
    *,
    replace: bool,
) -> DraftRecord | None:
    """Append the draft's copy (replacing a stale one) and remember its UID."""
    try:
        raw = build_mime(store, config, record)
    except ValueError as exc:  # HeaderInjectionError is one
        logger.warning("draft %d not put in Drafts: %s", record.id, exc)
        return None
    uid = None if replace else _existing_copy(mailbox, folder, record)
    if uid is None:
        uid = mailbox.call(
            lambda s: s.append(folder, raw, flags=DRAFT_FLAGS, when=record.created_at)
        ) or _existing_copy(mailbox, folder, record)
    store.set_draft_imap_location(record.id, folder, uid)
    store.set_meta(_STALE_META.format(id=record.id), None)
    stale_folder, stale_uid = record.imap_folder, record.imap_uid
    if replace and stale_folder is not None and stale_uid is not None and stale_uid != uid:
        mailbox.call(lambda s: s.delete_messages(stale_folder, [stale_uid]))
    verb = "replaced in" if replace else "put in"
    logger.info("draft %d %s Drafts (%s UID %s)", record.id, verb, folder, uid)
    return dataclasses.replace(record, imap_folder=folder, imap_uid=uid)


def _existing_copy(mailbox: MailboxAccess, folder: str, record: DraftRecord) -> int | None:
    """A copy appended before a crash kept its UID from the store (or a server
    without UIDPLUS did not say): found by its Message-ID."""
    uids = mailbox.call(lambda s: s.search_header(folder, "Message-ID", record.message_id))
    return uids[-1] if uids else None


def remove_copies(store: Store, mailbox: MailboxAccess, record: DraftRecord) -> DraftRecord:
    """Delete every copy of a finished draft from Drafts and forget its location."""
    folder = record.imap_folder or mailbox.folder(FolderRole.DRAFTS)
    if folder:
        uids = {record.imap_uid} if record.imap_uid is not None else set()
        uids |= set(
            mailbox.call(lambda s: s.search_header(folder, "Message-ID", record.message_id))
        )
        uids |= {
            c.uid
            for c in copies_in_drafts(store)
            if c.folder == folder and c.mailfollow_id == record.mailfollow_id
        }
        mailbox.call(lambda s: s.delete_messages(folder, sorted(u for u in uids if u)))
    store.set_draft_imap_location(record.id, None, None)
    store.set_meta(_STALE_META.format(id=record.id), None)
    why = _latest_reason(store, record)
    logger.info("draft %d removed from Drafts (%s: %s)", record.id, record.status.value, why)
    return dataclasses.replace(record, imap_folder=None, imap_uid=None)


def _latest_reason(store: Store, record: DraftRecord) -> str:
    events = store.history(record.id)
    return events[-1].reason if events else record.status.value
