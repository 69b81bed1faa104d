"""Message -> Classification: what an email is, by named rules.

The user's own messages are *outgoing* and get a stage-like kind (application,
networking, thank-you...). Everything else is *incoming* and is read in this
order, because signals overlap (see the signal field notes, section 10):

1. delivery reports: bounces (DSN, MAILER-DAEMON, X-Failed-Recipients, bounce
   subjects), delay/success notices, read receipts, abuse reports. Bounces
   carry ``Auto-Submitted: auto-replied`` too, so they are checked first;
2. what a person decided, even when a machine delivered it: rejection, offer,
   a clear interview invitation. ATS and GitLab-style notifications carry
   ``Auto-Submitted: auto-generated`` while relaying a person's words, and
   calling a rejection anything else would nudge someone who said no;
3. out-of-office replies (headers first, then localised subject prefixes);
4. application acknowledgements from an ATS or a no-reply address;
5. other machine mail (auto-generated, null sender, self-declared);
6. bulk (list headers, Precedence bulk/list/junk, Feedback-ID, job alerts),
   unless it is a personal reply to the user (list headers on a human reply
   are kept as a human reply: dropping it would nudge someone who answered);
7. weaker invitation wording, no-reply senders;
8. otherwise a human reply, with whether it asks the user something and
   whether it promises news by a date.

Quoted text ("On ... wrote:", "> " lines, "-----Original Message-----") is
removed before reading phrases, so the user's own words quoted in a reply do
not count. Signals that say nothing alone are deliberately ignored:
``X-Auto-Response-Suppress`` (a request to other servers), ``Auto-Submitted:
no`` (equals absence), ``X-MS-Exchange-Inbox-Rules-Loop`` without
``X-Auto-Response-Suppress: All`` (marks forwarding rules), ``X-Loop``
(lists and helpdesks stamp it on human mail) and Outlook's ``X-MS-*``.

Incoming classification does not use the user's track/ignore rules: those
decide which of the user's own messages start a conversation.

:func:`bounce_possible` says, from the headers alone, whether the bounce rules
could fire for some text: a message whose text is not fetched yet may be a
bounce only then.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

from mailfollow.core.signals import (
    PhraseHit,
    PhraseTable,
    at_start_of_day,
    cached_prefilter,
    compile_named,
    find_date,
    find_explicit_date,
    find_phrase,
    find_time,
    flatten,
    search_prefiltered,
    sentence_may_match,
    sentences,
    strip_quoted,
    without_urls,
)
from mailfollow.model import (
    Address,
    Classification,
    DetectionRules,
    Identity,
    IncomingKind,
    Message,
    OutgoingKind,
)

# --------------------------------------------------------------------------- evidence

_T = TypeVar("_T")


class _Once(Generic[_T]):
    """``functools.cached_property`` without its lock: Python 3.11 takes one on the
    first read of every value, which costs more than most of the values below, and
    evidence is never shared between threads."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _Once[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> _T | _Once[_T]:
        if instance is None:
            return self
        value = self._compute(instance)
        instance.__dict__[self._name] = value  # read from there from now on
        return value


@dataclass
class _Evidence:
    """Everything the rules read, computed once per message (treated as read-only;
    not frozen only because a frozen dataclass is slower to build)."""

    message: Message
    identity: Identity
    own_message_ids: Collection[str]
    headers: Mapping[str, str]
    subject: str
    subject_core: str  # without Re:/Fwd:/[tags]
    subject_reply_prefix: bool  # a Re:/AW:/SV:... prefix was removed
    text: str  # the snippet as decoded
    fresh: str  # the snippet without quoted text and URLs
    sender: str
    sender_local: str
    sender_domain: str
    sender_name: str
    recipients: tuple[Address, ...] = field(default=())

    def header(self, name: str) -> str:
        return self.headers.get(name, "").strip()

    def header_token(self, name: str) -> str:
        """First token of a header, lower-case: "auto-replied (zimbra)" -> "auto-replied"."""
        return self.header_tokens.get(name, "")

    @_Once
    def header_tokens(self) -> dict[str, str]:
        return {
            name: _FIRST_TOKEN.split(value.strip().lower(), maxsplit=1)[0]
            for name, value in self.headers.items()
        }

    # Derived facts several rules read; computed at most once per message.

    @_Once
    def sentences(self) -> list[str]:
        return sentences(self.fresh)

    @_Once
    def flat(self) -> str:
        return flatten(self.fresh)

    @_Once
    def fresh_lowered(self) -> str:
        return self.fresh.lower()

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """``pattern.search(self.fresh)``, skipped when its prefilter rules the text out."""
        return search_prefiltered(pattern, self.fresh, lowered=self.fresh_lowered)

    def sentence_may_match(self, pattern: re.Pattern[str]) -> bool:
        """False when ``pattern`` can match in none of the sentences."""
        return sentence_may_match(pattern, self.flat)

    def find(self, table: PhraseTable, *, skip_conditional: bool = True) -> PhraseHit | None:
        """The first phrase of ``table`` in the sender's own text."""
        first = table.first_candidate(self.flat)
        if first < 0:
            return None  # without splitting the text into sentences
        return find_phrase(
            table,
            self.fresh,
            skip_conditional=skip_conditional,
            split=self.sentences,
            flat=self.flat,
            first=first,
        )

    @_Once
    def headed(self) -> str:
        """The subject as a first sentence, then the sender's own text."""
        return f"{self.subject_core}.\n\n{self.fresh}"

    @_Once
    def headed_flat(self) -> str:
        """``flatten(self.headed)``, reusing the flattened text: the subject has no
        whitespace at either end, so "." and the text's first word are one space
        apart, and lower-casing does not look across whitespace."""
        flat = self.flat
        return f"{flatten(self.subject_core + '.')} {flat[1:] if flat.startswith(' ') else flat}"

    def find_headed(self, table: PhraseTable, *, skip_conditional: bool = True) -> PhraseHit | None:
        """The first phrase of ``table`` in the subject or the sender's own text."""
        first = table.first_candidate(self.headed_flat)
        if first < 0:
            return None
        return find_phrase(
            table,
            self.headed,
            skip_conditional=skip_conditional,
            flat=self.headed_flat,
            first=first,
        )

    @_Once
    def asks_question(self) -> bool:
        if self.find(_ASKS, skip_conditional=False):
            return True
        return "?" in self.fresh and any(s.endswith("?") and len(s) > 3 for s in self.sentences)

    @_Once
    def promise(self) -> tuple[datetime | None, str]:
        hit = self.find(_PROMISE)
        if not hit:
            return None, ""
        found = find_date(hit.sentence, self.message.date, end_of_period=True)
        when = at_start_of_day(found.day, self.message.date) if found else None
        return when, hit.sentence[:240]

    @_Once
    def ooo_header(self) -> tuple[str, str] | None:
        return _ooo_header(self)

    @_Once
    def ooo_subject(self) -> tuple[str, str] | None:
        return _ooo_subject(self)


_FIRST_TOKEN = re.compile(r"[\s;(]")
_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]{0,80}\]|\((?:external|extern|ext)\)|"
    r"(?P<reply>re|aw|sv|vs|antw|antwort|rif|r|odp|res|ynt|vá|rv)\s*(?:\[\d+\]|\(\d+\))?\s*:|"
    r"(?:fw|fwd|wg|tr|doorst|enc|rv|i)\s*(?:\[\d+\])?\s*:|external\s*:)\s*",
    re.IGNORECASE,
)


def _strip_subject(subject: str) -> tuple[str, bool]:
    core, replied = subject, False
    for _ in range(10):
        match = _PREFIX.match(core)
        if not match or not match.group(0):
            break
        replied = replied or bool(match.group("reply"))
        core = core[match.end() :]
    return core.strip(), replied


def _evidence(
    message: Message,
    identity: Identity,
    own_message_ids: Collection[str],
    *,
    read_text: bool = True,
) -> _Evidence:
    """What the rules read; without ``read_text``, as if the message had no text."""
    headers = {str(k).lower(): str(v) for k, v in message.headers.items()}
    subject = message.subject or ""
    core, replied = _strip_subject(subject)
    sender = message.sender.email.lower() if message.sender else ""
    local, _, domain = sender.rpartition("@") if "@" in sender else (sender, "", "")
    text = _normalise_quotes(message.snippet or "") if read_text else ""
    return _Evidence(
        message=message,
        identity=identity,
        own_message_ids=own_message_ids,
        headers=headers,
        subject=_normalise_quotes(subject),
        subject_core=_normalise_quotes(core),
        subject_reply_prefix=replied,
        text=text,
        fresh=without_urls(strip_quoted(text)),
        sender=sender,
        sender_local=local,
        sender_domain=domain,
        sender_name=(message.sender.name if message.sender else "").lower(),
        recipients=(*message.to, *message.cc),
    )


def _normalise_quotes(text: str) -> str:
    """Typographic apostrophes ("don\u2019t") read like ASCII ones in the phrase tables."""
    if text.isascii():
        return text
    # Four replace() scans are far cheaper than one translate() with a mapping.
    return (
        text.replace("\u2018", "'")
        .replace("\u2019", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
    )


# --------------------------------------------------------------------------- entry point


def classify_message(
    message: Message,
    *,
    identity: Identity,
    rules: DetectionRules,
    own_message_ids: Collection[str] = frozenset(),
) -> Classification:
    """Decide what ``message`` is; the result names the rule and its evidence.

    ``own_message_ids`` (optional) are Message-IDs the user sent; a reply to
    one of them that carries only list headers stays a human reply. Without
    them, a reply addressed to the user (To/Cc) with In-Reply-To counts.
    """
    evidence = _evidence(message, identity, own_message_ids)
    if _is_mine(message.sender, identity):
        return _classify_outgoing(evidence, rules)
    return _classify_incoming(evidence)


def _is_mine(address: Address | None, identity: Identity) -> bool:
    if address is None:
        return False
    return address.email.strip().lower() in _my_addresses(identity.addresses)


def _my_addresses(addresses: Collection[str]) -> frozenset[str]:
    """The user's addresses as compared: stripped and lower-cased."""
    try:
        return _cached_addresses(addresses)  # type: ignore[arg-type]
    except TypeError:  # not hashable (a set): nothing to remember it by
        return frozenset(a.strip().lower() for a in addresses)


@functools.lru_cache(maxsize=16)
def _cached_addresses(addresses: frozenset[str]) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in addresses)


# --------------------------------------------------------------------------- phrase tables

_NEG = r"(?:\bnot|n't|\bno longer|\bunable to|\bcannot|\bcan't|\bwon't)"
_JOB_WORDS = re.compile(
    r"(?i)\b(?:application|candidacy|candidate|position|role|opportunit|opening|vacanc|"
    r"interview|process|job|resume|cv|bewerbung|stelle)"
)

_REJECTION = compile_named(
    [
        (
            "not-moving-forward",
            rf"{_NEG}\s+(?:be\s+)?(?:able\s+to\s+)?(?:moving|move|proceeding|proceed|"
            r"progressing|progress|advancing|advance|going|go)\s+(?:forward|further|ahead)\b",
        ),
        (
            "not-proceeding-with-you",
            rf"{_NEG}\s+(?:be\s+)?(?:able\s+to\s+)?(?:proceed|proceeding|progress|progressing|"
            r"advance|advancing|continue|continuing|pursue|pursuing|consider|considering|offer|"
            r"offering|extend|extending)\s+(?:with\s+|forward\s+with\s+)?(?:your|you)\b",
        ),
        (
            "decided-not-to",
            r"\b(?:decided|chosen|elected|opted|decision)\s+not\s+to\s+(?:move|proceed|pursue|"
            r"progress|advance|continue|invite|offer|extend|interview|schedule|take\s+your)",
        ),
        (
            "other-candidates",
            r"\b(?:decided|chosen|elected|opted|decision|determined|going|plan|planning|choose)\s+"
            r"(?:to\s+)?(?:move|moving|proceed|proceeding|go|going|pursue|pursuing|continue|"
            r"continuing|progress|progressing|advance|advancing)\s+(?:forward\s+|ahead\s+)?"
            r"(?:with\s+|in\s+)?(?:other|another|a different|different|a more|the other|"
            r"candidates|an? (?:internal|external) candidate|someone|applicants|individuals|"
            r"an?\s+(?:\w+\s+)?(?:candidate|applicant|person)\s+(?:whose|who|that|with))",
        ),
        (
            "selected-another",
            r"\b(?:selected|chosen|hired|offered the (?:position|role) to|went with|gone with|"
            r"filled by|decided on)\s+(?:an?other|a different|other|an internal|an external)\s+"
            r"(?:\w+\s+)?(?:candidate|applicant|person|individual)s?\b",
        ),
        (
            "closer-match",
            r"\b(?:candidates?|applicants?|individuals?|others|profiles?|backgrounds?)\b[^.]{0,80}?"
            r"\b(?:more\s+closely|better|more\s+directly|more\s+strongly)\s+(?:match|align|suit|fit)",
        ),
        (
            "not-selected",
            r"(?:\bnot|n't)\s+(?:been\s+)?(?:selected|shortlisted|chosen)\b|"
            r"(?:\bnot|n't)\s+(?:to\s+)?(?:select|shortlist|choose)\s+(?:you|it|your)\b|"
            r"(?:\bnot|n't)\b[^.]{0,60}?\bfurther\s+consideration\b",
        ),
        (
            "offer-to-another",
            r"\b(?:extended|extend|made|accepted)\s+(?:an\s+)?offer\s+(?:out\s+)?to\s+"
            r"(?:a|another|an|the|other)\s+(?:\w+\s+)?(?:candidate|applicant|individual)s?\b",
        ),
        (
            "unsuccessful",
            r"\b(?:application|candidacy|applying)\b[^.]{0,60}?\b(?:unsuccessful|not successful|"
            r"declined|rejected)\b|\b(?:you|you've|you\s+have|you\s+were)\s+(?:not|n't)\s+"
            r"(?:been\s+)?successful\b",
        ),
        (
            "regret-to-inform",
            r"\bregret\s+to\s+(?:inform|advise|let you know|tell|say|share)\b|\bwe regret that\b|"
            r"\bsorry to (?:inform|say|tell|let you know)\b",
        ),
        (
            "position-filled",
            r"\b(?:position|role|opening|vacancy|job|requisition)\s+(?:has|have|had)?\s*(?:now\s+)?"
            r"(?:been|was|is|are)\s+(?:now\s+)?(?:filled|closed|cancel+ed|withdrawn|eliminated)\b|"
            r"\bfilled\s+(?:this|the|that|our)\s+(?:position|role|opening|vacancy)\b|"
            r"\b(?:position|role|opening|vacancy|job)\s+(?:is|are)\s+no\s+longer\s+"
            r"(?:available|open|active)\b",
        ),
        (
            "position-on-hold",
            r"\b(?:position|role|search|requisition|hiring|recruitment|recruiting|opening)\b"
            r"[^.]{0,40}?\b(?:on\s+hold|paused|frozen)\b|"
            r"\b(?:pausing|paused|putting|put|placing|placed)\s+(?:the|this|our)\s+(?:\w+\s+){0,2}"
            r"(?:position|role|search|requisition|hiring|recruitment|recruiting process)\b|"
            r"\bhiring\s+freeze\b",
        ),
        (
            "not-a-fit",
            r"(?:\bnot|n't)\s+(?:\w+\s+){0,2}?(?:the\s+|a\s+)?(?:right|good|strong|best|great)\s+"
            r"(?:mutual\s+)?(?:fit|match)\b",
        ),
        (
            "different-direction",
            r"\b(?:go|going|move|moving|gone)\s+in\s+a\s+different\s+direction",
        ),
        (
            "no-longer-considered",
            r"\bno\s+longer\s+(?:under|in|being)\s+consider|\bremoved\s+from\s+consideration|"
            r"\bwill\s+not\s+be\s+considered\b",
        ),
        (
            "not-next-round",
            rf"{_NEG}\s+(?:be\s+)?(?:advancing|moving|progressing|invit\w+)\s+(?:you\s+)?"
            r"(?:to|into)\s+(?:the\s+)?next\b",
        ),
        (
            "absage-de",
            r"\b(?:für\s+(?:einen\s+)?anderen\s+(?:kandidaten|bewerber)|"
            r"nicht\s+(?:weiter\s+)?berücksichtig|absage\b)",
        ),
    ]
)
_UNFORTUNATELY = re.compile(
    r"(?i)\b(?:unfortunately|leider|bedauerlicherweise)\b[^.]{0,160}?"
    r"(?:\bnot|n't|\bunable|\bno longer|\bcannot|\bnicht|\bkein)"
)
# "Unfortunately ..." with a farewell is a rejection even when the negation is garbled.
_UNFORTUNATELY_ALONE = re.compile(r"(?i)\bunfortunately\b|\bleider\b")
_FAREWELL = re.compile(
    r"(?i)\bkeep\s+your\s+(?:cv|resume|résumé|information|details|profile|application)\s+on\s+"
    r"file\b|\bwish\s+you\s+(?:the\s+|all\s+the\s+|much\s+|every\s+|continued\s+)?(?:best|"
    r"luck|success)\b[^.]{0,40}?\b(?:search|future|endeavou?rs|career)"
)

_OFFER = compile_named(
    [
        (
            "pleased-to-offer",
            r"\b(?:pleased|happy|delighted|excited|thrilled|glad)\s+to\s+(?:formally\s+)?"
            r"(?:offer\s+you|extend\s+(?:to\s+you\s+|you\s+)?(?:an?|this|the|our)\s+"
            r"(?:formal\s+|written\s+|verbal\s+|conditional\s+)?offer)",
        ),
        ("would-like-to-offer", r"\b(?:like|love|want)\s+to\s+(?:formally\s+)?offer\s+you\b"),
        ("offer-letter", r"\boffer\s+letter\b|\boffer\s+of\s+employment\b|\bemployment\s+offer\b"),
        ("docusign", r"\bplease\s+docusign\b"),
    ]
)
_OFFER_SUBJECT = re.compile(
    r"(?i)\boffer\s+(?:letter|of\s+employment)\b|\bplease\s+docusign\b|\byour\s+(?:job\s+)?offer\b"
)

_INVITATION = compile_named(
    [
        (
            "invite-to-interview",
            r"\binvit(?:e|ing|ed)\s+you\s+(?:to|for)\s+(?:a\s+|an\s+|the\s+|our\s+|your\s+)?"
            r"(?:[\w-]+\s+){0,3}?(?:interview|call|chat|conversation|meeting|screen|screening|"
            r"round|onsite|on-site|discussion)|"
            r"\b(?:have\s+been|are|were)\s+invited\s+to\s+(?:an?\s+)?(?:interview|speak|meet)",
        ),
        (
            "invite-to-assessment",
            r"\b(?:you\s+have\s+been|you\s+are|you're|you\s+were)\s+invited\s+to\s+"
            r"(?:complete|take)\s+(?:an?\s+|the\s+|our\s+)?(?:[\w-]+\s+){0,2}"
            r"(?:assessment|test|challenge|exercise|assignment)",
        ),
        (
            "would-like-to-schedule",
            r"\b(?:like|love|pleased|happy|delighted|excited|want|wish)\s+to\s+(?:invite|schedule|"
            r"set\s+up|arrange|book|organi[sz]e|have)\s+(?:you\s+)?(?:for\s+|to\s+)?"
            r"(?:a\s+|an\s+|the\s+|your\s+|some\s+)?(?:[\w-]+\s+){0,3}?(?:interview|call|chat|"
            r"conversation|meeting|screen|screening|discussion)\b",
        ),
        (
            "asks-availability",
            r"\b(?:would|will)\s+you\s+be\s+(?:available|free)\b|"
            r"\bare\s+you\s+(?:available|free)\s+(?:for|to|on|this|next|tomorrow|at|any)\b|"
            r"\bwhen\s+(?:would|are|will)\s+you\s+be\s+(?:available|free)\b|"
            r"\b(?:share|send|provide|give)\s+(?:me\s+|us\s+)?(?:with\s+)?(?:your|a\s+few|some)\s+"
            r"(?:\w+\s+){0,2}(?:availability|available\s+times|time\s+slots|times)\b|"
            r"\b(?:confirm|let\s+(?:me|us)\s+know)\s+your\s+availability\b",
        ),
        ("book-a-time", r"\b(?:book|pick|choose|select|grab|find)\s+a\s+(?:time|slot)\b"),
        (
            "interview-details",
            r"\binterview\s+(?:details|invitation|confirmation)\b|"
            r"\breschedul(?:e|ed|ing)\s+(?:your|the|our)\s+(?:\w+\s+)?(?:interview|call|meeting)",
        ),
    ]
)
_INVITATION_WEAK = compile_named(
    [
        (
            "schedule-a-call",
            r"\b(?:schedule|set\s+up|arrange)\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,2}?"
            r"(?:call|chat|interview|meeting|phone\s+screen)\b",
        ),
        ("phone-screen", r"\b(?:phone|video)\s+(?:screen|screening|interview)\b"),
    ]
)
_SCHEDULING_LINK = re.compile(
    r"(?i)\b(?:calendly\.com|cal\.com|savvycal\.com|goodtime\.io|modernloop\.io|doodle\.com)/"
)
_MEETING_LINE = re.compile(
    r"(?i)\b(?:interview|call|meeting|chat|conversation|screen|scheduled|date|when|"
    r"join\s+us|meet)\b"
)
_DEADLINE_LINE = re.compile(r"(?i)\b(?:deadline|expires?|complete|submit|due|before)\b")
_INVITATION_SUBJECT = re.compile(
    r"(?i)^(?:updated\s+)?invitation(?:\s+updated)?\s*:|"
    r"\binterview\s+(?:invitation|invite|request|availability|confirmation|scheduled|"
    r"rescheduled)\b|\binvitation\s+to\s+(?:an?\s+)?interview\b"
)

_ACK = compile_named(
    [
        (
            "thanks-for-applying",
            r"\bthank(?:s|\s+you)(?:\s+\w+){0,2}\s+for\s+(?:applying|your\s+(?:recent\s+|online\s+|"
            r"job\s+)?application|submitting\s+(?:your|an)\s+(?:application|resume|cv|profile)|"
            r"your\s+(?:resume|cv)\s+submission)",
        ),
        (
            "received-your-application",
            r"\b(?:we|i)\s+(?:have\s+|'ve\s+)?(?:successfully\s+|just\s+)?received\s+your\s+"
            r"(?:job\s+)?(?:application|resume|cv|submission|candidacy|materials|credentials)",
        ),
        (
            "application-received",
            r"\byour\s+(?:job\s+)?(?:application|resume|cv|submission|candidacy|email|credentials)"
            r"\b[^.]{0,100}?\b(?:has|have|was|is)\s+(?:been\s+)?(?:successfully\s+)?(?:received|"
            r"submitted|sent\s+to|forwarded|reached\s+us|now\s+being\s+reviewed|being\s+reviewed|"
            r"under\s+review|currently\s+being\s+reviewed)|\bapplication\s+(?:has\s+been\s+)?"
            r"received\b|\bhas\s+received\s+your\s+(?:credentials|application|resume)|"
            r"\byour\s+(?:application|resume|cv|submission)\s+(?:has\s+)?(?:safely\s+)?reached\s+us\b|"
            r"\bconfirms?\s+(?:that\s+)?(?:we\s+(?:have\s+)?received|your\s+application|receipt)",
        ),
        (
            "will-be-reviewed",
            r"\b(?:will|shall)\s+(?:be\s+)?(?:carefully\s+)?review(?:ed|ing)?\b|"
            r"\b(?:is|are)\s+(?:currently\s+|now\s+|still\s+)?(?:being\s+reviewed|under\s+review|"
            r"reviewing\s+(?:your|all))|\bin\s+(?:the\s+)?process\s+of\s+reviewing\b",
        ),
    ]
)
_ACK_SUBJECT = re.compile(
    r"(?i)\bapplication\s+(?:received|confirmation|submitted)\b|"
    r"\bthank(?:s|\s+you)\s+for\s+(?:applying|your\s+application)\b|"
    r"\bwe(?:'ve|\s+have)?\s+received\s+your\s+application\b"
)

_SELF_DECLARED = re.compile(
    r"(?i)\b(?:this\s+(?:is\s+an?|e-?mail|message|mail|response|reply|notification)\s+"
    r"(?:is\s+|was\s+|has\s+been\s+)?(?:an?\s+|being\s+)?(?:automated|automatic|auto-generated|"
    r"automatically|computer[- ]generated|system[- ]generated)|"
    r"(?:automated|automatic|auto-generated|automatically\s+generated|system[- ]generated)\s+"
    r"(?:e-?mail|message|response|reply|notification|confirmation|notice)|"
    r"(?:please\s+)?do\s+not\s+(?:reply|respond)\s+(?:directly\s+)?to\s+this|"
    r"not\s+(?:actively\s+)?monitored|cannot\s+(?:accept|receive)\s+(?:incoming\s+)?"
    r"(?:e-?mail|replies|messages)|sent\s+from\s+an?\s+(?:auto-notification|automated|"
    r"unmonitored|no-?reply)|"
    r"automatisch\s+(?:erstellt|generiert|versandt|verschickt)|automatische\s+(?:bestätigung|"
    r"antwort|nachricht|e-mail)|bitte\s+antworten\s+sie\s+nicht)"
)

_SELF_DECLARED_TABLE = PhraseTable(
    patterns=(("self-declared", _SELF_DECLARED),),
    gates=(_SELF_DECLARED,),
    prefilters=(cached_prefilter(_SELF_DECLARED),),
)

_OOO_TEXT = re.compile(
    r"(?i)\b(?:out\s+of\s+(?:the\s+)?office|on\s+(?:annual\s+|parental\s+|maternity\s+|"
    r"paternity\s+|sick\s+|medical\s+|a\s+)?(?:vacation|holiday|holidays|leave)|"
    r"away\s+from\s+(?:the\s+office|my\s+desk|(?:my\s+)?e-?mail)|currently\s+(?:away|traveling|"
    r"travelling|out|on\s+leave)|i\s+am\s+away|i'm\s+away|limited\s+access\s+to\s+(?:e-?mail|"
    r"my\s+e-?mail)|(?:respond|reply|get\s+back\s+to\s+you|answer)\b[^.]{0,50}?\b(?:upon|on|"
    r"when|after)\s+(?:my\s+)?return|no\s+longer\s+in\s+use|abwesend|nicht\s+im\s+(?:büro|hause)|"
    r"im\s+urlaub|außer\s+haus|ausser\s+haus|absent(?:e)?\s+du\s+bureau|en\s+congé|"
    r"en\s+vacances|fuera\s+de\s+la\s+oficina|de\s+vacaciones|fuori\s+(?:ufficio|sede)|"
    r"in\s+ferie|afwezig|niet\s+op\s+kantoor|frånvarande|på\s+semester)"
)
_RETURN_CUE = re.compile(
    r"(?i)\b(?:back|return|returning|returns|until|till|through|wieder|zurück|ab\s+dem|bis|"
    r"de\s+retour|jusqu|hasta|fino\s+al|tot\s+en\s+met)\b"
)

# Subject phrases of automatic replies that a person would not type anywhere else.
_OOO_SUBJECT_ANYWHERE = {
    "en": r"automatic reply|automated reply|automatic response|auto[- ]?reply|"
    r"auto[- ]?response|autoresponder|out of office autoreply",
    "de": r"automatische antwort|abwesenheitsnotiz|abwesenheitshinweis|abwesenheitsmeldung",
    "fr": r"r[ée]ponse automatique|absence du bureau",
    "es": r"respuesta autom[áa]tica|fuera de la oficina",
    "it": r"risposta automatica|risposta non al computer",
    "nl": r"automatisch antwoord",
    "pt": r"resposta autom[áa]tica|aus[êe]ncia tempor[áa]ria",
    "sv": r"automatiskt svar",
    "da": r"automatisk svar|autosvar|ikke på kontoret",
    "fi": r"automaattinen vastaus",
    "tr": r"ofis d\u0131\u015f\u0131",  # Turkish "out of office"; re reads the escapes
    "lv": r"autom[āa]tisk[āa] atbilde",
    "pl": r"odpowied[źz] automatyczna",
    "ja": r"自動応答|自動返信",
    "zh": r"自动回复|自动答复|自動回覆",
}
# Words that mean "away" only as a "Word:" prefix ("Out of Office: <subject>").
_OOO_SUBJECT_PREFIX = {
    "en": r"out of (?:the )?office|ooo|auto|away|on vacation|vacation|on leave",
    "de": r"abwesend|abwesenheit|urlaub",
    "fr": r"absent|absence",
    "it": r"fuori sede|fuori ufficio",
    "nl": r"afwezig",
    "sv": r"frånvaro",
    "da": r"fravær",
    "ja": r"不在",
}
_OOO_ANYWHERE = tuple(
    (lang, re.compile(rf"(?i)(?:{pattern})")) for lang, pattern in _OOO_SUBJECT_ANYWHERE.items()
)
_OOO_PREFIX = tuple(
    (lang, re.compile(rf"(?i)^(?:{pattern})\s*:")) for lang, pattern in _OOO_SUBJECT_PREFIX.items()
)
# Every language at once: what none of these finds, no language's pattern finds (most
# subjects), so the per-language loops, which say which language, run only after a hit.
_ANY_OOO_ANYWHERE = re.compile(
    "(?i)" + "|".join(f"(?:{pattern})" for pattern in _OOO_SUBJECT_ANYWHERE.values())
)
_ANY_OOO_PREFIX = re.compile(
    "(?i)^(?:" + "|".join(f"(?:{pattern})" for pattern in _OOO_SUBJECT_PREFIX.values()) + r")\s*:"
)
_AUTO_SUBJECT = re.compile(r"(?i)\[auto(?:matic|mated)?[ -]?generated\]|^auto-?generated\s*:")
_READ_RECEIPT_SUBJECT = re.compile(r"(?i)^(?:read|gelesen|lu|leído|letto)\s*:")

_BOUNCE_SUBJECT = re.compile(
    r"(?i)\b(?:undeliverable|undelivered\s+(?:mail|message)|returned\s+mail|"
    r"mail\s+delivery\s+(?:failed|failure|problem)|delivery\s+(?:status\s+notification\s+"
    r"\(failure\)|failure|failed|has\s+failed|problem|notification)|failure\s+notice|"
    r"non-?delivery|nondeliverable|could\s+not\s+be\s+delivered|message\s+not\s+delivered|"
    r"mail\s+system\s+error|bounce\s+notification|delivery\s+status\s+notification|"
    r"unzustellbar|nicht\s+zustellbar|non\s+remis|onbestelbaar|no\s+entregado|"
    r"non\s+recapitabile|mail\s+delivery\s+status|mail\s+delivery\s+warning|"
    r"delivery\s+warning|mail\s+error|user\s+unknown)"
)
_DELAY_WORDS = re.compile(
    r"(?i)\b(?:delay(?:ed)?|still\s+being\s+retried|will\s+(?:be\s+)?retr(?:y|ied)|"
    r"has\s+not\s+yet\s+been\s+delivered|this\s+is\s+a\s+warning\s+only|"
    r"(?:do\s+)?not\s+need\s+to\s+resend|warning:\s+could\s+not\s+send|verzögert|retard[ée]?|"
    r"postponed|continue\s+to\s+try|advisory[- ]only|(?:mail\s+)?delivery\s+warning|"
    r"notification:\s*warning|warning\W+could\s+not\s+send)\b"
)
_SUCCESS_WORDS = re.compile(
    r"(?i)\(success\)|\bsuccessful(?:ly)?\s+(?:mail\s+)?deliver|^delivered\s*:|^relayed\s*:|"
    r"\bdelivery\s+report\s+that\s+you\s+requested\b|\bwas\s+successfully\s+delivered\b"
)
_BOUNCE_TEXT = re.compile(
    r"(?i)\b(?:could\s*n[o']t\s+be\s+delivered|couldn't\s+be\s+delivered|delivery\s+(?:has\s+)?"
    r"failed|permanent(?:ly)?\s+(?:error|fatal|failure)|fatal\s+error|user\s+unknown|"
    r"unknown\s+user|no\s+such\s+(?:user|recipient|mailbox|address)|mailbox\s+(?:unavailable|"
    r"not\s+found|full|is\s+full|does\s+not\s+exist)|recipient\s+address\s+rejected|"
    r"address\s+rejected|undeliverable|was\s+not\s+delivered|not\s+be\s+delivered|"
    r"returned\s+to\s+sender|delivery\s+to\s+the\s+following\s+recipients?\s+failed|"
    r"rejected\s+(?:your|the)\s+(?:message|e-?mail)|was\s+rejected|message\s+rejected|"
    r"unable\s+to\s+deliver|could\s+not\s+deliver|delivery\s+failure|failed\s+permanently|"
    r"automatically\s+rejected|quota\s+exceeded|not\s+a\s+valid\s+user|invalid\s+(?:user|"
    r"recipient|address|mailbox)|did\s+not\s+reach\s+the\s+following|requested\s+action\s+not\s+"
    r"taken|cannot\s+be\s+delivered|5\.\d\.\d{1,3}\b|\b55[0-4][\s-])"
)
_REPORT_ACTION = re.compile(r"(?im)^\s*action\s*:\s*([a-z]+)")
_DAEMON_LOCAL = re.compile(
    r"(?i)^(?:mailer[-_]?daemon|postmaster|post_master|m?daemon|mail[-_]?daemon|mmdf)$"
)
_DAEMON_NAME = re.compile(
    r"(?i)\bmail\s+delivery\s+(?:subsystem|system|service)\b|\bmailer[- ]daemon\b|"
    r"\bmail\s+administrator\b|\bpostmaster\b"
)
_NOREPLY_LOCAL = re.compile(
    r"(?i)(?:^|[._+-])(?:no-?reply|do-?not-?reply|donotreply|no_reply|notifications?|notify|"
    r"alerts?|jobalerts?|newsletters?|news|mailer|bounces?)(?:[._+-]|$)|"
    r"^owner-|-(?:owner|admin|request|bounces)$|^(?:listserv|majordomo|mailman)$"
)
_BULK_LOCAL = re.compile(
    r"(?i)^(?:newsletters?|news|digest|lists?|announce(?:ments?)?|marketing|promos?|promotions?|"
    r"offers|deals|updates|rss|rssfeeds?|feeds?)$"
)
_BULK_DOMAIN_LABEL = re.compile(r"(?i)(?:^|\.)(?:newsletters?|news|lists|mailings|eblast)\.")
_SES_NOTIFICATION = re.compile(r'"notificationType"\s*:\s*"(Bounce|Complaint|Delivery)"')
_COMPLAINT_SUBJECT = re.compile(r"(?i)\b(?:complaint|abuse|spam\s+report|feedback\s+report|fbl)\b")
_ATS_DOMAINS = (
    "greenhouse.io", "greenhouse-mail.io", "lever.co", "myworkday.com", "myworkdayjobs.com",
    "smartrecruiters.com", "ashbyhq.com", "icims.com", "workablemail.com", "workable.com",
    "teamtailor.com", "teamtailor-mail.com", "jobvite.com", "taleo.net", "successfactors.com",
    "successfactors.eu", "bamboohr.com", "breezy.hr", "recruitee.com", "personio.de",
    "personio.com", "jazzhr.com", "applytojob.com", "rippling.com", "ripplingats.com",
    "brassring.com", "avature.net", "hirevue.com", "pinpointhq.com", "comeet.co",
)  # fmt: skip
_ATS_SUBDOMAIN = re.compile(r"(?i)(?:^|\.)(?:careers?|jobs|talent|recruiting|hr)\.")

_BULK_TEXT = compile_named(
    [
        ("unsubscribe", r"\bunsubscribe\b|\babmelden\b|\bse\s+d[ée]sabonner\b|\bdesuscribir"),
        (
            "view-in-browser",
            r"\bview\s+(?:it\s+|this\s+(?:e-?mail|message)\s+)?(?:in|on)\s+(?:your\s+|a\s+)?"
            r"(?:web\s+)?browser",
        ),
        (
            "you-are-receiving",
            r"\byou(?:'re|\s+are)\s+receiving\s+this\b|"
            r"\byou\s+received\s+this\s+(?:e-?mail|message)\s+because\b",
        ),
        (
            "manage-preferences",
            r"\b(?:manage|update)\s+(?:your\s+)?(?:e-?mail\s+|notification\s+|subscription\s+)?"
            r"preferences\b|\bemail\s+preferences\b",
        ),
        (
            "marketing",
            r"\bno\s+purchase\s+necessary\b|\buse\s+(?:promo\s+|discount\s+|coupon\s+)?code\b|"
            r"\b\d+%\s+off\b|\bshop\s+now\b|\blimited[- ]time\s+offer\b|"
            r"\bwhile\s+supplies\s+last\b",
        ),
        (
            "job-alert",
            r"\bjob\s+alert\b|\bnew\s+jobs?\s+(?:for\s+you|matching|match)\b|"
            r"\bjobs\s+you\s+may\s+be\s+interested\s+in\b|\brecommended\s+jobs\b|"
            r"\b\d+\+?\s+new\s+jobs\b",
        ),
    ]
)
_BULK_SUBJECT = re.compile(
    r"(?i)\b\d+\+?\s+new\s+(?:jobs?|roles|positions|postings)\b|\bjob\s+alert\b|"
    r"\bjobs\s+for\s+you\b|\b(?:weekly|daily|monthly)\s+(?:digest|newsletter|roundup)\b|\bnewsletter\b|\b\d+%\s+off\b"
)

_ASKS = compile_named(
    [
        ("could-you", r"\b(?:could|can|would|will)\s+you\b"),
        (
            "please-do",
            r"\bplease\s+(?:send|share|provide|confirm|reply|respond|advise|complete|fill|sign|"
            r"forward|call|review|let\s+(?:me|us)\s+know)\b",
        ),
        (
            "let-me-know",
            r"\blet\s+(?:me|us)\s+know\b(?!\s+if\s+you\s+have\s+(?:any\s+)?(?:further\s+|other\s+|"
            r"more\s+)?questions)",
        ),
    ]
)
_PROMISE = compile_named(
    [
        (
            "get-back-to-you",
            r"\b(?:get|getting|come|coming|write|writing)\s+back\s+to\s+(?:you|all|every|each|"
            r"everyone|candidates|applicants)\b",
        ),
        ("be-in-touch", r"\bbe\s+in\s+touch\b"),
        ("let-you-know", r"\b(?:will|'ll|shall|going\s+to)\s+(?:\w+\s+){0,2}let\s+you\s+know\b"),
        (
            "will-update",
            r"\b(?:will|'ll|shall|going\s+to|expect\s+to|hope\s+to|aim\s+to|plan\s+to|intend\s+to)"
            r"\s+(?:\w+\s+){0,2}(?:update\s+you|send\s+you\s+an?\s+update|reach\s+out|follow\s+up|"
            r"circle\s+back|have\s+(?:an?\s+|more\s+|some\s+|the\s+)?(?:update|news|answer|"
            r"decision|feedback)|make\s+(?:a|our|the)\s+(?:final\s+)?decision|decide)\b",
        ),
        ("hear-from-us", r"\bhear\s+(?:back\s+)?from\s+(?:us|me)\b"),
        (
            "decision-by",
            r"\b(?:decision|feedback|update|news|answer)s?\s+(?:by|within|in\s+the\s+next|before|"
            r"early\s+next|later\s+this|next\s+week|at\s+the\s+end)\b",
        ),
    ]
)

# Outgoing wording.
_APPLICATION = compile_named(
    [
        (
            "apply-for-role",
            r"\b(?:apply|applying|application)\s+(?:for|to)\s+(?:the|your|a|an)?\s*"
            r"(?:[\w&/,.()'-]+\s+){0,8}?(?:role|position|opening|job|vacancy|post|internship|"
            r"opportunity)\b",
        ),
        (
            "attached-resume",
            r"\b(?:please\s+)?find\s+(?:attached|enclosed)\s+my\s+(?:resume|résumé|cv|cover\s+letter|"
            r"application)|\b(?:attached|enclosed)\s+(?:is|are|please\s+find)\s+my\s+(?:resume|"
            r"résumé|cv|cover\s+letter)|\bmy\s+(?:resume|résumé|cv)\s+(?:is\s+)?attached\b|"
            r"\bi(?:'ve|\s+have)\s+attached\s+my\s+(?:resume|résumé|cv)",
        ),
        (
            "express-interest",
            r"\b(?:writing|reaching\s+out)\s+to\s+(?:express\s+my\s+interest|apply)\b|"
            r"\bi(?:'d|\s+would)\s+like\s+to\s+apply\b|\bi\s+am\s+applying\b|\bi'm\s+applying\b",
        ),
        ("bewerbung-de", r"\bbewerbe\s+mich\b|\bbewerbung\s+(?:als|um|für)\b"),
    ]
)
_CV_NAME_TOKENS = frozenset(
    {"cv", "resume", "résumé", "lebenslauf", "curriculum", "coverletter", "anschreiben",
     "bewerbung", "bewerbungsunterlagen", "motivationsschreiben"}
)  # fmt: skip
_JOBS_MAILBOXES = frozenset(
    {"careers", "career", "jobs", "job", "recruiting", "recruitment", "recruiter", "talent",
     "hr", "hiring", "apply", "applications", "bewerbung", "bewerbungen", "karriere",
     "talentacquisition", "people", "humanresources"}
)  # fmt: skip
_INFORMATIONAL = re.compile(
    r"(?i)\binformational\s+(?:interview|chat|meeting|call|conversation)s?\b"
)
_THANK_YOU_SUBJECT = re.compile(r"(?i)^(?:thank\s*you|thanks|thank-you|danke|merci)\b")
_THANK_YOU_TEXT = compile_named(
    [
        (
            "thanks-for-interview",
            r"\bthank(?:s|\s+you)(?:\s+so\s+much|\s+again|\s+very\s+much)?\s+for\s+"
            r"(?:taking\s+(?:the\s+)?time\s+to\s+|the\s+opportunity\s+to\s+|your\s+time\s+"
            r"(?:today|yesterday|this\s+(?:morning|afternoon|week))\s+(?:and\s+)?)?"
            r"(?:interview|speak|meet|chat|talk|the\s+(?:interview|conversation|call|chat|meeting)|"
            r"our\s+(?:interview|conversation|call|chat|meeting)|meeting|speaking|talking|chatting)",
        ),
    ]
)
_FOLLOW_UP_SUBJECT = re.compile(r"(?i)^(?:follow(?:ing)?[- ]?up|checking\s+in|any\s+update)")
_FOLLOW_UP_TEXT = compile_named(
    [
        (
            "following-up",
            r"\bfollow(?:ing)?[- ]up\s+on\s+(?:my|the|our)\s+(?:\w+\s+){0,2}(?:application|"
            r"candidacy|interview|email|e-mail|message|note|conversation)|\b(?:just|wanted\s+to|"
            r"i'm|i\s+am|writing\s+to)\s+follow(?:ing)?[- ]up\b",
        ),
        (
            "checking-in",
            r"\b(?:just\s+|wanted\s+to\s+|i'm\s+|i\s+am\s+)?check(?:ing)?\s+in\s+(?:on|regarding|"
            r"about|to\s+see)\b|\bany\s+updates?\s+(?:on|regarding|about)\b|\bcircle\s+back\b",
        ),
    ]
)
_NETWORKING = compile_named(
    [
        ("nice-to-meet", r"\b(?:great|nice|good|lovely|pleasure)\s+(?:to\s+)?(?:meet|meeting)\b"),
        ("coffee-chat", r"\bcoffee\s+chat\b|\b(?:grab|get)\s+(?:a\s+)?(?:virtual\s+)?coffee\b"),
        (
            "introduction",
            r"\bintroduc(?:e|ing|tion)\b|\bsuggested\s+(?:that\s+)?i\s+(?:reach\s+"
            r"out|get\s+in\s+touch|contact\s+you|connect|write)",
        ),
        (
            "enjoyed-your-work",
            r"\b(?:enjoyed|loved|appreciated)\s+your\s+(?:talk|post|article|"
            r"presentation|podcast|session|keynote|panel|blog|paper)\b",
        ),
        (
            "asks-advice",
            r"\b(?:grateful|thankful)\s+for\s+(?:any\s+)?(?:advice|insights?|perspective|"
            r"guidance|pointers)|\bvalue\s+your\s+(?:view|perspective|advice|insights?|thoughts|"
            r"opinion)\b|\blove\s+to\s+hear\s+(?:how|about|more|your)\b",
        ),
        (
            "short-call",
            r"\b(?:open\s+to|time\s+for|up\s+for)\s+a\s+(?:short|quick|brief|"
            r"15-minute|20-minute)\s+(?:call|chat|conversation)\b|\bspare\s+(?:fifteen|15|twenty|"
            r"20|ten|10|a\s+few)\s+minutes\b",
        ),
        (
            "connect",
            r"\b(?:love|like|happy|great|glad)\s+to\s+(?:connect|reconnect)\b|\bconnect\s+with\s+you\b|"
            r"\blet'?s\s+connect\b|\bpick\s+your\s+brain\b|\blearn\s+(?:more\s+)?about\s+your\s+"
            r"(?:work|experience|career|path|role|team)\b",
        ),
    ]
)


# --------------------------------------------------------------------------- outgoing


def _classify_outgoing(ev: _Evidence, rules: DetectionRules) -> Classification:
    for rule in _OUTGOING_RULES:
        result = rule(ev, rules)
        if result is not None:
            return result
    return _outgoing(
        "other.untracked",
        OutgoingKind.OTHER,
        "Sent by you, with no sign of an application, networking, thank-you or follow-up.",
    )


def _outgoing(rule: str, kind: OutgoingKind, explanation: str) -> Classification:
    return Classification(rule=rule, explanation=explanation, outgoing=kind)


def _out_mailfollow_header(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    if not ev.header("x-mailfollow-id"):
        return None
    return _outgoing(
        "follow_up.mailfollow-header",
        OutgoingKind.FOLLOW_UP,
        "Carries an X-Mailfollow-Id header, so it is a follow-up drafted by mailfollow.",
    )


def _out_ignored(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    others = [a for a in ev.recipients if not _is_mine(a, ev.identity)]
    if ev.recipients and not others:
        return _outgoing("other.to-self", OutgoingKind.OTHER, "Sent only to your own addresses.")
    ignored = rules.ignore_domains
    if others and ignored and all(_in_domains(a.domain, ignored) for a in others):
        return _outgoing(
            "other.ignore-domain",
            OutgoingKind.OTHER,
            f"Every recipient is in an ignored domain ({others[0].domain}).",
        )
    keyword = _keyword_in(rules.ignore_keywords, ev)
    if keyword:
        return _outgoing(
            "other.ignore-keyword",
            OutgoingKind.OTHER,
            f"Contains the ignored keyword {keyword!r}.",
        )
    return None


def _out_informational(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    match = _INFORMATIONAL.search(ev.subject_core) or ev.search(_INFORMATIONAL)
    if not match:
        return None
    return _outgoing(
        "informational.wording",
        OutgoingKind.INFORMATIONAL,
        f"Mentions an {match.group(0)!r}.",
    )


def _out_thank_you(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    if not ev.subject_reply_prefix and _THANK_YOU_SUBJECT.search(ev.subject_core):
        return _outgoing(
            "thank_you.subject",
            OutgoingKind.THANK_YOU,
            f"The subject {ev.subject_core[:60]!r} is a thank-you note.",
        )
    hit = ev.find(_THANK_YOU_TEXT)
    if hit:
        return _outgoing(
            f"thank_you.{hit.name}",
            OutgoingKind.THANK_YOU,
            f"Thanks the recipient for a conversation: {_quote(hit.words)}.",
        )
    return None


def _out_follow_up(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    if _FOLLOW_UP_SUBJECT.search(ev.subject_core):
        return _outgoing(
            "follow_up.subject",
            OutgoingKind.FOLLOW_UP,
            f"The subject {ev.subject_core[:60]!r} is a follow-up.",
        )
    hit = ev.find(_FOLLOW_UP_TEXT)
    if hit:
        return _outgoing(
            f"follow_up.{hit.name}",
            OutgoingKind.FOLLOW_UP,
            f"Follows up on earlier mail: {_quote(hit.words)}.",
        )
    return None


def _out_application(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    cv = next((name for name in ev.message.attachment_names if _is_cv_name(name)), None)
    if cv:
        return _outgoing(
            "application.cv-attachment",
            OutgoingKind.APPLICATION,
            f"Has a CV/resume attached ({cv!r}).",
        )
    hit = ev.find_headed(_APPLICATION)
    if hit:
        return _outgoing(
            f"application.{hit.name}",
            OutgoingKind.APPLICATION,
            f"Reads like a job application: {_quote(hit.words)}.",
        )
    jobs = next((a for a in ev.recipients if _is_jobs_mailbox(a)), None)
    if jobs:
        return _outgoing(
            "application.jobs-mailbox",
            OutgoingKind.APPLICATION,
            f"Sent to a hiring mailbox ({jobs.email}).",
        )
    return None


def _out_networking(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    # Polite requests are conditional ("if you could spare fifteen minutes"): keep them.
    hit = ev.find_headed(_NETWORKING, skip_conditional=False)
    if not hit:
        return None
    return _outgoing(
        f"networking.{hit.name}",
        OutgoingKind.NETWORKING,
        f"Reads like a networking note: {_quote(hit.words)}.",
    )


def _out_tracked(ev: _Evidence, rules: DetectionRules) -> Classification | None:
    tracked = next((a for a in ev.recipients if _in_domains(a.domain, rules.track_domains)), None)
    if tracked:
        return _outgoing(
            "application.track-domain",
            OutgoingKind.APPLICATION,
            f"Sent to {tracked.domain}, a domain you asked to track.",
        )
    keyword = _keyword_in(rules.track_keywords, ev)
    if keyword:
        return _outgoing(
            "application.track-keyword",
            OutgoingKind.APPLICATION,
            f"Contains the tracked keyword {keyword!r}.",
        )
    return None


_OutgoingRule = Callable[[_Evidence, DetectionRules], Classification | None]
_OUTGOING_RULES: tuple[_OutgoingRule, ...] = (
    _out_mailfollow_header,
    _out_ignored,
    _out_informational,
    _out_thank_you,
    _out_follow_up,
    _out_application,
    _out_networking,
    _out_tracked,
)


_COVER_LETTER = re.compile(r"cover[\s_-]?letter")
_NAME_TOKEN_BREAK = re.compile(r"[^0-9a-zàâäéèêëïîôöùûüçß]+")
_JOBS_LOCAL = re.compile(r"(?:jobs?|careers?)[._-]\w+")


def _is_cv_name(name: str) -> bool:
    lowered = name.lower()
    if _COVER_LETTER.search(lowered):
        return True
    tokens = _NAME_TOKEN_BREAK.split(lowered)
    return any(token in _CV_NAME_TOKENS for token in tokens)


def _is_jobs_mailbox(address: Address) -> bool:
    local = address.local_part.lower().split("+", 1)[0]
    return local in _JOBS_MAILBOXES or bool(_JOBS_LOCAL.fullmatch(local))


def _in_domains(domain: str, domains: Collection[str]) -> bool:
    domain = domain.lower()
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains if d)


def _keyword_in(keywords: Collection[str], ev: _Evidence) -> str:
    if not keywords:
        return ""  # the usual case: no text to lower-case
    haystack = f"{ev.subject}\n{ev.fresh}".lower()
    return next((k for k in keywords if k and k.lower() in haystack), "")


# --------------------------------------------------------------------------- incoming


def _classify_incoming(ev: _Evidence) -> Classification:
    for rule in _INCOMING_RULES:
        result = rule(ev)
        if result is not None:
            return result
    return _human(ev, "human.reply", "No automatic, bulk or hiring-template signal was found")


def _incoming(
    rule: str,
    kind: IncomingKind,
    explanation: str,
    *,
    return_date: datetime | None = None,
    interview_at: datetime | None = None,
    promised_by: datetime | None = None,
    promise_text: str = "",
    asks_question: bool = False,
) -> Classification:
    return Classification(
        rule=rule,
        explanation=explanation,
        incoming=kind,
        return_date=return_date,
        interview_at=interview_at,
        promised_by=promised_by,
        promise_text=promise_text,
        asks_question=asks_question,
    )


# ---- 1. delivery reports


def _report_type(ev: _Evidence) -> str:
    match = re.search(r"(?i)report-type\s*=\s*\"?([\w-]+)", ev.header("content-type"))
    if match:
        return match.group(1).lower()
    types = ev.message.part_types
    if "message/delivery-status" in types:
        return "delivery-status"
    if "message/disposition-notification" in types:
        return "disposition-notification"
    if "message/feedback-report" in types:
        return "feedback-report"
    return ""


def _dsn_outcome(ev: _Evidence) -> str:
    """failed | delayed | delivered, from Action fields, else the subject, else the text.

    Anything unclear is a failure: calling a bounce a delay would let
    mailfollow nudge an address that does not exist.
    """
    actions = {action.lower() for action in _REPORT_ACTION.findall(ev.text)}
    if "failed" in actions:
        return "failed"
    if "delayed" in actions:
        return "delayed"
    if actions & {"delivered", "relayed", "expanded", "deliverable"}:
        return "delivered"
    for text in (ev.subject, ev.text):
        if _DELAY_WORDS.search(text):
            return "delayed"
        if _BOUNCE_SUBJECT.search(text) or _BOUNCE_TEXT.search(text):
            return "failed"
        if _SUCCESS_WORDS.search(text):
            return "delivered"
    return "failed"


def _notice_for(ev: _Evidence, outcome: str, rule: str, evidence: str) -> Classification:
    if outcome == "delayed":
        return _incoming(
            "dsn.delayed",
            IncomingKind.OTHER_AUTOMATIC,
            f"{evidence} says delivery is only delayed and still being retried, not failed.",
        )
    if outcome == "delivered":
        return _incoming(
            "dsn.success",
            IncomingKind.OTHER_AUTOMATIC,
            f"{evidence} confirms a successful delivery.",
        )
    return _incoming(rule, IncomingKind.BOUNCE, f"{evidence} says delivery failed.")


def _rule_delivery_report(ev: _Evidence) -> Classification | None:
    report = _report_type(ev)
    if report == "delivery-status":
        return _notice_for(
            ev, _dsn_outcome(ev), "bounce.dsn-report", "A delivery-status report (RFC 3464)"
        )
    if report == "disposition-notification":
        if _DAEMON_NAME.search(ev.sender_name) or ev.search(_BOUNCE_TEXT):
            return _incoming(
                "bounce.mdn-rejected",
                IncomingKind.BOUNCE,
                "A disposition report from the mail system saying the message was rejected.",
            )
        return _incoming(
            "report.mdn",
            IncomingKind.OTHER_AUTOMATIC,
            "A read receipt (disposition-notification report), not a reply.",
        )
    if report == "feedback-report":
        return _incoming(
            "report.arf",
            IncomingKind.OTHER_AUTOMATIC,
            "An abuse feedback report (ARF), not a reply.",
        )
    ses = _SES_NOTIFICATION.search(ev.text)
    if ses and _machine_sender(ev):  # a person pasting a notification's JSON sent no notice
        outcome = {"Bounce": "failed", "Delivery": "delivered"}.get(ses.group(1))
        if outcome:
            return _notice_for(ev, outcome, "bounce.ses-notification", "An Amazon SES notification")
        return _incoming(
            "report.ses-complaint",
            IncomingKind.OTHER_AUTOMATIC,
            "An Amazon SES complaint notification, not a reply.",
        )
    if (
        "message/rfc822" in ev.message.part_types
        and not ev.fresh
        and _COMPLAINT_SUBJECT.search(ev.subject)
    ):
        return _incoming(
            "report.complaint",
            IncomingKind.OTHER_AUTOMATIC,
            f"A complaint report ({ev.subject[:60]!r}) enclosing a message and no text.",
        )
    return None


def _rule_failed_recipients(ev: _Evidence) -> Classification | None:
    failed = ev.header("x-failed-recipients")
    if not failed:
        return None
    return _incoming(
        "bounce.x-failed-recipients",
        IncomingKind.BOUNCE,
        f"The X-Failed-Recipients header names {failed[:80]!r}: delivery failed.",
    )


def _rule_mail_daemon(ev: _Evidence) -> Classification | None:
    if not _from_mail_system(ev):
        return None
    who = ev.sender or ev.sender_name
    return _notice_for(
        ev, _dsn_outcome(ev), "bounce.mailer-daemon", f"A notice from the mail system ({who})"
    )


def _from_mail_system(ev: _Evidence) -> bool:
    """MAILER-DAEMON, postmaster, "Mail Delivery Subsystem"..., by address or name."""
    return bool(_DAEMON_LOCAL.match(ev.sender_local) or _DAEMON_NAME.search(ev.sender_name))


def _rule_bounce_subject(ev: _Evidence) -> Classification | None:
    match = _BOUNCE_SUBJECT.search(ev.subject_core)
    if not match:
        return None
    if ev.subject_reply_prefix and not ev.search(_BOUNCE_TEXT):
        return None  # someone replying about a bounce is not a bounce
    return _notice_for(
        ev, _dsn_outcome(ev), "bounce.subject", f"The subject {_quote(match.group(0))}"
    )


def _rule_bounce_text(ev: _Evidence) -> Classification | None:
    machine = _machine_sender(ev)
    if not machine:
        return None
    match = ev.search(_BOUNCE_TEXT) or _BOUNCE_TEXT.search(ev.subject)
    if not match:
        return None
    return _notice_for(
        ev,
        _dsn_outcome(ev),
        "bounce.text",
        f"Machine-sent mail ({machine}) that says {_quote(match.group(0))}",
    )


def _machine_sender(ev: _Evidence) -> str:
    """Envelope or header evidence that no person sent this, or ""."""
    if ev.header("return-path").replace(" ", "") == "<>":
        return "null envelope sender"
    if _NOREPLY_LOCAL.search(ev.sender_local):
        return f"sent from {ev.sender}"
    if ev.header_token("auto-submitted") not in {"", "no"}:
        return f"Auto-Submitted: {ev.header('auto-submitted')}"
    return ""  # list headers are not enough: people discuss bounces on mailing lists


_NOBODY = Identity(name="", addresses=frozenset())
# The rule of a message that left the mailbox before its text was fetched.
TEXT_UNAVAILABLE = "text.unavailable"
# Report types whose rule can call a message a bounce (see _rule_delivery_report).
_BOUNCE_REPORTS = frozenset({"delivery-status", "disposition-notification"})


def classify_without_text(*, from_me: bool) -> Classification:
    """What a message whose text can no longer be read counts as (it left the
    mailbox before its text was fetched): nothing that starts a conversation,
    and an answer when someone else sent it, so that no follow-up goes out
    on a guess."""
    if from_me:
        return Classification(
            rule=TEXT_UNAVAILABLE,
            explanation="Left the mailbox before its text was read; not taken as the start "
            "of a conversation.",
            outgoing=OutgoingKind.OTHER,
        )
    return Classification(
        rule=TEXT_UNAVAILABLE,
        explanation="Left the mailbox before its text was read; counted as an answer, so "
        "that no follow-up goes out on a guess.",
        incoming=IncomingKind.HUMAN_REPLY,
    )


def bounce_possible(message: Message) -> bool:
    """Whether some text could make :func:`classify_message` call ``message`` a bounce.

    Reads only what a message whose text is not fetched yet
    (``Message.text_deferred``) has: headers, sender, subject and MIME types,
    never the snippet. True when a bounce rule needs nothing the headers
    lack: a delivery-status or disposition-notification report
    (bounce.dsn-report, bounce.mdn-rejected), an X-Failed-Recipients header
    (bounce.x-failed-recipients), a mail-system sender (bounce.mailer-daemon),
    a bounce subject (bounce.subject), or machine-sent mail (bounce.text,
    bounce.ses-notification). An abuse feedback report is never a bounce. The
    user's own messages are not bounces either, but who the user is is not
    asked here: True for one of theirs only costs a fetch.

    A deferred message's parts are not known either (a large sync does not
    fetch its structure): when it is multipart of a kind that could enclose
    a delivery report, it could be one.
    """
    ev = _evidence(message, _NOBODY, (), read_text=False)
    report = _report_type(ev)
    if report in _BOUNCE_REPORTS:
        return True
    if report == "feedback-report":
        return False  # report.arf, whatever the text says
    if message.text_deferred and _may_enclose_a_report(message.content_type):
        return True
    return bool(
        ev.header("x-failed-recipients")
        or _from_mail_system(ev)
        or _machine_sender(ev)
        or _BOUNCE_SUBJECT.search(ev.subject_core)  # the dearest test last
    )


_ONE_DOCUMENT = frozenset({"multipart/alternative", "multipart/related"})


def _may_enclose_a_report(content_type: str) -> bool:
    """Multipart that could hold a message/delivery-status part: anything but
    the alternative versions or related parts of one document."""
    return content_type.startswith("multipart/") and content_type not in _ONE_DOCUMENT


# ---- 2. what a person decided


def _rejection_hit(ev: _Evidence) -> PhraseHit | None:
    if not ev.search(_JOB_WORDS):
        return None  # rejections always name the application, role or candidacy
    hit = ev.find(_REJECTION)
    if hit:
        return hit
    if ev.asks_question or _INVITATION_SUBJECT.search(ev.subject_core):
        return None  # "unfortunately I can't make Tuesday, could we..." is not a rejection
    if ev.ooo_header or ev.ooo_subject:
        return None  # "unfortunately I cannot answer about the position until I am back"
    if ev.sentence_may_match(_UNFORTUNATELY):
        for sentence in ev.sentences:
            match = _UNFORTUNATELY.search(sentence)
            if match and _JOB_WORDS.search(sentence):
                return PhraseHit("unfortunately-not", match.group(0), sentence)
    farewell = ev.search(_FAREWELL)
    if farewell and ev.search(_UNFORTUNATELY_ALONE) and ev.search(_JOB_WORDS):
        return PhraseHit("unfortunately-farewell", farewell.group(0), farewell.group(0))
    return None


def _rule_rejection(ev: _Evidence) -> Classification | None:
    hit = _rejection_hit(ev)
    if not hit:
        return None
    return _incoming(
        f"rejection.{hit.name}",
        IncomingKind.REJECTION,
        f"Says the application will not go further: {_quote(hit.sentence)}.",
    )


def _rule_offer(ev: _Evidence) -> Classification | None:
    hit = ev.find(_OFFER)
    if hit:
        return _incoming(
            f"offer.{hit.name}",
            IncomingKind.OFFER,
            f"Makes a job offer: {_quote(hit.sentence)}.",
            asks_question=ev.asks_question,
        )
    if not ev.subject_reply_prefix and _OFFER_SUBJECT.search(ev.subject_core):
        return _incoming(
            "offer.subject",
            IncomingKind.OFFER,
            f"The subject {ev.subject_core[:80]!r} announces an offer.",
            asks_question=ev.asks_question,
        )
    return None


def _rule_invitation(ev: _Evidence) -> Classification | None:
    if "text/calendar" in ev.message.part_types:
        return _invitation(ev, "invitation.calendar-part", "Carries a calendar invitation")
    if _INVITATION_SUBJECT.search(ev.subject_core) and not ev.subject_reply_prefix:
        return _invitation(
            ev, "invitation.subject", f"The subject {ev.subject_core[:80]!r} is an invitation"
        )
    if ev.ooo_header:
        return None  # "book a time with my colleague while I am away" is still an autoresponder
    link = search_prefiltered(_SCHEDULING_LINK, ev.text)
    if link:
        return _invitation(
            ev, "invitation.scheduling-link", f"Links to a scheduling page ({link.group(0)})"
        )
    hit = ev.find(_INVITATION)
    if hit:
        return _invitation(ev, f"invitation.{hit.name}", f"Asks to meet: {_quote(hit.sentence)}")
    return None


def _rule_invitation_weak(ev: _Evidence) -> Classification | None:
    hit = ev.find(_INVITATION_WEAK)
    if not hit:
        return None
    return _invitation(ev, f"invitation.{hit.name}", f"Proposes a call: {_quote(hit.sentence)}")


def _invitation(ev: _Evidence, rule: str, evidence: str) -> Classification:
    when = _interview_time(ev)
    stated = f"; the interview is on {when:%Y-%m-%d %H:%M}" if when else ""
    return _incoming(
        rule,
        IncomingKind.INVITATION,
        f"{evidence}{stated}.",
        interview_at=when,
        asks_question=ev.asks_question,
    )


def _interview_time(ev: _Evidence) -> datetime | None:
    """The first explicit date in a sentence about the meeting, with a clock time near it.

    A date elsewhere ("complete the test by 7 July") is a deadline, not the
    interview, so it is left out.
    """
    split = ev.sentences
    for index, sentence in enumerate(split):
        if not search_prefiltered(_MEETING_LINE, sentence) or search_prefiltered(
            _DEADLINE_LINE, sentence
        ):
            continue
        found = find_explicit_date(sentence, ev.message.date)  # find_date, when explicit
        if found is None:
            continue
        after = sentence[sentence.find(found.words) + len(found.words) :]
        following = split[index + 1] if index + 1 < len(split) else ""
        clock = find_time(after) or find_time(following if "time" in following.lower() else "")
        moment = at_start_of_day(found.day, ev.message.date)
        return moment.replace(hour=clock.hour, minute=clock.minute) if clock else moment
    return None


# ---- 3. out of office


def _ooo_header(ev: _Evidence) -> tuple[str, str] | None:
    """(rule suffix, evidence) for headers that only automatic responders set."""
    auto = ev.header_token("auto-submitted")
    if auto == "auto-replied":
        return "auto-submitted", f"Auto-Submitted: {ev.header('auto-submitted')}"
    for name in ("x-autoreply", "x-autorespond"):
        value = ev.header(name).lower()
        if value and value not in {"no", "false", "0"}:
            return "x-autoreply", f"{name.title()}: {ev.header(name)}"
    for name in ("precedence", "x-precedence"):
        if ev.header_token(name) in {"auto_reply", "auto-reply"}:
            return "precedence-auto-reply", f"{name.title()}: {ev.header(name)}"
    if ev.header_token("x-apple-action") == "vacation":
        return "apple-vacation", "X-Apple-Action: VACATION"
    if ev.header_token("x-autogenerated") == "reply":
        return "x-autogenerated-reply", "X-Autogenerated: Reply"
    if "mailbox rules agent" in ev.header("x-ms-exchange-generated-message-source").lower():
        return "exchange-mailbox-rules", "generated by the Exchange Mailbox Rules Agent"
    if ev.header("x-ms-exchange-inbox-rules-loop") and "all" in {
        token.strip().lower() for token in ev.header("x-auto-response-suppress").split(",")
    }:
        return "exchange-rules", "X-Auto-Response-Suppress: All with X-MS-Exchange-Inbox-Rules-Loop"
    if "autoresponder" in ev.header("delivered-to").lower():
        return "delivered-to-autoresponder", "Delivered-To: Autoresponder"
    return None


def _ooo_subject(ev: _Evidence) -> tuple[str, str] | None:
    """(language, phrase) of an automatic-reply subject, ignoring human replies to one."""
    if search_prefiltered(_ANY_OOO_ANYWHERE, ev.subject):
        for lang, pattern in _OOO_ANYWHERE:
            match = pattern.search(ev.subject)
            if match:
                return lang, match.group(0)
    if _ANY_OOO_PREFIX.search(ev.subject_core):
        for lang, pattern in _OOO_PREFIX:
            match = pattern.search(ev.subject_core)
            if match:
                return lang, match.group(0)
    return None


def _rule_out_of_office(ev: _Evidence) -> Classification | None:
    header = ev.ooo_header
    subject = ev.ooo_subject
    if header:
        rule, evidence = f"ooo.{header[0]}", header[1]
    elif subject and not (ev.subject_reply_prefix and _quotes_earlier_mail(ev)):
        rule, evidence = f"ooo.subject-{subject[0]}", f"the subject says {_quote(subject[1])}"
    else:
        return None
    if header and not subject and not ev.search(_OOO_TEXT):
        if re.search(r"(?i)\bunsubscribe\b", f"{ev.subject}\n{ev.fresh}"):
            return _incoming(
                "auto.unsubscribe-request",
                IncomingKind.OTHER_AUTOMATIC,
                f"An automatic unsubscribe request ({evidence}), not a reply.",
            )
        ack = ev.find(_ACK)
        if ack:  # an ATS or helpdesk auto-reply confirming receipt
            return _incoming(
                f"ack.{ack.name}",
                IncomingKind.AUTO_ACK,
                f"An automatic reply ({evidence}) confirming receipt: {_quote(ack.sentence)}.",
            )
    back = _return_date(ev)
    stated = f"; back on {back:%Y-%m-%d}" if back else ""
    return _incoming(
        rule,
        IncomingKind.OUT_OF_OFFICE,
        f"An automatic reply: {evidence}{stated}.",
        return_date=back,
    )


def _quotes_earlier_mail(ev: _Evidence) -> bool:
    return len(ev.fresh) < len(without_urls(ev.text).strip()) - 20


def _return_date(ev: _Evidence) -> datetime | None:
    for sentence in [ev.subject_core, *ev.sentences]:
        if not _RETURN_CUE.search(sentence):
            continue
        found = find_date(sentence, ev.message.date)
        if found and found.day >= ev.message.date.date():
            return at_start_of_day(found.day, ev.message.date)
    return None


# ---- 4. acknowledgements


def _automation_evidence(ev: _Evidence) -> str:
    """Why this looks machine-sent (for acks), or "" when nothing says so.

    An applicant-tracking domain is not on this list: ATSs relay recruiters'
    own words too (Workable, Lever and Greenhouse send personal mail).
    """
    if _NOREPLY_LOCAL.search(ev.sender_local):
        return f"sent from a no-reply address ({ev.sender})"
    if ev.header_token("auto-submitted") not in {"", "no"}:
        return f"marked Auto-Submitted: {ev.header('auto-submitted')}"
    match = ev.search(_SELF_DECLARED)
    if match:
        return f"it says {_quote(match.group(0))}"
    return ""


_ORG_NAME_WORDS = re.compile(
    r"(?i)\b(?:team|recruiting|recruitment|careers?|talent|hiring|jobs?|hr|human\s+resources|"
    r"people|notifications?|no-?reply|inc|ltd|gmbh|llc|corp|company|group|office|admin)\b"
)


def _sender_name(ev: _Evidence) -> str:
    return (ev.message.sender.name if ev.message.sender else "") or ev.sender


def _signed_by_sender(ev: _Evidence) -> bool:
    """The sender is a named person and the text ends with their first name.

    Templates sign as a team ("The Acme Recruiting Team"); a recruiter writing
    in person signs with their own name.
    """
    name = ev.message.sender.name.strip() if ev.message.sender else ""
    name = re.split(r"(?i)\s+via\s+", name, maxsplit=1)[0]  # "Jane Smith via Workable"
    words = name.replace(",", " ").split()
    if len(words) < 2 or _ORG_NAME_WORDS.search(name):
        return False
    first = words[-1] if "," in name else words[0]  # "Patel, Ana" -> "Ana"
    tail = ev.fresh[-200:]
    return bool(re.search(rf"(?m)^\W*{re.escape(first)}\b", tail))


def _is_ats_sender(ev: _Evidence) -> bool:
    domains = [ev.sender_domain, *(a.domain for a in ev.message.reply_to)]
    return any(_in_domains(d, _ATS_DOMAINS) for d in domains) or bool(
        _ATS_SUBDOMAIN.search(ev.sender_domain)
    )


def _rule_ack(ev: _Evidence) -> Classification | None:
    hit = ev.find(_ACK)
    subject = None if ev.subject_reply_prefix else _ACK_SUBJECT.search(ev.subject_core)
    if not hit and not subject:
        return None
    automated = _automation_evidence(ev)
    relayed = _is_ats_sender(ev)
    replying = bool(ev.message.in_reply_to) or ev.subject_reply_prefix
    if not (automated or relayed) and (replying or ev.asks_question):
        return None  # a recruiter answering in person, or asking something
    if not automated and _signed_by_sender(ev):
        return _human(
            ev,
            "human.personal-acknowledgement",
            f"Confirms the application in person, signed by {_sender_name(ev)}",
        )
    if relayed and not automated:
        automated = f"sent through an applicant-tracking system ({ev.sender_domain})"
    words = hit.sentence if hit else ev.subject_core
    because = f", {automated}" if automated else ""
    return _incoming(
        f"ack.{hit.name if hit else 'subject'}",
        IncomingKind.AUTO_ACK,
        f"Confirms the application was received{because}: {_quote(words)}.",
        promise_text=ev.promise[1],
    )


# ---- 5. other machine mail


def _rule_auto_submitted(ev: _Evidence) -> Classification | None:
    value = ev.header_token("auto-submitted")
    if value in {"", "no"}:
        return None
    return _other_automatic(
        ev, "auto.auto-submitted", f"Auto-Submitted: {ev.header('auto-submitted')}"
    )


def _rule_machine_headers(ev: _Evidence) -> Classification | None:
    if ev.header_token("x-fc-machinegenerated") == "true":
        return _other_automatic(ev, "auto.machine-generated", "X-FC-MachineGenerated: true")
    source = ev.header("x-ms-exchange-generated-message-source")
    if source:
        return _other_automatic(ev, "auto.exchange-generated", f"generated by Exchange ({source})")
    if _AUTO_SUBJECT.search(ev.subject):
        return _other_automatic(ev, "auto.subject", f"the subject {ev.subject[:60]!r}")
    if _READ_RECEIPT_SUBJECT.search(ev.subject_core) and re.search(
        r"(?i)\bwas\s+read\b|\bhas\s+been\s+displayed\b|\bgelesen\b", ev.fresh
    ):
        return _incoming(
            "report.read-receipt",
            IncomingKind.OTHER_AUTOMATIC,
            "A read receipt, not a reply.",
        )
    return None


def _rule_null_sender(ev: _Evidence) -> Classification | None:
    if ev.header("return-path").replace(" ", "") != "<>":
        return None
    return _other_automatic(ev, "auto.null-sender", "a null envelope sender (Return-Path: <>)")


def _rule_self_declared(ev: _Evidence) -> Classification | None:
    hit = ev.find(_SELF_DECLARED_TABLE)
    if not hit or ev.asks_question:
        return None
    return _other_automatic(ev, "auto.self-declared", f"it says {_quote(hit.words)}")


def _other_automatic(ev: _Evidence, rule: str, evidence: str) -> Classification:
    if ev.search(_OOO_TEXT):
        back = _return_date(ev)
        return _incoming(
            "ooo.body-with-" + rule.split(".", 1)[1],
            IncomingKind.OUT_OF_OFFICE,
            f"Machine-sent ({evidence}) and says the person is away.",
            return_date=back,
        )
    return _incoming(rule, IncomingKind.OTHER_AUTOMATIC, f"Machine-sent: {evidence}.")


# ---- 6. bulk


def _bulk_header(ev: _Evidence) -> str:
    for name in ("list-id", "list-unsubscribe", "list-post", "mailing-list", "x-mailing-list"):
        if ev.header(name):
            return f"{name.title()} header"
    for name in ("precedence", "x-precedence"):
        if ev.header_token(name) in {"bulk", "list", "junk"}:
            return f"{name.title()}: {ev.header(name)}"
    if ev.header("feedback-id"):
        return "Feedback-ID header (bulk sender)"
    if _BULK_LOCAL.match(ev.sender_local) or _BULK_DOMAIN_LABEL.search(ev.sender_domain):
        return f"a newsletter-style sender ({ev.sender})"
    return ""


def _is_personal_reply(ev: _Evidence) -> bool:
    message = ev.message
    if ev.own_message_ids:
        own = ev.own_message_ids
        return any(i in own for i in (*message.in_reply_to, *message.references))
    return bool(message.in_reply_to) and any(_is_mine(a, ev.identity) for a in ev.recipients)


def _rule_bulk(ev: _Evidence) -> Classification | None:
    header = _bulk_header(ev)
    replying = bool(ev.message.in_reply_to) or ev.subject_reply_prefix
    # Footers and subjects only count on mail that answers nothing: newsletters never reply.
    body = None
    if not header and not replying:
        body = ev.find(_BULK_TEXT, skip_conditional=False)
    subject = None
    if not (header or body or replying):
        subject = _BULK_SUBJECT.search(ev.subject_core)
    if not (header or body or subject):
        return None
    if _is_personal_reply(ev):
        evidence = header or "a bulk-mail footer"
        return _human(
            ev,
            "human.reply-despite-list-headers",
            f"A reply to your message; the {evidence} alone does not make it bulk mail",
        )
    if header:
        evidence = header
    elif body:
        evidence = f"it says {_quote(body.words)}"
    else:
        evidence = f"the subject {ev.subject_core[:60]!r}"
    name = "header" if header else (body.name if body else "subject")
    return _incoming(f"bulk.{name}", IncomingKind.BULK, f"Bulk or list mail: {evidence}.")


# ---- 7. no-reply senders


def _rule_noreply_sender(ev: _Evidence) -> Classification | None:
    if not _NOREPLY_LOCAL.search(ev.sender_local) or ev.message.in_reply_to:
        return None
    if ev.asks_question:
        return None
    return _other_automatic(ev, "auto.noreply-sender", f"sent from {ev.sender}, a no-reply address")


# ---- 8. human replies


def _human(ev: _Evidence, rule: str, reason: str) -> Classification:
    asks = ev.asks_question
    promised_by, promise_text = ev.promise
    details = []
    if asks:
        details.append("it asks you something")
    if promise_text:
        due = f" by {promised_by:%Y-%m-%d}" if promised_by else ""
        details.append(f"it promises news{due}")
    suffix = f"; {' and '.join(details)}" if details else ""
    return _incoming(
        rule,
        IncomingKind.HUMAN_REPLY,
        f"{reason}{suffix}.",
        asks_question=asks,
        promised_by=promised_by,
        promise_text=promise_text,
    )


_IncomingRule = Callable[[_Evidence], Classification | None]
_INCOMING_RULES: tuple[_IncomingRule, ...] = (
    _rule_delivery_report,
    _rule_failed_recipients,
    _rule_mail_daemon,
    _rule_bounce_subject,
    _rule_bounce_text,
    _rule_rejection,
    _rule_offer,
    _rule_invitation,
    _rule_out_of_office,
    _rule_ack,
    _rule_auto_submitted,
    _rule_machine_headers,
    _rule_null_sender,
    _rule_bulk,
    _rule_self_declared,
    _rule_invitation_weak,
    _rule_noreply_sender,
)


def _quote(words: str, limit: int = 100) -> str:
    words = re.sub(r"\s+", " ", words).strip()
    return f'"{words[:limit]}…"' if len(words) > limit else f'"{words}"'
