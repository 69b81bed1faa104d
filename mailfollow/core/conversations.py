"""Turn classified messages into tracked conversations.

A conversation starts from a message the user sent that mailfollow tracks: one
classified as an application, a networking email, an interview thank-you or an
informational request, or one the user marked with a ``track``
:class:`Correction`. Its counterpart is the first To recipient who is not the
user (failing that, the first such Cc); its company is the organisation in the
counterpart's domain ("acme" for ``jobs.acme.co.uk``), empty for free-mail and
ATS domains unless the display name says "Acme via Workable".

Other messages join, in date order:

* anything in a thread the conversation already holds;
* the user's own follow-ups and other messages to someone the conversation
  already wrote to, within ``conversation_window`` of the user's previous
  message there;
* an interview thank-you to the same company, after that company sent an
  invitation;
* incoming mail in a new thread from someone the user wrote to in the
  conversation, or from the same organisation's domain (never a free-mail
  domain), or from an ATS when the company's name appears in the sender,
  subject or snippet; all within ``conversation_window``. Display names are
  not evidence: namesakes are common;
* a bounce naming one of the conversation's recipients.

Bulk mail and notifications join only by thread. Messages of a thread that
predate the conversation's first tracked message join when it starts.

Guarantees the silence policy relies on:

* A message from any of the user's addresses (compared case-insensitively),
  in any folder, has ``from_me=True``, whatever its classification says, so
  it never counts as the other side's reply.
* Drafts (the Drafts folder or the ``\\Draft`` flag) are left out entirely; a
  message also present outside Drafts counts once, as sent.
* A message found in several folders counts once.

Stages say which follow-up would come next:

* application / networking / informational message -> APPLICATION,
  NETWORKING, INFORMATIONAL;
* an invitation from the other side -> INTERVIEW_THANK_YOU (a thank-you is
  owed after the interview);
* a thank-you sent, or any message the user sends after the interview time
  -> INTERVIEW_FOLLOW_UP (the thank-you is done; the next nudge is a
  post-interview follow-up). A conversation started by a thank-you is
  therefore INTERVIEW_FOLLOW_UP from the start.

``nudges_sent`` counts the follow-ups sent since the other side's last human
message (an answer starts a new round): messages classified ``follow_up`` or
carrying an X-Mailfollow-Id header, and any later message the user sent into
the same silence, since writing again without an answer is nudging.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

from mailfollow.core.threads import thread_messages
from mailfollow.model import (
    Address,
    ClassifiedMessage,
    Conversation,
    FolderRole,
    Identity,
    IncomingKind,
    Message,
    OutgoingKind,
    PolicySettings,
    Stage,
)


class CorrectionKind(enum.StrEnum):
    TRACK = "track"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Correction:
    """A decision the user made by hand (``mailfollow track`` / ``ignore``).

    ``target`` is a Message-ID (without angle brackets) or a conversation id.
    ``track`` on a message of the user's makes it start (or join) a
    conversation as a message of ``stage``'s kind; on a conversation id it
    un-ignores the conversation and, with ``stage``, sets its stage.
    ``ignore`` on either marks the conversation ignored. Later corrections win.
    """

    kind: CorrectionKind
    target: str
    stage: Stage | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CorrectionKind(self.kind))
        object.__setattr__(self, "target", self.target.strip().strip("<>").strip())
        if self.stage is not None:
            object.__setattr__(self, "stage", Stage(self.stage))


START_STAGES: Mapping[OutgoingKind, Stage] = {
    OutgoingKind.APPLICATION: Stage.APPLICATION,
    OutgoingKind.NETWORKING: Stage.NETWORKING,
    OutgoingKind.INFORMATIONAL: Stage.INFORMATIONAL,
    OutgoingKind.THANK_YOU: Stage.INTERVIEW_FOLLOW_UP,
}
_KIND_FOR_STAGE: Mapping[Stage, OutgoingKind] = {
    Stage.APPLICATION: OutgoingKind.APPLICATION,
    Stage.NETWORKING: OutgoingKind.NETWORKING,
    Stage.INFORMATIONAL: OutgoingKind.INFORMATIONAL,
    Stage.INTERVIEW_THANK_YOU: OutgoingKind.THANK_YOU,
    Stage.INTERVIEW_FOLLOW_UP: OutgoingKind.THANK_YOU,
}
_INTERVIEW_STAGES = frozenset({Stage.INTERVIEW_THANK_YOU, Stage.INTERVIEW_FOLLOW_UP})
_MAILFOLLOW_HEADER = "x-mailfollow-id"

# --- organisations -----------------------------------------------------------

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "rocketmail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "mail.com",
        "mail.ru",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "tutanota.com",
        "tuta.io",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "comcast.net",
        "posteo.de",
        "mailbox.org",
    }
)
# Brands whose country variants (yahoo.co.uk, hotmail.fr...) are free mail too.
_FREE_MAIL_BRANDS = frozenset(
    {"gmail", "googlemail", "hotmail", "outlook", "yahoo", "ymail", "icloud", "aol", "gmx"}
    | {"protonmail", "yandex", "zoho", "fastmail", "tutanota", "live", "msn", "windowslive"}
)
ATS_DOMAINS = frozenset(
    {
        "greenhouse.io",
        "greenhouse-mail.io",
        "lever.co",
        "myworkday.com",
        "myworkdayjobs.com",
        "workday.com",
        "ashbyhq.com",
        "smartrecruiters.com",
        "icims.com",
        "workable.com",
        "workablemail.com",
        "teamtailor.com",
        "teamtailor-mail.com",
        "jobvite.com",
        "taleo.net",
        "successfactors.com",
        "successfactors.eu",
        "bamboohr.com",
        "breezy.hr",
        "recruitee.com",
        "personio.de",
        "personio.com",
        "jazzhr.com",
        "applytojob.com",
        "rippling.com",
        "ripplingats.com",
        "avature.net",
        "brassring.com",
        "pinpointhq.com",
        "comeet.co",
        "homerun.co",
        "jobscore.com",
        "freshteam.com",
        "zohorecruit.com",
        "manatal.com",
        "recruiterbox.com",
        "hirehive.com",
    }
)
# Second-level labels under a country code: acme.co.uk -> "acme".
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "gob", "go"})
_VIA = re.compile(r"^\s*(.+?)\s+via\s+\S", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def organisation_of(domain: str) -> str:
    """The organisation label of a domain: "acme" for ``jobs.acme.com``."""
    labels = [label for label in domain.lower().strip().strip(".").split(".") if label]
    if len(labels) < 2:
        return ""
    labels = labels[:-1]
    if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:
        labels = labels[:-1]
    return labels[-1]


def is_free_mail(domain: str) -> bool:
    domain = domain.lower()
    return domain in FREE_MAIL_DOMAINS or organisation_of(domain) in _FREE_MAIL_BRANDS


def is_ats_domain(domain: str) -> bool:
    """Whether the domain is an ATS's or one of its subdomains."""
    labels = domain.lower().strip(".").split(".")
    return any(".".join(labels[i:]) in ATS_DOMAINS for i in range(len(labels) - 1))


def _squash(text: str) -> str:
    return "".join(_WORD.findall(text.casefold()))


def company_of(address: Address) -> str:
    """The organisation behind an address, "" when the domain says nothing about it."""
    organisation = domain_company(address.domain)
    if organisation is None:
        via = _VIA.match(address.name)
        return _squash(via.group(1)) if via else ""
    return organisation


def domain_company(domain: str) -> str | None:
    """What :func:`company_of` says of every address at ``domain``; None for an ATS or
    free-mail domain, where the display name ("Acme via Workable") decides."""
    names_it, organisation = _domain_facts(domain.lower())
    return None if names_it else organisation


@functools.lru_cache(maxsize=16384)
def _domain_facts(domain: str) -> tuple[bool, str]:
    """(whether only the display name can name the company: an ATS or free-mail
    domain; the domain's organisation). Mail comes from few domains, again and again."""
    return is_ats_domain(domain) or is_free_mail(domain), organisation_of(domain)


def named_companies(texts: Iterable[str]) -> set[str]:
    """Every way the texts could spell a company: one to three consecutive
    words run together ("Acme Corp", "acme-corp" -> ``acmecorp``)."""
    found = set()
    for text in texts:
        words = _WORD.findall(text.casefold())
        for start in range(len(words)):
            joined = ""
            for word in words[start : start + 3]:
                joined += word
                found.add(joined)
    return found


def mentions_company(company: str, texts: Iterable[str]) -> bool:
    """Whether the texts name the company as whole words, never inside a longer word."""
    wanted = _squash(company)
    return len(wanted) >= 2 and wanted in named_companies(texts)


def conversation_id_for(message_id: str) -> str:
    """Stable conversation id: the first 12 hex digits of SHA-1 of the Message-ID."""
    return hashlib.sha1(message_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]


# --- cleaning the input ------------------------------------------------------


def is_draft(message: Message) -> bool:
    if message.folder_role is FolderRole.DRAFTS:
        return True
    return "\\draft" in map(str.lower, message.flags)  # faster than any() on every message


def _my_addresses(identity: Identity) -> frozenset[str]:
    return frozenset(address.strip().lower() for address in identity.addresses)


def _is_mine(address: Address | None, mine: frozenset[str]) -> bool:
    return address is not None and address.email.strip().lower() in mine


_FOLDER_PREFERENCE = (
    FolderRole.SENT,
    FolderRole.ALL,
    FolderRole.ARCHIVE,
    FolderRole.INBOX,
    FolderRole.OTHER,
    FolderRole.JUNK,
    FolderRole.TRASH,
)


def _copy_rank(item: ClassifiedMessage) -> tuple[object, ...]:
    role = item.message.folder_role
    rank = _FOLDER_PREFERENCE.index(role) if role in _FOLDER_PREFERENCE else len(_FOLDER_PREFERENCE)
    return (rank, item.classification.outgoing is None, item.message.folder, item.message.date)


def sent_or_received(
    messages: Iterable[ClassifiedMessage], *, identity: Identity
) -> list[ClassifiedMessage]:
    """One copy per message, drafts left out, ``from_me`` set from the identity.

    Returned in date order. The user's own message stored twice under
    different Message-IDs (a BCC copy some servers rewrite) also counts once.
    """
    return _sent_or_received(messages, identity)[0]


def _sent_or_received(
    messages: Iterable[ClassifiedMessage], identity: Identity
) -> tuple[list[ClassifiedMessage], bool]:
    """sent_or_received, and whether its order is the one of the dates' instants
    (see in_date_order), so any subset of it sorts by position just the same."""
    mine = _my_addresses(identity)
    copies: dict[str, list[ClassifiedMessage]] = {}
    for item in messages:
        copies.setdefault(item.message.message_id, []).append(item)
    kept: dict[tuple[object, ...], ClassifiedMessage] = {}
    for group in copies.values():
        sent = [item for item in group if not is_draft(item.message)]
        if not sent:
            continue
        best = sent[0] if len(sent) == 1 else min(sent, key=_copy_rank)
        from_me = _is_mine(best.message.sender, mine) or any(item.from_me for item in sent)
        if best.from_me != from_me:
            best = replace(best, from_me=from_me)
        key = _content_key(best)
        if key not in kept or _copy_rank(best) < _copy_rank(kept[key]):
            kept[key] = best
    found = list(kept.values())
    return found, _sort_by_date(found)


def _content_key(item: ClassifiedMessage) -> tuple[object, ...]:
    message = item.message
    if not item.from_me:
        return ("id", message.message_id)
    recipients = frozenset(a.email.lower() for a in (*message.to, *message.cc))
    return ("mine", message.date, message.subject, recipients)


def _date_key(item: ClassifiedMessage) -> tuple[datetime, str]:
    return (item.message.date, item.message.message_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant_key(item: ClassifiedMessage) -> tuple[timedelta, str]:
    return (item.message.date - _EPOCH, item.message.message_id)


def in_date_order(items: Iterable[ClassifiedMessage]) -> list[ClassifiedMessage]:
    """``sorted(items, key=(date, Message-ID))``, faster when it can be."""
    found = list(items)
    _sort_by_date(found)
    return found


def _sort_by_date(items: list[ClassifiedMessage]) -> bool:
    """Sort ``items`` in place by (date, Message-ID); True when by the dates' instants.

    Aware datetimes with fixed offsets (what parsing gives) compare as their
    distances from the epoch do, exactly, and those are far cheaper to compare
    than datetimes in different offsets. Other zones compare by wall clock when
    they share a tzinfo (around a DST change that is not the instant order), so
    any such date keeps the datetime comparison.
    """
    if all(type(item.message.date.tzinfo) is timezone for item in items):
        items.sort(key=_instant_key)
        return True
    items.sort(key=_date_key)
    return False


# --- building conversations --------------------------------------------------


@dataclass
class _Building:
    """A conversation while messages are still being attached."""

    id: str
    order: int
    starter: ClassifiedMessage
    counterpart: Address
    company: str
    members: list[ClassifiedMessage] = field(default_factory=list)
    recipients: set[str] = field(default_factory=set)  # everyone the user wrote to here
    last_mine: datetime | None = None
    has_invitation: bool = False
    ignored: bool = False
    stage_override: Stage | None = None

    @property
    def started(self) -> datetime:
        return self.starter.message.date


@dataclass
class _Builder:
    identity: Identity
    settings: PolicySettings
    tracked: Mapping[str, Correction]
    thread_of: Mapping[str, str]
    conversations: list[_Building] = field(default_factory=list)
    by_thread: dict[str, _Building] = field(default_factory=dict)
    by_recipient: dict[str, list[_Building]] = field(default_factory=dict)
    by_company: dict[str, list[_Building]] = field(default_factory=dict)
    held: dict[str, list[ClassifiedMessage]] = field(default_factory=dict)
    mine: frozenset[str] = frozenset()
    # id() of each placed item -> its place in date order, when that order is total
    position: Mapping[int, int] | None = None

    def __post_init__(self) -> None:
        self.mine = _my_addresses(self.identity)

    # -- placing one message --

    def place(self, item: ClassifiedMessage) -> None:
        if item.from_me:
            self._place_own(item)
        else:
            self._place_incoming(item)

    def _thread(self, item: ClassifiedMessage) -> str:
        return self.thread_of[item.message.message_id]

    def _place_own(self, item: ClassifiedMessage) -> None:
        kind = own_kind(item, self.tracked)
        found = self.by_thread.get(self._thread(item))
        if found is None and kind is OutgoingKind.THANK_YOU:
            found = self._open_with_recipient(item) or self._interviewing_company(item)
        elif found is None and kind not in START_STAGES:
            found = self._open_with_recipient(item)
        if found is not None:
            self._attach(found, item)
        elif kind in START_STAGES:
            self._start(item)
        else:
            self._hold(item)

    def _place_incoming(self, item: ClassifiedMessage) -> None:
        found = self.by_thread.get(self._thread(item))
        incoming = item.classification.incoming
        if found is None and incoming is IncomingKind.BOUNCE:
            found = self._bounced(item)
        elif found is None and incoming not in (IncomingKind.BULK, IncomingKind.OTHER_AUTOMATIC):
            found = self._from_counterpart(item)
        if found is not None:
            self._attach(found, item)
        else:
            self._hold(item)

    def _hold(self, item: ClassifiedMessage) -> None:
        self.held.setdefault(self._thread(item), []).append(item)

    def _start(self, item: ClassifiedMessage) -> None:
        counterpart = self._main_recipient(item.message)
        if counterpart is None:
            self._hold(item)  # nobody to follow up with
            return
        building = _Building(
            id=conversation_id_for(item.message.message_id),
            order=len(self.conversations),
            starter=item,
            counterpart=counterpart,
            company=company_of(counterpart),
        )
        self.conversations.append(building)
        if building.company:
            # Keyed as named_companies() spells names: "acme-mobility" -> "acmemobility".
            self.by_company.setdefault(_squash(building.company), []).append(building)
        self._attach(building, item)

    def _attach(self, building: _Building, item: ClassifiedMessage) -> None:
        building.members.append(item)
        message = item.message
        if item.from_me:
            others = [a for a in (*message.to, *message.cc) if not _is_mine(a, self.mine)]
            for email in {a.email.strip().lower() for a in others} - building.recipients:
                building.recipients.add(email)
                self.by_recipient.setdefault(email, []).append(building)
            if building.last_mine is None or message.date > building.last_mine:
                building.last_mine = message.date
        elif item.classification.incoming is IncomingKind.INVITATION:
            building.has_invitation = True
        thread = self._thread(item)
        if thread not in self.by_thread:
            self.by_thread[thread] = building
            for earlier in self.held.pop(thread, []):
                self._attach(building, earlier)

    def _main_recipient(self, message: Message) -> Address | None:
        for address in (*message.to, *message.cc):
            if not _is_mine(address, self.mine) and address.email:
                return replace(address, email=address.email.strip().lower())
        return None

    # -- finding a conversation outside the thread --

    def _in_window(self, building: _Building, when: datetime) -> bool:
        last = building.last_mine or building.started
        return building.started <= when <= last + self.settings.conversation_window

    def _latest(self, candidates: Iterable[_Building]) -> _Building | None:
        return max(
            candidates,
            key=lambda b: (b.last_mine or b.started, b.order),
            default=None,
        )

    def _wrote_to(self, emails: Iterable[str], when: datetime) -> list[_Building]:
        """Open conversations in which the user wrote to one of these addresses."""
        found = {id(b): b for e in emails for b in self.by_recipient.get(e, ())}
        return [b for b in found.values() if self._in_window(b, when)]

    def _at_companies(self, companies: Iterable[str], when: datetime) -> list[_Building]:
        keys = {_squash(c) for c in companies}
        found = {id(b): b for c in keys for b in self.by_company.get(c, ())}
        return [b for b in found.values() if self._in_window(b, when)]

    def _open_with_recipient(self, item: ClassifiedMessage) -> _Building | None:
        message = item.message
        wrote_to = {a.email.strip().lower() for a in (*message.to, *message.cc)}
        return self._latest(self._wrote_to(wrote_to, message.date))

    def _interviewing_company(self, item: ClassifiedMessage) -> _Building | None:
        companies = {company_of(a) for a in (*item.message.to, *item.message.cc)} - {""}
        candidates = self._at_companies(companies, item.message.date)
        return self._latest(b for b in candidates if b.has_invitation)

    def _from_counterpart(self, item: ClassifiedMessage) -> _Building | None:
        """Best match: someone the user wrote to (3), their organisation (2),
        an ATS naming the company (1); ties go to the latest activity."""
        message, when = item.message, item.message.date
        senders = [a for a in (message.sender, *message.reply_to) if a is not None]
        scored = [(3, b) for b in self._wrote_to((a.email.strip().lower() for a in senders), when)]
        companies = {company_of(a) for a in senders} - {""}
        scored += [(2, b) for b in self._at_companies(companies, when)]
        if any(is_ats_domain(a.domain) for a in senders):
            texts = [message.subject, message.snippet, *(f"{a.name} {a.email}" for a in senders)]
            mentioned = named_companies(texts) & self.by_company.keys()
            scored += [(1, b) for b in self._at_companies(mentioned, when)]
        best = max(
            scored,
            key=lambda sb: (sb[0], sb[1].last_mine or sb[1].started, sb[1].order),
            default=None,
        )
        return best[1] if best is not None else None

    def _bounced(self, item: ClassifiedMessage) -> _Building | None:
        message = item.message
        failed = {
            email.lower()
            for text in (message.headers.get("x-failed-recipients", ""), message.snippet)
            for email in _EMAIL.findall(text)
        }
        return self._latest(self._wrote_to(failed, message.date))

    # -- finishing --

    def apply(self, corrections: Sequence[Correction]) -> None:
        for correction in corrections:
            for building in self.conversations:
                targets = {building.id, *(m.message.message_id for m in building.members)}
                if correction.target not in targets:
                    continue
                if correction.kind is CorrectionKind.IGNORE:
                    building.ignored = True
                    continue
                building.ignored = False
                if correction.target == building.id and correction.stage is not None:
                    building.stage_override = correction.stage

    def finish(self, building: _Building) -> Conversation:
        position = self.position
        if position is not None:  # the members were placed in this order: no dates to compare
            members = tuple(sorted(building.members, key=lambda item: position[id(item)]))
        else:
            members = tuple(in_date_order(building.members))
        return Conversation(
            id=building.id,
            stage=building.stage_override or _stage_of(members, self.tracked),
            counterpart=building.counterpart,
            company=building.company,
            subject=building.starter.message.subject,
            messages=members,
            nudges_sent=_nudges_in_current_round(members, self.tracked),
            ignored=building.ignored,
        )


def own_kind(item: ClassifiedMessage, tracked: Mapping[str, Correction]) -> OutgoingKind:
    """What a message of the user's is, after the user's own corrections."""
    correction = tracked.get(item.message.message_id)
    if correction is not None:
        if correction.stage is not None:
            return _KIND_FOR_STAGE[correction.stage]
        outgoing = item.classification.outgoing
        if outgoing is not None and outgoing in START_STAGES:
            return outgoing
        return OutgoingKind.APPLICATION
    if _MAILFOLLOW_HEADER in item.message.headers:
        return OutgoingKind.FOLLOW_UP
    return item.classification.outgoing or OutgoingKind.OTHER


def _stage_of(members: Sequence[ClassifiedMessage], tracked: Mapping[str, Correction]) -> Stage:
    stage: Stage | None = None
    interview_at: datetime | None = None
    for item in members:
        if not item.from_me:
            if item.classification.incoming is IncomingKind.INVITATION:
                stage = Stage.INTERVIEW_THANK_YOU
                interview_at = item.classification.interview_at
            continue
        kind = own_kind(item, tracked)
        if kind is OutgoingKind.THANK_YOU:
            stage = Stage.INTERVIEW_FOLLOW_UP
        elif kind in START_STAGES and stage not in _INTERVIEW_STAGES:
            stage = START_STAGES[kind]
        elif (
            stage is Stage.INTERVIEW_THANK_YOU
            and interview_at is not None
            and item.message.date >= interview_at
        ):
            stage = Stage.INTERVIEW_FOLLOW_UP
    return stage or Stage.APPLICATION


def _is_their_human_message(item: ClassifiedMessage) -> bool:
    incoming = item.classification.incoming
    return not item.from_me and incoming is not None and incoming.is_human


def _nudges_in_current_round(
    members: Sequence[ClassifiedMessage], tracked: Mapping[str, Correction]
) -> int:
    """Follow-ups since the other side's last human message.

    A message classified as a follow-up counts, and so does any other message
    the user sent into the same silence after a first one, whatever its
    wording: writing again without an answer is nudging. The first message of
    a round does not count otherwise (it starts the conversation or answers
    them), nor does a thank-you.
    """
    count = 0
    wrote_in_round = False
    for item in members:
        if _is_their_human_message(item):
            count, wrote_in_round = 0, False
        elif item.from_me:
            kind = own_kind(item, tracked)
            if kind is OutgoingKind.FOLLOW_UP or (
                wrote_in_round and kind is not OutgoingKind.THANK_YOU
            ):
                count += 1
            wrote_in_round = True
    return count


def infer_conversations(
    messages: Sequence[ClassifiedMessage],
    *,
    identity: Identity,
    policy: PolicySettings,
    corrections: Sequence[Correction] = (),
) -> list[Conversation]:
    """Group classified messages into tracked conversations, oldest first."""
    cleaned, by_instant = _sent_or_received(messages, identity)
    threads = thread_messages([item.message for item in cleaned])
    thread_of = {message_id: t.root_id for t in threads for message_id in t.message_ids}
    tracked = {c.target: c for c in corrections if c.kind is CorrectionKind.TRACK}
    builder = _Builder(identity=identity, settings=policy, tracked=tracked, thread_of=thread_of)
    if by_instant:  # a total order: members sort by their place in it
        builder.position = {id(item): index for index, item in enumerate(cleaned)}
    for item in cleaned:
        builder.place(item)
    builder.apply(corrections)
    return [builder.finish(building) for building in builder.conversations]
