"""Deterministic generator of labelled job-search mailboxes.

A generated mailbox holds *conversations* (an application, a networking email,
an interview... each with whatever came back) and untracked *noise*
(newsletters, job alerts, receipts, personal mail, an unsent draft). Every
conversation comes with a :class:`ConversationLabel`: what mailfollow should
conclude about it at ``as_of`` under the default :class:`~mailfollow.model.PolicySettings`.
Every noise message comes with a :class:`NoiseLabel`.

Determinism: the output depends only on the arguments. Each conversation and
each noise item draws from its own ``random.Random`` seeded with a string made
of the seed and its index, so the mailbox can be streamed, message by message,
without holding it in memory, and re-planned for the labels at no risk of drift.

Labels are conservative: every scenario places its dates well away from the
thresholds (a "due" application has been silent for 14 or more calendar days,
a "waiting" one for at most 3), so the expected state does not hinge on how
business days, time zones or grace periods are counted. ``due_at`` is left
``None`` for the same reason; ``notes`` says why each state is expected.

Entry points: :func:`generate_mailbox` (messages + labels), :func:`plan_mailbox`
(messages, conversation labels and noise labels), :func:`write_mbox` /
:func:`read_mbox`, :func:`write_labels` / :func:`read_labels`, and the command
line ``python -m mailfollow.demo.generator``, which writes the bundled demo.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import quopri
import random
import re
import sys
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from mailfollow.demo import DEMO_AS_OF, DEMO_CONVERSATIONS, DEMO_LABELS, DEMO_MBOX, DEMO_SEED
from mailfollow.model import Address, IncomingKind, PolicySettings, Stage, State

INBOX = "INBOX"
SENT = "Sent"
DRAFTS = "Drafts"
ARCHIVE = "Archive"
SEEN = "\\Seen"
ANSWERED = "\\Answered"
DRAFT = "\\Draft"

DEFAULT_USER = Address("alex.doe@example.org", "Alex Doe")
DEFAULT_ALIASES = ("alex@doe.example",)
LABELS_FORMAT = 1

_CRLF = "\r\n"
_POLICY = PolicySettings()
_USER_TZ = timezone(timedelta(hours=1))  # the user lives in central Europe (winter time)


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class GeneratedMessage:
    """One message as it should sit in an IMAP folder."""

    folder: str  # "INBOX", "Sent", "Drafts" or "Archive"
    raw: bytes  # a complete RFC 5322 message with CRLF line endings
    flags: tuple[str, ...]  # IMAP system flags, e.g. ("\\Seen",)
    internal_date: datetime  # aware, UTC


@dataclass(frozen=True)
class ConversationLabel:
    """What mailfollow should conclude about one generated conversation at ``as_of``."""

    key: str  # Message-ID (no brackets) of the user's first tracked message
    stage: str  # a model.Stage value
    expected_state: str  # a model.State value
    counterpart: str  # the address the user wrote to
    company: str  # organisation name
    message_ids: tuple[str, ...]  # every message of the conversation, in date order
    incoming: dict[str, str]  # Message-ID -> model.IncomingKind value, incoming mail only
    due_at: str | None  # ISO timestamp when simply computable; None otherwise
    notes: str  # why this state is expected
    scenario: str = ""  # the generator's scenario name
    company_domain: str = ""
    nudges_sent: int = 0  # follow-ups the user already sent by hand
    tags: tuple[str, ...] = ()  # variants: "alias", "ats:lever", "lang:de", "folder:archive"...


@dataclass(frozen=True)
class NoiseLabel:
    """An untracked message: it must not start or join any conversation."""

    message_id: str
    kind: str  # newsletter, job_alert, receipt, personal, personal_sent, draft
    folder: str
    expected_incoming: str | None  # model.IncomingKind value; None for the user's own mail
    notes: str


@dataclass(frozen=True)
class MailboxPlan:
    """A generated mailbox: labels up front, messages on demand (re-generated each time)."""

    seed: int
    as_of: datetime
    user: Address
    aliases: tuple[str, ...]
    conversation_count: int
    noise_count: int
    labels: tuple[ConversationLabel, ...]
    noise: tuple[NoiseLabel, ...]
    _ctx: _Context = field(repr=False, compare=False)

    def messages(self, *, order: str = "stream") -> Iterator[GeneratedMessage]:
        """Every message; ``order="date"`` sorts by internal date (holds them all in memory)."""
        stream = _stream_messages(self._ctx, self.conversation_count, self.noise_count)
        if order == "date":
            return iter(sorted(stream, key=lambda m: m.internal_date))
        if order != "stream":
            raise ValueError(f"order must be 'stream' or 'date', not {order!r}")
        return stream

    def scenario_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(label.scenario for label in self.labels).items()))


# --------------------------------------------------------------------------- entry points


def plan_mailbox(
    *,
    seed: int,
    conversations: int,
    as_of: datetime,
    user: Address = DEFAULT_USER,
    aliases: tuple[str, ...] = DEFAULT_ALIASES,
    noise: int | None = None,
) -> MailboxPlan:
    """Plan a mailbox of ``conversations`` labelled conversations and ``noise`` noise messages.

    ``noise`` defaults to a third of ``conversations`` (at least 4 when there are any).
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if conversations < 0 or (noise is not None and noise < 0):
        raise ValueError("conversations and noise must not be negative")
    noise_count = default_noise(conversations) if noise is None else noise
    ctx = _Context.create(seed=seed, as_of=as_of, user=user, aliases=aliases)
    scenarios = _scenario_sequence(seed, conversations)
    labels = tuple(
        _Conversation.build(ctx, i, name, occurrence).label()
        for i, (name, occurrence) in enumerate(_with_occurrences(scenarios))
    )
    noise_labels = tuple(label for item in _noise_items(ctx, noise_count) for label in item.labels)
    return MailboxPlan(
        seed=seed,
        as_of=as_of,
        user=user,
        aliases=tuple(aliases),
        conversation_count=conversations,
        noise_count=noise_count,
        labels=labels,
        noise=noise_labels,
        _ctx=ctx,
    )


def generate_mailbox(
    *,
    seed: int,
    conversations: int,
    as_of: datetime,
    user: Address = DEFAULT_USER,
    aliases: tuple[str, ...] = DEFAULT_ALIASES,
    noise: int | None = None,
) -> tuple[Iterator[GeneratedMessage], list[ConversationLabel]]:
    """A lazy iterator over the messages and the list of conversation labels.

    The iterator builds each message when asked, so 100,000 messages never sit
    in memory together. Use :func:`plan_mailbox` for the noise labels too.
    """
    plan = plan_mailbox(
        seed=seed, conversations=conversations, as_of=as_of, user=user, aliases=aliases, noise=noise
    )
    return plan.messages(), list(plan.labels)


def default_noise(conversations: int) -> int:
    return max(4, conversations // 3) if conversations else 0


# --------------------------------------------------------------------------- scenarios


def _rng(key: str) -> random.Random:
    """A private random stream; a str seed is hashed with SHA-512, so it is stable across runs."""
    return random.Random(key)  # noqa: S311 (test data, not secrets)


def _with_occurrences(scenarios: Sequence[str]) -> Iterator[tuple[str, int]]:
    seen: Counter[str] = Counter()
    for name in scenarios:
        yield name, seen[name]
        seen[name] += 1


def _scenario_sequence(seed: int, conversations: int) -> list[str]:
    """Every scenario once (shuffled) when there is room, then weighted draws."""
    rng = _rng(f"{seed}/scenarios")
    names = list(SCENARIO_WEIGHTS)
    rng.shuffle(names)
    if conversations <= len(names):
        return names[:conversations]
    extra = rng.choices(
        names, weights=[SCENARIO_WEIGHTS[n] for n in names], k=conversations - len(names)
    )
    return names + extra


# --------------------------------------------------------------------------- wording pools

_FIRST_NAMES = (
    "Dana", "Priya", "Marcus", "Lena", "Tomás", "Aisha", "Jonas", "Mei", "Kofi", "Sofia",
    "Rafael", "Ingrid", "Yusuf", "Chloé", "Ben", "Hana", "Oliver", "Zoë", "Mateo", "Nadia",
    "Søren", "Amara", "Lukas", "Elif", "Daniel", "Keiko", "Samuel", "Léa", "Arjun", "Maja",
    "Łukasz", "Grace", "Emre", "Fiona", "Ravi", "Clara", "Nikolai", "Ana", "Theo", "Ruth",
)  # fmt: skip
_LAST_NAMES = (
    "Whitfield", "Raman", "Okafor", "Becker", "García", "Novak", "Lindqvist", "Chen", "Mensah",
    "Rossi", "Müller", "Dubois", "Haddad", "Kowalski", "Tanaka", "O'Neill", "Silva", "Ivanova",
    "Jensen", "Patel", "Schmidt", "Moreau", "Yilmaz", "Nakamura", "Brennan", "Costa", "Fischer",
    "Lambert", "Andersen", "Mwangi", "Park", "Ortega", "Weber", "Kaur", "Laurent", "Hughes",
)  # fmt: skip
_COMPANY_PREFIXES = (
    "Acme", "Northwind", "Blue Harbor", "Brightline", "Cedar", "Copperleaf", "Driftwood",
    "Evergreen", "Foxglove", "Granite", "Harborview", "Ironbark", "Juniper", "Keystone",
    "Lakeshore", "Lumen", "Maplewood", "Meridian", "Nimbus", "Oakridge", "Orchard", "Pinecrest",
    "Quarry", "Redwood", "Riverstone", "Saltmarsh", "Silverline", "Stonebridge", "Summit",
    "Tidewater", "Trailhead", "Umberfield", "Vantage", "Westfield", "Willow", "Yellowpine",
    "Zephyr", "Aurora", "Beacon", "Clearwater", "Daybreak", "Emberly", "Fairlight", "Greystone",
    "Highmoor", "Indigo", "Kestrel", "Larkspur",
)  # fmt: skip
_COMPANY_SUFFIXES = (
    "Labs", "Analytics", "Health", "Robotics", "Logistics", "Software", "Energy", "Bank",
    "Media", "Systems", "Foods", "Games", "Bio", "Insurance", "Mobility", "Security",
    "Learning", "Travel", "Retail", "Cloud", "Payments", "Maps", "Studio", "Networks",
)  # fmt: skip
_REGIONS = ("Europe", "Nordic", "Iberia", "Americas", "Asia Pacific", "UK", "Benelux", "DACH")
_CITIES: tuple[tuple[str, timedelta], ...] = (
    ("Berlin", timedelta(hours=1)), ("London", timedelta(0)), ("Amsterdam", timedelta(hours=1)),
    ("Paris", timedelta(hours=1)), ("Zurich", timedelta(hours=1)), ("Dublin", timedelta(0)),
    ("New York", timedelta(hours=-4)), ("Toronto", timedelta(hours=-4)),
    ("Austin", timedelta(hours=-5)), ("San Francisco", timedelta(hours=-7)),
    ("Bengaluru", timedelta(hours=5, minutes=30)), ("Singapore", timedelta(hours=8)),
    ("Sydney", timedelta(hours=11)), ("Stockholm", timedelta(hours=1)),
    ("Lisbon", timedelta(0)), ("Munich", timedelta(hours=1)), ("Lyon", timedelta(hours=1)),
)  # fmt: skip
_ROLES = (
    "Backend Engineer", "Senior Data Engineer", "Product Designer", "Site Reliability Engineer",
    "Machine Learning Engineer", "Frontend Developer", "Platform Engineer", "Engineering Manager",
    "Data Analyst", "QA Automation Engineer", "DevOps Engineer", "Technical Writer",
    "Security Engineer", "iOS Developer", "Solutions Architect", "Product Manager",
)  # fmt: skip
_TEAMS = (
    "platform",
    "data",
    "payments",
    "growth",
    "infrastructure",
    "mobile",
    "search",
    "design systems",
)
_FOCUS = (
    "reliable data pipelines", "developer tooling", "observability", "accessible design",
    "payments infrastructure", "search relevance", "mobile performance", "internal platforms",
    "security reviews", "API design",
)  # fmt: skip
_RECRUITER_TITLES = (
    "Talent Acquisition Partner", "Technical Recruiter", "People Partner",
    "Recruiting Coordinator", "Head of Talent", "Senior Recruiter",
)  # fmt: skip
_ROLE_INBOXES = ("careers", "jobs", "talent", "recruiting", "hiring")

_APPLICATION_SUBJECTS = (
    "Application: {role}",
    "Application for {role} ({ref})",
    "{role} application - {name}",
    "Applying for the {role} role at {company}",
)
_MOTIVATIONS = (
    "I have followed {company}'s work for some time, and this role matches what I want to do next.",
    "The focus on {focus} in the job description is exactly the kind of work I enjoy most.",
    "A former colleague spoke highly of the team, and the role fits my experience closely.",
    "The role combines {focus} with close work alongside product teams, which is where I do "
    "my best work.",
)
_EXPERIENCE = (
    "Over the last six years I have built and run production services in Python and Go, most "
    "recently leading a small team through a migration to Kubernetes.",
    "In my current role I own the data platform used by forty analysts, and last year I cut our "
    "nightly batch time by more than half.",
    "I have spent five years designing and shipping features end to end, from research "
    "interviews to measured releases.",
    "Most recently I led the rebuild of a customer-facing API that now serves several million "
    "requests a day.",
)
_APPLICATION_CLOSINGS = (
    "My CV is attached. I would be glad to talk about how I could contribute.",
    "Please find my CV attached. Thank you for considering my application.",
    "I have attached my CV and would welcome the chance to discuss the role.",
)
_NETWORKING_SUBJECTS = (
    "{mutual} suggested I get in touch",
    "Question about the {team} team at {company}",
    "Your talk at {event}",
    "Hello from a fellow member of {community}",
)
_NETWORKING_OPENERS = (
    "{mutual} mentioned that you lead the {team} team at {company} and suggested I reach out.",
    "I enjoyed your talk at {event} on {focus}; it has stayed with me since.",
    "We are both members of {community}, and I noticed you have worked on {focus} at {company}.",
)
_NETWORKING_ASKS = (
    "I am looking for my next role in {team} engineering and would value your view on how "
    "teams like yours hire. Would you be open to a short call in the coming weeks?",
    "If you could spare fifteen minutes at some point, I would love to hear how your team "
    "approaches {focus}.",
    "I would be grateful for any advice on where someone with my background could be most "
    "useful at {company}.",
)
_EVENTS = (
    "DataOps Summit",
    "the Lisbon Python conference",
    "the Berlin Go meetup",
    "DevDays North",
)
_COMMUNITIES = (
    "the Women in Data forum",
    "the local Python user group",
    "the platform engineering guild",
    "the Rust study circle",
)

_PLAIN_REPLIES = (
    "Thanks for sending this over. I have passed your CV to {manager}, who is hiring for the "
    "{role} role.",
    "Thank you for your application, {first}. It is now with the {team} team for review.",
    "Got it, thanks! I've shared your profile with the hiring manager for {role}.",
    "Thanks for thinking of us. I've added your CV to the {role} pipeline and let the team "
    "know it's there.",
)
_NETWORKING_REPLIES = (
    "Great to hear from you, and thanks for the kind words. I've forwarded your note to "
    "{manager} on our {team} team, who is the best person to talk to about open roles. Good "
    "luck with the search!",
    "Happy to help where I can. Our team isn't hiring right now, but I've passed your name on "
    "to {manager}, who runs recruiting for {team}.",
    "Thanks for reaching out. I shared your background with a couple of colleagues and will "
    "leave it with them. All the best!",
)
_QUESTIONS = (
    "Before I pass this on to the hiring manager, could you tell me your notice period and "
    "your salary expectations?",
    "Could you confirm whether you would need visa sponsorship to work from our {city} office?",
    "Would you be able to send a link to a portfolio or a code sample we could look at?",
    "Are you open to a hybrid setup with two office days a week in {city}? Let me know and I "
    "will move things forward.",
    "What would be your earliest possible start date?",
)
_PROMISES = (
    "We are still reviewing applications for the {role} position and expect to get back to "
    "every candidate by {when}.",
    "The hiring team meets next week; I will be in touch with an update by {when}.",
    "We anticipate having a decision on the shortlist by {when} and will let you know either way.",
)
_REJECTIONS = (
    "Thank you for your interest in the {role} position. After careful review, we have decided "
    "not to take your application further at this stage.",
    "Unfortunately, we will not be moving forward with your application for {role}. We "
    "received many strong applications and chose candidates whose experience more closely "
    "matches what the team needs right now.",
    "We appreciate the time you put into applying. The {role} role has now been filled, so we "
    "are closing the remaining applications.",
    "I'm sorry to let you know that we've decided to continue with other candidates for the "
    "{role} role. We'll keep your details on file in case something suitable opens up.",
    "After reviewing your profile, the hiring team concluded that it is not the right match "
    "for this opening. We wish you every success in your search.",
    "Regrettably, your application for {role} was not selected to progress to the interview stage.",
    "We have now completed our review for the {role} role and are unable to offer you an "
    "interview on this occasion.",
    "Thanks for your patience. We've decided to go in a different direction for the {role} "
    "position and won't be progressing your application.",
    "This is to let you know that your application for {role} has been unsuccessful. Thank "
    "you again for considering {company}.",
)
_POST_INTERVIEW_REJECTIONS = (
    "Thank you for speaking with us about the {role} role. It was a close decision, but we "
    "have offered the position to another candidate.",
    "Thanks again for your time during the interviews. The team was impressed, but we have "
    "decided to move forward with a candidate whose experience is closer to our current needs.",
)
_REJECTION_SUBJECTS = (
    "Your application to {company}",
    "Update on your application",
    "{company}: {role}",
    "Your {role} application",
)
_FOLLOW_UPS = (
    "I hope you are well. I wanted to follow up on my application for the {role} position, "
    "which I sent on {sent}. I am still very interested and happy to provide anything else "
    "you need.",
    "I am writing to check in on my application for the {role} role from {sent}. I remain "
    "keen on the position and would be glad to talk whenever suits you.",
)
_SECOND_FOLLOW_UPS = (
    "I am writing once more about the {role} role. If the position has been filled, a short "
    "note would be much appreciated so I can plan accordingly.",
    "A last quick note about my application for {role}: I am still interested, and I would be "
    "grateful for any update on where things stand.",
)
_THANK_YOUS = (
    "Thank you for taking the time to speak with me today about the {role} role. I enjoyed "
    "learning how the team approaches {focus}, and our conversation made me even more keen "
    "to join.",
    "Many thanks for today's interview. It was great to hear more about the {team} team's "
    "plans, and I would be glad to answer any further questions.",
)


# --------------------------------------------------------------------------- small helpers

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_GERMAN_MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
)  # fmt: skip
_FRENCH_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip


def _long_date(day: date) -> str:
    """'Friday, 27 March 2026' (no locale: strftime would follow the process locale)."""
    return f"{_DAY_NAMES[day.weekday()]}, {day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"


def _us_date(day: date) -> str:
    return f"{_MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def _short_date(day: date) -> str:
    return f"{day.day} {_MONTH_NAMES[day.month - 1][:3]} {day.year}"


def _ascii_fold(text: str) -> str:
    special = {"ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "'": ""}
    text = "".join(special.get(ch, ch) for ch in text.lower())
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch in ".-"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _ascii_fold(text.replace(" ", "-"))).strip("-")


@functools.lru_cache(maxsize=8192)
def _fill(paragraph: str) -> str:
    """Wrap at 72 columns; cached because templates repeat a lot in large mailboxes."""
    return textwrap.fill(paragraph, width=72)


def _compose(paragraphs: Sequence[str], signoff: str) -> str:
    """Wrapped paragraphs, then a sign-off kept line by line."""
    wrapped = [_fill(p) if "\n" not in p else p for p in paragraphs]
    return "\n\n".join([*wrapped, signoff]) + "\n"


def _first_name(address: Address) -> str:
    return address.name.split()[0] if address.name else address.local_part


def _weekday_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _weekdays_between(start: date, end: date) -> int:
    """Weekdays strictly after ``start`` and strictly before ``end``."""
    count, day = 0, start + timedelta(days=1)
    while day < end:
        count += day.weekday() < 5
        day += timedelta(days=1)
    return count


# --------------------------------------------------------------------------- MIME rendering


@dataclass(frozen=True)
class _Leaf:
    content_type: str  # with parameters
    payload: str  # transfer-encoded, CRLF line endings, ends with CRLF
    encoding: str  # 7bit | quoted-printable | base64
    disposition: str = ""


@dataclass(frozen=True)
class _Multi:
    subtype: str
    parts: tuple[_Leaf | _Multi, ...]
    params: str = ""  # extra parameters, e.g. "; report-type=delivery-status"


_Body = _Leaf | _Multi


def _text_part(text: str, subtype: str = "plain", *, params: str = "") -> _Leaf:
    content_type = f'text/{subtype}; charset="utf-8"{params}'
    if text.isascii() and all(len(line) <= 998 for line in text.split("\n")):
        payload = text.replace("\n", _CRLF)
        encoding = "7bit"
    else:
        payload = quopri.encodestring(text.encode("utf-8")).decode("ascii").replace("\n", _CRLF)
        encoding = "quoted-printable"
    if not payload.endswith(_CRLF):
        payload += _CRLF
    return _Leaf(content_type, payload, encoding)


def _binary_part(filename: str, content_type: str, data: bytes) -> _Leaf:
    payload = base64.encodebytes(data).decode("ascii").replace("\n", _CRLF)
    return _Leaf(
        f'{content_type}; name="{filename}"',
        payload,
        "base64",
        f'attachment; filename="{filename}"',
    )


def _fold(line: str) -> str:
    """Fold an ASCII header line at spaces so that lines stay near 78 characters."""
    if len(line) <= 78:
        return line + _CRLF
    words = line.split(" ")
    out, current = [], words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) > 78:
            out.append(current)
            current = " " + word
        else:
            current += " " + word
    out.append(current)
    return _CRLF.join(out) + _CRLF


def _header(name: str, value: str) -> str:
    if value.isascii():
        return _fold(f"{name}: {value}")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep=_CRLF)
    return f"{name}: {encoded}{_CRLF}"


def _addresses(addresses: Iterable[Address]) -> str:
    return ", ".join(formataddr((a.name, a.email), charset="utf-8") for a in addresses)


def _boundary(seed: str) -> str:
    return "=_mf_" + hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()


def _render_body(body: _Body, seed: str) -> tuple[str, str]:
    """The MIME headers and the payload of a body."""
    if isinstance(body, _Leaf):
        headers = _header("Content-Type", body.content_type)
        headers += _header("Content-Transfer-Encoding", body.encoding)
        if body.disposition:
            headers += _header("Content-Disposition", body.disposition)
        return headers, body.payload
    boundary = _boundary(seed)
    headers = _header(
        "Content-Type", f'multipart/{body.subtype}{body.params}; boundary="{boundary}"'
    )
    chunks = ["This is a multi-part message in MIME format." + _CRLF]
    for number, part in enumerate(body.parts):
        part_headers, part_payload = _render_body(part, f"{seed}/{number}")
        chunks.append(f"{_CRLF}--{boundary}{_CRLF}{part_headers}{_CRLF}{part_payload}")
    chunks.append(f"{_CRLF}--{boundary}--{_CRLF}")
    return headers, "".join(chunks)


_PDF_CACHE: dict[str, bytes] = {}


def _pdf_bytes(title: str) -> bytes:
    """A small, well-formed-looking PDF (the content does not matter, only its shape)."""
    cached = _PDF_CACHE.get(title)
    if cached is not None:
        return cached
    safe = _ascii_fold(title).replace(".", " ") or "document"
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET"
    data = (
        "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        "2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        "3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n"
        f"4 0 obj << /Length {len(stream)} >> stream\n{stream}\nendstream endobj\n"
        "trailer << /Root 1 0 R >>\n%%EOF\n"
    ).encode("latin-1")
    _PDF_CACHE[title] = data
    return data


# --------------------------------------------------------------------------- the mailbox context


@dataclass(frozen=True)
class _Company:
    name: str
    domain: str
    city: str
    tz: timezone

    @property
    def tenant(self) -> str:
        return self.domain.split(".")[0].replace("-", "")


@dataclass(frozen=True)
class _Context:
    seed: int
    as_of: datetime
    user: Address
    aliases: tuple[Address, ...]
    company_order: tuple[int, ...]

    @classmethod
    def create(
        cls, *, seed: int, as_of: datetime, user: Address, aliases: Sequence[str]
    ) -> _Context:
        order = list(range(len(_COMPANY_PREFIXES) * len(_COMPANY_SUFFIXES)))
        _rng(f"{seed}/companies").shuffle(order)
        user = Address(user.email.lower(), user.name)
        alias_addresses = tuple(Address(a.lower(), user.name) for a in aliases)
        return cls(seed, as_of.astimezone(UTC), user, alias_addresses, tuple(order))

    @property
    def today(self) -> date:
        return self.as_of.astimezone(_USER_TZ).date()

    @property
    def latest(self) -> datetime:
        """Nothing is dated later than this: an hour before as_of."""
        return self.as_of - timedelta(hours=1)

    @property
    def mta(self) -> str:
        return f"mail.{self.user.domain}"

    def company(self, index: int) -> _Company:
        pool = len(self.company_order)
        slot = self.company_order[index % pool]
        prefix = _COMPANY_PREFIXES[slot // len(_COMPANY_SUFFIXES)]
        suffix = _COMPANY_SUFFIXES[slot % len(_COMPANY_SUFFIXES)]
        rounds = index // pool
        qualifier = ""
        if rounds:
            qualifier = _REGIONS[rounds - 1] if rounds <= len(_REGIONS) else f"Unit {rounds}"
        name = f"{prefix} {suffix} {qualifier}".strip()
        city, offset = _CITIES[(slot * 7 + rounds) % len(_CITIES)]
        return _Company(name, f"{_slug(name)}.example", city, timezone(offset))


@dataclass
class _Mail:
    """One message before rendering (mutable while its conversation is built)."""

    message_id: str
    date: datetime  # aware, in the sender's time zone
    sender: Address
    to: tuple[Address, ...]
    subject: str
    body: _Body
    text: str  # the plain text, for quoting in replies
    from_me: bool
    kind: IncomingKind | None = None
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    folder: str = INBOX
    flags: tuple[str, ...] = ()
    delay: timedelta = timedelta(0)  # delivery time, for the internal date of incoming mail
    return_path: str | None = None  # None: the sender; "" for the null sender
    copy_to_inbox: bool = False  # the user's own BCC copy, delivered to INBOX


def _render(mail: _Mail, ctx: _Context, *, with_bcc: bool = False, trace: bool = False) -> bytes:
    lines: list[str] = []
    recipient = mail.sender if mail.from_me else mail.to[0]  # a BCC copy reaches the user
    if trace:
        envelope = mail.sender.email if mail.return_path is None else mail.return_path
        received_at = format_datetime((mail.date + mail.delay).astimezone(_USER_TZ))
        domain = mail.sender.domain
        relay = domain if domain.startswith("mail.") else f"mail.{domain}"
        lines.append(_header("Return-Path", f"<{envelope}>"))
        lines.append(_header("Delivered-To", recipient.email))
        lines.append(
            _header(
                "Received",
                f"from {relay} ({relay} [192.0.2.25]) "
                f"by {ctx.mta} with ESMTPS id {mail.message_id[:10]} "
                f"for <{recipient.email}>; {received_at}",
            )
        )
    lines.append(_header("Message-ID", f"<{mail.message_id}>"))
    lines.append(_header("Date", format_datetime(mail.date)))
    lines.append(_header("From", _addresses([mail.sender])))
    lines.append(_header("To", _addresses(mail.to)))
    if with_bcc:
        lines.append(_header("Bcc", _addresses([mail.sender])))
    lines.append(_header("Subject", mail.subject))
    if mail.in_reply_to:
        lines.append(_header("In-Reply-To", f"<{mail.in_reply_to}>"))
    if mail.references:
        lines.append(_header("References", " ".join(f"<{r}>" for r in mail.references)))
    lines.extend(_header(name, value) for name, value in mail.extra)
    lines.append(_header("MIME-Version", "1.0"))
    body_headers, payload = _render_body(mail.body, mail.message_id)
    return ("".join(lines) + body_headers + _CRLF + payload).encode("ascii")


def _to_generated(mail: _Mail, ctx: _Context) -> list[GeneratedMessage]:
    arrived = (mail.date + mail.delay).astimezone(UTC)
    if mail.from_me:
        out = [
            GeneratedMessage(
                mail.folder, _render(mail, ctx, with_bcc=mail.copy_to_inbox), mail.flags, arrived
            )
        ]
        if mail.copy_to_inbox:
            copy_at = arrived + timedelta(seconds=4)
            out.append(GeneratedMessage(INBOX, _render(mail, ctx, trace=True), (), copy_at))
        return out
    return [GeneratedMessage(mail.folder, _render(mail, ctx, trace=True), mail.flags, arrived)]


# --------------------------------------------------------------------------- conversations


@dataclass(frozen=True)
class _Person:
    address: Address
    title: str

    @property
    def first(self) -> str:
        return _first_name(self.address)


class _Conversation:
    """Builds one scenario's messages and its label from a private random stream."""

    def __init__(self, ctx: _Context, index: int, scenario: str, occurrence: int) -> None:
        self.ctx = ctx
        self.index = index
        self.scenario = scenario
        self.occurrence = occurrence  # earlier conversations of this scenario in the mailbox
        self.rng = _rng(f"{ctx.seed}/conversation/{index}")
        self.company = ctx.company(index)
        self.role = self.rng.choice(_ROLES)
        self.team = self.rng.choice(_TEAMS)
        self.focus = self.rng.choice(_FOCUS)
        use_alias = bool(ctx.aliases) and (index == 1 or self.rng.random() < 0.2)
        self.me = self.rng.choice(ctx.aliases) if use_alias else ctx.user
        self.mails: list[_Mail] = []
        self.tags: list[str] = ["alias"] if use_alias else []
        self.counterpart: Address | None = None
        self.stage = Stage.APPLICATION
        self.state = State.DUE
        self.notes = ""
        self.nudges = 0
        self.people: dict[str, _Person] = {}
        self.ats_vendor: str | None = None  # a company uses one tracking system throughout

    @classmethod
    def build(cls, ctx: _Context, index: int, scenario: str, occurrence: int) -> _Conversation:
        conversation = cls(ctx, index, scenario, occurrence)
        _SCENARIO_BUILDERS[scenario](conversation)
        conversation.finish()
        return conversation

    # ---- people and time

    def variant(self, choices: Sequence[str]) -> str:
        """Variants in turn, so that a scenario seen n times shows n different ones."""
        return choices[self.occurrence % len(choices)]

    def person(self) -> _Person:
        while True:
            first, last = self.rng.choice(_FIRST_NAMES), self.rng.choice(_LAST_NAMES)
            style = self.rng.choice(("{f}.{l}", "{i}{l}", "{f}"))
            local = style.format(f=_ascii_fold(first), l=_ascii_fold(last), i=_ascii_fold(first)[0])
            email = f"{local}@{self.company.domain}"
            if email not in self.people:
                title = self.rng.choice(_RECRUITER_TITLES)
                self.people[email] = _Person(Address(email, f"{first} {last}"), title)
                return self.people[email]

    def role_inbox(self) -> Address:
        local = self.rng.choice(_ROLE_INBOXES)
        name = self.rng.choice(
            ("", f"{self.company.name} Careers", f"{self.company.name} Recruiting")
        )
        return Address(f"{local}@{self.company.domain}", name)

    def my_time(self, days_ago: int) -> datetime:
        """A moment on the user's calendar day ``days_ago`` days before as_of (days_ago >= 1)."""
        day = self.ctx.today - timedelta(days=days_ago)
        at = time(self.rng.randint(8, 20), self.rng.randint(0, 59), self.rng.randint(0, 59))
        return datetime.combine(day, at, tzinfo=_USER_TZ)

    def later(
        self, after: datetime, low_hours: float, high_hours: float, *, office: bool
    ) -> datetime:
        """A moment between the two bounds after ``after``; moved into office hours if asked."""
        when = after + timedelta(seconds=int(self.rng.uniform(low_hours, high_hours) * 3600))
        if office:
            when = self.into_office_hours(when.astimezone(self.company.tz))
        if when > self.ctx.latest:  # keep the order and stay before as_of
            when = after + (self.ctx.latest - after) / 2
        return when.astimezone(self.company.tz).replace(microsecond=0)

    def into_office_hours(self, when: datetime) -> datetime:
        if when.hour >= 18:
            when = (when + timedelta(days=1)).replace(hour=8)
        if when.hour < 8:
            when = when.replace(hour=self.rng.randint(8, 10), minute=self.rng.randint(0, 59))
        while when.weekday() >= 5:
            when += timedelta(days=1)
        return when

    def new_id(self, domain: str) -> str:
        return f"{self.rng.getrandbits(48):012x}.{self.index:x}.{len(self.mails)}@{domain}"

    # ---- messages

    def send(
        self,
        when: datetime,
        *,
        to: Address,
        subject: str,
        text: str,
        reply_to: _Mail | None = None,
        attachments: tuple[_Leaf, ...] = (),
    ) -> _Mail:
        body: _Body = _text_part(text)
        if attachments:
            body = _Multi("mixed", (body, *attachments))
        mail = _Mail(
            message_id=self.new_id(self.me.domain),
            date=when.astimezone(_USER_TZ).replace(microsecond=0),
            sender=self.me,
            to=(to,),
            subject=subject,
            body=body,
            text=text,
            from_me=True,
            folder=SENT,
            flags=(SEEN,),
            extra=(("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Thunderbird/128.6.0"),),
        )
        if reply_to is not None:
            mail.in_reply_to = reply_to.message_id
            mail.references = (*reply_to.references, reply_to.message_id)
        self.mails.append(mail)
        return mail

    def receive(
        self,
        when: datetime,
        *,
        sender: Address,
        subject: str,
        text: str,
        kind: IncomingKind,
        reply_to: _Mail | None,
        body: _Body | None = None,
        extra: tuple[tuple[str, str], ...] = (),
        message_domain: str = "",
        delay: timedelta | None = None,
        return_path: str | None = None,
    ) -> _Mail:
        mail = _Mail(
            message_id=self.new_id(message_domain or sender.domain),
            date=when.replace(microsecond=0),
            sender=sender,
            to=(self.me,),
            subject=subject,
            body=body if body is not None else _text_part(text),
            text=text,
            from_me=False,
            kind=kind,
            extra=extra,
            delay=delay if delay is not None else timedelta(seconds=self.rng.randint(2, 90)),
            return_path=return_path,
        )
        if reply_to is not None:
            mail.in_reply_to = reply_to.message_id
            mail.references = (*reply_to.references, reply_to.message_id)
        self.mails.append(mail)
        return mail

    def quote(self, original: _Mail, text: str) -> str:
        """A reply text followed by an attribution line and the start of the original."""
        when = original.date
        attribution = (
            f"On {_short_date(when.date())} at {when:%H:%M}, "
            f"{formataddr((original.sender.name, original.sender.email))} wrote:"
        )
        lines = original.text.strip().split("\n")[:6]
        while lines and not lines[-1].strip():
            lines.pop()
        quoted = [f"> {line}".rstrip() for line in lines]
        return text.rstrip("\n") + "\n\n" + attribution + "\n" + "\n".join(quoted) + "\n"

    def signoff(self, person: _Person) -> str:
        greeting = self.rng.choice(("Best regards,", "Kind regards,", "Best,", "Thanks,"))
        return f"{greeting}\n{person.address.name}\n{person.title}, {self.company.name}"

    def my_signoff(self) -> str:
        greeting = self.rng.choice(("Kind regards,", "Best regards,", "Best wishes,"))
        return f"{greeting}\n{self.ctx.user.name}"

    def fill(self, template: str, **more: str) -> str:
        values = {
            "role": self.role,
            "company": self.company.name,
            "team": self.team,
            "focus": self.focus,
            "city": self.company.city,
            "first": _first_name(self.ctx.user),
            "name": self.ctx.user.name,
        }
        values.update(more)
        return template.format(**values)

    # ---- the user's tracked messages

    def apply(self, days_ago: int, *, to: Address) -> _Mail:
        self.counterpart = to
        person = self.people.get(to.email)
        greeting = person.first if person is not None else "Hiring Team"
        ref = self.rng.choice(
            (f"REF-{self.rng.randint(1000, 9999)}", f"JR{self.rng.randint(10000, 99999)}")
        )
        subject = self.fill(self.rng.choice(_APPLICATION_SUBJECTS), ref=ref)
        paragraphs = [
            f"Dear {greeting},",
            self.fill(
                f"I am writing to apply for the {{role}} position at {{company}} ({ref}). "
                + self.rng.choice(_MOTIVATIONS)
            ),
            self.rng.choice(_EXPERIENCE),
            self.rng.choice(_APPLICATION_CLOSINGS),
        ]
        cv_name = f"{self.ctx.user.name.replace(' ', '_')}_CV.pdf"
        cv = _binary_part(cv_name, "application/pdf", _pdf_bytes(f"{self.ctx.user.name} CV"))
        return self.send(
            self.my_time(days_ago),
            to=to,
            subject=subject,
            text=_compose(paragraphs, self.my_signoff()),
            attachments=(cv,),
        )

    def reach_out(self, days_ago: int) -> tuple[_Mail, _Person]:
        contact = self.person()
        self.counterpart = contact.address
        values = {
            "mutual": self.rng.choice(_FIRST_NAMES) + " " + self.rng.choice(_LAST_NAMES),
            "event": self.rng.choice(_EVENTS),
            "community": self.rng.choice(_COMMUNITIES),
        }
        subject = self.fill(self.rng.choice(_NETWORKING_SUBJECTS), **values)
        paragraphs = [
            f"Hi {contact.first},",
            self.fill(self.rng.choice(_NETWORKING_OPENERS), **values),
            self.fill(self.rng.choice(_NETWORKING_ASKS)),
        ]
        signoff = f"Thanks in advance,\n{self.ctx.user.name}"
        mail = self.send(
            self.my_time(days_ago),
            to=contact.address,
            subject=subject,
            text=_compose(paragraphs, signoff),
        )
        return mail, contact

    def follow_up(self, original: _Mail, days_ago: int, number: int) -> _Mail:
        person = self.people.get(original.to[0].email)
        name = person.first if person is not None else "there"
        template = _FOLLOW_UPS if number == 1 else _SECOND_FOLLOW_UPS
        text = _compose(
            [
                f"Hi {name},",
                self.fill(self.rng.choice(template), sent=_short_date(original.date.date())),
            ],
            self.my_signoff(),
        )
        last = self.mails[-1]
        return self.send(
            self.my_time(days_ago),
            to=original.to[0],
            subject=_reply_subject(original.subject),
            text=self.quote(last, text),
            reply_to=last,
        )

    # ---- what comes back

    def human_reply(
        self,
        to_mail: _Mail,
        person: _Person,
        text: str,
        *,
        kind: IncomingKind = IncomingKind.HUMAN_REPLY,
        hours: tuple[float, float] = (20, 96),
        threaded: bool = True,
        subject: str | None = None,
        attachments: tuple[_Leaf, ...] = (),
    ) -> _Mail:
        paragraphs = [f"Hi {_first_name(self.me)},", text]
        body_text = _compose(paragraphs, self.signoff(person))
        if threaded:
            body_text = self.quote(to_mail, body_text)
        body: _Body = _text_part(body_text)
        if attachments:
            body = _Multi("mixed", (body, *attachments))
        return self.receive(
            self.later(to_mail.date, *hours, office=True),
            sender=person.address,
            subject=subject or _reply_subject(to_mail.subject),
            text=body_text,
            kind=kind,
            reply_to=to_mail if threaded else None,
            body=body,
        )

    def ats_ack(self, application: _Mail, vendor: str) -> _Mail:
        sender, subject, domain = _ats_sender(vendor, self.company, self.role)
        text = _compose(
            [
                f"Dear {_first_name(self.ctx.user)},",
                self.fill(self.rng.choice(_ACK_TEXTS)),
                self.rng.choice(_ACK_DISCLAIMERS),
            ],
            f"The {self.company.name} Recruiting Team",
        )
        extra: tuple[tuple[str, str], ...] = ()
        if self.rng.random() < 0.5:
            extra = (("Auto-Submitted", "auto-generated"),)
        else:
            self.tags.append("ack-without-auto-submitted")
        extra += (("Reply-To", sender.email),)
        self.tags.append(f"ats:{vendor}")
        self.ats_vendor = vendor
        return self.receive(
            self.later(application.date, 0.02, 0.3, office=False),
            sender=sender,
            subject=subject,
            text=text,
            kind=IncomingKind.AUTO_ACK,
            reply_to=application,
            extra=extra,
            message_domain=domain,
        )

    def rejection(
        self, to_mail: _Mail, *, hours: tuple[float, float], after_interview: bool
    ) -> _Mail:
        pool = _POST_INTERVIEW_REJECTIONS if after_interview else _REJECTIONS
        text = self.fill(self.rng.choice(pool))
        sender_style = "person" if after_interview else self.variant(("ats", "person", "no-reply"))
        subject = _reply_subject(to_mail.subject)
        if sender_style == "person":
            person = self.counterpart_person()
            mail = self.human_reply(to_mail, person, text, kind=IncomingKind.REJECTION, hours=hours)
        else:
            if sender_style == "ats":
                vendor = self.ats_vendor or self.rng.choice(_ATS_VENDORS)
                sender, _, domain = _ats_sender(vendor, self.company, self.role)
                self.tags.append(f"ats-rejection:{vendor}")
            else:
                sender = Address(
                    f"no-reply@{self.company.domain}", f"{self.company.name} Recruiting"
                )
                domain = self.company.domain
            subject = self.fill(self.rng.choice(_REJECTION_SUBJECTS))
            body_text = _compose(
                [f"Dear {_first_name(self.ctx.user)},", text],
                f"The {self.company.name} Talent Team",
            )
            mail = self.receive(
                self.later(to_mail.date, *hours, office=True),
                sender=sender,
                subject=subject,
                text=body_text,
                kind=IncomingKind.REJECTION,
                reply_to=to_mail,
                message_domain=domain,
            )
        if self.rng.random() < 0.3:
            mail.folder = ARCHIVE
            self.tags.append("folder:archive")
        return mail

    def counterpart_person(self) -> _Person:
        """The person behind the counterpart address, or a new recruiter for a role inbox."""
        known = self.people.get(self.counterpart.email) if self.counterpart else None
        return known if known is not None else self.person()

    def bounce(self, original: _Mail) -> _Mail:
        recipient = original.to[0].email
        status, diagnostic = self.rng.choice(_BOUNCE_REASONS)
        diagnostic = diagnostic.format(rcpt=recipient)
        arrival = format_datetime(original.date)
        daemon = Address(f"MAILER-DAEMON@{self.ctx.mta}", "Mail Delivery System")
        explanation = (
            f"This is the mail system at host {self.ctx.mta}.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
            f"<{recipient}>: host mx.{original.to[0].domain} said: {diagnostic}\n"
        )
        report = (
            f"Reporting-MTA: dns; {self.ctx.mta}\n"
            f"X-Postfix-Queue-ID: {self.rng.getrandbits(40):010X}\n"
            f"Arrival-Date: {arrival}\n\n"
            f"Final-Recipient: rfc822; {recipient}\n"
            f"Original-Recipient: rfc822;{recipient}\n"
            "Action: failed\n"
            f"Status: {status}\n"
            f"Remote-MTA: dns; mx.{original.to[0].domain}\n"
            f"Diagnostic-Code: smtp; {diagnostic}\n"
        )
        original_headers = _render(original, self.ctx).split(b"\r\n\r\n", 1)[0].decode("ascii")
        body = _Multi(
            "report",
            (
                _text_part(explanation),
                _Leaf("message/delivery-status", report.replace("\n", _CRLF), "7bit"),
                _Leaf("text/rfc822-headers", original_headers + _CRLF, "7bit"),
            ),
            "; report-type=delivery-status",
        )
        subject = self.rng.choice(
            ("Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)")
        )
        return self.receive(
            self.later(original.date, 0.002, 0.03, office=False),
            sender=daemon,
            subject=subject,
            text=explanation,
            kind=IncomingKind.BOUNCE,
            reply_to=None,
            body=body,
            extra=(("Auto-Submitted", "auto-replied"),),
            message_domain=self.ctx.mta,
            return_path="",
        )

    def out_of_office(
        self, original: _Mail, person: _Person, *, language: str, back_on: date | None
    ) -> _Mail:
        prefix, text = _ooo_text(language, back_on, person)
        self.tags.append(f"lang:{language}")
        style = self.rng.choice(("exchange", "sieve"))
        if style == "exchange":
            extra: tuple[tuple[str, str], ...] = (
                ("Auto-Submitted", "auto-generated"),
                ("X-Auto-Response-Suppress", "All"),
                ("X-MS-Exchange-Inbox-Rules-Loop", person.address.email),
                ("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"),
            )
        else:
            extra = (("Auto-Submitted", "auto-replied"), ("Precedence", "auto_reply"))
        self.tags.append(f"ooo:{style}")
        return self.receive(
            self.later(original.date, 0.001, 0.05, office=False),
            sender=person.address,
            subject=f"{prefix} {original.subject}",
            text=text,
            kind=IncomingKind.OUT_OF_OFFICE,
            reply_to=original,
            extra=extra,
            return_path="" if style == "exchange" else None,
        )

    # ---- interviews

    def interview_path(self, interview_day: date) -> tuple[_Mail, _Person, datetime]:
        """Application, invitation with a calendar request, the user's acceptance."""
        recruiter = self.person()
        days_before = self.rng.randint(14, 21)
        application = self.apply(
            (self.ctx.today - interview_day).days + days_before, to=recruiter.address
        )
        start = datetime.combine(
            interview_day, time(self.rng.randint(10, 16), self.rng.choice((0, 30))), tzinfo=_USER_TZ
        )
        invited = self.later(application.date, 72, 144, office=True)
        local_start = start.astimezone(self.company.tz)
        slot = f"{_long_date(local_start.date())} at {local_start:%H:%M} ({self.company.city} time)"
        text = self.fill(
            "Thank you for your application for the {role} role. We would like to invite you to a "
            "45-minute video interview with our {team} lead on {slot}. I have sent a calendar "
            "invitation; the video link is in the event.",
            slot=slot,
        )
        body_text = self.quote(
            application, _compose([f"Hi {_first_name(self.me)},", text], self.signoff(recruiter))
        )
        ics = _calendar_request(
            uid=f"{self.rng.getrandbits(64):016x}@{self.company.domain}",
            stamp=invited,
            start=start,
            summary=f"Interview: {self.role} - {self.ctx.user.name}",
            organizer=recruiter.address,
            attendee=self.me,
        )
        body = _Multi(
            "alternative",
            (_text_part(body_text), _text_part(ics, "calendar", params="; method=REQUEST")),
        )
        invitation = self.receive(
            invited,
            sender=recruiter.address,
            subject=f"Interview invitation: {self.role} at {self.company.name}",
            text=body_text,
            kind=IncomingKind.INVITATION,
            reply_to=application,
            body=body,
        )
        accept_text = _compose(
            [
                f"Hi {recruiter.first},",
                f"Thank you for the invitation. {slot} works well for me, and I look forward "
                "to the conversation.",
            ],
            self.my_signoff(),
        )
        accepted = self.send(
            self.later(invited, 2, 20, office=False),
            to=recruiter.address,
            subject=_reply_subject(invitation.subject),
            text=self.quote(invitation, accept_text),
            reply_to=invitation,
        )
        return accepted, recruiter, start

    def thank_you(self, accepted: _Mail, recruiter: _Person, interview: datetime) -> _Mail:
        text = _compose(
            [f"Hi {recruiter.first},", self.fill(self.rng.choice(_THANK_YOUS))], self.my_signoff()
        )
        when = interview + timedelta(minutes=self.rng.randint(90, 360))
        if self.rng.random() < 0.5:
            return self.send(
                when,
                to=recruiter.address,
                subject=_reply_subject(accepted.subject),
                text=text,
                reply_to=accepted,
            )
        self.tags.append("thank-you-new-thread")
        return self.send(
            when, to=recruiter.address, subject=f"Thank you - {self.role} interview", text=text
        )

    # ---- the label

    def conclude(self, stage: Stage, state: State, notes: str, *, nudges: int = 0) -> None:
        self.stage, self.state, self.notes, self.nudges = stage, state, notes, nudges

    def age(self, mail: _Mail) -> str:
        day = mail.date.astimezone(_USER_TZ).date()
        days = (self.ctx.today - day).days
        return f"{day.isoformat()} ({days} calendar day{'' if days == 1 else 's'} before as_of)"

    def finish(self) -> None:
        """Order the messages and set flags: read or unread, answered when the user replied."""
        self.mails.sort(key=lambda m: m.date)
        answered = {m.in_reply_to for m in self.mails if m.from_me and m.in_reply_to}
        incoming = [m for m in self.mails if not m.from_me]
        for mail in incoming:
            if mail.message_id in answered:
                mail.flags = (ANSWERED, SEEN)
            elif mail is incoming[-1] and mail.folder == INBOX and self.rng.random() < 0.35:
                mail.flags = ()
            else:
                mail.flags = (SEEN,)
        for mail in self.mails:
            if mail.date.astimezone(UTC) + mail.delay > self.ctx.as_of:
                raise AssertionError(f"{self.scenario}: message dated after as_of")  # a bug here

    def label(self) -> ConversationLabel:
        first = next(m for m in self.mails if m.from_me)
        assert self.counterpart is not None  # noqa: S101 (every scenario sets it)
        return ConversationLabel(
            key=first.message_id,
            stage=self.stage.value,
            expected_state=self.state.value,
            counterpart=self.counterpart.email,
            company=self.company.name,
            message_ids=tuple(m.message_id for m in self.mails),
            incoming={m.message_id: m.kind.value for m in self.mails if m.kind is not None},
            due_at=None,
            notes=self.notes,
            scenario=self.scenario,
            company_domain=self.company.domain,
            nudges_sent=self.nudges,
            tags=tuple(dict.fromkeys(self.tags)),
        )

    def generated(self) -> Iterator[GeneratedMessage]:
        for mail in self.mails:
            yield from _to_generated(mail, self.ctx)


def _reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


# --------------------------------------------------------------------------- automatic mail

_ATS_VENDORS = ("greenhouse", "lever", "workday", "ashby", "smartrecruiters", "company")


def _ats_sender(vendor: str, company: _Company, role: str) -> tuple[Address, str, str]:
    """(From address, subject, Message-ID domain) of an applicant tracking system."""
    name = company.name
    if vendor == "greenhouse":
        return (
            Address("no-reply@us.greenhouse-mail.io", f"{name} Hiring Team"),
            f"Thank you for applying to {name}",
            "us.greenhouse-mail.io",
        )
    if vendor == "lever":
        return (
            Address("no-reply@hire.lever.co", name),
            f"Thanks for your application to {name}",
            "hire.lever.co",
        )
    if vendor == "workday":
        return (
            Address(f"{company.tenant}@myworkday.com", f"{name} Talent Acquisition"),
            f"Application received: {role}",
            "myworkday.com",
        )
    if vendor == "ashby":
        return (
            Address("no-reply@ashbyhq.com", f"{name} Recruiting"),
            f"Thanks for applying to {name}!",
            "ashbyhq.com",
        )
    if vendor == "smartrecruiters":
        return (
            Address("notification@smartrecruiters.com", f"{name} via SmartRecruiters"),
            f"Your application for {role}",
            "smartrecruiters.com",
        )
    return (
        Address(f"no-reply@{company.domain}", f"{name} Careers"),
        "We have received your application",
        company.domain,
    )


_ACK_TEXTS = (
    "Thank you for applying to {company}! We have received your application for the {role} "
    "position, and our team will review it carefully.",
    "Thanks for your interest in the {role} role. This note confirms that your application "
    "reached us. If your experience matches what we are looking for, a member of the "
    "recruiting team will contact you.",
    "We have received your application for {role}. Because of the number of applications, "
    "reviews can take a few weeks; we will be in touch if there is a fit.",
)
_ACK_DISCLAIMERS = (
    "This is an automated message; please do not reply to this email.",
    "Please note that replies to this address are not monitored.",
    "You can check the status of your application at any time in your candidate profile.",
)
_BOUNCE_REASONS = (
    ("5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"),
    ("5.1.1", "550 5.1.1 The email account that you tried to reach does not exist"),
    ("5.2.1", "550 5.2.1 <{rcpt}>: mailbox disabled, not accepting messages"),
)


def _ooo_text(language: str, back_on: date | None, person: _Person) -> tuple[str, str]:
    """(subject prefix, body) of an out-of-office reply."""
    signature = person.address.name
    if language == "de":
        if back_on is None:
            body = (
                "Vielen Dank für Ihre Nachricht. Ich bin derzeit nicht im Büro und habe nur "
                "eingeschränkten Zugriff auf meine E-Mails. Ich melde mich nach meiner "
                "Rückkehr bei Ihnen."
            )
        else:
            last = back_on - timedelta(days=1)
            body = (
                f"Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich "
                f"{last.day}. {_GERMAN_MONTHS[last.month - 1]} {last.year} nicht im Büro. "
                f"Ab dem {back_on:%d.%m.%Y} bin ich wieder erreichbar."
            )
        return "Automatische Antwort:", _compose([body], f"Mit freundlichen Grüßen\n{signature}")
    if language == "fr":
        if back_on is None:
            body = (
                "Merci pour votre message. Je suis actuellement absent(e) du bureau et je "
                "vous répondrai dès mon retour."
            )
        else:
            body = (
                f"Merci pour votre message. Je suis absent(e) du bureau et de retour le "
                f"{back_on.day} {_FRENCH_MONTHS[back_on.month - 1]} {back_on.year}. "
                "Je vous répondrai dès mon retour."
            )
        return "Réponse automatique :", _compose([body], f"Cordialement,\n{signature}")
    if back_on is None:
        body = (
            "Thank you for your email. I am currently out of the office with limited access "
            "to email, and I will respond as soon as possible after my return."
        )
    else:
        body = (
            f"Thank you for your email. I am away from the office and will be back on "
            f"{_long_date(back_on)}. I will reply to your message after my return."
        )
    return "Automatic reply:", _compose([body], f"Regards,\n{signature}")


def _calendar_request(
    *,
    uid: str,
    stamp: datetime,
    start: datetime,
    summary: str,
    organizer: Address,
    attendee: Address,
) -> str:
    def utc(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Example Scheduling//Interview Planner//EN",
        "VERSION:2.0",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{utc(stamp)}",
        f"DTSTART:{utc(start)}",
        f"DTEND:{utc(start + timedelta(minutes=45))}",
        f"SUMMARY:{summary}",
        f'ORGANIZER;CN="{organizer.name}":mailto:{organizer.email}',
        f'ATTENDEE;CN="{attendee.name}";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee.email}',
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        "LOCATION:Video call",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\n".join(_fold_ical(line) for line in lines) + "\n"


def _fold_ical(line: str) -> str:
    """RFC 5545 folding: lines of at most 75 octets, continued with a space."""
    out, current = [], ""
    for ch in line:
        if len((current + ch).encode("utf-8")) > 74:
            out.append(current)
            current = " "
        current += ch
    out.append(current)
    return "\n".join(out)


# --------------------------------------------------------------------------- scenario builders

_APP_DAYS = _POLICY.thresholds.application.days
_NET_DAYS = _POLICY.thresholds.networking.days
_FOLLOW_DAYS = _POLICY.thresholds.interview_follow_up.days
_UNIT = "business-day" if _POLICY.business_days_only else "day"


def _recruiter_or_inbox(c: _Conversation) -> Address:
    return c.person().address if c.rng.random() < 0.5 else c.role_inbox()


def _application_silent_due(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(14, 35), to=_recruiter_or_inbox(c))
    c.conclude(
        Stage.APPLICATION,
        State.DUE,
        f"Application sent {c.age(app)} and nothing came back: the {_APP_DAYS}-{_UNIT} "
        "application threshold passed long ago.",
    )


def _application_silent_waiting(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(1, 3), to=_recruiter_or_inbox(c))
    c.conclude(
        Stage.APPLICATION,
        State.WAITING,
        f"Application sent {c.age(app)}: well inside the {_APP_DAYS}-{_UNIT} threshold.",
    )


def _application_ats_ack_due(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(14, 35), to=_recruiter_or_inbox(c))
    vendor = c.variant(_ATS_VENDORS)
    c.ats_ack(app, vendor)
    c.conclude(
        Stage.APPLICATION,
        State.DUE,
        f"Application sent {c.age(app)}; the only answer is an automatic acknowledgement "
        f"({vendor}), which is not a reply, so the silence is past the {_APP_DAYS}-{_UNIT} "
        "threshold.",
    )


def _application_replied(c: _Conversation) -> None:
    variant = c.variant(("new-thread", "other-address", "threaded"))
    c.tags.append(f"reply:{variant}")
    if variant == "other-address":
        app = c.apply(c.rng.randint(6, 30), to=c.role_inbox())
        replier = c.person()
        why = f"a recruiter replied from another address ({replier.address.email})"
    else:
        contact = c.person()
        app = c.apply(c.rng.randint(6, 30), to=contact.address)
        replier = contact
        why = "the contact replied" + (
            " in a new thread (no In-Reply-To/References), same address"
            if variant == "new-thread"
            else ""
        )
    text = c.fill(c.rng.choice(_PLAIN_REPLIES), manager=c.person().address.name)
    subject = f"Your application for {c.role}" if variant == "new-thread" else None
    reply = c.human_reply(app, replier, text, threaded=variant != "new-thread", subject=subject)
    c.conclude(
        Stage.APPLICATION,
        State.REPLIED,
        f"Application sent {c.age(app)}; {why} on {c.age(reply)}. A human reply means no "
        "follow-up.",
    )


def _application_question(c: _Conversation) -> None:
    contact = c.person()
    app = c.apply(c.rng.randint(5, 20), to=contact.address)
    reply = c.human_reply(app, contact, c.fill(c.rng.choice(_QUESTIONS)), hours=(20, 90))
    c.conclude(
        Stage.APPLICATION,
        State.YOUR_TURN,
        f"Application sent {c.age(app)}; the recruiter asked a question on {c.age(reply)} "
        "and the user has not answered: it is the user's turn, not theirs.",
    )


def _promise(
    c: _Conversation, app_days: tuple[int, int], promise_day: date
) -> tuple[_Mail, _Mail, str]:
    contact = c.person()
    app = c.apply(c.rng.randint(*app_days), to=contact.address)
    when = c.rng.choice((_long_date(promise_day), _us_date(promise_day)))
    reply = c.human_reply(app, contact, c.fill(c.rng.choice(_PROMISES), when=when), hours=(24, 96))
    return app, reply, when


def _application_promised(c: _Conversation) -> None:
    day = _weekday_on_or_after(c.ctx.today + timedelta(days=c.rng.randint(5, 12)))
    app, reply, when = _promise(c, (6, 20), day)
    c.conclude(
        Stage.APPLICATION,
        State.PROMISED,
        f"Application sent {c.age(app)}; on {c.age(reply)} the recruiter promised news by "
        f"{when}, which is still ahead of as_of.",
    )


def _application_promise_passed(c: _Conversation) -> None:
    day = _weekday_on_or_before(c.ctx.today - timedelta(days=c.rng.randint(14, 20)))
    app, reply, when = _promise(c, (35, 50), day)
    grace = _POLICY.promise_grace.days
    c.conclude(
        Stage.APPLICATION,
        State.DUE,
        f"Application sent {c.age(app)}; on {c.age(reply)} the recruiter promised news by "
        f"{when}. That date plus the {grace}-day grace passed two weeks before as_of "
        "with nothing more, so a follow-up is due.",
    )


def _application_rejected(c: _Conversation) -> None:
    days = c.rng.randint(5, 40)
    app = c.apply(days, to=_recruiter_or_inbox(c))
    if c.rng.random() < 0.35:
        c.ats_ack(app, c.rng.choice(_ATS_VENDORS))
    rejection = c.rejection(app, hours=(48, min(20, days - 2) * 24), after_interview=False)
    c.conclude(
        Stage.APPLICATION,
        State.REJECTED,
        f"Application sent {c.age(app)}; rejected on {c.age(rejection)}. Never nudge after "
        "a rejection.",
    )


def _application_bounced(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(2, 30), to=_recruiter_or_inbox(c))
    bounce = c.bounce(app)
    c.conclude(
        Stage.APPLICATION,
        State.BOUNCED,
        f"Application sent {c.age(app)} bounced minutes later ({bounce.subject!r}, a "
        "multipart/report delivery-status): the address does not work.",
    )


def _application_ooo_return_future(c: _Conversation) -> None:
    contact = c.person()
    app = c.apply(c.rng.randint(14, 18), to=contact.address)
    back = _weekday_on_or_after(c.ctx.today + timedelta(days=c.rng.randint(4, 9)))
    c.out_of_office(app, contact, language="en", back_on=back)
    c.conclude(
        Stage.APPLICATION,
        State.WAITING,
        f"Application sent {c.age(app)} past the {_APP_DAYS}-{_UNIT} threshold, but the "
        f"contact's out-of-office says they are back on {back.isoformat()}, after as_of: "
        "wait for their return.",
    )


def _application_ooo_returned_due(c: _Conversation) -> None:
    contact = c.person()
    app = c.apply(c.rng.randint(25, 40), to=contact.address)
    back = _weekday_on_or_before(c.ctx.today - timedelta(days=c.rng.randint(14, 20)))
    language = c.variant(("de", "fr", "en"))
    c.out_of_office(app, contact, language=language, back_on=back)
    c.conclude(
        Stage.APPLICATION,
        State.DUE,
        f"Application sent {c.age(app)}; the out-of-office ({language}) gave a return on "
        f"{back.isoformat()}, two weeks or more before as_of, and nothing came since. "
        "Due whether or not the return date is understood.",
    )


def _application_ooo_no_date_due(c: _Conversation) -> None:
    contact = c.person()
    app = c.apply(c.rng.randint(14, 35), to=contact.address)
    language = c.variant(("fr", "de", "en"))
    c.out_of_office(app, contact, language=language, back_on=None)
    c.conclude(
        Stage.APPLICATION,
        State.DUE,
        f"Application sent {c.age(app)}; only an out-of-office ({language}) without a "
        f"return date came back, which is not a reply: past the {_APP_DAYS}-{_UNIT} "
        "threshold.",
    )


def _application_bcc_copy_due(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(14, 35), to=_recruiter_or_inbox(c))
    app.copy_to_inbox = True
    c.tags.append("bcc-self")
    c.conclude(
        Stage.APPLICATION,
        State.DUE,
        f"Application sent {c.age(app)}; the user's own BCC copy in INBOX (same "
        "Message-ID, From the user) is not a reply, so the silence is past the "
        f"{_APP_DAYS}-{_UNIT} threshold.",
    )


def _application_manual_follow_up_waiting(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(15, 25), to=_recruiter_or_inbox(c))
    nudge = c.follow_up(app, c.rng.randint(1, 3), 1)
    c.conclude(
        Stage.APPLICATION,
        State.WAITING,
        f"Application sent {c.age(app)}; the user followed up by hand on {c.age(nudge)} "
        f"(nudge 1 of {_POLICY.max_nudges}), so the next one must wait for the "
        f"{_POLICY.nudge_spacing.days}-day spacing and the threshold.",
        nudges=1,
    )


def _application_manual_follow_up_due(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(35, 45), to=_recruiter_or_inbox(c))
    nudge = c.follow_up(app, c.rng.randint(18, 25), 1)
    c.conclude(
        Stage.APPLICATION,
        State.DUE,
        f"Application sent {c.age(app)}; the user's own follow-up on {c.age(nudge)} "
        f"(nudge 1 of {_POLICY.max_nudges}) also went unanswered, and both the "
        f"{_POLICY.nudge_spacing.days}-day spacing and the threshold have passed: a second "
        "nudge is due.",
        nudges=1,
    )


def _application_exhausted(c: _Conversation) -> None:
    app = c.apply(c.rng.randint(55, 70), to=_recruiter_or_inbox(c))
    c.follow_up(app, c.rng.randint(38, 45), 1)
    last = c.follow_up(app, c.rng.randint(20, 28), 2)
    c.conclude(
        Stage.APPLICATION,
        State.EXHAUSTED,
        f"Application sent {c.age(app)} and followed up twice (last on {c.age(last)}) with "
        f"no answer: max_nudges={_POLICY.max_nudges} is reached.",
        nudges=2,
    )


def _networking_silent_due(c: _Conversation) -> None:
    mail, _ = c.reach_out(c.rng.randint(19, 40))
    c.conclude(
        Stage.NETWORKING,
        State.DUE,
        f"Networking email sent {c.age(mail)} without an answer: past the "
        f"{_NET_DAYS}-{_UNIT} networking threshold.",
    )


def _networking_waiting(c: _Conversation) -> None:
    mail, _ = c.reach_out(c.rng.randint(1, 4))
    c.conclude(
        Stage.NETWORKING,
        State.WAITING,
        f"Networking email sent {c.age(mail)}: inside the {_NET_DAYS}-{_UNIT} threshold.",
    )


def _networking_replied(c: _Conversation) -> None:
    mail, contact = c.reach_out(c.rng.randint(5, 30))
    text = c.fill(c.rng.choice(_NETWORKING_REPLIES), manager=c.person().address.name)
    reply = c.human_reply(mail, contact, text)
    c.conclude(
        Stage.NETWORKING,
        State.REPLIED,
        f"Networking email sent {c.age(mail)}; the contact replied on {c.age(reply)}.",
    )


def _recent_interview_day(c: _Conversation) -> date:
    """A weekday 3 to 7 days back with at least two full weekdays since (the 24 h threshold)."""
    for back in range(3, 8):
        day = c.ctx.today - timedelta(days=back)
        if day.weekday() < 5 and _weekdays_between(day, c.ctx.today) >= 2:
            return day
    raise AssertionError("unreachable: a week always holds such a day")


def _interview_thank_you_due(c: _Conversation) -> None:
    _, _, interview = c.interview_path(_recent_interview_day(c))
    c.conclude(
        Stage.INTERVIEW_THANK_YOU,
        State.DUE,
        f"Invitation accepted; the interview took place on {interview.date().isoformat()} "
        f"(at least two full weekdays before as_of) and no thank-you was sent: the "
        f"{int(_POLICY.thresholds.interview_thank_you.total_seconds() // 3600)} h "
        "thank-you threshold has passed.",
    )
    c.tags.append("calendar-invite")


def _interview_follow_up_due(c: _Conversation) -> None:
    day = _weekday_on_or_before(c.ctx.today - timedelta(days=c.rng.randint(17, 24)))
    accepted, recruiter, interview = c.interview_path(day)
    thanks = c.thank_you(accepted, recruiter, interview)
    c.conclude(
        Stage.INTERVIEW_FOLLOW_UP,
        State.DUE,
        f"Interview on {interview.date().isoformat()}, thank-you sent {c.age(thanks)}, "
        f"and silence since: past the {_FOLLOW_DAYS}-{_UNIT} interview follow-up "
        "threshold.",
    )
    c.tags.append("calendar-invite")


def _interview_follow_up_waiting(c: _Conversation) -> None:
    day = _weekday_on_or_before(c.ctx.today - timedelta(days=2))
    accepted, recruiter, interview = c.interview_path(day)
    thanks = c.thank_you(accepted, recruiter, interview)
    c.conclude(
        Stage.INTERVIEW_FOLLOW_UP,
        State.WAITING,
        f"Interview on {interview.date().isoformat()}, thank-you sent {c.age(thanks)}: "
        f"inside the {_FOLLOW_DAYS}-{_UNIT} interview follow-up threshold.",
    )
    c.tags.append("calendar-invite")


def _interview_rejected(c: _Conversation) -> None:
    day = _weekday_on_or_before(c.ctx.today - timedelta(days=c.rng.randint(10, 25)))
    accepted, recruiter, interview = c.interview_path(day)
    thanks = c.thank_you(accepted, recruiter, interview)
    rejection = c.rejection(thanks, hours=(72, 192), after_interview=True)
    c.conclude(
        Stage.INTERVIEW_FOLLOW_UP,
        State.REJECTED,
        f"Interview on {interview.date().isoformat()} and a thank-you; the recruiter "
        f"declined on {c.age(rejection)}. Stage is the follow-up after the thank-you.",
    )


def _offer(c: _Conversation) -> None:
    day = _weekday_on_or_before(c.ctx.today - timedelta(days=c.rng.randint(8, 20)))
    accepted, recruiter, interview = c.interview_path(day)
    thanks = c.thank_you(accepted, recruiter, interview)
    text = c.fill(
        "I am delighted to let you know that we would like to offer you the {role} position at "
        "{company}. Your offer letter is attached; please have a look and let me know if you "
        "have any questions. We would love to have you on the team."
    )
    letter = _binary_part(
        f"Offer_Letter_{_slug(c.company.name).replace('-', '_')}.pdf",
        "application/pdf",
        _pdf_bytes(f"Offer {c.company.name}"),
    )
    offer = c.human_reply(
        thanks,
        recruiter,
        text,
        kind=IncomingKind.OFFER,
        hours=(48, 144),
        subject=f"Offer - {c.role} at {c.company.name}",
        attachments=(letter,),
    )
    c.conclude(
        Stage.INTERVIEW_FOLLOW_UP,
        State.OFFER,
        f"Interview on {interview.date().isoformat()}, thank-you sent, and an offer "
        f"arrived on {c.age(offer)}.",
    )


_SCENARIOS: tuple[tuple[str, int, Callable[[_Conversation], None]], ...] = (
    ("application_silent_due", 10, _application_silent_due),
    ("application_silent_waiting", 5, _application_silent_waiting),
    ("application_ats_ack_due", 7, _application_ats_ack_due),
    ("application_replied", 6, _application_replied),
    ("application_question", 3, _application_question),
    ("application_promised", 3, _application_promised),
    ("application_promise_passed", 2, _application_promise_passed),
    ("application_rejected", 8, _application_rejected),
    ("application_bounced", 2, _application_bounced),
    ("application_ooo_return_future", 2, _application_ooo_return_future),
    ("application_ooo_returned_due", 2, _application_ooo_returned_due),
    ("application_ooo_no_date_due", 2, _application_ooo_no_date_due),
    ("application_bcc_copy_due", 2, _application_bcc_copy_due),
    ("application_manual_follow_up_waiting", 2, _application_manual_follow_up_waiting),
    ("application_manual_follow_up_due", 2, _application_manual_follow_up_due),
    ("application_exhausted", 2, _application_exhausted),
    ("networking_silent_due", 4, _networking_silent_due),
    ("networking_waiting", 2, _networking_waiting),
    ("networking_replied", 3, _networking_replied),
    ("interview_thank_you_due", 2, _interview_thank_you_due),
    ("interview_follow_up_due", 2, _interview_follow_up_due),
    ("interview_follow_up_waiting", 2, _interview_follow_up_waiting),
    ("interview_rejected", 1, _interview_rejected),
    ("offer", 1, _offer),
)
SCENARIO_WEIGHTS: dict[str, int] = {name: weight for name, weight, _ in _SCENARIOS}
_SCENARIO_BUILDERS: dict[str, Callable[[_Conversation], None]] = {
    name: build for name, _, build in _SCENARIOS
}


# --------------------------------------------------------------------------- noise

_NEWSLETTERS = (
    ("The Platform Letter", "news@platformletter.example", "platformletter.example"),
    ("Data Weekly", "digest@dataweekly.example", "dataweekly.example"),
    ("Remote Work Digest", "hello@remotedigest.example", "remotedigest.example"),
    ("Design Notes", "notes@designnotes.example", "designnotes.example"),
    ("City Runners Club", "club@cityrunners.example", "cityrunners.example"),
)
_NEWSLETTER_TOPICS = (
    "what we learned from a year of on-call", "five habits of calm engineering teams",
    "the state of remote hiring", "a short guide to writing design docs",
    "spring race calendar", "notes from the community meetup", "reading list for March",
)  # fmt: skip
_JOB_BOARDS = (
    ("JobBoard Alerts", "alerts-noreply@jobboard.example", "jobboard.example"),
    ("TechJobs", "alerts@techjobs.example", "techjobs.example"),
    ("CareerHub", "no-reply@careerhub.example", "careerhub.example"),
)
_RECEIPTS = (
    ("Paperback Corner", "orders@paperbackcorner.example", "Your order #{n} has been received"),
    ("Cityrail", "tickets@cityrail.example", "Your ticket receipt {n}"),
    ("Brightcell Mobile", "billing@brightcell.example", "Your invoice {n} is ready"),
    ("Cloudbox", "no-reply@cloudbox.example", "Payment received - thank you ({n})"),
)
_FRIEND_DOMAINS = ("mailbox.example", "post.example", "inbox.example")
_PERSONAL_SUBJECTS = (
    "Dinner on Friday?", "Photos from the weekend", "Book recommendation", "Running on Sunday",
    "Happy birthday!", "Moving boxes", "Holiday plans",
)  # fmt: skip
_PERSONAL_TEXTS = (
    "Are you free on Friday evening? We were thinking of trying the new place near the station.",
    "Here are a few of the photos from Saturday. The one by the lake came out really well.",
    "I just finished the novel you lent me and loved it. Do you have another one like it?",
    "Still on for the long run this Sunday? Meet at the park gate at nine?",
    "Do you still have those moving boxes? We could use a few next weekend.",
)
_DRAFT_COMPANIES = (
    ("Lantern Works", "lanternworks.example"),
    ("Quillfeather", "quillfeather.example"),
)
_NOISE_KINDS = (
    ("newsletter", 30),
    ("job_alert", 25),
    ("receipt", 15),
    ("personal", 14),
    ("personal_exchange", 10),
    ("draft", 3),
)


@dataclass(frozen=True)
class _NoiseItem:
    mails: tuple[_Mail, ...]  # rendered only when streamed: labels do not need the bytes
    labels: tuple[NoiseLabel, ...]

    def messages(self, ctx: _Context) -> Iterator[GeneratedMessage]:
        for mail in self.mails:
            yield from _to_generated(mail, ctx)


def _noise_items(ctx: _Context, total: int) -> Iterator[_NoiseItem]:
    """Noise messages until ``total`` messages were made; each item from its own stream."""
    made, index = 0, 0
    kinds = [k for k, _ in _NOISE_KINDS]
    weights = [w for _, w in _NOISE_KINDS]
    first = list(kinds)  # every kind once first, so that a small mailbox shows each
    _rng(f"{ctx.seed}/noise-kinds").shuffle(first)
    while made < total:
        rng = _rng(f"{ctx.seed}/noise/{index}")
        kind = first[index] if index < len(first) else rng.choices(kinds, weights=weights)[0]
        if kind == "personal_exchange" and total - made < 2:
            kind = "personal"
        item = _NOISE_BUILDERS[kind](_NoiseMaker(ctx, rng, index))
        made += len(item.mails)
        index += 1
        yield item


class _NoiseMaker:
    def __init__(self, ctx: _Context, rng: random.Random, index: int) -> None:
        self.ctx, self.rng, self.index = ctx, rng, index
        self.count = 0

    def when(self) -> datetime:
        day = self.ctx.today - timedelta(days=self.rng.randint(1, 90))
        at = time(self.rng.randint(6, 22), self.rng.randint(0, 59), self.rng.randint(0, 59))
        return datetime.combine(day, at, tzinfo=_USER_TZ)

    def mail(
        self,
        *,
        sender: Address,
        to: Address,
        subject: str,
        body: _Body,
        text: str,
        when: datetime,
        from_me: bool,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> _Mail:
        message_id = f"{self.rng.getrandbits(48):012x}.n{self.index:x}.{self.count}@{sender.domain}"
        self.count += 1
        return _Mail(
            message_id=message_id,
            date=when,
            sender=sender,
            to=(to,),
            subject=subject,
            body=body,
            text=text,
            from_me=from_me,
            extra=extra,
            folder=SENT if from_me else INBOX,
            flags=(SEEN,) if from_me or self.rng.random() < 0.5 else (),
            delay=timedelta(seconds=self.rng.randint(1, 60)),
        )

    def item(self, *pairs: tuple[_Mail, NoiseLabel]) -> _NoiseItem:
        return _NoiseItem(tuple(m for m, _ in pairs), tuple(label for _, label in pairs))

    def label(
        self, mail: _Mail, kind: str, expected: IncomingKind | None, notes: str
    ) -> NoiseLabel:
        return NoiseLabel(
            mail.message_id, kind, mail.folder, expected.value if expected else None, notes
        )


def _newsletter(n: _NoiseMaker) -> _NoiseItem:
    name, email, domain = n.rng.choice(_NEWSLETTERS)
    issue = n.rng.randint(40, 400)
    topic = n.rng.choice(_NEWSLETTER_TOPICS)
    token = f"{n.rng.getrandbits(40):010x}"
    text = _compose(
        [
            f"Issue #{issue}: {topic}.",
            "This week: three short reads, one long one, and a few "
            "links from readers. Thanks for subscribing!",
            f"Read online: https://{domain}/issues/{issue}",
        ],
        f"You are receiving this because you subscribed to {name}.\n"
        f"Unsubscribe: https://{domain}/u/{token}",
    )
    html = (
        f"<html><body><h1>{name}</h1>\n<p>Issue #{issue}: {topic}.</p>\n"
        f'<p><a href="https://{domain}/u/{token}">Unsubscribe</a></p>\n</body></html>\n'
    )
    extra = (
        ("List-Id", f"{name} <weekly.{domain}>"),
        (
            "List-Unsubscribe",
            f"<https://{domain}/u/{token}>, <mailto:unsubscribe@{domain}?subject={token}>",
        ),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Precedence", "bulk"),
        ("Feedback-ID", f"{issue}:weekly:{domain}"),
    )
    mail = n.mail(
        sender=Address(email, name),
        to=n.ctx.user,
        subject=f"{name} #{issue}: {topic}",
        body=_Multi("alternative", (_text_part(text), _text_part(html, "html"))),
        text=text,
        when=n.when(),
        from_me=False,
        extra=extra,
    )
    return n.item(
        (
            mail,
            n.label(
                mail,
                "newsletter",
                IncomingKind.BULK,
                "Newsletter with List-Id and List-Unsubscribe.",
            ),
        )
    )


def _job_alert(n: _NoiseMaker) -> _NoiseItem:
    name, email, domain = n.rng.choice(_JOB_BOARDS)
    role = n.rng.choice(_ROLES)
    city = n.rng.choice(_CITIES)[0]
    jobs = n.rng.randint(3, 5)
    listings = [
        f"- {n.rng.choice(_ROLES)} - {n.rng.choice(_COMPANY_PREFIXES)} "
        f"{n.rng.choice(_COMPANY_SUFFIXES)} ({city}): "
        f"https://{domain}/j/{n.rng.randint(100000, 999999)}"
        for _ in range(jobs)
    ]
    token = f"{n.rng.getrandbits(40):010x}"
    text = (
        f'{jobs} new jobs match your alert "{role} in {city}".\n\n'
        + "\n".join(listings)
        + f"\n\nManage alerts: https://{domain}/alerts\nUnsubscribe: https://{domain}/u/{token}\n"
    )
    extra = (
        ("List-Id", f"Job alerts <alerts.{domain}>"),
        ("List-Unsubscribe", f"<https://{domain}/u/{token}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Precedence", "bulk"),
    )
    mail = n.mail(
        sender=Address(email, name),
        to=n.ctx.user,
        subject=f"{jobs} new jobs for {role} in {city}",
        body=_text_part(text),
        text=text,
        when=n.when(),
        from_me=False,
        extra=extra,
    )
    return n.item(
        (
            mail,
            n.label(
                mail,
                "job_alert",
                IncomingKind.BULK,
                "Job alert: bulk mail that names roles and companies.",
            ),
        )
    )


def _receipt(n: _NoiseMaker) -> _NoiseItem:
    name, email, subject = n.rng.choice(_RECEIPTS)
    number = n.rng.randint(100000, 999999)
    amount = f"{n.rng.randint(5, 120)}.{n.rng.randint(0, 99):02d}"
    text = _compose(
        [
            f"Thank you for your purchase. Reference {number}.",
            f"Total paid: EUR {amount}",
            "Keep this email for your records.",
        ],
        f"{name} customer service",
    )
    mail = n.mail(
        sender=Address(email, name),
        to=n.ctx.user,
        subject=subject.format(n=number),
        body=_text_part(text),
        text=text,
        when=n.when(),
        from_me=False,
    )
    if n.rng.random() < 0.3:
        mail.folder, mail.flags = ARCHIVE, (SEEN,)
    return n.item(
        (
            mail,
            n.label(
                mail,
                "receipt",
                IncomingKind.OTHER_AUTOMATIC,
                "Transactional receipt, no list headers.",
            ),
        )
    )


def _friend(n: _NoiseMaker) -> Address:
    first, last = n.rng.choice(_FIRST_NAMES), n.rng.choice(_LAST_NAMES)
    return Address(
        f"{_ascii_fold(first)}.{_ascii_fold(last)}@{n.rng.choice(_FRIEND_DOMAINS)}",
        f"{first} {last}",
    )


def _personal(n: _NoiseMaker) -> _NoiseItem:
    friend = _friend(n)
    text = _compose(
        [f"Hi {_first_name(n.ctx.user)},", n.rng.choice(_PERSONAL_TEXTS)], _first_name(friend)
    )
    mail = n.mail(
        sender=friend,
        to=n.ctx.user,
        subject=n.rng.choice(_PERSONAL_SUBJECTS),
        body=_text_part(text),
        text=text,
        when=n.when(),
        from_me=False,
    )
    return n.item(
        (
            mail,
            n.label(
                mail,
                "personal",
                IncomingKind.HUMAN_REPLY,
                "Personal mail from a friend; not about a job, not a reply to tracked mail.",
            ),
        )
    )


def _personal_exchange(n: _NoiseMaker) -> _NoiseItem:
    friend = _friend(n)
    subject = n.rng.choice(_PERSONAL_SUBJECTS)
    text = _compose(
        [f"Hi {_first_name(friend)},", n.rng.choice(_PERSONAL_TEXTS)], _first_name(n.ctx.user)
    )
    sent = n.mail(
        sender=n.ctx.user,
        to=friend,
        subject=subject,
        body=_text_part(text),
        text=text,
        when=n.when(),
        from_me=True,
    )
    answer = "Sounds good to me, see you then!"
    reply_text = _compose([answer], _first_name(friend))
    reply = n.mail(
        sender=friend,
        to=n.ctx.user,
        subject=_reply_subject(subject),
        body=_text_part(reply_text),
        text=reply_text,
        when=sent.date + timedelta(hours=n.rng.randint(1, 20)),
        from_me=False,
    )
    reply.date = min(reply.date, n.ctx.latest).astimezone(_USER_TZ)
    reply.in_reply_to, reply.references = sent.message_id, (sent.message_id,)
    return n.item(
        (
            sent,
            n.label(sent, "personal_sent", None, "The user's personal mail: must not be tracked."),
        ),
        (
            reply,
            n.label(
                reply,
                "personal",
                IncomingKind.HUMAN_REPLY,
                "A friend's answer to untracked personal mail.",
            ),
        ),
    )


def _draft(n: _NoiseMaker) -> _NoiseItem:
    company, domain = n.rng.choice(_DRAFT_COMPANIES)
    role = n.rng.choice(_ROLES)
    text = f"Dear Hiring Team,\n\nI am writing to apply for the {role} position at {company}.\n"
    mail = n.mail(
        sender=n.ctx.user,
        to=Address(f"jobs@{domain}"),
        subject=f"Application: {role}",
        body=_text_part(text),
        text=text,
        when=n.when(),
        from_me=True,
    )
    mail.folder, mail.flags = DRAFTS, (DRAFT, SEEN)
    return n.item(
        (mail, n.label(mail, "draft", None, "An unsent draft in Drafts: not a sent application."))
    )


_NOISE_BUILDERS: dict[str, Callable[[_NoiseMaker], _NoiseItem]] = {
    "newsletter": _newsletter,
    "job_alert": _job_alert,
    "receipt": _receipt,
    "personal": _personal,
    "personal_exchange": _personal_exchange,
    "draft": _draft,
}


# --------------------------------------------------------------------------- streaming


def _stream_messages(ctx: _Context, conversations: int, noise: int) -> Iterator[GeneratedMessage]:
    """Conversations in order, with noise spread evenly between them."""
    scenarios = _scenario_sequence(ctx.seed, conversations)
    noise_stream = _noise_items(ctx, noise)
    emitted = 0
    for index, (name, occurrence) in enumerate(_with_occurrences(scenarios)):
        yield from _Conversation.build(ctx, index, name, occurrence).generated()
        target = noise * (index + 1) // conversations
        while emitted < target:
            item = next(noise_stream, None)
            if item is None:
                break
            emitted += len(item.mails)
            yield from item.messages(ctx)
    for item in noise_stream:
        yield from item.messages(ctx)


# --------------------------------------------------------------------------- mbox files

_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FROM_HEADER = re.compile(rb"^From:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", re.MULTILINE | re.IGNORECASE)
_ESCAPED_FROM = re.compile(rb"^(>*From )", re.MULTILINE)
_UNESCAPE_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
# Dovecot's mbox flag letters: Status R is \Seen; X-Status A, F, T, D are
# \Answered, \Flagged, \Draft, \Deleted.
_X_STATUS = (("\\Answered", "A"), ("\\Flagged", "F"), ("\\Draft", "T"), ("\\Deleted", "D"))


def _asctime(moment: datetime) -> str:
    m = moment.astimezone(UTC)
    return f"{_DAY_ABBR[m.weekday()]} {_MONTH_ABBR[m.month - 1]} {m.day:2d} {m:%H:%M:%S} {m.year}"


def _parse_asctime(stamp: str) -> datetime:
    """'Mon Mar  2 10:14:07 2026' (UTC) without strptime, whose names follow the locale."""
    _, month, day, clock, year = stamp.split()
    hour, minute, second = (int(part) for part in clock.split(":"))
    return datetime(
        int(year), _MONTH_ABBR.index(month) + 1, int(day), hour, minute, second, tzinfo=UTC
    )


def _envelope_sender(raw: bytes) -> str:
    match = _FROM_HEADER.search(raw.split(b"\r\n\r\n", 1)[0])
    email = (
        parseaddr(match.group(1).decode("ascii", "replace").replace("\r\n", ""))
        if match
        else ("", "")
    )
    return email[1] or "MAILER-DAEMON"


def mbox_entry(message: GeneratedMessage) -> bytes:
    """One mboxrd entry; the folder and flags travel in X-Folder / Status / X-Status."""
    meta = f"X-Folder: {message.folder}\nStatus: {'RO' if SEEN in message.flags else 'O'}\n"
    x_status = "".join(letter for flag, letter in _X_STATUS if flag in message.flags)
    if x_status:
        meta += f"X-Status: {x_status}\n"
    body = _ESCAPED_FROM.sub(rb">\1", message.raw.replace(b"\r\n", b"\n"))
    head = f"From {_envelope_sender(message.raw)} {_asctime(message.internal_date)}\n{meta}"
    return head.encode("ascii") + body + b"\n"


def write_mbox(messages: Iterable[GeneratedMessage], path: str | os.PathLike[str]) -> int:
    """Write an mboxrd file (LF line endings, as mbox readers expect); return the count."""
    count = 0
    with open(path, "wb") as out:
        for message in messages:
            out.write(mbox_entry(message))
            count += 1
    return count


def parse_mbox(data: bytes) -> Iterator[GeneratedMessage]:
    """Messages of an mbox written by :func:`write_mbox`, with folders and flags restored."""
    starts = [m.start() for m in _SEPARATOR.finditer(data)]
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(data)
        yield _parse_entry(data[start:end])


def read_mbox(path: str | os.PathLike[str]) -> Iterator[GeneratedMessage]:
    return parse_mbox(Path(path).read_bytes())


def _parse_entry(entry: bytes) -> GeneratedMessage:
    from_line, _, rest = entry.partition(b"\n")
    internal_date = _parse_asctime(from_line.decode("ascii").split(None, 2)[2])
    folder, flags = INBOX, set[str]()
    while True:
        line, _, remainder = rest.partition(b"\n")
        name, _, value = line.decode("ascii", "replace").partition(": ")
        if name == "X-Folder":
            folder = value
        elif name == "Status":
            if "R" in value:
                flags.add(SEEN)
        elif name == "X-Status":
            flags.update(flag for flag, letter in _X_STATUS if letter in value)
        else:
            break
        rest = remainder
    if rest.endswith(b"\n"):
        rest = rest[:-1]  # the blank line that separates entries
    raw = _UNESCAPE_FROM.sub(rb"\1", rest).replace(b"\n", b"\r\n")
    return GeneratedMessage(folder, raw, tuple(sorted(flags)), internal_date)


# --------------------------------------------------------------------------- label files


def labels_document(plan: MailboxPlan) -> dict[str, Any]:
    policy = _POLICY.thresholds
    return {
        "format": LABELS_FORMAT,
        "generator": "mailfollow.demo.generator",
        "seed": plan.seed,
        "as_of": plan.as_of.isoformat(),
        "user": str(plan.user),
        "aliases": list(plan.aliases),
        "conversation_count": plan.conversation_count,
        "noise_count": plan.noise_count,
        "policy": {
            "application_days": policy.application.days,
            "networking_days": policy.networking.days,
            "interview_thank_you_hours": int(policy.interview_thank_you.total_seconds() // 3600),
            "interview_follow_up_days": policy.interview_follow_up.days,
            "informational_days": policy.informational.days,
            "business_days_only": _POLICY.business_days_only,
            "max_nudges": _POLICY.max_nudges,
            "nudge_spacing_days": _POLICY.nudge_spacing.days,
            "promise_grace_days": _POLICY.promise_grace.days,
        },
        "scenarios": plan.scenario_counts(),
        "conversations": [_label_dict(label) for label in plan.labels],
        "noise": [_noise_dict(label) for label in plan.noise],
    }


def _label_dict(label: ConversationLabel) -> dict[str, Any]:
    return {
        "key": label.key,
        "stage": label.stage,
        "expected_state": label.expected_state,
        "counterpart": label.counterpart,
        "company": label.company,
        "company_domain": label.company_domain,
        "message_ids": list(label.message_ids),
        "incoming": dict(label.incoming),
        "due_at": label.due_at,
        "nudges_sent": label.nudges_sent,
        "scenario": label.scenario,
        "tags": list(label.tags),
        "notes": label.notes,
    }


def _noise_dict(label: NoiseLabel) -> dict[str, Any]:
    return {
        "message_id": label.message_id,
        "kind": label.kind,
        "folder": label.folder,
        "expected_incoming": label.expected_incoming,
        "notes": label.notes,
    }


def write_labels(plan: MailboxPlan, path: str | os.PathLike[str]) -> None:
    text = json.dumps(labels_document(plan), indent=2, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def parse_labels(text: str) -> tuple[list[ConversationLabel], list[NoiseLabel]]:
    document = json.loads(text)
    conversations = [
        ConversationLabel(
            key=item["key"],
            stage=item["stage"],
            expected_state=item["expected_state"],
            counterpart=item["counterpart"],
            company=item["company"],
            message_ids=tuple(item["message_ids"]),
            incoming=dict(item["incoming"]),
            due_at=item["due_at"],
            notes=item["notes"],
            scenario=item["scenario"],
            company_domain=item["company_domain"],
            nudges_sent=item["nudges_sent"],
            tags=tuple(item["tags"]),
        )
        for item in document["conversations"]
    ]
    noise = [NoiseLabel(**item) for item in document["noise"]]
    return conversations, noise


def read_labels(path: str | os.PathLike[str]) -> tuple[list[ConversationLabel], list[NoiseLabel]]:
    return parse_labels(Path(path).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- command line


def write_demo(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = DEMO_SEED,
    conversations: int = DEMO_CONVERSATIONS,
    as_of: datetime = DEMO_AS_OF,
    noise: int | None = None,
    order: str = "date",
) -> tuple[Path, Path, int]:
    """Write mailbox.mbox and labels.json into ``out_dir``; return both paths and the count."""
    plan = plan_mailbox(seed=seed, conversations=conversations, as_of=as_of, noise=noise)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    mbox_path, labels_path = folder / DEMO_MBOX, folder / DEMO_LABELS
    count = write_mbox(plan.messages(order=order), mbox_path)
    write_labels(plan, labels_path)
    return mbox_path, labels_path, count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mailfollow.demo.generator",
        description="Write a labelled, deterministic job-search mailbox (mbox + labels.json).",
    )
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--conversations", type=int, default=DEMO_CONVERSATIONS)
    parser.add_argument(
        "--noise",
        type=int,
        default=None,
        help="noise messages (default: a third of --conversations)",
    )
    parser.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=DEMO_AS_OF,
        help="the moment the labels describe (ISO 8601 with an offset)",
    )
    parser.add_argument("--out", default="mailfollow/demo/", help="output folder")
    parser.add_argument(
        "--order",
        choices=("date", "stream"),
        default="date",
        help="'date' sorts by internal date in memory; 'stream' writes as generated",
    )
    args = parser.parse_args(argv)
    if args.as_of.tzinfo is None:
        parser.error("--as-of needs a UTC offset, e.g. 2026-03-16T09:00:00+00:00")
    mbox_path, labels_path, count = write_demo(
        args.out,
        seed=args.seed,
        conversations=args.conversations,
        as_of=args.as_of,
        noise=args.noise,
        order=args.order,
    )
    sys.stdout.write(f"wrote {count} messages to {mbox_path} and the labels to {labels_path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
