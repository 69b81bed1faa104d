"""Which messages could belong to a tracked conversation, decided before classifying.

Classifying costs far more than any other step and most mail (newsletters,
alerts, receipts, mail from people the user never wrote to) can never join a
conversation, so the pipeline classifies only what :func:`relevant_messages`
keeps. It keeps a superset of what
:func:`~mailfollow.core.conversations.infer_conversations` can attach, so
conversations and verdicts come out the same as from every message.

It follows threads outward from the user's messages (or, when the caller
says which, only from those that start a conversation). A thread is kept
when it holds

* such a message of the user's;
* an incoming message from, or with a Reply-To of, someone the user wrote to
  in a thread already kept, or from the organisation of a starting message's
  recipient (``company_of``, which also reads "Acme via Workable" names);
* mail from an applicant-tracking domain (it joins by the company it names),
  a delivery report or a mail-system notice, or a report whose
  X-Failed-Recipients header or snippet names someone written to (a bounce);
* a message of the user's to someone written to in a thread already kept.

A thread here is everything threads could put together: messages linked
through Message-ID / References / In-Reply-To (directly or through other
messages, including missing ones several messages name), Gmail's thread id,
or a reply by subject without references between the same people (see
:mod:`mailfollow.core.threads`). Whole threads are kept or left out, so
threading the kept messages gives the same threads.

Nothing here depends on a classification; time windows are ignored, which
only keeps more.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from mailfollow.core.conversations import company_of, is_ats_domain, is_draft
from mailfollow.core.threads import base_subject, reference_chain, says_reply
from mailfollow.model import Address, Identity, Message

# The pattern conversations reads a bounce's failed recipients with (a test keeps them equal).
BOUNCE_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_MAIL_SYSTEM_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
_REPORT_TYPES = frozenset({"multipart/report", "message/delivery-status"})
_SUBJECT_END = 8


def relevant_messages(
    messages: Sequence[Message],
    *,
    identity: Identity,
    starts: Callable[[Message], bool] | None = None,
) -> list[Message]:
    """The messages that could join a tracked conversation, in their input order.

    Every copy of a kept Message-ID is kept. ``starts``, when given, is asked
    about each message of the user (from any of the identity's addresses, in
    any case; drafts aside) whether it starts a conversation, i.e. whether its
    :func:`~mailfollow.core.conversations.own_kind`, corrections included, is
    in ``START_STAGES``; the filter then follows only the people and
    companies those conversations reach, instead of every message of the
    user, and keeps less. See the module docstring for what is kept and why
    that is enough.
    """
    mine = frozenset(address.strip().lower() for address in identity.addresses)
    threads = _ThreadLinks(messages)
    starters = [m for m in messages if _is_mine(m.sender, mine)]
    if starts is not None:  # drafts never start one (conversations leaves them out)
        starters = [m for m in starters if not is_draft(m) and starts(m)]
    kept = _Reach(messages, starters, threads, mine).threads()
    return [m for m in messages if threads.root(m.message_id) in kept]


def _is_mine(address: Address | None, mine: frozenset[str]) -> bool:
    return address is not None and address.email.strip().lower() in mine


def _recipients(own: Iterable[Message], mine: frozenset[str]) -> set[Address]:
    """Everyone the user wrote to, as conversations record a counterpart
    (the address stripped and lower-cased, the name as written)."""
    found = set()
    for message in own:
        for address in (*message.to, *message.cc):
            email = address.email.strip().lower()
            if email not in mine:
                found.add(Address(email, address.name))
    return found


class _Reach:
    """The threads the starters' conversations can reach.

    From the starters' threads, a thread is reached when one of its incoming
    messages comes from (From or Reply-To) or bounces for someone the user
    wrote to in a thread already reached, or comes from a starter's company,
    an applicant-tracking system or the mail system; or when the user writes
    in it to someone written to in a thread already reached.
    """

    def __init__(
        self,
        messages: Sequence[Message],
        starters: Sequence[Message],
        threads: _ThreadLinks,
        mine: frozenset[str],
    ) -> None:
        self._mine = mine
        self._companies = frozenset(map(company_of, _recipients(starters, mine))) - {""}
        self._company_of: dict[Address, str] = {}  # the same senders write again and again
        self._ats: dict[str, bool] = {}
        self._own: dict[str, list[Message]] = {}  # thread -> the user's messages in it
        self._waiting: dict[str, set[str]] = {}  # address -> threads it would bring in
        self._start = [threads.root(m.message_id) for m in starters]
        for message in messages:
            self._index(message, threads.root(message.message_id))

    def _index(self, message: Message, thread: str) -> None:
        if _is_mine(message.sender, self._mine):
            self._own.setdefault(thread, []).append(message)
            addresses = {a.email.strip().lower() for a in (*message.to, *message.cc)}
        else:
            senders = [a for a in (message.sender, *message.reply_to) if a is not None]
            if _is_mail_system_notice(message) or any(map(self._from_company, senders)):
                self._start.append(thread)
            addresses = {a.email.strip().lower() for a in senders} | _failed_recipients(message)
        for address in addresses:
            self._waiting.setdefault(address, set()).add(thread)

    def _from_company(self, address: Address) -> bool:
        """From a starter's company, or an ATS (which may name one)."""
        ats = self._ats.get(address.domain)
        if ats is None:
            ats = self._ats[address.domain] = is_ats_domain(address.domain)
        if ats:
            return True
        company = self._company_of.get(address)
        if company is None:
            company = self._company_of[address] = company_of(address)
        return company in self._companies

    def threads(self) -> set[str]:
        reached: set[str] = set()
        written: set[str] = set()
        frontier = list(self._start)
        while frontier:
            thread = frontier.pop()
            if thread in reached:
                continue
            reached.add(thread)
            for message in self._own.get(thread, ()):
                for address in _recipients((message,), self._mine):
                    if address.email not in written:
                        written.add(address.email)
                        frontier.extend(self._waiting.get(address.email, ()))
        return reached


def _failed_recipients(message: Message) -> set[str]:
    """The addresses a bounce report names (as conversations reads them)."""
    found: set[str] = set()
    for text in (message.headers.get("x-failed-recipients", ""), message.snippet):
        if "@" in text:
            found.update(email.lower() for email in BOUNCE_ADDRESS.findall(text))
    return found


def _is_mail_system_notice(message: Message) -> bool:
    local = message.sender.local_part.lower() if message.sender else ""
    return (
        local in _MAIL_SYSTEM_LOCAL_PARTS
        or message.content_type in _REPORT_TYPES
        or any(part in _REPORT_TYPES for part in message.part_types)
    )


class _ThreadLinks:
    """Union-find over Message-IDs (and Gmail thread ids) of messages that could
    end up in one thread: a superset of what thread_messages links."""

    def __init__(self, messages: Sequence[Message]) -> None:
        self._parent: dict[str, str] = {}
        lone = []  # replies without references, which join threads by subject
        for message in messages:
            chain = reference_chain(message)
            for other in chain:
                self._union(message.message_id, other)
            if message.gm_thread_id:
                self._union(message.message_id, f"\ngmail:{message.gm_thread_id}")
            if not chain and says_reply(message.subject):
                lone.append(message)
        if lone:
            self._link_by_subject(lone, messages)

    def _link_by_subject(self, lone: Sequence[Message], messages: Sequence[Message]) -> None:
        """Link each reply with every message of its subject between the same people."""
        wanted = {_subject_key(m.subject) for m in lone} - {""}
        # A base subject ends its subject: compare the ends before working out the base.
        ends = {key[-_SUBJECT_END:] for key in wanted}
        lengths = {len(end) for end in ends}
        same_subject: dict[str, list[Message]] = {}
        for message in messages:
            folded = " ".join(message.subject.split()).casefold()
            if not any(folded[-length:] in ends for length in lengths):
                continue
            key = _subject_key(message.subject)
            if key in wanted:
                same_subject.setdefault(key, []).append(message)
        for reply in lone:
            people = _participants(reply)
            for other in same_subject.get(_subject_key(reply.subject), ()):
                if len(people & _participants(other)) >= 2:
                    self._union(reply.message_id, other.message_id)

    def root(self, node: str) -> str:
        parent = self._parent
        while (up := parent.get(node, node)) != node:
            parent[node] = parent.get(up, up)  # path halving
            node = up
        return node

    def _union(self, first: str, second: str) -> None:
        a, b = self.root(first), self.root(second)
        if a != b:
            self._parent[a] = b

    def components_of(self, nodes: Iterable[str]) -> set[str]:
        return {self.root(node) for node in nodes}


def _subject_key(subject: str) -> str:
    return base_subject(subject).casefold()


def _participants(message: Message) -> set[str]:
    people = {address.email.lower() for address in (*message.to, *message.cc)}
    if message.sender is not None:
        people.add(message.sender.email.lower())
    return people
