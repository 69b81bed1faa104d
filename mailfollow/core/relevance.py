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
* a message whose text is not fetched yet (``text_deferred``) that
  :func:`~mailfollow.core.classify.bounce_possible` says some text could make
  a bounce: the addresses it names are unknown, so it may name anyone the
  user wrote to. Nothing is taken from such a message's snippet;
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

from mailfollow.core.classify import bounce_possible
from mailfollow.core.conversations import company_of, domain_company, is_ats_domain, is_draft
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
    roots = [threads.root(m.message_id) for m in messages]  # no link is added after this
    # From one of the user's addresses, in any case (inline: it runs for every message).
    own = [m.sender is not None and m.sender.email.strip().lower() in mine for m in messages]
    starters = [m for m, is_own in zip(messages, own, strict=True) if is_own]
    if starts is not None:  # drafts never start one (conversations leaves them out)
        starters = [m for m in starters if not is_draft(m) and starts(m)]
    kept = _Reach(messages, roots, own, starters, threads, mine).threads()
    return [m for m, root in zip(messages, roots, strict=True) if root in kept]


def _recipient_emails(message: Message, mine: frozenset[str]) -> set[str]:
    """The addresses of everyone the user wrote to in ``message``, as _recipients has them."""
    emails = {address.email.strip().lower() for address in (*message.to, *message.cc)}
    return emails - mine


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
    an applicant-tracking system or the mail system, or may be a bounce and
    has its text (so what it names) still on the server; or when the user
    writes in it to someone written to in a thread already reached.
    """

    def __init__(
        self,
        messages: Sequence[Message],
        roots: Sequence[str],
        own: Sequence[bool],
        starters: Sequence[Message],
        threads: _ThreadLinks,
        mine: frozenset[str],
    ) -> None:
        """``roots`` and ``own`` say, per message, its thread and whether the user sent it."""
        self._mine = mine
        self._companies = frozenset(map(company_of, _recipients(starters, mine))) - {""}
        # domain -> whether mail from it counts as from a company (None: the name says)
        self._by_domain: dict[str, bool | None] = {}  # the same domains write again and again
        self._senders: dict[tuple[str, str], tuple[str, bool, bool]] = {}
        self._own: dict[str, list[Message]] = {}  # thread -> the user's messages in it
        self._waiting: dict[str, set[str]] = {}  # address -> threads it would bring in
        self._start = [threads.root(m.message_id) for m in starters]
        for message, thread, is_own in zip(messages, roots, own, strict=True):
            self._index(message, thread, is_own)

    def _index(self, message: Message, thread: str, is_own: bool) -> None:
        if is_own:
            self._own.setdefault(thread, []).append(message)
            addresses = {a.email.strip().lower() for a in (*message.to, *message.cc)}
        elif message.sender is not None and not message.reply_to:  # the usual case
            email, from_system, from_company = self._sender_facts(message.sender)
            if from_system or from_company or _is_report(message):
                self._start.append(thread)
            elif message.text_deferred and bounce_possible(message):
                self._start.append(thread)  # a bounce whose text, unread, may name anyone
            addresses = {email}
            if "@" in message.snippet or "x-failed-recipients" in message.headers:
                addresses |= _failed_recipients(message)  # else there are none
        else:
            senders = [a for a in (message.sender, *message.reply_to) if a is not None]
            if (
                _is_mail_system_notice(message)
                or any(map(self._from_company, senders))
                or (message.text_deferred and bounce_possible(message))
            ):
                self._start.append(thread)
            addresses = {a.email.strip().lower() for a in senders}
            if "@" in message.snippet or "x-failed-recipients" in message.headers:
                addresses |= _failed_recipients(message)  # else there are none
        waiting = self._waiting
        for address in addresses:
            found = waiting.get(address)
            if found is None:
                waiting[address] = {thread}
            else:
                found.add(thread)

    def _sender_facts(self, sender: Address) -> tuple[str, bool, bool]:
        """(the address as waiting has it, whether it is the mail system's, whether
        _from_company): worked out once per sender, who usually writes again."""
        key = (sender.email, sender.name)
        facts = self._senders.get(key)
        if facts is None:
            facts = self._senders[key] = (
                sender.email.strip().lower(),
                _is_mail_system_address(sender),
                self._from_company(sender),
            )
        return facts

    def _from_company(self, address: Address) -> bool:
        """From a starter's company, or an ATS (which may name one)."""
        domain = address.domain
        try:
            verdict = self._by_domain[domain]
        except KeyError:
            verdict = self._by_domain[domain] = self._domain_verdict(domain)
        if verdict is None:
            return company_of(address) in self._companies
        return verdict

    def _domain_verdict(self, domain: str) -> bool | None:
        """_from_company for every address at ``domain``, or None when it depends
        on the display name (free mail: "Acme via Gmail" is unusual, not impossible)."""
        if is_ats_domain(domain):
            return True
        company = domain_company(domain)
        return None if company is None else company in self._companies

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
                for email in _recipient_emails(message, self._mine):
                    if email not in written:
                        written.add(email)
                        frontier.extend(self._waiting.get(email, ()))
        return reached


def _failed_recipients(message: Message) -> set[str]:
    """The addresses a bounce report names (as conversations reads them), of
    those that are known: a text not fetched yet names none so far."""
    found: set[str] = set()
    header = message.headers.get("x-failed-recipients", "")
    for text in (header,) if message.text_deferred else (header, message.snippet):
        if "@" in text:
            found.update(email.lower() for email in _addresses_in(text))
    return found


def _addresses_in(text: str) -> list[str]:
    """``BOUNCE_ADDRESS.findall(text)``, searching only the words that hold an "@".

    No match spans whitespace (neither of the pattern's character classes has
    any) and the pattern asserts nothing about its surroundings, so the
    matches in the text are those in its whitespace-separated words, in order.
    """
    return [
        address for word in text.split() if "@" in word for address in BOUNCE_ADDRESS.findall(word)
    ]


def _is_mail_system_notice(message: Message) -> bool:
    if _is_report(message):
        return True
    return message.sender is not None and _is_mail_system_address(message.sender)


def _is_report(message: Message) -> bool:
    """A delivery or disposition report, by its MIME types."""
    return message.content_type in _REPORT_TYPES or not _REPORT_TYPES.isdisjoint(message.part_types)


def _is_mail_system_address(address: Address) -> bool:
    return address.local_part.lower() in _MAIL_SYSTEM_LOCAL_PARTS


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


def _subject_key(subject: str) -> str:
    return base_subject(subject).casefold()


def _participants(message: Message) -> set[str]:
    people = {address.email.lower() for address in (*message.to, *message.cc)}
    if message.sender is not None:
        people.add(message.sender.email.lower())
    return people
