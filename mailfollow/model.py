"""Plain data shared by every stage of mailfollow.

Glossary
--------
message
    One email as mailfollow sees it: the headers it needs, a short snippet of
    the first text part, the names of attachments and where it was found.
    Identified by its Message-ID (a synthetic, stable one when it has none).
thread
    Messages linked by References / In-Reply-To (or, lacking those, by subject).
conversation
    One or more threads with one counterpart (a person or an organisation),
    started by a message the user sent that mailfollow tracks, such as a job
    application or a networking email.
stage
    What the user's tracked message was: an application, a networking email,
    an interview thank-you... Each stage has its own silence threshold.
silence
    Time since the user's last tracked message without a human reply.
follow-up (nudge)
    A short, polite message the user may send when the silence has lasted
    longer than the stage's threshold.
draft
    A follow-up written by mailfollow and waiting for the user's decision.
queue item
    A draft together with its status history (pending, approved, sending, sent...).

Everything here is a frozen dataclass or an enum: no I/O, no clock.
All datetimes are timezone-aware.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta


class FolderRole(enum.StrEnum):
    """What a mailbox folder holds, from the user's point of view."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    ARCHIVE = "archive"
    ALL = "all"  # Gmail's "All Mail": every message once
    TRASH = "trash"
    JUNK = "junk"
    OTHER = "other"


@dataclass(frozen=True, order=True)
class Address:
    """A mailbox address; ``email`` is stored lower-cased."""

    email: str
    name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    @property
    def local_part(self) -> str:
        return self.email.rpartition("@")[0]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Message:
    """One email, reduced to what mailfollow needs to decide.

    ``headers`` holds the raw (decoded) values of the classification headers,
    keyed by lower-case field name: auto-submitted, x-autoreply, x-autorespond,
    precedence, list-id, list-unsubscribe, return-path, content-type,
    x-mailfollow-id, x-failed-recipients, x-apple-action, x-ms-exchange-*...
    """

    message_id: str  # without angle brackets
    subject: str
    date: datetime
    sender: Address | None  # the From address
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"  # top-level type, lower-case, no parameters
    attachment_names: tuple[str, ...] = ()
    part_types: tuple[str, ...] = ()  # every MIME part's type, e.g. "text/calendar"
    snippet: str = ""  # first few KiB of the first text part, decoded
    folder: str = ""
    folder_role: FolderRole = FolderRole.OTHER
    flags: frozenset[str] = frozenset()
    gm_thread_id: str | None = None
    date_is_fallback: bool = False  # Date header unusable; INTERNALDATE used
    id_is_synthetic: bool = False  # no usable Message-ID; derived from a hash
    problems: tuple[str, ...] = ()  # decoding problems met while parsing
    # The text (snippet, and the delivery report of a bounce) and the MIME
    # structure (attachment names, part types) are not fetched yet: a large
    # sync leaves them on the server until the message could matter to a
    # conversation. The headers are known.
    text_deferred: bool = False


class Stage(enum.StrEnum):
    """The kind of tracked conversation, which decides its silence threshold."""

    APPLICATION = "application"
    NETWORKING = "networking"
    INTERVIEW_THANK_YOU = "interview_thank_you"
    INTERVIEW_FOLLOW_UP = "interview_follow_up"
    INFORMATIONAL = "informational"


class OutgoingKind(enum.StrEnum):
    APPLICATION = "application"
    NETWORKING = "networking"
    THANK_YOU = "thank_you"
    INFORMATIONAL = "informational"
    FOLLOW_UP = "follow_up"
    OTHER = "other"


class IncomingKind(enum.StrEnum):
    HUMAN_REPLY = "human_reply"
    AUTO_ACK = "auto_ack"
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"
    REJECTION = "rejection"
    INVITATION = "invitation"
    OFFER = "offer"
    BULK = "bulk"
    OTHER_AUTOMATIC = "other_automatic"  # DSN success, read receipt, notification

    @property
    def is_human(self) -> bool:
        """Whether a person wrote it, so it counts as the other side's answer."""
        return self in _HUMAN_KINDS


_HUMAN_KINDS = frozenset(
    {IncomingKind.HUMAN_REPLY, IncomingKind.REJECTION, IncomingKind.INVITATION, IncomingKind.OFFER}
)


@dataclass(frozen=True)
class Classification:
    """What a message is, with the named rule that decided it.

    Exactly one of ``outgoing`` / ``incoming`` is set.
    """

    rule: str  # e.g. "bounce.dsn-report", "ooo.auto-submitted", "application.cv-attachment"
    explanation: str  # one human sentence
    outgoing: OutgoingKind | None = None
    incoming: IncomingKind | None = None
    return_date: datetime | None = None  # out-of-office: back on this day
    interview_at: datetime | None = None  # invitation: when the interview is
    promised_by: datetime | None = None  # human reply promising news by this date
    promise_text: str = ""  # the sentence that promised news, quoted in explanations
    asks_question: bool = False  # human reply that expects an answer from the user


class State(enum.StrEnum):
    """Where a conversation stands, as the silence policy sees it."""

    WAITING = "waiting"
    DUE = "due"
    YOUR_TURN = "your_turn"
    PROMISED = "promised"
    REPLIED = "replied"
    REJECTED = "rejected"
    BOUNCED = "bounced"
    OFFER = "offer"
    EXHAUSTED = "exhausted"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Identity:
    """Who the user is: every address they send from."""

    name: str
    addresses: frozenset[str]  # lower-case; the main address and every alias

    def is_me(self, address: Address | None) -> bool:
        return address is not None and address.email in self.addresses


@dataclass(frozen=True)
class Thresholds:
    """Silence allowed per stage before a follow-up is due."""

    application: timedelta = timedelta(days=7)
    networking: timedelta = timedelta(days=10)
    interview_thank_you: timedelta = timedelta(hours=24)
    interview_follow_up: timedelta = timedelta(days=7)
    informational: timedelta = timedelta(days=14)

    def for_stage(self, stage: Stage) -> timedelta:
        return getattr(self, stage.value)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class QuietHours:
    """Local times between which nothing is scheduled (may wrap midnight)."""

    start: time
    end: time


@dataclass(frozen=True)
class PolicySettings:
    """Everything the silence policy needs from the configuration."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    max_nudges: int = 2
    nudge_spacing: timedelta = timedelta(days=7)
    business_days_only: bool = True
    holidays: frozenset[str] = frozenset()  # ISO dates, "2026-12-25"
    quiet_hours: QuietHours | None = None
    timezone: str = "UTC"  # IANA name; core converts with zoneinfo
    promise_grace: timedelta = timedelta(days=2)
    per_recipient_window: timedelta = timedelta(days=1)  # at most one nudge per recipient
    per_company_limit: int = 2  # ... and this many per company in that window
    conversation_window: timedelta = timedelta(days=120)


@dataclass(frozen=True)
class DetectionRules:
    """User additions to the classifier."""

    track_domains: frozenset[str] = frozenset()
    ignore_domains: frozenset[str] = frozenset()
    track_keywords: tuple[str, ...] = ()
    ignore_keywords: tuple[str, ...] = ()
    track_folders: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ClassifiedMessage:
    message: Message
    classification: Classification
    from_me: bool


@dataclass(frozen=True)
class Conversation:
    """A tracked exchange with one counterpart, in date order."""

    id: str  # stable: derived from the Message-ID of the user's first tracked message
    stage: Stage
    counterpart: Address
    company: str  # organisation name or domain, "" when unknown
    subject: str
    messages: tuple[ClassifiedMessage, ...]
    nudges_sent: int = 0  # follow-ups the user sent (by hand or through mailfollow)
    ignored: bool = False  # the user said so with `mailfollow ignore`

    @property
    def message_ids(self) -> tuple[str, ...]:
        return tuple(m.message.message_id for m in self.messages)


@dataclass(frozen=True)
class Verdict:
    """The silence policy's decision about one conversation, with its reasons."""

    conversation_id: str
    state: State
    due_at: datetime | None  # when a follow-up is (or becomes) due; None when never
    reasons: tuple[str, ...]  # human sentences, in the order they were weighed
    last_sent_at: datetime | None = None
    last_reply_at: datetime | None = None


class QueueState(enum.StrEnum):
    """Status of a drafted follow-up in the approval queue."""

    PENDING = "pending"  # waiting for the user's decision
    APPROVED = "approved"  # the user said send
    SENDING = "sending"  # committed before the SMTP transaction starts
    SENT = "sent"
    UNCONFIRMED = "unconfirmed"  # found in SENDING after a crash, not seen in Sent
    SKIPPED = "skipped"  # dismissed by the user
    SNOOZED = "snoozed"  # hidden until snooze_until
    WITHDRAWN = "withdrawn"  # a reply, rejection or bounce made it pointless
    FAILED = "failed"  # the server refused it permanently


@dataclass(frozen=True)
class Draft:
    """A rendered follow-up, ready to store, put in Drafts and (once approved) send."""

    conversation_id: str
    mailfollow_id: str  # X-Mailfollow-Id header value; stable across user edits
    message_id: str  # without angle brackets; fixed when the draft is made
    sender: Address
    to: Address
    subject: str
    in_reply_to: str  # Message-ID replied to, without angle brackets
    references: tuple[str, ...]
    body: str
    created_at: datetime
    nudge_number: int = 1  # 1 for the first follow-up in this conversation
