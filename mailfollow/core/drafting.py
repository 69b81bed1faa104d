"""Turn a conversation that went silent into a follow-up draft.

Three steps, each usable on its own:

1. :func:`plan_reply` decides *where* the follow-up goes: the recipient (never
   a no-reply address), the message it answers, its subject and References.
   When no safe recipient exists it returns a :class:`DraftRefusal` instead.
2. :func:`build_variables` works out what the template may say: the first
   name, company, role, dates in words...
3. :func:`make_draft` puts a rendered body and the plan into a
   :class:`~mailfollow.model.Draft`; :func:`render_draft` does all three with
   a :class:`TemplateRenderer` (``mailfollow.templating`` provides one).

:func:`draft_to_mime` turns a draft into the bytes handed to SMTP and IMAP.
Everything here is pure: the Message-ID token and ``now`` come from the
caller.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email import policy
from email.header import Header
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailfollow.errors import MailfollowError
from mailfollow.model import (
    Address,
    ClassifiedMessage,
    Conversation,
    Draft,
    Identity,
    IncomingKind,
    Message,
    Stage,
)

MAILFOLLOW_ID_HEADER = "X-Mailfollow-Id"

MAX_REFERENCES = 20  # the thread root plus the most recent ids
NEUTRAL_GREETING = "Hello"


class HeaderInjectionError(MailfollowError, ValueError):
    """A header value would break out of its line (CR, LF, NUL...)."""


@dataclass(frozen=True)
class DraftRefusal:
    """Why no draft was made for a conversation (a named rule and a sentence)."""

    conversation_id: str
    rule: str  # e.g. "recipient.no-reply"
    reason: str


@dataclass(frozen=True)
class ReplyPlan:
    """Where a follow-up goes and what it answers."""

    recipient: Address
    replied_to: Message
    subject: str
    in_reply_to: str  # "" when the answered message has no real Message-ID
    references: tuple[str, ...]


@dataclass(frozen=True)
class RenderedText:
    """A rendered template body with the name of the template that produced it."""

    text: str
    template: str  # e.g. "application_2.txt (built-in)"
    warnings: tuple[str, ...] = ()  # broken user templates met on the way


class TemplateRenderer(Protocol):
    """Renders the follow-up template for a stage and nudge number."""

    def render(
        self, stage: Stage, nudge_number: int, variables: Mapping[str, object]
    ) -> RenderedText: ...


@dataclass(frozen=True)
class RenderedDraft:
    """A draft together with how it was written."""

    draft: Draft
    template: str
    variables: Mapping[str, object]
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# Subjects


# Reply prefixes in the languages mail clients commonly use: English and
# Latin "Re", German "AW", Scandinavian "SV"/"VS", Dutch "Antw", Polish "Odp",
# Italian "R"/"RIF", Portuguese "RES"; with optional counters ("Re[2]:").
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|aw|sv|vs|antw|odp|rif|res|r)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*",
    re.IGNORECASE,
)
_FALLBACK_SUBJECT = "Following up"


def flatten_header_text(value: str) -> str:
    """Collapse control characters, line breaks and runs of spaces into single spaces."""
    cleaned = "".join(" " if _is_control_or_break(ch) else ch for ch in value)
    return " ".join(cleaned.split())


def strip_reply_prefixes(subject: str) -> str:
    """The subject without any leading "Re:", "RE: AW:", "Re[2]:"... prefixes."""
    text = flatten_header_text(subject)
    while True:
        shorter = _REPLY_PREFIX.sub("", text, count=1)
        if shorter == text:
            return text.strip()
        text = shorter


def reply_subject(subject: str) -> str:
    """ "Re: " plus the original subject, never doubled and always on one line."""
    return "Re: " + (strip_reply_prefixes(subject) or _FALLBACK_SUBJECT)


# ---------------------------------------------------------------------------
# Recipients


_NO_REPLY_FRAGMENTS = ("noreply", "donotreply", "dontreply")
_NO_REPLY_LOCAL_PARTS = frozenset(
    {
        "mailerdaemon",
        "postmaster",
        "notifications",
        "notification",
        "notify",
        "bounce",
        "bounces",
        "autoreply",
        "autoresponder",
        "autoresponse",
    }
)


def is_no_reply_address(address: Address | str) -> bool:
    """Whether mail to this address would go nowhere (no-reply, bounces, daemons).

    Separators and "+tags" are ignored, so no-reply, no_reply, noreply+abc and
    Do-Not-Reply all count.
    """
    email = address.email if isinstance(address, Address) else address
    local = email.rpartition("@")[0].lower().split("+", 1)[0]
    squashed = re.sub(r"[.\-_]", "", local)
    if any(fragment in squashed for fragment in _NO_REPLY_FRAGMENTS):
        return True
    return squashed in _NO_REPLY_LOCAL_PARTS or squashed.startswith("bounce")


_ADDR_SPEC = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+$")


def _is_usable_address(address: Address, identity: Identity) -> bool:
    return (
        bool(_ADDR_SPEC.match(address.email))
        and not identity.is_me(address)
        and not is_no_reply_address(address)
    )


def _is_from_counterpart(item: ClassifiedMessage) -> bool:
    return not item.from_me and item.classification.incoming is not None


def _is_human(item: ClassifiedMessage) -> bool:
    kind = item.classification.incoming
    return kind is not None and kind.is_human


def _recipient_candidates(conversation: Conversation) -> Iterable[Address]:
    """Addresses to try, best first: Reply-To and From of their last human
    message, the counterpart, then whoever the user wrote to."""
    human = [m.message for m in conversation.messages if _is_from_counterpart(m) and _is_human(m)]
    if human:
        last = human[-1]
        yield from last.reply_to
        if last.sender is not None:
            yield last.sender
    yield conversation.counterpart
    for item in reversed(conversation.messages):
        if item.from_me:
            yield from item.message.to


def choose_recipient(conversation: Conversation, *, identity: Identity) -> Address | DraftRefusal:
    """Who the follow-up goes to, or a refusal when only no-reply addresses are known."""
    for candidate in _recipient_candidates(conversation):
        if _is_usable_address(candidate, identity):
            return Address(candidate.email, flatten_header_text(candidate.name))
    if is_no_reply_address(conversation.counterpart):
        reason = (
            f"the only address known for this conversation is {conversation.counterpart.email},"
            " which does not accept replies; write to a person there instead"
        )
        return DraftRefusal(conversation.id, "recipient.no-reply", reason)
    return DraftRefusal(
        conversation.id,
        "recipient.none",
        "no usable recipient address was found in this conversation",
    )


def choose_sender(conversation: Conversation, *, identity: Identity, default: Address) -> Address:
    """The address the user last wrote from in this conversation (aliases stay
    consistent), named as in the configuration; ``default`` otherwise."""
    for item in reversed(conversation.messages):
        sender = item.message.sender
        if item.from_me and sender is not None and identity.is_me(sender):
            return Address(sender.email, identity.name or sender.name or default.name)
    return default


# ---------------------------------------------------------------------------
# Threading


_MESSAGE_ID = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


def _is_usable_message_id(value: str) -> bool:
    return bool(_MESSAGE_ID.match(value)) and "<" not in value and ">" not in value


def _reply_target(conversation: Conversation) -> Message | None:
    """The message the follow-up answers: the latest one written by the user or
    by a person on the other side (an auto-acknowledgement is never the target)."""
    for item in reversed(conversation.messages):
        if item.from_me or _is_human(item):
            return item.message
    return conversation.messages[-1].message if conversation.messages else None


def build_references(replied_to: Message, *, limit: int = MAX_REFERENCES) -> tuple[str, ...]:
    """References for a reply: the parent's chain plus the parent, deduplicated,
    keeping the thread root and the most recent ids when the chain is long."""
    chain = list(replied_to.references or replied_to.in_reply_to)
    if not replied_to.id_is_synthetic:
        chain.append(replied_to.message_id)
    unique = list(dict.fromkeys(i for i in chain if _is_usable_message_id(i)))
    if len(unique) > limit:
        unique = unique[:1] + unique[len(unique) - (limit - 1) :]
    return tuple(unique)


def plan_reply(conversation: Conversation, *, identity: Identity) -> ReplyPlan | DraftRefusal:
    """Where the follow-up goes, what it answers, and its subject."""
    target = _reply_target(conversation)
    if target is None:
        return DraftRefusal(
            conversation.id, "conversation.empty", "the conversation has no messages"
        )
    recipient = choose_recipient(conversation, identity=identity)
    if isinstance(recipient, DraftRefusal):
        return recipient
    usable_id = not target.id_is_synthetic and _is_usable_message_id(target.message_id)
    return ReplyPlan(
        recipient=recipient,
        replied_to=target,
        subject=reply_subject(target.subject or conversation.subject),
        in_reply_to=target.message_id if usable_id else "",
        references=build_references(target),
    )


# ---------------------------------------------------------------------------
# Template variables


_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"})
_NAME_SUFFIXES = frozenset({"phd", "md", "mba", "jr", "sr", "ii", "iii", "cpa", "esq", "pe"})
_NOT_A_PERSON = frozenset(
    {
        "team",
        "teams",
        "recruiting",
        "recruitment",
        "recruiter",
        "careers",
        "career",
        "jobs",
        "job",
        "hr",
        "talent",
        "acquisition",
        "hiring",
        "people",
        "notifications",
        "notification",
        "noreply",
        "no-reply",
        "support",
        "info",
        "admin",
        "mail",
        "office",
        "inc",
        "ltd",
        "llc",
        "gmbh",
        "corp",
        "company",
        "service",
        "services",
        "department",
        "group",
        "staff",
        "hello",
        "contact",
        "applications",
        "apply",
        "workday",
        "greenhouse",
        "lever",
        "linkedin",
    }
)
_NAME_CUT = re.compile(r"\s+(?:via|from|at|\||-|\u2013|\u2014)\s+.*$", re.IGNORECASE)


def first_name_from(address: Address, *, company: str = "") -> str:
    """The first name in a display name, or "" when there is no person's name.

    "Jane Smith" -> "Jane"; "Smith, Jane" -> "Jane"; "Dr. Jane Smith" -> "Jane";
    "Careers at Acme", "jobs", "jane@acme.example" and a bare address -> "".
    The address's local part is never used: "jobs@" is not a name.
    """
    name = flatten_header_text(address.name).strip(" \"'")
    if not name or "@" in name:
        return ""
    name = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", name)
    name = _NAME_CUT.sub("", name).strip()
    if "," in name:
        before, _, after = name.partition(",")
        after_words = after.replace(".", " ").split()
        name = before if after_words and after_words[0].lower() in _NAME_SUFFIXES else after
    words = [w for w in name.split() if w.lower().rstrip(".") not in _TITLES]
    lowered = {w.lower().strip(".,'\"") for w in words}
    if not words or lowered & _NOT_A_PERSON:
        return ""
    if company and {w.lower() for w in words} & {company.lower(), *company.lower().split()}:
        return ""
    first = words[0].strip(".,'\"")
    if len(words) == 1 and first.islower() and first == address.local_part:
        return ""  # a username copied into the display name
    if not _looks_like_a_name(first):
        return ""
    return _fix_case(first)


def _looks_like_a_name(word: str) -> bool:
    letters = word.replace("-", "").replace("'", "").replace("\u2019", "")
    return len(letters) >= 2 and letters.isalpha()


def _fix_case(word: str) -> str:
    if word.isupper() or word.islower():
        return "-".join(part.capitalize() for part in word.split("-"))
    return word


def greeting_for(first_name: str) -> str:
    """ "Hi Jane" for a person, a neutral "Hello" otherwise."""
    return f"Hi {first_name}" if first_name else NEUTRAL_GREETING


_TWO_LEVEL_SUFFIXES = frozenset(
    {"co", "com", "ac", "org", "net", "gov", "edu", "ne", "or", "gv", "ltd", "plc"}
)
_NO_COMPANY_DOMAINS = frozenset(
    {
        # personal mail providers: the domain says nothing about an employer
        "gmail",
        "googlemail",
        "outlook",
        "hotmail",
        "live",
        "msn",
        "yahoo",
        "ymail",
        "icloud",
        "me",
        "mac",
        "aol",
        "proton",
        "protonmail",
        "pm",
        "gmx",
        "web",
        "mail",
        "yandex",
        "fastmail",
        "zoho",
        "hey",
        "posteo",
        "tutanota",
        # applicant tracking systems relay mail for many employers
        "greenhouse",
        "greenhouse-mail",
        "lever",
        "workday",
        "myworkday",
        "myworkdayjobs",
        "smartrecruiters",
        "icims",
        "jobvite",
        "ashbyhq",
        "workable",
        "workablemail",
        "bamboohr",
        "recruitee",
        "teamtailor",
        "teamtailor-mail",
        "personio",
        "taleo",
        "successfactors",
        "linkedin",
        "indeed",
    }
)


def company_from_domain(domain: str) -> str:
    """A readable organisation name from a mail domain: "mail.acme-corp.co.uk" ->
    "Acme Corp"; "" for personal providers and applicant tracking systems."""
    labels = [label for label in domain.lower().strip(".").split(".") if label]
    if len(labels) < 2:
        return ""
    index = -3 if len(labels) >= 3 and labels[-2] in _TWO_LEVEL_SUFFIXES else -2
    label = labels[index]
    if label in _NO_COMPANY_DOMAINS or not any(ch.isalpha() for ch in label):
        return ""
    return " ".join(part.capitalize() for part in re.split(r"[-_]+", label) if part)


def company_for(conversation: Conversation, recipient: Address) -> str:
    """The conversation's company, made readable; from the recipient's domain
    when the conversation does not name one."""
    given = flatten_header_text(conversation.company)
    if given and "." in given and " " not in given:
        return company_from_domain(given.rpartition("@")[2])
    if given and given == given.lower() and " " not in given:
        # An organisation slug taken from a domain ("willow-networks"): make it readable.
        return " ".join(part.capitalize() for part in re.split(r"[-_]+", given) if part)
    return (
        given
        or company_from_domain(recipient.domain)
        or company_from_domain(conversation.counterpart.domain)
    )


_ROLE_MAX_WORDS = 8
_ROLE_MAX_CHARS = 60
_SEPARATORS = re.compile(r"\s+(?:-|\u2013|\u2014|\||/|::)\s+")
_ROLE_PREFIX = re.compile(
    r"^(?:my\s+|job\s+)?(?:application|applying|applied|candidacy|candidature)"
    r"(?:\s+(?:for|as)\s+|\s*[:\-\u2013\u2014]\s*)(?:the\s+|a\s+|an\s+)?(?:(?:position|role|post)\s+of\s+)?"
    r"(?P<role>.+)$",
    re.IGNORECASE,
)
_ROLE_SUFFIX = re.compile(
    r"^(?P<role>.+?)\s+(?:position|role|opening|vacancy|post|job|application|interview)\b",
    re.IGNORECASE,
)
_ROLE_LEADING_NOISE = re.compile(
    r"^.*\b(?:the|for|in|as|on|about|re|my|your|regarding)\s+", re.IGNORECASE
)
_ROLE_TRAILING_NOISE = re.compile(
    r"(?:\s+(?:at|with|in)\s+\S.*"
    r"|\s*[(\[].*"
    r"|\s*(?:#|\b(?:ref|req|job\s*id)\b|\bid\s*:).*"
    r"|\s+(?:position|role|opening|vacancy|post))$",
    re.IGNORECASE,
)
_TEXT_ROLE = re.compile(
    r"\b(?:appl(?:y|ying|ied)|application|interest(?:ed)?)\s+(?:for|in|to)\s+(?:the\s+|a\s+|an\s+)?"
    r"(?P<role>[^.,;!?\n]+?)\s+(?:position|role|opening|vacancy|post)\b",
    re.IGNORECASE,
)


def extract_role(subject: str, text: str = "") -> str:
    """The job title named in a subject or in the user's own text, or "".

    "Application for Senior Backend Engineer" -> "Senior Backend Engineer";
    "Re: Data Analyst position (Ref 123)" -> "Data Analyst";
    "I am writing to apply for the UX Designer role at Acme" -> "UX Designer".
    """
    role = _role_from_subject(strip_reply_prefixes(subject))
    if not role and text:
        found = _TEXT_ROLE.search(flatten_header_text(text[:2000]))
        role = _clean_role(found.group("role")) if found else ""
    return role


def _role_from_subject(subject: str) -> str:
    prefixed = _ROLE_PREFIX.match(subject)
    if prefixed:  # "Application for X - Alex Doe": the role is the first part after the prefix
        return _clean_role(_SEPARATORS.split(prefixed.group("role"))[0])
    for segment in _SEPARATORS.split(subject):
        suffixed = _ROLE_SUFFIX.match(segment.strip())
        if suffixed:
            return _clean_role(_ROLE_LEADING_NOISE.sub("", suffixed.group("role")))
    return ""


# Words that describe an interview or an application, not a job.
_NOT_A_ROLE = frozenset(
    {
        "the",
        "a",
        "an",
        "my",
        "your",
        "our",
        "this",
        "that",
        "job",
        "phone",
        "video",
        "virtual",
        "online",
        "onsite",
        "on-site",
        "final",
        "first",
        "second",
        "third",
        "next",
        "technical",
        "follow-up",
        "new",
        "recent",
        "quick",
        "short",
        "position",
        "role",
        "application",
        "interview",
    }
)


def _clean_role(candidate: str) -> str:
    role = candidate.strip()
    previous = None
    while role != previous:
        previous = role
        role = _ROLE_TRAILING_NOISE.sub("", role).strip(" .,:;!-\u2013\u2014\"'")
        role = re.sub(r"^(?:the|a|an)\s+", "", role, flags=re.IGNORECASE)
    words = role.split()
    if (
        not words
        or len(words) > _ROLE_MAX_WORDS
        or len(role) > _ROLE_MAX_CHARS
        or not any(ch.isalpha() for ch in role)
        or all(word.lower() in _NOT_A_ROLE for word in words)
    ):
        return ""
    return " ".join(words)


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)


def format_day(day: date, *, today: date) -> str:
    """ "March 6", with the year only when it is not the current one."""
    text = f"{_MONTHS[day.month - 1]} {day.day}"
    return text if day.year == today.year else f"{text}, {day.year}"


def describe_elapsed(day: date, *, today: date) -> str:
    """How long ago ``day`` was, in words: "yesterday", "last week", "two weeks ago"."""
    days = (today - day).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return "a few days ago"
    if days < 14:
        return "last week"
    if days < 28:
        return f"{_NUMBER_WORDS[days // 7]} weeks ago"
    if days < 60:
        return "about a month ago"
    if days < 365:
        return f"{_NUMBER_WORDS[min(days // 30, 12)]} months ago"
    return "over a year ago"


def describe_meeting_day(day: date, *, today: date) -> str:
    """When an interview was, to follow "speak with me": "today", "yesterday",
    "on Tuesday" within the last week, otherwise "on March 10"."""
    days = (today - day).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if 1 < days < 7:
        return f"on {_WEEKDAYS[day.weekday()]}"
    return f"on {format_day(day, today=today)}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _first_from_me(conversation: Conversation) -> Message | None:
    for item in conversation.messages:
        if item.from_me:
            return item.message
    return conversation.messages[0].message if conversation.messages else None


def _interview_time(conversation: Conversation) -> datetime | None:
    for item in reversed(conversation.messages):
        when = item.classification.interview_at
        if when is not None and item.classification.incoming is IncomingKind.INVITATION:
            return when
    return None


def _role_for(conversation: Conversation) -> str:
    role = extract_role(conversation.subject)
    for item in conversation.messages:
        if role:
            break
        if item.from_me:
            role = extract_role(item.message.subject, item.message.snippet)
    return role


def build_variables(
    conversation: Conversation,
    *,
    recipient: Address,
    my_name: str,
    signature: str,
    now: datetime,
    timezone: str = "UTC",
    nudge_number: int = 1,
) -> dict[str, object]:
    """Everything a follow-up template may use, as plain strings (and one int).

    ``sent_date``/``elapsed`` describe the user's first tracked message, in
    the user's time zone; ``interview_date``/``interview_when`` the interview
    an invitation named ("" when unknown).
    """
    zone = _zone(timezone)
    today = now.astimezone(zone).date()
    company = company_for(conversation, recipient)
    first_name = first_name_from(recipient, company=company)
    sent = _first_from_me(conversation)
    sent_day = sent.date.astimezone(zone).date() if sent is not None else today
    interview = _interview_time(conversation)
    interview_day = interview.astimezone(zone).date() if interview is not None else None
    return {
        "first_name": first_name,
        "greeting": greeting_for(first_name),
        "company": company,
        "role": _role_for(conversation),
        "subject": strip_reply_prefixes(conversation.subject),
        "stage": conversation.stage.value,
        "sent_date": format_day(sent_day, today=today),
        "elapsed": describe_elapsed(sent_day, today=today),
        "interview_date": format_day(interview_day, today=today) if interview_day else "",
        "interview_when": describe_meeting_day(interview_day, today=today) if interview_day else "",
        "my_name": my_name,
        "signature": signature.strip("\n"),
        "nudge_number": nudge_number,
    }


# ---------------------------------------------------------------------------
# Drafts


_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DOMAIN = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def make_message_id(token: str, *, domain: str) -> str:
    """A Message-ID (without angle brackets) from a caller-supplied random token."""
    if not _TOKEN.match(token) or not _DOMAIN.match(domain):
        raise ValueError(f"unusable Message-ID parts: token={token!r}, domain={domain!r}")
    return f"mailfollow.{token}@{domain.lower()}"


def mailfollow_id_for(conversation_id: str, nudge_number: int) -> str:
    """A stable X-Mailfollow-Id for the Nth follow-up of a conversation.

    Deterministic, so finding it in the Sent folder proves that nudge went out.
    """
    digest = hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:20]
    return f"mf1-{digest}-{nudge_number}"


def make_draft(
    conversation: Conversation,
    body: str,
    *,
    sender: Address,
    identity: Identity,
    now: datetime,
    message_id: str,
    mailfollow_id: str,
    nudge_number: int | None = None,
) -> Draft | DraftRefusal:
    """A draft answering the conversation with ``body``, or why there can be none."""
    plan = plan_reply(conversation, identity=identity)
    if isinstance(plan, DraftRefusal):
        return plan
    return _draft_from_plan(
        conversation,
        plan,
        body,
        sender=sender,
        now=now,
        message_id=message_id,
        mailfollow_id=mailfollow_id,
        nudge_number=nudge_number if nudge_number is not None else conversation.nudges_sent + 1,
    )


def _draft_from_plan(
    conversation: Conversation,
    plan: ReplyPlan,
    body: str,
    *,
    sender: Address,
    now: datetime,
    message_id: str,
    mailfollow_id: str,
    nudge_number: int,
) -> Draft:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return Draft(
        conversation_id=conversation.id,
        mailfollow_id=mailfollow_id,
        message_id=message_id,
        sender=Address(sender.email, flatten_header_text(sender.name)),
        to=plan.recipient,
        subject=plan.subject,
        in_reply_to=plan.in_reply_to,
        references=plan.references,
        body=body,
        created_at=now,
        nudge_number=nudge_number,
    )


def render_draft(
    conversation: Conversation,
    *,
    renderer: TemplateRenderer,
    sender: Address,
    identity: Identity,
    signature: str,
    now: datetime,
    message_id: str,
    mailfollow_id: str,
    timezone: str = "UTC",
    nudge_number: int | None = None,
) -> RenderedDraft | DraftRefusal:
    """Plan, fill in and render the follow-up for a conversation.

    ``nudge_number`` defaults to one more than the follow-ups already sent.
    """
    plan = plan_reply(conversation, identity=identity)
    if isinstance(plan, DraftRefusal):
        return plan
    number = nudge_number if nudge_number is not None else conversation.nudges_sent + 1
    variables = build_variables(
        conversation,
        recipient=plan.recipient,
        my_name=identity.name or sender.name,
        signature=signature,
        now=now,
        timezone=timezone,
        nudge_number=number,
    )
    rendered = renderer.render(conversation.stage, number, variables)
    draft = _draft_from_plan(
        conversation,
        plan,
        rendered.text,
        sender=sender,
        now=now,
        message_id=message_id,
        mailfollow_id=mailfollow_id,
        nudge_number=number,
    )
    return RenderedDraft(draft, rendered.template, variables, rendered.warnings)


# ---------------------------------------------------------------------------
# MIME


def quote_message(message: Message, *, timezone: str = "UTC") -> str:
    """An attribution line and the message's text, each line prefixed "> "."""
    text = message.snippet.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text:
        return ""
    local = message.date.astimezone(_zone(timezone))
    day = f"{_MONTHS[local.month - 1]} {local.day}, {local.year}"
    who = str(message.sender) if message.sender is not None else "you"
    quoted = "\n".join(f"> {line}".rstrip() for line in text.split("\n"))
    return f"On {day}, {flatten_header_text(who)} wrote:\n{quoted}\n"


def _is_control_or_break(ch: str) -> bool:
    return ch in "\r\n\x00\x85\u2028\u2029" or unicodedata.category(ch) == "Cc"


def _check_header(name: str, value: str) -> str:
    """Refuse values that would end the header line early (or smuggle a NUL)."""
    if any(_is_control_or_break(ch) for ch in value.replace("\t", " ")):
        raise HeaderInjectionError(
            f"the {name} header contains a line break or control character; refusing to build"
            " the message"
        )
    return value


def _check_message_id(name: str, value: str) -> str:
    _check_header(name, value)
    if not _is_usable_message_id(value):
        raise HeaderInjectionError(f"the {name} header value {value!r} is not a usable Message-ID")
    return value


def _header_address(name: str, address: Address) -> HeaderAddress:
    _check_header(name, address.name)
    _check_header(name, address.email)
    if not _ADDR_SPEC.match(address.email) or not address.email.isascii():
        raise ValueError(f"the {name} address {address.email!r} cannot be used in a message")
    return HeaderAddress(display_name=address.name, addr_spec=address.email)


def _body_encoding(body: str) -> str:
    plain = body.isascii() and all(len(line) <= 998 for line in body.split("\n"))
    return "7bit" if plain else "quoted-printable"


def _set_subject(msg: EmailMessage, subject: str) -> None:
    if subject.isascii():
        msg["Subject"] = subject
        return
    # Encoded here rather than by the policy: CPython's folder can drop the
    # space between two RFC 2047 encoded words (e.g. "a b" comes back "ab").
    # "Re:" stays readable for tools that look at the raw header.
    prefix, space, rest = subject.partition(" ")
    if prefix.isascii() and space and rest:
        header = Header(prefix, "us-ascii", header_name="Subject")
        header.append(rest, "utf-8")
    else:
        header = Header(subject, "utf-8", header_name="Subject")
    msg.set_raw("Subject", header.encode(linesep="\r\n"))


def draft_to_mime(draft: Draft, *, quote: str | None = None) -> bytes:
    """The draft as a plain-text UTF-8 email with CRLF line endings.

    Raises HeaderInjectionError when any header value contains CR, LF, NUL or
    another control character, before anything is built.
    """
    if draft.created_at.tzinfo is None:
        raise ValueError("the draft's created_at must be timezone-aware")
    sender = _header_address("From", draft.sender)
    recipient = _header_address("To", draft.to)
    subject = _check_header("Subject", draft.subject)
    message_id = _check_message_id("Message-ID", draft.message_id)
    mailfollow_id = _check_header(MAILFOLLOW_ID_HEADER, draft.mailfollow_id)
    in_reply_to = _check_message_id("In-Reply-To", draft.in_reply_to) if draft.in_reply_to else ""
    references = [_check_message_id("References", ref) for ref in draft.references]

    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = recipient
    _set_subject(msg, subject)
    msg["Date"] = format_datetime(draft.created_at)
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{ref}>" for ref in references)
    msg[MAILFOLLOW_ID_HEADER] = mailfollow_id
    body = draft.body.replace("\r\n", "\n").replace("\r", "\n")
    if quote:
        body = body.rstrip("\n") + "\n\n" + quote.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    msg.set_content(body, subtype="plain", charset="utf-8", cte=_body_encoding(body))
    return msg.as_bytes()
