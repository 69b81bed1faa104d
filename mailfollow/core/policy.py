"""The silence policy: is a follow-up due, and why (or why not)?

:func:`evaluate` looks at one conversation; :func:`plan_followups` evaluates
many and applies the limits that span conversations. Every verdict carries
the sentences that decided it, each quoting the message and classifier rule
it rests on; :func:`explain` prints them under the conversation's timeline.

Rules, in the order they are weighed (the first that applies decides):

1. ``ignored``: the user said so.
2. ``bounced`` / ``rejected`` / ``offer``: any bounce, rejection or offer in
   the conversation closes it for good, even if the user wrote again later.
3. The other side's last human message came after the user's last message:
   a question, or an invitation without a time, -> ``your_turn`` (never due
   until the user writes); a pending interview -> rule 4; a promise ->
   ``promised`` until the promised date (or, without a date, the stage
   threshold after the reply) plus ``promise_grace``, then ``due``; anything
   else -> ``replied``. Auto-acknowledgements and out-of-office replies are
   not human messages and do not end the silence, except an acknowledgement
   from the very address the user wrote to that came a day or more later
   (:data:`LATE_ACK`): machines answer within minutes, so it counts as a reply.
4. An invitation with an interview time the user has not written after: a
   thank-you is due :data:`THANK_YOU_DELAY` after the interview starts (not
   waiting for silence), ideally within ``thresholds.interview_thank_you``.
5. Silence since the user's last message (a later message by hand restarts
   the clock): due once the stage threshold has passed, counted in business
   days when ``business_days_only``; not before ``nudge_spacing`` after the
   previous follow-up, nor before the business day after an out-of-office
   return date.

Then: ``exhausted`` when ``nudges_sent`` has reached ``max_nudges``. A due
time is always moved out of quiet hours and, with ``business_days_only``, off
weekends and holidays to the next business morning. The state is ``due`` once
``now`` has reached it, ``waiting`` (or ``promised``) before.

Replies whose Date is earlier than the user's message they answer (clock
skew) are treated as coming right after it, so a skewed reply still counts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from mailfollow.core.calendar import Calendar, day_label, require_aware
from mailfollow.core.conversations import is_draft
from mailfollow.model import (
    ClassifiedMessage,
    Conversation,
    IncomingKind,
    OutgoingKind,
    PolicySettings,
    Stage,
    State,
    Thresholds,
    Verdict,
)

THANK_YOU_DELAY = timedelta(hours=2)  # an interview rarely ends before this
LATE_ACK = timedelta(days=1)  # automatic acknowledgements arrive long before this
_MAILFOLLOW_HEADER = "x-mailfollow-id"
_CLOSING_STATES: Mapping[IncomingKind, State] = {
    IncomingKind.BOUNCE: State.BOUNCED,
    IncomingKind.REJECTION: State.REJECTED,
    IncomingKind.OFFER: State.OFFER,
}
_OPEN_STATES = frozenset({State.DUE, State.WAITING, State.PROMISED})
_STAGE_NAMES: Mapping[Stage, str] = {
    Stage.APPLICATION: "application",
    Stage.NETWORKING: "networking",
    Stage.INTERVIEW_THANK_YOU: "interview thank-you",
    Stage.INTERVIEW_FOLLOW_UP: "interview follow-up",
    Stage.INFORMATIONAL: "informational",
}


class RecentNudge(NamedTuple):
    """A follow-up already sent (or about to be), for the per-recipient limits."""

    recipient: str  # e-mail address
    company: str
    sent_at: datetime


# --- describing things -------------------------------------------------------


def _when(moment: datetime, calendar: Calendar) -> str:
    """``strftime("%a %Y-%m-%d %H:%M %Z")`` in the user's zone; the day part, the
    only one the locale could spell, is formatted once per day."""
    local = calendar.local(moment)
    zone = local.tzname() or ""
    return f"{day_label(local.date())} {local.hour:02d}:{local.minute:02d} {zone}"


def _who(item: ClassifiedMessage) -> str:
    sender = item.message.sender
    if sender is None:
        return "someone"
    return sender.name or sender.email


def _quote(item: ClassifiedMessage, calendar: Calendar) -> str:
    message = item.message
    subject = message.subject or "(no subject)"
    return (
        f'"{subject}" from {_who(item)} on {_when(message.date, calendar)} '
        f"(rule {item.classification.rule})"
    )


@functools.lru_cache(maxsize=256)  # a handful of configured spans, described again and again
def _span(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        days = span.days
        return f"{days} day{'s' if days != 1 else ''}"
    hours = span / timedelta(hours=1)
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


# --- facts about one conversation ------------------------------------------


@dataclass
class _Facts:
    """What the rules look at, computed once per conversation (read-only; not frozen
    only because a frozen dataclass is slower to build, once per conversation)."""

    conversation: Conversation
    mine: tuple[ClassifiedMessage, ...]  # the user's sent messages, in date order
    theirs: tuple[ClassifiedMessage, ...]  # everything classified as incoming, by effective date
    effective: Mapping[str, datetime] = field(default_factory=dict)

    @classmethod
    def gather(cls, conversation: Conversation) -> _Facts:
        seen: set[str] = set()
        kept = []
        for item in conversation.messages:
            message_id = item.message.message_id
            if message_id in seen or is_draft(item.message):
                continue
            seen.add(message_id)
            kept.append(item)
        mine = [i for i in kept if i.from_me]
        if len(mine) > 1:
            mine.sort(key=_by_date)
        theirs = [i for i in kept if not i.from_me and i.classification.incoming is not None]
        my_dates = {i.message.message_id: i.message.date for i in mine}
        effective = {}
        for item in theirs:
            message = item.message
            answered = (
                [
                    my_dates[ref]
                    for ref in map(_clean_ref, (*message.in_reply_to, *message.references))
                    if ref in my_dates
                ]
                if my_dates
                else ()
            )
            effective[message.message_id] = max([message.date, *answered])
        if len(theirs) > 1:
            theirs.sort(key=lambda i: (effective[i.message.message_id], i.message.message_id))
        return cls(conversation, tuple(mine), tuple(theirs), effective)

    def at(self, item: ClassifiedMessage) -> datetime:
        return self.effective.get(item.message.message_id, item.message.date)

    @property
    def anchor(self) -> ClassifiedMessage | None:
        """The user's latest sent message: the silence is counted from it."""
        return self.mine[-1] if self.mine else None

    @functools.cached_property
    def human(self) -> tuple[ClassifiedMessage, ...]:
        """The other side's answers: messages a person wrote, and late acknowledgements."""
        return tuple(i for i in self.theirs if _incoming(i).is_human or self.is_late_ack(i))

    def is_late_ack(self, item: ClassifiedMessage) -> bool:
        """An "automatic acknowledgement" from the very address the user wrote to,
        arriving a day or more after the user's message. Acknowledgements come
        within minutes; this one is far more likely a person's answer, and
        counting it as one only costs a nudge."""
        if _incoming(item) is not IncomingKind.AUTO_ACK or item.message.sender is None:
            return False
        if item.message.sender.email.lower() != self.conversation.counterpart.email.lower():
            return False
        when = self.at(item)
        before = [m.message.date for m in self.mine if m.message.date <= when]
        return bool(before) and when - max(before) >= LATE_ACK

    @property
    def last_human(self) -> ClassifiedMessage | None:
        human = self.human
        return human[-1] if human else None

    @property
    def closing(self) -> ClassifiedMessage | None:
        return next((i for i in reversed(self.theirs) if _incoming(i) in _CLOSING_STATES), None)

    @functools.cached_property
    def invitation(self) -> ClassifiedMessage | None:
        """The latest invitation that names an interview time after it was sent."""
        found = [i for i in self.theirs if _has_interview_time(i, self.at(i))]
        return found[-1] if found else None

    @property
    def follow_ups(self) -> tuple[ClassifiedMessage, ...]:
        return tuple(i for i in self.mine if _is_follow_up(i))


def _clean_ref(ref: str) -> str:
    return ref.strip().strip("<>")


def _by_date(item: ClassifiedMessage) -> tuple[datetime, str]:
    return (item.message.date, item.message.message_id)


def _incoming(item: ClassifiedMessage) -> IncomingKind:
    kind = item.classification.incoming
    if kind is None:
        raise ValueError(f"{item.message.message_id} is not classified as incoming")
    return kind


def _has_interview_time(item: ClassifiedMessage, sent_at: datetime) -> bool:
    c = item.classification
    return (
        c.incoming is IncomingKind.INVITATION
        and c.interview_at is not None
        and (c.interview_at >= sent_at)
    )


def _is_follow_up(item: ClassifiedMessage) -> bool:
    return (
        item.classification.outgoing is OutgoingKind.FOLLOW_UP
        or _MAILFOLLOW_HEADER in item.message.headers
    )


def _interview_time(item: ClassifiedMessage) -> datetime:
    when = item.classification.interview_at
    if when is None:
        raise ValueError(f"{item.message.message_id} has no interview time")
    return when


def silence_threshold(stage: Stage, thresholds: Thresholds) -> timedelta:
    """The silence allowed at a stage. The thank-you threshold is a deadline after
    the interview, not a silence, so silence at that stage uses the follow-up one."""
    if stage is Stage.INTERVIEW_THANK_YOU:
        return thresholds.interview_follow_up
    return thresholds.for_stage(stage)


# --- one conversation --------------------------------------------------------


@dataclass
class _Context:
    facts: _Facts
    settings: PolicySettings
    calendar: Calendar
    now: datetime
    reasons: list[str] = field(default_factory=list)

    def decide(self, state: State, due_at: datetime | None, *sentences: str) -> _Decision:
        return _Decision(state, due_at, [*self.reasons, *sentences])


@dataclass(frozen=True)
class _Decision:
    state: State
    due_at: datetime | None
    reasons: list[str]


def _rule_ignored(ctx: _Context) -> _Decision | None:
    if not ctx.facts.conversation.ignored:
        return None
    return ctx.decide(State.IGNORED, None, "You asked mailfollow to ignore this conversation.")


def _rule_closed(ctx: _Context) -> _Decision | None:
    closing = ctx.facts.closing
    if closing is None:
        return None
    kind = _incoming(closing)
    quoted = _quote(closing, ctx.calendar)
    why = closing.classification.explanation
    why = f" {why.rstrip('.')}." if why else ""
    sentence = {
        IncomingKind.BOUNCE: f"Your message bounced: {quoted}.{why} "
        "No follow-up goes to an address that bounced.",
        IncomingKind.REJECTION: f"{_who(closing)} turned you down: {quoted}.{why} "
        "No follow-up after a rejection.",
        IncomingKind.OFFER: f"{_who(closing)} made you an offer: {quoted}.{why} "
        "There is nothing to follow up.",
    }[kind]
    return ctx.decide(_CLOSING_STATES[kind], None, sentence)


def _rule_nothing_sent(ctx: _Context) -> _Decision | None:
    if ctx.facts.anchor is not None:
        return None
    return ctx.decide(
        State.WAITING, None, "You have sent nothing in this conversation, so nothing is due."
    )


def _rule_their_answer(ctx: _Context) -> _Decision | None:
    facts, anchor, last = ctx.facts, ctx.facts.anchor, ctx.facts.last_human
    if anchor is None or last is None or facts.at(last) < anchor.message.date:
        return None
    c = last.classification
    quoted = _quote(last, ctx.calendar)
    if c.asks_question:
        return ctx.decide(
            State.YOUR_TURN,
            None,
            f"{_who(last)} asked you something: {quoted}. "
            "It is your turn to answer; nothing is due until you write again.",
        )
    if c.incoming is IncomingKind.INVITATION and not _has_interview_time(last, facts.at(last)):
        return ctx.decide(
            State.YOUR_TURN,
            None,
            f"{_who(last)} invited you without a fixed time: {quoted}. "
            "It is your turn to answer; nothing is due until you write again.",
        )
    interview = _pending_interview(facts)
    if interview is not None and (last is interview or facts.at(last) < _interview_time(interview)):
        return None  # the interview rule decides
    if c.promised_by is not None or c.promise_text:
        return _promised(ctx, last)
    if facts.is_late_ack(last):
        return ctx.decide(
            State.REPLIED,
            None,
            f"{_who(last)} answered from the address you wrote to, a day or more after "
            f"your message: {quoted}. It reads as an automatic acknowledgement, but those "
            "arrive within minutes, so mailfollow counts it as their answer.",
        )
    return ctx.decide(
        State.REPLIED,
        None,
        f"{_who(last)} replied: {quoted}. A person answered, so no follow-up is due; "
        "the clock restarts if you write again.",
    )


def _promised(ctx: _Context, reply: ClassifiedMessage) -> _Decision:
    c, settings, calendar = reply.classification, ctx.settings, ctx.calendar
    grace = settings.promise_grace
    promise = f' "{c.promise_text}"' if c.promise_text else ""
    # A promised date before the reply itself is a misreading: treat it as undated.
    if c.promised_by is not None and c.promised_by >= ctx.facts.at(reply):
        base = c.promised_by + grace
        said = (
            f"{_who(reply)} promised news by {_when(c.promised_by, calendar)}:{promise} "
            f"({_quote(reply, calendar)}); mailfollow waits until then plus "
            f"{_span(grace)} of grace."
        )
    else:
        stage = ctx.facts.conversation.stage
        threshold = silence_threshold(stage, settings.thresholds)
        base = calendar.add_threshold(ctx.facts.at(reply), threshold) + grace
        said = (
            f"{_who(reply)} promised news without a date:{promise} "
            f"({_quote(reply, calendar)}); mailfollow waits the {_STAGE_NAMES[stage]} "
            f"threshold ({_span(threshold)}) plus {_span(grace)} of grace."
        )
    ctx.reasons.append(said)
    due_at = _not_before(ctx, max(base, ctx.facts.at(reply)))
    if ctx.now < due_at:
        return ctx.decide(State.PROMISED, due_at, f"No follow-up before {_when(due_at, calendar)}.")
    return ctx.decide(
        State.DUE,
        due_at,
        f"The promised time and the grace period passed without news: "
        f"a follow-up is due since {_when(due_at, calendar)}.",
    )


def _pending_interview(facts: _Facts) -> ClassifiedMessage | None:
    """The invitation whose interview still needs a thank-you, if any.

    None once the user wrote after the interview time, or sent something
    classified as a thank-you after the invitation (the time may be misread).
    """
    invitation, anchor = facts.invitation, facts.anchor
    if invitation is None or anchor is None:
        return None
    if anchor.message.date >= _interview_time(invitation):
        return None
    for item in facts.mine:
        thanks = item.classification.outgoing is OutgoingKind.THANK_YOU
        if thanks and item.message.date >= invitation.message.date:
            return None
    return invitation


def _rule_interview(ctx: _Context) -> _Decision | None:
    facts, calendar = ctx.facts, ctx.calendar
    invitation = _pending_interview(facts)
    if invitation is None:
        return None
    interview_at = _interview_time(invitation)
    deadline = interview_at + ctx.settings.thresholds.interview_thank_you
    due_at = calendar.schedule(interview_at + THANK_YOU_DELAY)
    ctx.reasons.append(
        f"Interview on {_when(interview_at, calendar)}, set by {_quote(invitation, calendar)}."
    )
    window = f"ideally before {_when(deadline, calendar)}"
    if ctx.now < due_at:
        return ctx.decide(
            State.WAITING,
            due_at,
            f"A thank-you note becomes due after the interview, from "
            f"{_when(due_at, calendar)} ({window}).",
        )
    late = ctx.now > deadline
    return ctx.decide(
        State.DUE,
        due_at,
        f"The interview has taken place and you have not written since: a thank-you is due "
        f"since {_when(due_at, calendar)} ({window})."
        + (" That window has passed; a late thank-you still helps." if late else ""),
    )


def _rule_silence(ctx: _Context) -> _Decision:
    facts, settings, calendar = ctx.facts, ctx.settings, ctx.calendar
    anchor = facts.anchor
    if anchor is None:  # pragma: no cover - _rule_nothing_sent runs first
        raise ValueError("silence needs a message from the user")
    last = facts.last_human
    if last is not None and facts.at(last) >= anchor.message.date:  # pragma: no cover
        # Unreachable by construction (_rule_their_answer decides first); kept
        # because nudging someone who answered is the worst possible mistake.
        return ctx.decide(State.REPLIED, None, f"{_who(last)} answered: {_quote(last, calendar)}.")
    stage = facts.conversation.stage
    if facts.invitation is not None:
        stage = Stage.INTERVIEW_FOLLOW_UP  # the user wrote after the interview or thanked
    elif stage is Stage.INTERVIEW_THANK_YOU:
        return ctx.decide(
            State.WAITING,
            None,
            "An interview is being arranged but no interview time is known, so no "
            "thank-you is scheduled.",
        )
    _mention_earlier_answer(ctx)
    threshold = silence_threshold(stage, settings.thresholds)
    counted = "business days" if calendar.business_days_only else "calendar time"
    base = calendar.add_threshold(anchor.message.date, threshold)
    ctx.reasons.append(
        f"Your last message: {_quote(anchor, calendar)}. The {_STAGE_NAMES[stage]} threshold "
        f"is {_span(threshold)} ({counted}), reached on {_when(base, calendar)}."
    )
    _mention_automatic_answers(ctx, anchor)
    due_at = _not_before(ctx, base)
    if ctx.now >= due_at:
        return ctx.decide(
            State.DUE,
            due_at,
            f"No one has answered since: a follow-up is due since {_when(due_at, calendar)}.",
        )
    return ctx.decide(
        State.WAITING, due_at, f"A follow-up becomes due on {_when(due_at, calendar)}."
    )


def _mention_earlier_answer(ctx: _Context) -> None:
    last = ctx.facts.last_human
    if last is not None:
        ctx.reasons.append(
            f"{_who(last)} answered earlier ({_quote(last, ctx.calendar)}), and you wrote "
            "again after that, so the clock restarted from your message."
        )


def _mention_automatic_answers(ctx: _Context, anchor: ClassifiedMessage) -> None:
    automatic = [
        i
        for i in ctx.facts.theirs
        if i not in ctx.facts.human and ctx.facts.at(i) >= anchor.message.date
    ]
    if automatic:
        quoted = "; ".join(_quote(i, ctx.calendar) for i in automatic[-3:])
        ctx.reasons.append(f"Automatic answers do not end the silence: {quoted}.")


def _not_before(ctx: _Context, base: datetime) -> datetime:
    """Apply spacing and out-of-office returns to a due time, then schedule it."""
    facts, settings, calendar = ctx.facts, ctx.settings, ctx.calendar
    earliest = base
    follow_ups = facts.follow_ups
    if follow_ups:
        previous = follow_ups[-1]
        spaced = previous.message.date + settings.nudge_spacing
        if spaced > earliest:
            earliest = spaced
            ctx.reasons.append(
                f"Your previous follow-up {_quote(previous, calendar)} asks for "
                f"{_span(settings.nudge_spacing)} of spacing: not before {_when(spaced, calendar)}."
            )
    for item in facts.theirs:
        back = item.classification.return_date
        if _incoming(item) is not IncomingKind.OUT_OF_OFFICE or back is None:
            continue
        after_return = calendar.morning_after(calendar.local(back).date())
        if after_return > earliest:
            earliest = after_return
            ctx.reasons.append(
                f"Out of office until {calendar.local(back):%a %Y-%m-%d} "
                f"({_quote(item, calendar)}): not before {_when(after_return, calendar)}."
            )
    scheduled = calendar.schedule(earliest)
    if scheduled != earliest:
        ctx.reasons.append(
            f"{_when(earliest, calendar)} falls in quiet hours or on a day off: "
            f"moved to {_when(scheduled, calendar)}."
        )
    return scheduled


_RULES = (_rule_ignored, _rule_closed, _rule_nothing_sent, _rule_their_answer, _rule_interview)


def evaluate(conversation: Conversation, *, settings: PolicySettings, now: datetime) -> Verdict:
    """Decide whether a follow-up is due in one conversation, with the reasons."""
    require_aware(now, what="now")
    return _judge(conversation, settings, now, Calendar.from_settings(settings))[0]


def _judge(
    conversation: Conversation, settings: PolicySettings, now: datetime, calendar: Calendar
) -> tuple[Verdict, _Facts]:
    facts = _Facts.gather(conversation)
    ctx = _Context(facts, settings, calendar, now)
    decision = next((d for rule in _RULES if (d := rule(ctx)) is not None), None)
    if decision is None:
        decision = _rule_silence(ctx)
    if decision.state in _OPEN_STATES and conversation.nudges_sent >= settings.max_nudges:
        decision = _Decision(
            State.EXHAUSTED,
            None,
            [
                *decision.reasons,
                f"You already sent {conversation.nudges_sent} follow-up(s) without an answer; "
                f"the limit is {settings.max_nudges}.",
            ],
        )
    last_reply = facts.last_human
    verdict = Verdict(
        conversation_id=conversation.id,
        state=decision.state,
        due_at=decision.due_at.astimezone(UTC) if decision.due_at is not None else None,
        reasons=tuple(decision.reasons),
        last_sent_at=facts.anchor.message.date if facts.anchor is not None else None,
        last_reply_at=facts.at(last_reply) if last_reply is not None else None,
    )
    return verdict, facts


# --- many conversations ------------------------------------------------------


def _latest_of(facts: _Facts, kind: IncomingKind) -> ClassifiedMessage | None:
    return next((i for i in reversed(facts.theirs) if _incoming(i) is kind), None)


_Latest = dict[str, tuple[datetime, ClassifiedMessage]]


def _keep_latest(latest: _Latest, key: str, facts: _Facts, item: ClassifiedMessage | None) -> None:
    """Remember ``item`` under ``key`` unless a later one is already there."""
    if not key or item is None:
        return
    when = facts.at(item)
    if key not in latest or when > latest[key][0]:
        latest[key] = (when, item)


def _close_by_others(
    conversations: Sequence[Conversation],
    verdicts: list[Verdict],
    facts: Sequence[_Facts],
    calendar: Calendar,
) -> None:
    """A rejection closes the company, a bounce the address, for every
    conversation whose last message from the user came before it."""
    rejected: _Latest = {}  # company -> the latest rejection from it
    bounced: _Latest = {}  # address -> the latest bounce for it
    for c, f in zip(conversations, facts, strict=True):
        if not f.theirs:
            continue  # nothing came back: neither a rejection nor a bounce
        _keep_latest(rejected, c.company, f, _latest_of(f, IncomingKind.REJECTION))
        _keep_latest(bounced, c.counterpart.email.lower(), f, _latest_of(f, IncomingKind.BOUNCE))
    for index, conversation in enumerate(conversations):
        verdict, anchor = verdicts[index], facts[index].anchor
        if verdict.state not in _OPEN_STATES or anchor is None:
            continue
        last = anchor.message.date
        company, email = conversation.company, conversation.counterpart.email.lower()
        if company in rejected and rejected[company][0] >= last:
            quoted = _quote(rejected[company][1], calendar)
            verdicts[index] = _closed_elsewhere(
                verdict,
                State.REJECTED,
                f"{company} turned you down in another conversation after your last "
                f"message here: {quoted}. No follow-up goes to {company}.",
            )
        elif email in bounced and bounced[email][0] >= last:
            quoted = _quote(bounced[email][1], calendar)
            verdicts[index] = _closed_elsewhere(
                verdict,
                State.BOUNCED,
                f"Mail to {email} bounced in another conversation after your last "
                f"message here: {quoted}.",
            )


def _closed_elsewhere(verdict: Verdict, state: State, sentence: str) -> Verdict:
    return replace(verdict, state=state, due_at=None, reasons=(*verdict.reasons, sentence))


@dataclass
class _Ledger:
    """Follow-ups sent or planned, by recipient and company, to keep to the limits."""

    settings: PolicySettings
    by_recipient: dict[str, list[datetime]] = field(default_factory=dict)
    by_company: dict[str, list[datetime]] = field(default_factory=dict)

    def add(self, recipient: str, company: str, at: datetime) -> None:
        self.by_recipient.setdefault(recipient, []).append(at)
        if company:
            self.by_company.setdefault(company, []).append(at)

    def blocker(self, recipient: str, company: str, at: datetime) -> tuple[datetime, bool] | None:
        """The earliest nudge whose window blocks one at ``at``, and whether it
        went to the same person (else the company's limit is reached)."""
        window = self.settings.per_recipient_window
        person = [t for t in self.by_recipient.get(recipient, ()) if abs(t - at) < window]
        if person:
            return min(person), True
        near = sorted(t for t in self.by_company.get(company, ()) if abs(t - at) < window)
        if company and near and len(near) >= self.settings.per_company_limit:
            return near[0], False
        return None

    def first_free_slot(
        self, recipient: str, company: str, at: datetime, calendar: Calendar
    ) -> tuple[datetime, tuple[datetime, bool] | None]:
        """The earliest time from ``at`` the limits allow, and the first blocker met."""
        first = None
        steps = len(self.by_recipient.get(recipient, ())) + len(self.by_company.get(company, ()))
        # Every step moves past one entry's window, so this ends.
        for _ in range(steps + 1):
            found = self.blocker(recipient, company, at)
            if found is None:
                break
            first = first or found
            at = calendar.schedule(found[0] + self.settings.per_recipient_window)
        return at, first


def _spread_due_nudges(
    conversations: Sequence[Conversation],
    verdicts: list[Verdict],
    *,
    settings: PolicySettings,
    now: datetime,
    pending: Mapping[str, object],
    recent_nudges: Iterable[tuple[str, str, datetime]],
    calendar: Calendar,
) -> None:
    ledger = _Ledger(settings)
    for recipient, company, sent_at in recent_nudges:
        ledger.add(recipient.lower(), company.lower(), sent_at)
    due = [i for i, v in enumerate(verdicts) if v.state is State.DUE]
    due.sort(
        key=lambda i: (
            conversations[i].id not in pending,
            verdicts[i].due_at or now,
            conversations[i].id,
        )
    )
    for index in due:
        conversation, verdict = conversations[index], verdicts[index]
        recipient = conversation.counterpart.email.lower()
        company = conversation.company.lower()
        at = max(verdict.due_at or now, now)
        if conversation.id in pending:
            ledger.add(recipient, company, at)
            continue
        slot, first = ledger.first_free_slot(recipient, company, at, calendar)
        ledger.add(recipient, company, slot)
        if first is None:
            continue
        sent_at, same_person = first
        who = recipient if same_person else f"{settings.per_company_limit} people at {company}"
        verdicts[index] = replace(
            verdict,
            state=State.WAITING if slot > now else State.DUE,
            due_at=slot,
            reasons=(
                *verdict.reasons,
                f"A follow-up to {who} is already planned or sent around "
                f"{_when(sent_at, calendar)}; at most one per recipient and "
                f"{settings.per_company_limit} per company every "
                f"{_span(settings.per_recipient_window)}: moved to {_when(slot, calendar)}.",
            ),
        )


def _note_pending(verdicts: list[Verdict], pending: Mapping[str, object]) -> None:
    for index, verdict in enumerate(verdicts):
        if verdict.conversation_id not in pending:
            continue
        label = pending[verdict.conversation_id]
        if verdict.state is State.DUE:
            sentence = (
                f"A follow-up draft ({label}) is already waiting for your approval; "
                "no second draft is made."
            )
        else:
            sentence = (
                f"A follow-up draft ({label}) is waiting for approval but the conversation is "
                f"now {verdict.state.value}: it should be withdrawn."
            )
        verdicts[index] = replace(verdict, reasons=(*verdict.reasons, sentence))


def plan_followups(
    conversations: Sequence[Conversation],
    *,
    settings: PolicySettings,
    now: datetime,
    pending: Mapping[str, object] | None = None,
    recent_nudges: Sequence[tuple[str, str, datetime]] = (),
) -> list[Verdict]:
    """Evaluate every conversation, then apply the limits that span conversations.

    ``pending`` maps the id of each conversation that already has a draft
    waiting for approval to a label for it (a queue id); such a conversation
    stays ``due`` but :func:`needs_new_draft` says no. ``recent_nudges`` lists
    (recipient e-mail, company, sent_at) of follow-ups already sent or
    approved. Verdicts come back in the order of ``conversations``.
    """
    require_aware(now, what="now")
    pending = pending or {}
    calendar = Calendar.from_settings(settings)
    judged = [_judge(c, settings, now, calendar) for c in conversations]
    verdicts = [verdict for verdict, _ in judged]
    _close_by_others(conversations, verdicts, [facts for _, facts in judged], calendar)
    _spread_due_nudges(
        conversations,
        verdicts,
        settings=settings,
        now=now,
        pending=pending,
        recent_nudges=recent_nudges,
        calendar=calendar,
    )
    _note_pending(verdicts, pending)
    return verdicts


def needs_new_draft(verdict: Verdict, *, pending: Mapping[str, object]) -> bool:
    """Whether to draft a follow-up now: due, and no draft already waiting."""
    return verdict.state is State.DUE and verdict.conversation_id not in pending


# --- explaining --------------------------------------------------------------


def _direction(item: ClassifiedMessage) -> str:
    if is_draft(item.message):
        return "draft"
    return "sent" if item.from_me else "received"


def explain(conversation: Conversation, verdict: Verdict) -> list[str]:
    """The conversation's timeline, one line per message, then the verdict's reasons."""
    lines = []
    for item in sorted(conversation.messages, key=_by_date):
        message, c = item.message, item.classification
        direction = _direction(item)
        kind = c.outgoing or c.incoming or "unclassified"
        lines.append(
            f"{message.date.astimezone(UTC):%Y-%m-%d %H:%M} UTC  {direction:<8}  "
            f"{kind} ({c.rule})  {message.subject or '(no subject)'}"
        )
    due = f", due {verdict.due_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if verdict.due_at else ""
    lines.append(f"=> {verdict.state.value}{due}")
    lines.extend(verdict.reasons)
    return lines
