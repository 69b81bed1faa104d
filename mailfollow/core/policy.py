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
   not human messages and never end the silence.
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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from mailfollow.core.calendar import Calendar, require_aware
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
    return calendar.local(moment).strftime("%a %Y-%m-%d %H:%M %Z")


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


def _span(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        days = span.days
        return f"{days} day{'s' if days != 1 else ''}"
    hours = span / timedelta(hours=1)
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


# --- facts about one conversation ------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What the rules look at, computed once per conversation."""

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
        mine = sorted((i for i in kept if i.from_me), key=_by_date)
        theirs = [i for i in kept if not i.from_me and i.classification.incoming is not None]
        my_dates = {i.message.message_id: i.message.date for i in mine}
        effective = {}
        for item in theirs:
            answered = [
                my_dates[ref]
                for ref in (*item.message.in_reply_to, *item.message.references)
                if ref in my_dates
            ]
            effective[item.message.message_id] = max([item.message.date, *answered])
        theirs.sort(key=lambda i: (effective[i.message.message_id], i.message.message_id))
        return cls(conversation, tuple(mine), tuple(theirs), effective)

    def at(self, item: ClassifiedMessage) -> datetime:
        return self.effective.get(item.message.message_id, item.message.date)

    @property
    def anchor(self) -> ClassifiedMessage | None:
        """The user's latest sent message: the silence is counted from it."""
        return self.mine[-1] if self.mine else None

    @property
    def human(self) -> tuple[ClassifiedMessage, ...]:
        return tuple(i for i in self.theirs if _incoming(i).is_human)

    @property
    def last_human(self) -> ClassifiedMessage | None:
        human = self.human
        return human[-1] if human else None

    @property
    def closing(self) -> ClassifiedMessage | None:
        closing = [i for i in self.theirs if _incoming(i) in _CLOSING_STATES]
        return closing[-1] if closing else None

    @property
    def invitation(self) -> ClassifiedMessage | None:
        """The latest invitation that names an interview time after it was sent."""
        found = [i for i in self.theirs if _has_interview_time(i, self.at(i))]
        return found[-1] if found else None

    @property
    def follow_ups(self) -> tuple[ClassifiedMessage, ...]:
        return tuple(i for i in self.mine if _is_follow_up(i))


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
    invitation = facts.invitation
    if invitation is not None and (
        last is invitation or facts.at(last) < _interview_time(invitation)
    ):
        return None  # the interview rule decides
    if c.promised_by is not None or c.promise_text:
        return _promised(ctx, last)
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
    if c.promised_by is not None:
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


def _rule_interview(ctx: _Context) -> _Decision | None:
    facts, calendar = ctx.facts, ctx.calendar
    invitation, anchor = facts.invitation, facts.anchor
    if invitation is None or anchor is None:
        return None
    interview_at = _interview_time(invitation)
    if anchor.message.date >= interview_at:
        return None  # the user wrote after the interview: plain silence from there
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
    stage = facts.conversation.stage
    if facts.invitation is not None:
        stage = Stage.INTERVIEW_FOLLOW_UP  # the user wrote after the interview
    elif stage is Stage.INTERVIEW_THANK_YOU:
        return ctx.decide(
            State.WAITING,
            None,
            "An interview is being arranged but no interview time is known, so no "
            "thank-you is scheduled.",
        )
    _mention_earlier_answer(ctx, anchor)
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


def _mention_earlier_answer(ctx: _Context, anchor: ClassifiedMessage) -> None:
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
        if not _incoming(i).is_human and ctx.facts.at(i) >= anchor.message.date
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
    facts = _Facts.gather(conversation)
    ctx = _Context(facts, settings, Calendar.from_settings(settings), now)
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
    return Verdict(
        conversation_id=conversation.id,
        state=decision.state,
        due_at=decision.due_at.astimezone(UTC) if decision.due_at is not None else None,
        reasons=tuple(decision.reasons),
        last_sent_at=facts.anchor.message.date if facts.anchor is not None else None,
        last_reply_at=facts.at(last_reply) if last_reply is not None else None,
    )


# --- many conversations ------------------------------------------------------


def _last_mine(facts: _Facts) -> datetime | None:
    return facts.anchor.message.date if facts.anchor is not None else None


def _latest_of(facts: _Facts, kind: IncomingKind) -> ClassifiedMessage | None:
    found = [i for i in facts.theirs if _incoming(i) is kind]
    return found[-1] if found else None


def _close_by_others(
    conversations: Sequence[Conversation],
    verdicts: list[Verdict],
    facts: Sequence[_Facts],
    calendar: Calendar,
) -> None:
    """A rejection closes the company; a bounce closes the address (for messages before it)."""
    rejections = [
        (c.company, f.at(r), r)
        for c, f in zip(conversations, facts, strict=True)
        if c.company and (r := _latest_of(f, IncomingKind.REJECTION)) is not None
    ]
    bounces = [
        (c.counterpart.email, f.at(b), b)
        for c, f in zip(conversations, facts, strict=True)
        if (b := _latest_of(f, IncomingKind.BOUNCE)) is not None
    ]
    for index, conversation in enumerate(conversations):
        verdict = verdicts[index]
        last = _last_mine(facts[index])
        if verdict.state not in _OPEN_STATES or last is None:
            continue
        for company, when, item in rejections:
            if company == conversation.company and when >= last:
                verdicts[index] = _closed_elsewhere(
                    verdict,
                    State.REJECTED,
                    f"{company} turned you down in another conversation after your last "
                    f"message here: {_quote(item, calendar)}. No follow-up goes to {company}.",
                )
                break
        else:
            for email, when, item in bounces:
                if email == conversation.counterpart.email and when >= last:
                    verdicts[index] = _closed_elsewhere(
                        verdict,
                        State.BOUNCED,
                        f"Mail to {email} bounced in another conversation after your last "
                        f"message here: {_quote(item, calendar)}.",
                    )
                    break


def _closed_elsewhere(verdict: Verdict, state: State, sentence: str) -> Verdict:
    return replace(verdict, state=state, due_at=None, reasons=(*verdict.reasons, sentence))


@dataclass
class _Ledger:
    """Follow-ups sent or planned, to keep to the per-recipient and per-company limits."""

    settings: PolicySettings
    entries: list[RecentNudge] = field(default_factory=list)

    def conflict(self, recipient: str, company: str, at: datetime) -> RecentNudge | None:
        """The entry that blocks a nudge at ``at``: its window must pass first."""
        window = self.settings.per_recipient_window
        near = [e for e in self.entries if abs(e.sent_at - at) < window]
        same_person = [e for e in near if e.recipient == recipient]
        if same_person:
            return min(same_person, key=lambda e: e.sent_at)
        if company:
            same_company = sorted(
                (e for e in near if e.company == company), key=lambda e: e.sent_at
            )
            if same_company and len(same_company) >= self.settings.per_company_limit:
                return same_company[0]
        return None

    def first_free_slot(
        self, recipient: str, company: str, at: datetime, calendar: Calendar
    ) -> tuple[datetime, list[RecentNudge]]:
        blockers: list[RecentNudge] = []
        # Every step moves past one entry's window, so this ends.
        for _ in range(len(self.entries) + 1):
            blocker = self.conflict(recipient, company, at)
            if blocker is None:
                break
            blockers.append(blocker)
            at = calendar.schedule(blocker.sent_at + self.settings.per_recipient_window)
        return at, blockers


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
    ledger = _Ledger(
        settings,
        [RecentNudge(r.lower(), c.lower(), s) for r, c, s in recent_nudges],
    )
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
            ledger.entries.append(RecentNudge(recipient, company, at))
            continue
        slot, blockers = ledger.first_free_slot(recipient, company, at, calendar)
        ledger.entries.append(RecentNudge(recipient, company, slot))
        if not blockers:
            continue
        first = blockers[0]
        who = (
            f"{first.recipient}"
            if first.recipient == recipient
            else f"{settings.per_company_limit} people at {company}"
        )
        verdicts[index] = replace(
            verdict,
            state=State.WAITING if slot > now else State.DUE,
            due_at=slot,
            reasons=(
                *verdict.reasons,
                f"A follow-up to {who} is already planned or sent around "
                f"{_when(first.sent_at, calendar)}; at most one per recipient and "
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
    pending = pending or {}
    calendar = Calendar.from_settings(settings)
    facts = [_Facts.gather(c) for c in conversations]
    verdicts = [evaluate(c, settings=settings, now=now) for c in conversations]
    _close_by_others(conversations, verdicts, facts, calendar)
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
