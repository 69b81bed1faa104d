"""The glue: read top to bottom, this is mailfollow's data flow.

sync the mailbox -> settle interrupted sends -> classify messages -> infer
conversations -> apply the silence policy -> compare the queue with the
mailbox (what the user sent, what became pointless, what they changed in the
Drafts folder) -> draft what is due -> mirror the queue into Drafts;
then, after approval, send (:func:`send_approved`, in :mod:`mailfollow.outbox`).

Core functions return decisions with their reasons; this module carries them
out and logs the reasons. It never prints.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from mailfollow import drafts_folder, errors, outbox
from mailfollow.adapters.mailbox import imap_settings_from_config
from mailfollow.adapters.store import DraftRecord, Store
from mailfollow.core import approval
from mailfollow.core.classify import classify_message, classify_without_text
from mailfollow.core.conversations import (
    START_STAGES,
    Correction,
    CorrectionKind,
    infer_conversations,
    own_kind,
)
from mailfollow.core.drafting import (
    MAILFOLLOW_ID_HEADER,
    DraftRefusal,
    mailfollow_id_for,
    make_message_id,
    render_draft,
)
from mailfollow.core.policy import needs_new_draft, plan_followups
from mailfollow.core.relevance import relevant_messages
from mailfollow.drafts_folder import FolderReport, MailboxAccess, MirrorReport
from mailfollow.model import (
    Address,
    ClassifiedMessage,
    Conversation,
    FolderRole,
    Message,
    QueueState,
    State,
    Verdict,
)
from mailfollow.outbox import SendReport
from mailfollow.sync import (
    RetryPolicy,
    SyncReport,
    fetch_texts,
    folder_overrides_from_config,
    sync_local,
    sync_mailbox,
)
from mailfollow.templating import load_templates

if TYPE_CHECKING:
    from mailfollow.config import Config
    from mailfollow.progress import ProgressSink

logger = logging.getLogger(__name__)

# Conversation states in which a waiting draft no longer makes sense.
_WITHDRAW_WHEN = {
    State.REPLIED: "they replied",
    State.REJECTED: "the application was turned down",
    State.BOUNCED: "the address bounced",
    State.OFFER: "they made an offer",
    State.YOUR_TURN: "they replied and it is your turn to answer",
    State.PROMISED: "they replied and promised news",
    State.IGNORED: "you asked to ignore this conversation",
    State.EXHAUSTED: "the conversation reached its follow-up limit",
}
# Drafts in these states have not been handed to the SMTP server yet.
_WITHDRAWABLE = (QueueState.PENDING, QueueState.SNOOZED, QueueState.APPROVED)


@dataclass(frozen=True)
class Assessment:
    """One conversation and the policy's verdict about it."""

    conversation: Conversation
    verdict: Verdict


@dataclass(frozen=True)
class PollReport:
    """What one pass of the pipeline did, for the CLI summary, logs and `status`."""

    sync: SyncReport = field(default_factory=SyncReport)
    assessments: tuple[Assessment, ...] = ()  # every tracked conversation, as judged
    drafted: tuple[DraftRecord, ...] = ()
    withdrawn: tuple[DraftRecord, ...] = ()
    refusals: tuple[DraftRefusal, ...] = ()
    warnings: tuple[str, ...] = ()
    recovered: tuple[DraftRecord, ...] = ()  # found in sending: now sent or unconfirmed
    woken: tuple[DraftRecord, ...] = ()  # snoozed drafts back in pending
    sent_from_client: tuple[DraftRecord, ...] = ()
    drafts_folder: FolderReport = field(default_factory=FolderReport)
    mirrored: MirrorReport = field(default_factory=MirrorReport)
    texts_fetched: int = 0  # texts a large sync had left on the server, fetched to classify

    @property
    def new_messages(self) -> int:
        return self.sync.new

    @property
    def conversations(self) -> int:
        return len(self.assessments)

    @property
    def due(self) -> int:
        return sum(1 for a in self.assessments if a.verdict.state is State.DUE)


@dataclass(frozen=True)
class QueueReview:
    """How comparing the queue with the mailbox changed it."""

    sent_from_client: tuple[DraftRecord, ...] = ()
    withdrawn: tuple[DraftRecord, ...] = ()
    drafts_folder: FolderReport = field(default_factory=FolderReport)


def open_store(config: Config) -> Store:
    return Store.open(config.store_path())


# --- 1. sync ---------------------------------------------------------------


def sync(
    store: Store,
    config: Config,
    *,
    source: str | None = None,
    progress: ProgressSink | None = None,
    retry: RetryPolicy | None = None,
) -> SyncReport:
    """Bring the store up to date from the IMAP account, or from a local Maildir/mbox.

    ``retry`` defaults to sync's own patient policy (for one-off commands); the
    daemon passes a single attempt and backs off between its polls instead.
    """
    if source is not None:
        return sync_local(store, source, progress=progress)
    from mailfollow.credentials import get_credentials

    return sync_mailbox(
        store,
        settings=imap_settings_from_config(config),
        credentials=lambda: get_credentials(config),
        folder_overrides=folder_overrides_from_config(config),
        extra_folders=config.folders.extra_tracked,
        progress=progress,
        retry=retry,
    )


# --- 2. classify, infer, decide ----------------------------------------------


class TextSource(Protocol):
    """Where the texts a large sync left on the server come from."""

    def fetch_texts(self, message_ids: Sequence[str]) -> set[str]:
        """Fetch and store them; the Message-IDs whose text is stored now."""
        ...


class MailboxTexts:
    """Texts from the configured account, connecting only when one is needed."""

    def __init__(self, store: Store, mailbox: MailboxAccess) -> None:
        self.store = store
        self.mailbox = mailbox
        self.fetched = 0  # texts fetched so far

    def fetch_texts(self, message_ids: Sequence[str]) -> set[str]:
        if not self.mailbox.enabled:
            return set()  # a local source: its messages always come with their text
        done = fetch_texts(self.store, self.mailbox.session(), message_ids)
        self.fetched += len(done)
        return done


def classify_all(
    store: Store,
    config: Config,
    corrections: Sequence[Correction] = (),
    *,
    texts: TextSource | None = None,
) -> list[ClassifiedMessage]:
    """The stored messages that could belong to a tracked conversation, each with
    what it is and whether the user sent it.

    The user's messages are classified first, to tell which start a
    conversation; then only the mail those conversations can reach
    (core.relevance), which gives the same conversations as every message.
    Both steps first fetch the texts a large sync left on the server
    (``texts``) for the messages they look at; TextsPending when that fails.
    """
    identity = config.identity()
    rules = config.detection_rules()
    messages = store.load_messages()
    sent_copies = {m.message_id for m in messages if m.folder_role is not FolderRole.DRAFTS}
    nudges = sent_nudges_not_in_mailbox(store, sent_copies)
    if nudges:  # they replace the Drafts copies mailfollow made of them
        replaced = {m.message_id for m in nudges}
        messages = [m for m in messages if m.message_id not in replaced] + nudges
    messages = with_texts(store, messages, texts, needed=lambda m: identity.is_me(m.sender))
    own_ids = frozenset(m.message_id for m in messages if identity.is_me(m.sender))
    tracked = {c.target: c for c in corrections if c.kind is CorrectionKind.TRACK}
    done: dict[int, ClassifiedMessage] = {}

    def classified(message: Message) -> ClassifiedMessage:
        found = done.get(id(message))
        if found is None:
            from_me = identity.is_me(message.sender)
            if message.text_deferred:
                classification = classify_without_text(from_me=from_me)
            else:
                classification = classify_message(
                    message, identity=identity, rules=rules, own_message_ids=own_ids
                )
            found = ClassifiedMessage(message, classification, from_me)
            done[id(message)] = found
        return found

    def starts(message: Message) -> bool:
        return own_kind(classified(message), tracked) in START_STAGES

    relevant = relevant_messages(messages, identity=identity, starts=starts)
    relevant = with_texts(store, relevant, texts, needed=lambda m: True)
    return [classified(m) for m in relevant]


def with_texts(
    store: Store,
    messages: Sequence[Message],
    texts: TextSource | None,
    *,
    needed: Callable[[Message], bool],
) -> list[Message]:
    """``messages`` with the deferred texts of those ``needed`` fetched and filled in.

    A message gone from every folder keeps no text to fetch and stays as it
    is (see classify_without_text). Raises TextsPending when a text the mailbox
    still has could not be fetched (no ``texts``, or the server did not give it).
    """
    deferred = [m.message_id for m in messages if m.text_deferred and needed(m)]
    if not deferred:
        return list(messages)
    filled = texts.fetch_texts(deferred) if texts is not None else set()
    missing = [i for i in deferred if i not in filled and store.locations_of(i)]
    if missing:
        raise errors.TextsPending(
            f"{len(missing)} message(s) that could join a conversation are stored without "
            "their text (a large sync left it on the server) and it could not be fetched "
            "now; no decisions until it is (mailfollow scan or the next poll fetches it)"
        )
    fresh = {i: found for i in filled if (found := store.get_message(i)) is not None}
    return [fresh.get(m.message_id, m) for m in messages]


def sent_nudges_not_in_mailbox(store: Store, sent_copies: set[str]) -> list[Message]:
    """Follow-ups mailfollow sent over SMTP with no sent copy (yet) in the mailbox.

    With ``save_sent = "never"`` on a server that files no Sent copy, the policy
    would otherwise never see the nudge and find the conversation due again.
    Drafts the user sent from their own client are left out: their copy is in Sent.
    """
    missing = []
    for record in store.list_drafts([QueueState.SENT]):
        if record.message_id in sent_copies or record.sent_at is None:
            continue
        if not any(e.to_status is QueueState.SENDING for e in store.history(record.id)):
            continue
        missing.append(
            Message(
                message_id=record.message_id,
                subject=record.subject,
                date=record.sent_at,
                sender=record.sender,
                to=(record.recipient,),
                in_reply_to=(record.in_reply_to,) if record.in_reply_to else (),
                references=record.references,
                headers={MAILFOLLOW_ID_HEADER.lower(): record.mailfollow_id},
                snippet=record.body[:600],
                folder_role=FolderRole.SENT,
            )
        )
    return missing


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Inference builds millions of short-lived objects and no garbage worth a
    full collection mid-way; pausing the cyclic collector saves about a fifth
    of its time on a large mailbox. Whatever cycles it leaves are collected
    once it runs again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def assess(
    store: Store, config: Config, *, now: datetime, texts: TextSource | None = None
) -> list[Assessment]:
    """Infer the tracked conversations and decide, with reasons, which are due.

    ``texts`` fetches the texts a large sync left on the server (see classify_all).
    """
    settings = config.policy_settings()
    corrections = [
        Correction(CorrectionKind(c.kind), c.target, c.stage) for c in store.corrections()
    ]
    with collector_paused():
        conversations = infer_conversations(
            classify_all(store, config, corrections, texts=texts),
            identity=config.identity(),
            policy=settings,
            corrections=corrections,
        )
    pending = {d.conversation_id: d.id for d in store.list_drafts(approval.ACTIVE)}
    company = {c.id: c.company for c in conversations}
    recent = [
        (d.recipient.email, company.get(d.conversation_id, ""), d.sent_at)
        for d in store.list_drafts([QueueState.SENT])
        if d.sent_at is not None and now - d.sent_at <= settings.per_recipient_window
    ]
    with collector_paused():
        verdicts = plan_followups(
            conversations, settings=settings, now=now, pending=pending, recent_nudges=recent
        )
    return [Assessment(c, v) for c, v in zip(conversations, verdicts, strict=True)]


# --- 3. act on the decisions ---------------------------------------------------


def withdraw_obsolete(
    store: Store, assessments: Sequence[Assessment], *, now: datetime
) -> list[DraftRecord]:
    """Withdraw waiting drafts whose conversation got a reply, rejection, bounce...

    Drafts already handed to the SMTP server (sending and after) are left alone.
    """
    verdict_of = {a.conversation.id: a.verdict for a in assessments}
    withdrawn = []
    for record in store.list_drafts(_WITHDRAWABLE):
        verdict = verdict_of.get(record.conversation_id)
        if verdict is None:
            why = "its conversation is no longer tracked"
        elif verdict.state in _WITHDRAW_WHEN:
            why = _WITHDRAW_WHEN[verdict.state]
        else:
            continue
        updated = store.transition(
            record.id, QueueState.WITHDRAWN, at=now, reason=why, expected=record.status
        )
        logger.info("draft %d withdrawn: %s (%s)", record.id, why, record.recipient.email)
        withdrawn.append(updated)
    return withdrawn


def draft_due(
    store: Store, config: Config, assessments: Sequence[Assessment], *, now: datetime
) -> tuple[list[DraftRecord], list[DraftRefusal], list[str]]:
    """Write a follow-up for each due conversation that has no draft waiting."""
    pending = {d.conversation_id: d.id for d in store.list_drafts(approval.ACTIVE)}
    due = [a for a in assessments if needs_new_draft(a.verdict, pending=pending)]
    if not due:
        return [], [], []
    identity = config.identity()
    templates = load_templates(config.drafts.templates_dir)
    warnings = list(templates.warnings)
    sender = Address(config.account.address, config.account.name)
    drafted: list[DraftRecord] = []
    refusals: list[DraftRefusal] = []
    for item in due:
        conversation = item.conversation
        number = conversation.nudges_sent + 1
        declined = outbox.declined_followup(
            store, conversation.id, number, since=item.verdict.last_reply_at
        )
        if declined is not None:
            refusals.append(DraftRefusal(conversation.id, "queue.skipped", declined))
            continue
        result = render_draft(
            conversation,
            renderer=templates,
            sender=sender,
            identity=identity,
            signature=config.drafts.signature,
            now=now,
            message_id=make_message_id(secrets.token_hex(12), domain=sender.domain),
            mailfollow_id=outbox.unused_mailfollow_id(
                store, mailfollow_id_for(conversation.id, number)
            ),
            timezone=config.policy_settings().timezone,
            nudge_number=number,
        )
        if isinstance(result, DraftRefusal):
            logger.info("no draft for %s: %s", result.conversation_id, result.reason)
            refusals.append(result)
            continue
        warnings.extend(result.warnings)
        record = store.add_draft(result.draft, at=now, reason=f"due: {item.verdict.reasons[-1]}")
        logger.info(
            "draft %d queued for %s (%s, %s)",
            record.id,
            record.recipient.email,
            conversation.stage.value,
            result.template,
        )
        drafted.append(record)
    for warning in dict.fromkeys(warnings):
        logger.warning("%s", warning)
    return drafted, refusals, warnings


def review_queue(
    store: Store,
    config: Config,
    assessments: Sequence[Assessment],
    *,
    mailbox: MailboxAccess,
    now: datetime,
) -> QueueReview:
    """Compare the waiting drafts with the mailbox: sent by the user from their
    mail client, made pointless by a reply, edited, flagged or deleted in Drafts."""
    sent = drafts_folder.mark_sent_from_client(store, config, now=now)
    withdrawn = withdraw_obsolete(store, assessments, now=now)
    folder = drafts_folder.reconcile(store, config, assessments, mailbox=mailbox, now=now)
    return QueueReview(tuple(sent), tuple(withdrawn), folder)


def poll_once(
    config: Config,
    *,
    now: datetime,
    source: str | None = None,
    draft: bool = True,
    progress: ProgressSink | None = None,
    retry: RetryPolicy | None = None,
) -> PollReport:
    """One pass of the whole pipeline: sync, re-evaluate, review the queue, draft,
    mirror to Drafts. ``draft=False`` only looks: the queue is left as it is."""
    with open_store(config) as store, MailboxAccess.for_config(config, source=source) as mailbox:
        synced = sync(store, config, source=source, progress=progress, retry=retry)
        for warning in synced.warnings:
            logger.warning("%s", warning)
        recovered = outbox.recover_interrupted(store, config, mailbox, now=now)
        woken = outbox.wake_snoozed(store, now=now) if draft else []
        texts = MailboxTexts(store, mailbox)
        assessments = assess(store, config, now=now, texts=texts)
        review = (
            review_queue(store, config, assessments, mailbox=mailbox, now=now)
            if draft
            else QueueReview()
        )
        drafted, refusals, warnings = (
            draft_due(store, config, assessments, now=now) if draft else ([], [], [])
        )
        mirrored = drafts_folder.mirror(store, config, mailbox=mailbox) if draft else MirrorReport()
        store.save_snapshot(((a.verdict, a.conversation) for a in assessments), at=now)
    return PollReport(
        sync=synced,
        assessments=tuple(assessments),
        drafted=tuple(drafted),
        withdrawn=(*review.withdrawn, *review.drafts_folder.withdrawn),
        refusals=tuple(refusals),
        warnings=(
            *synced.warnings,
            *warnings,
            *review.drafts_folder.warnings,
            *mirrored.warnings,
        ),
        recovered=tuple(recovered),
        woken=tuple(woken),
        sent_from_client=(*review.sent_from_client, *review.drafts_folder.sent),
        drafts_folder=review.drafts_folder,
        mirrored=mirrored,
        texts_fetched=texts.fetched,
    )


# --- 4. after approval -----------------------------------------------------------


def send_approved(config: Config, *, now: datetime) -> SendReport:
    """Send the approved drafts, each checked against the mailbox just before, within
    the send caps, at most once (:mod:`mailfollow.outbox`). ``int()`` of the report
    is the number sent."""
    return outbox.send_approved(config, now=now)
