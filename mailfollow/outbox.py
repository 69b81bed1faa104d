"""The approval queue's actions, and sending: exactly as approved, at most once,
never after a reply.

The user's actions (the CLI calls them): :func:`preview` builds the exact
bytes that approving would send, :func:`approve` approves them (they are
kept with the draft and sent as they are), :func:`edit`, :func:`skip`,
:func:`snooze`; :func:`wake_snoozed` brings snoozed drafts back when their
time comes.

The send pass, :func:`send_approved`, takes each approved draft, oldest first:

1. it syncs the mailbox and re-evaluates the conversations first (and again
   before each further draft when the sync saw anything new): a reply,
   rejection or bounce that arrived after approval withdraws the draft; an
   edit or a deletion in the Drafts folder takes it back;
2. it respects ``drafts.daily_send_cap`` and ``hourly_send_cap`` (drafts
   whose fate is uncertain count as sent) and, after a temporary refusal,
   waits before trying again (5 minutes, doubling up to 6 hours);
3. it commits ``sending``, with the Message-ID fixed since the draft was
   made, before the SMTP transaction starts;
4. it records the outcome: ``sent``; ``failed`` with the server's code and
   text (5xx); ``approved`` again after a temporary refusal before the
   message was accepted (nothing was delivered); ``unconfirmed`` when the
   connection broke while the server was taking the message;
5. it files a copy in Sent (``drafts.save_sent``: ``auto`` looks for the
   server's own copy for a few seconds first) and removes the Drafts copy.

Recovery, :func:`recover_interrupted`, at the start of every poll and send
pass: a draft found in ``sending`` was interrupted mid-send (a crash, a
SIGKILL). It becomes ``sent`` when its Message-ID is in Sent, ``unconfirmed``
otherwise, and is never sent again unless the user approves it again.

One process sends at a time: an exclusive ``flock`` on ``STATE_DIR/send.lock``,
which the kernel releases when its holder dies.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import email
import email.policy
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from mailfollow import errors
from mailfollow.adapters.smtp import SendOutcomeUnknown, SmtpSettings, send_message_sync
from mailfollow.adapters.store import DraftConflictError, DraftRecord, Store
from mailfollow.config import SaveSent
from mailfollow.core import approval
from mailfollow.drafts_folder import (
    MailboxAccess,
    build_mime,
    mark_copy_stale,
    mirror,
    move_draft,
    normalize_text,
    remove_copies,
)
from mailfollow.model import FolderRole, QueueState

if TYPE_CHECKING:
    from mailfollow.config import Config

logger = logging.getLogger(__name__)

Q = QueueState

APPROVABLE: frozenset[QueueState] = frozenset({Q.PENDING, Q.SNOOZED, Q.FAILED, Q.UNCONFIRMED})
SNOOZABLE: frozenset[QueueState] = frozenset({Q.PENDING, Q.SNOOZED, Q.APPROVED})
# What `mailfollow pending` lists: every draft still waiting for someone...
WAITING: frozenset[QueueState] = frozenset(
    {Q.PENDING, Q.SNOOZED, Q.APPROVED, Q.SENDING, Q.UNCONFIRMED, Q.FAILED}
)
# ...and, for this long, the ones mailfollow withdrew, with the reason.
SHOW_WITHDRAWN_FOR = timedelta(days=7)

LOCK_NAME = "send.lock"
RETRY_FIRST = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)
# Seconds to wait before each look for the server's own Sent copy (save_sent = auto).
SENT_COPY_CHECKS: tuple[float, ...] = (0.0, 1.0, 2.0)
_STATE_KEY = "outbox.draft.{id}"


class QueueError(errors.MailfollowError):
    """The queue cannot do what was asked with this draft (unknown id, wrong status)."""


# --------------------------------------------------------------------------- per-draft state


@dataclass(frozen=True)
class SendState:
    """What the outbox keeps for an approved draft, in the store's meta table."""

    body_sha256: str = ""  # the text that was approved
    mime: bytes = b""  # the bytes built at approval, sent exactly
    attempts: int = 0  # temporary refusals so far
    next_try: datetime | None = None
    last_error: str = ""


def load_state(store: Store, draft_id: int) -> SendState:
    text = store.get_meta(_STATE_KEY.format(id=draft_id))
    if not text:
        return SendState()
    data = json.loads(text)
    return SendState(
        body_sha256=data.get("body", ""),
        mime=base64.b64decode(data.get("mime", "")),
        attempts=int(data.get("attempts", 0)),
        next_try=datetime.fromisoformat(data["next_try"]) if data.get("next_try") else None,
        last_error=data.get("last_error", ""),
    )


def save_state(store: Store, draft_id: int, state: SendState) -> None:
    data = {
        "body": state.body_sha256,
        "mime": base64.b64encode(state.mime).decode("ascii"),
        "attempts": state.attempts,
        "next_try": state.next_try.isoformat() if state.next_try else None,
        "last_error": state.last_error,
    }
    store.set_meta(_STATE_KEY.format(id=draft_id), json.dumps(data, separators=(",", ":")))


def forget_state(store: Store, draft_id: int) -> None:
    store.set_meta(_STATE_KEY.format(id=draft_id), None)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th temporary refusal in a row."""
    factor: int = 2 ** max(0, attempts - 1)
    return min(RETRY_MAX, RETRY_FIRST * factor)


# --------------------------------------------------------------------------- the user's actions


def require_draft(store: Store, draft_id: int) -> DraftRecord:
    record = store.get_draft(draft_id)
    if record is None:
        raise QueueError(f"no draft {draft_id} (see `mailfollow pending`)")
    return record


@dataclass(frozen=True)
class Preview:
    """A draft and the exact bytes that approving it sends."""

    record: DraftRecord
    raw: bytes

    def display(self) -> str:
        """The message as the recipient's mail client shows it: headers, then the text."""
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        lines = [
            f"{name}: {parsed[name]}"
            for name in (
                "From",
                "To",
                "Subject",
                "Date",
                "Message-ID",
                "In-Reply-To",
                "References",
                "X-Mailfollow-Id",
            )
            if parsed[name] is not None
        ]
        body = parsed.get_body(("plain",)) if isinstance(parsed, EmailMessage) else None
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        return "\n".join(lines) + "\n\n" + normalize_text(str(text))


def preview(store: Store, config: Config, draft_id: int, *, now: datetime) -> Preview:
    """What approving draft ``draft_id`` now would send, byte for byte (dated ``now``).

    Raises QueueError when the draft cannot be approved, HeaderInjectionError
    when a header value holds a line break.
    """
    record = require_draft(store, draft_id)
    if record.status not in APPROVABLE:
        raise QueueError(
            f"draft {draft_id} cannot be approved: "
            + approval.describe_refusal(record.status, Q.APPROVED)
        )
    return Preview(record, build_mime(store, config, record, date=now))


def approve(
    store: Store,
    shown: Preview,
    *,
    now: datetime,
    reason: str = "approved with `mailfollow approve`",
) -> DraftRecord:
    """Approve the draft as ``shown``: those bytes, and no others, will be sent.

    Raises DraftConflictError when the draft changed since it was shown.
    """
    draft_id = shown.record.id
    with store.transaction():
        current = require_draft(store, draft_id)
        if current.body != shown.record.body or current.status is not shown.record.status:
            raise DraftConflictError(
                f"draft {draft_id} changed since it was shown ({current.status.value}); look again"
            )
        updated = move_draft(store, current, Q.APPROVED, at=now, reason=reason)
        save_state(store, draft_id, SendState(body_sha256=_sha256(current.body), mime=shown.raw))
    logger.info("draft %d approved (%s)", draft_id, reason)
    return updated


def edit(
    store: Store,
    draft_id: int,
    text: str,
    *,
    now: datetime,
    reason: str = "edited with mailfollow",
) -> DraftRecord:
    """Replace the draft's text with the user's; an approval of the old text lapses."""
    with store.transaction():
        record = store.update_draft_body(draft_id, text, at=now, user_edited=True, reason=reason)
        if record.status is Q.APPROVED:
            record = store.transition(
                draft_id,
                Q.PENDING,
                at=now,
                reason="edited after approval; approve the new text",
                expected=Q.APPROVED,
            )
        forget_state(store, draft_id)
        mark_copy_stale(store, draft_id)
    logger.info("draft %d: %s", draft_id, reason)
    return record


def skip(
    store: Store, draft_id: int, *, now: datetime, reason: str = "skipped with `mailfollow skip`"
) -> DraftRecord:
    """Dismiss the draft; its Drafts copy goes at the next poll."""
    record = require_draft(store, draft_id)
    if record.status is Q.SENDING:
        raise QueueError(f"draft {draft_id} is being sent right now; it cannot be skipped")
    if record.status in approval.TERMINAL:
        raise QueueError(f"draft {draft_id} is already {record.status.value}")
    with store.transaction():
        updated = move_draft(store, record, Q.SKIPPED, at=now, reason=reason)
        forget_state(store, draft_id)
    logger.info("draft %d skipped (%s)", draft_id, reason)
    return updated


def snooze(store: Store, draft_id: int, until: datetime, *, now: datetime) -> DraftRecord:
    """Hide the draft until ``until``; it comes back as pending (an approval lapses)."""
    if until <= now:
        raise ValueError("a snooze must end in the future")
    record = require_draft(store, draft_id)
    if record.status not in SNOOZABLE:
        raise QueueError(f"draft {draft_id} is {record.status.value}; only waiting drafts snooze")
    reason = f"snoozed until {until:%Y-%m-%d %H:%M %Z}".rstrip()
    with store.transaction():
        if record.status is Q.SNOOZED:  # snoozed again: from pending, with the new end
            record = move_draft(store, record, Q.PENDING, at=now, reason=reason)
        updated = move_draft(store, record, Q.SNOOZED, at=now, reason=reason, snooze_until=until)
        forget_state(store, draft_id)
    logger.info("draft %d %s", draft_id, reason)
    return updated


def wake_snoozed(store: Store, *, now: datetime) -> list[DraftRecord]:
    """Bring back, as pending, the snoozed drafts whose time has come."""
    woken = []
    for record in store.list_drafts([Q.SNOOZED]):
        if record.snooze_until is not None and record.snooze_until <= now:
            updated = store.transition(
                record.id, Q.PENDING, at=now, reason="the snooze ended", expected=Q.SNOOZED
            )
            logger.info("draft %d is back: the snooze ended", record.id)
            woken.append(updated)
    return woken


def declined_followup(
    store: Store, conversation_id: str, number: int, *, since: datetime | None
) -> str | None:
    """Why follow-up ``number`` is not drafted again: the user skipped it in this
    round of silence (after the other side's last answer, ``since``). None if not."""
    for record in store.list_drafts([Q.SKIPPED], conversation_id=conversation_id):
        if record.nudge_number == number and (since is None or record.created_at > since):
            return (
                f"you skipped follow-up {number} (draft {record.id}); it is not drafted again"
                " until the conversation moves on"
            )
    return None


def unused_mailfollow_id(store: Store, wanted: str) -> str:
    """``wanted``, or ``wanted.2``, ``wanted.3``... when an earlier draft (one
    withdrawn in an earlier round, say) already carries it."""
    candidate, number = wanted, 1
    while store.get_draft_by_mailfollow_id(candidate) is not None:
        number += 1
        candidate = f"{wanted}.{number}"
    return candidate


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class QueueItem:
    """A draft as `mailfollow pending` shows it: with why it is where it is."""

    record: DraftRecord
    reason: str  # the latest history entry's reason
    next_try: datetime | None = None  # after a temporary refusal


def list_queue(store: Store, *, now: datetime) -> list[QueueItem]:
    """Every draft still waiting (for the user, the server or a decision), and the
    ones withdrawn in the last week, oldest first."""
    recent = now - SHOW_WITHDRAWN_FOR
    records = [
        r
        for r in store.list_drafts([*WAITING, Q.WITHDRAWN])
        if r.status is not Q.WITHDRAWN or r.updated_at >= recent
    ]
    return [
        QueueItem(r, latest_reason(store, r), load_state(store, r.id).next_try) for r in records
    ]


def needs_attention(store: Store) -> list[DraftRecord]:
    """Drafts only the user can settle: unconfirmed (may have gone out) and failed."""
    return store.list_drafts([Q.UNCONFIRMED, Q.FAILED])


def latest_reason(store: Store, record: DraftRecord) -> str:
    """Why the draft is where it is: its latest history entry."""
    events = store.history(record.id)
    return events[-1].reason if events else ""


# --------------------------------------------------------------------------- one sender


@contextlib.contextmanager
def send_lock(state_dir: Path) -> Iterator[bool]:
    """True while this process is the only one sending (a non-blocking flock)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------------- recovery


def recover_interrupted(
    store: Store, config: Config, mailbox: MailboxAccess, *, now: datetime
) -> list[DraftRecord]:
    """Settle drafts left in ``sending`` by an interrupted send: ``sent`` when their
    Message-ID is in Sent, ``unconfirmed`` otherwise. Never sends anything."""
    if not store.list_drafts([Q.SENDING]):
        return []
    with send_lock(config.state_dir) as alone:
        if not alone:
            logger.debug("a send is under way in another process; recovery waits")
            return []
        return _recover(store, mailbox, now=now)


def _recover(store: Store, mailbox: MailboxAccess, *, now: datetime) -> list[DraftRecord]:
    recovered = []
    for record in store.list_drafts([Q.SENDING]):
        where, problem = _sent_copy_location(store, mailbox, record)
        if where is not None:
            why = f"mailfollow stopped while sending it; it is in {where}, so it went out"
            updated = store.transition(
                record.id, Q.SENT, at=now, reason=why, expected=Q.SENDING, sent_at=record.updated_at
            )
            logger.info("draft %d marked sent: %s", record.id, why)
        else:
            why = (
                "mailfollow stopped while sending it and it is not in Sent"
                f"{problem}, so it may or may not have gone out: check with the recipient or"
                f" your Sent folder, then `mailfollow approve {record.id}` to send it again"
                f" or `mailfollow skip {record.id}`"
            )
            updated = store.transition(
                record.id, Q.UNCONFIRMED, at=now, reason=why, expected=Q.SENDING, error=why
            )
            logger.warning("draft %d unconfirmed: %s", record.id, why)
        forget_state(store, record.id)
        recovered.append(updated)
    return recovered


def _sent_copy_location(
    store: Store, mailbox: MailboxAccess, record: DraftRecord
) -> tuple[str | None, str]:
    """The Sent folder holding the draft's Message-ID, or None and why we could not tell."""
    for location in store.locations_of(record.message_id):
        if location.role is FolderRole.SENT:
            return location.folder, ""
    if not mailbox.enabled:
        return None, ""
    try:
        folder = mailbox.folder(FolderRole.SENT)
        if folder is None:
            return None, " (no Sent folder was found to check)"
        uids = mailbox.call(lambda s: s.search_header(folder, "Message-ID", record.message_id))
    except errors.MailboxError as exc:
        return None, f" (Sent could not be checked: {exc})"
    return (folder, "") if uids else (None, "")


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class SendReport:
    """What a send pass did. ``int(report)`` is the number sent (the daemon counts)."""

    sent: tuple[DraftRecord, ...] = ()
    failed: tuple[DraftRecord, ...] = ()
    unconfirmed: tuple[DraftRecord, ...] = ()
    deferred: tuple[DraftRecord, ...] = ()  # still approved: a cap, a wait, a temporary refusal
    cancelled: tuple[DraftRecord, ...] = ()  # no longer approved after the last look
    recovered: tuple[DraftRecord, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. a cap reached
    warnings: tuple[str, ...] = ()
    busy: bool = False  # another process was sending; nothing was done

    def __int__(self) -> int:
        return len(self.sent)


def smtp_settings_from_config(config: Config) -> SmtpSettings:
    """The SMTP part of the configuration, as the adapter wants it."""
    server = config.account.smtp
    return SmtpSettings(
        host=server.host,
        port=server.port,
        security=server.security.value,
        username=config.account.username,
        ca_file=server.ca_file,
        allow_insecure=server.allow_insecure,
    )


def send_approved(
    config: Config, *, now: datetime, only: Collection[int] | None = None
) -> SendReport:
    """Send the approved drafts (only those in ``only`` when given); see the module doc.

    Raises MailboxError when the mailbox cannot be checked first (then nothing
    is sent) and CredentialError when a login is refused.
    """
    with send_lock(config.state_dir) as alone:
        if not alone:
            logger.info("another mailfollow process is sending; nothing sent from here now")
            return SendReport(busy=True)
        with Store.open(config.store_path()) as store, MailboxAccess.for_config(config) as mailbox:
            return _SendPass(store, config, mailbox, now=now, only=only).run()


@dataclass
class _Outcomes:
    sent: list[DraftRecord] = field(default_factory=list)
    failed: list[DraftRecord] = field(default_factory=list)
    unconfirmed: list[DraftRecord] = field(default_factory=list)
    deferred: list[DraftRecord] = field(default_factory=list)
    cancelled: list[DraftRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _SendPass:
    def __init__(
        self,
        store: Store,
        config: Config,
        mailbox: MailboxAccess,
        *,
        now: datetime,
        only: Collection[int] | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.config = config
        self.mailbox = mailbox
        self.now = now
        self.only = None if only is None else frozenset(only)
        self.sleep = sleep
        self.smtp = smtp_settings_from_config(config)
        self.out = _Outcomes()
        self.looked = False
        self.login: tuple[str | None, str | None] | None = None  # (password, token)
        self.refused_login: errors.CredentialError | None = None

    def run(self) -> SendReport:
        recovered = _recover(self.store, self.mailbox, now=self.now)
        for record in self._approved():
            if self.refused_login is not None:
                break
            if not self._due(record):
                self.out.deferred.append(record)
            elif (cap := self._cap_reached()) is not None:
                self._note(cap)
                self.out.deferred.append(record)
            else:
                self._look_at_mailbox()
                current = require_draft(self.store, record.id)
                if current.status is Q.APPROVED:
                    self._send(current)
                else:
                    self._cancelled(current)
        if self.looked:
            self._tidy_drafts_folder()
        if self.refused_login is not None:
            raise self.refused_login
        return self._report(recovered)

    def _report(self, recovered: list[DraftRecord]) -> SendReport:
        out = self.out
        return SendReport(
            sent=tuple(out.sent),
            failed=tuple(out.failed),
            unconfirmed=tuple(out.unconfirmed),
            deferred=tuple(out.deferred),
            cancelled=tuple(out.cancelled),
            recovered=tuple(recovered),
            notes=tuple(out.notes),
            warnings=tuple(out.warnings),
        )

    def _approved(self) -> list[DraftRecord]:
        return [
            r
            for r in self.store.list_drafts([Q.APPROVED])
            if self.only is None or r.id in self.only
        ]

    def _note(self, text: str) -> None:
        if text not in self.out.notes:
            logger.info("%s", text)
            self.out.notes.append(text)

    def _warn(self, text: str) -> None:
        logger.warning("%s", text)
        self.out.warnings.append(text)

    # -- 1. look at the mailbox again -------------------------------------

    def _look_at_mailbox(self) -> None:
        """Sync; re-evaluate the conversations and the queue on the first look and
        whenever the sync brought anything new."""
        from mailfollow import pipeline  # pipeline imports this module

        synced = pipeline.sync(self.store, self.config)
        if self.looked and not (synced.new or synced.changed or synced.removed):
            return
        texts = pipeline.MailboxTexts(self.store, self.mailbox)
        assessments = pipeline.assess(self.store, self.config, now=self.now, texts=texts)
        pipeline.review_queue(
            self.store, self.config, assessments, mailbox=self.mailbox, now=self.now
        )
        self.looked = True

    def _cancelled(self, record: DraftRecord) -> None:
        logger.info(
            "draft %d not sent: it is %s now (%s)",
            record.id,
            record.status.value,
            latest_reason(self.store, record),
        )
        forget_state(self.store, record.id)
        self.out.cancelled.append(record)

    # -- 2. limits --------------------------------------------------------

    def _due(self, record: DraftRecord) -> bool:
        next_try = load_state(self.store, record.id).next_try
        if next_try is None or next_try <= self.now:
            return True
        logger.debug("draft %d waits until %s after a temporary refusal", record.id, next_try)
        return False

    def _cap_reached(self) -> str | None:
        drafts = self.config.drafts
        for name, cap, window, span in (
            ("hourly_send_cap", drafts.hourly_send_cap, timedelta(hours=1), "hour"),
            ("daily_send_cap", drafts.daily_send_cap, timedelta(days=1), "24 hours"),
        ):
            count = self.store.count_sent_since(self.now - window)
            if count >= cap:
                return (
                    f"drafts.{name} reached: {count} follow-up(s) sent in the last {span}"
                    f" (cap {cap}); approved drafts wait for a later pass"
                )
        return None

    # -- 3, 4. send -------------------------------------------------------

    def _send(self, record: DraftRecord) -> None:
        raw = self._bytes_for(record)
        if raw is None:
            return
        password, token = self._credentials()
        try:
            self.store.transition(
                record.id,
                Q.SENDING,
                at=self.now,
                reason=f"handed to {self.smtp.host}:{self.smtp.port}",
                expected=Q.APPROVED,
            )
        except DraftConflictError as exc:
            logger.info("draft %d not sent: %s", record.id, exc)
            return
        try:
            result = send_message_sync(
                raw,
                sender=record.sender.email,
                recipients=[record.recipient.email],
                settings=self.smtp,
                password=password,
                oauth2_token=token,
            )
        except SendOutcomeUnknown as exc:
            self._settle(record, Q.UNCONFIRMED, str(exc), self.out.unconfirmed)
        except errors.SendRejected as exc:
            text = f"{exc.code} {exc}" if exc.code else str(exc)
            self._settle(record, Q.FAILED, f"the server refused it: {text}", self.out.failed)
        except errors.SendUnavailable as exc:
            self._retry_later(record, str(exc))
        except errors.CredentialError as exc:
            self._settle(record, Q.APPROVED, f"not sent: {exc}", self.out.deferred)
            self.refused_login = exc
        else:
            self._sent(record, raw, f"{result.code} {result.message}".strip())

    def _credentials(self) -> tuple[str | None, str | None]:
        if self.login is None:
            from mailfollow.credentials import AuthMechanism, get_credentials

            found = get_credentials(self.config)
            secret = found.secret.reveal()
            oauth = found.mechanism is AuthMechanism.XOAUTH2
            self.login = (None, secret) if oauth else (secret, None)
        return self.login

    def _bytes_for(self, record: DraftRecord) -> bytes | None:
        """The bytes approved for this draft, built (once) now if approval kept none.

        A draft whose text changed since approval, or that cannot be built,
        goes back to pending with the reason.
        """
        state = load_state(self.store, record.id)
        if state.mime and state.body_sha256 == _sha256(record.body):
            return state.mime
        if state.mime:
            self._back_to_pending(record, "its text changed after approval; approve the new text")
            return None
        try:
            raw = build_mime(self.store, self.config, record, date=self.now)
        except ValueError as exc:  # HeaderInjectionError is one
            self._back_to_pending(record, f"cannot be sent: {exc}")
            return None
        save_state(
            self.store,
            record.id,
            dataclasses.replace(state, body_sha256=_sha256(record.body), mime=raw),
        )
        return raw

    def _back_to_pending(self, record: DraftRecord, why: str) -> None:
        updated = self.store.transition(
            record.id, Q.PENDING, at=self.now, reason=why, expected=Q.APPROVED, error=why
        )
        forget_state(self.store, record.id)
        logger.warning("draft %d back to pending: %s", record.id, why)
        self.out.cancelled.append(updated)

    def _settle(
        self, record: DraftRecord, status: QueueState, why: str, into: list[DraftRecord]
    ) -> None:
        updated = self.store.transition(
            record.id, status, at=self.now, reason=why, expected=Q.SENDING, error=why
        )
        if status is not Q.APPROVED:
            forget_state(self.store, record.id)
        log = logger.info if status is Q.APPROVED else logger.warning
        log("draft %d %s: %s", record.id, status.value, why)
        into.append(updated)

    def _retry_later(self, record: DraftRecord, why: str) -> None:
        state = load_state(self.store, record.id)
        attempts = state.attempts + 1
        next_try = self.now + retry_delay(attempts)
        save_state(
            self.store,
            record.id,
            dataclasses.replace(state, attempts=attempts, next_try=next_try, last_error=why),
        )
        self._settle(
            record,
            Q.APPROVED,
            f"temporary refusal ({why}); try {attempts + 1} after {next_try:%Y-%m-%d %H:%M %Z}",
            self.out.deferred,
        )

    # -- 5. after sending -------------------------------------------------

    def _sent(self, record: DraftRecord, raw: bytes, answer: str) -> None:
        updated = self.store.transition(
            record.id,
            Q.SENT,
            at=self.now,
            reason=f"accepted by {self.smtp.host}: {answer}",
            expected=Q.SENDING,
            sent_at=self.now,
        )
        forget_state(self.store, record.id)
        logger.info("draft %d sent to %s (%s)", record.id, record.recipient.email, answer)
        self.out.sent.append(updated)
        try:
            self._file_sent_copy(updated, raw)
        except errors.MailboxError as exc:
            self._warn(f"draft {record.id} was sent, but no copy could be saved in Sent: {exc}")
        try:
            remove_copies(self.store, self.mailbox, updated)
        except errors.MailboxError as exc:
            self._warn(f"draft {record.id} was sent, but its Drafts copy stays for now: {exc}")

    def _file_sent_copy(self, record: DraftRecord, raw: bytes) -> None:
        mode = self.config.drafts.save_sent
        if mode is SaveSent.NEVER:
            return
        folder = self.mailbox.folder(FolderRole.SENT)
        if folder is None:
            self._warn(f"draft {record.id}: no Sent folder found (set folders.sent) to file it in")
            return
        if mode is SaveSent.AUTO and self._filed_by_server(folder, record):
            logger.info("draft %d: the server filed its own copy in %s", record.id, folder)
            return
        self.mailbox.call(lambda s: s.append(folder, raw, flags=("\\Seen",), when=self.now))
        logger.info("draft %d: copy saved in %s", record.id, folder)

    def _filed_by_server(self, folder: str, record: DraftRecord) -> bool:
        """Whether the server put the message in Sent itself (Gmail, Microsoft 365...)."""
        for delay in SENT_COPY_CHECKS:
            if delay:
                self.sleep(delay)
            try:
                found = self.mailbox.call(
                    lambda s: s.search_header(folder, "Message-ID", record.message_id)
                )
            except errors.MailboxUnavailable:
                raise
            except errors.MailboxError as exc:
                logger.debug("cannot search %s (%s); saving a copy", folder, exc)
                return False
            if found:
                return True
        return False

    def _tidy_drafts_folder(self) -> None:
        """Take the copies of drafts withdrawn or skipped during this pass out of Drafts."""
        report = mirror(self.store, self.config, mailbox=self.mailbox)
        self.out.warnings.extend(report.warnings)
