"""Properties of the silence policy: the product's promises, on generated mail."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mailfollow.core.calendar import Calendar
from mailfollow.core.conversations import infer_conversations
from mailfollow.core.policy import evaluate, plan_followups
from mailfollow.model import (
    Address,
    ClassifiedMessage,
    Conversation,
    FolderRole,
    IncomingKind,
    OutgoingKind,
    PolicySettings,
    QuietHours,
    Stage,
    State,
    Thresholds,
    Verdict,
)
from tests.conv_factories import ALIAS, IDENTITY, JANE, ME, answer, conversation, outgoing

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
CLOSED = frozenset({IncomingKind.REJECTION, IncomingKind.BOUNCE})
FEW = settings(max_examples=200, deadline=None)

hours = st.integers(min_value=0, max_value=24 * 60)


@st.composite
def policies(draw: st.DrawFn) -> PolicySettings:
    quiet = None
    if draw(st.booleans()):
        quiet = QuietHours(
            time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))),
            time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15]))),
        )
    holidays = draw(
        st.frozensets(st.dates(date(2026, 3, 1), date(2026, 6, 30)).map(date.isoformat), max_size=8)
    )
    return PolicySettings(
        thresholds=Thresholds(
            application=timedelta(days=draw(st.integers(1, 10))),
            interview_thank_you=timedelta(hours=draw(st.integers(1, 48))),
            interview_follow_up=timedelta(days=draw(st.integers(1, 10))),
        ),
        max_nudges=draw(st.integers(0, 4)),
        nudge_spacing=timedelta(days=draw(st.integers(0, 10))),
        business_days_only=draw(st.booleans()),
        holidays=holidays,
        quiet_hours=quiet,
        timezone=draw(st.sampled_from(ZONES)),
        promise_grace=timedelta(hours=draw(st.integers(0, 96))),
    )


def at(offset_hours: int) -> datetime:
    return START + timedelta(hours=offset_hours)


_KINDS = [
    *[IncomingKind.HUMAN_REPLY] * 4,
    *[IncomingKind.INVITATION] * 2,
    IncomingKind.AUTO_ACK,
    IncomingKind.OUT_OF_OFFICE,
    IncomingKind.BULK,
    IncomingKind.OTHER_AUTOMATIC,
    IncomingKind.REJECTION,
    IncomingKind.BOUNCE,
    IncomingKind.OFFER,
]
_HUMAN_OPEN = [IncomingKind.HUMAN_REPLY, IncomingKind.INVITATION]
_CLOSING = frozenset({IncomingKind.REJECTION, IncomingKind.BOUNCE, IncomingKind.OFFER})


@st.composite
def their_message(
    draw: st.DrawFn,
    original: ClassifiedMessage,
    kinds: list[IncomingKind] = _KINDS,
    after: int = 0,
    odds: int = 4,
) -> ClassifiedMessage:
    """The other side's message; one in ``odds`` human ones promises or asks."""
    kind = draw(st.sampled_from(kinds))
    sent = after + draw(hours)
    extra: dict[str, object] = {}
    if kind is IncomingKind.OUT_OF_OFFICE and draw(st.booleans()):
        extra["return_date"] = at(sent + draw(hours))
    if kind is IncomingKind.INVITATION and draw(st.integers(0, 3)) > 0:
        extra["interview_at"] = at(sent + draw(st.integers(-48, 24 * 30)))
    if kind.is_human and draw(st.integers(1, odds)) == odds:
        extra["promise_text"] = "We will get back to you."
        if draw(st.booleans()):
            extra["promised_by"] = at(sent + draw(st.integers(-48, 24 * 30)))
    if kind.is_human:
        extra["asks_question"] = draw(st.integers(1, odds)) == odds
    return answer(original, kind, date=at(sent), **extra)


@st.composite
def my_message(draw: st.DrawFn, original: ClassifiedMessage) -> ClassifiedMessage:
    kind = draw(
        st.sampled_from([OutgoingKind.FOLLOW_UP, OutgoingKind.OTHER, OutgoingKind.THANK_YOU])
    )
    msg_id = original.message.message_id
    return outgoing(kind, date=at(draw(hours)), in_reply_to=(msg_id,), subject="Re: hello")


def _hours_since_start(items: list[ClassifiedMessage]) -> int:
    return max(int((m.message.date - START) / timedelta(hours=1)) for m in items)


@st.composite
def conversations(
    draw: st.DrawFn, *, they_answer_last: bool = False, final: str = "any"
) -> Conversation:
    """A tracked application and what followed, over about two months.

    With ``they_answer_last`` the last message is a human one from the other
    side, sent after everything else: any reply or invitation (``final="any"``),
    a reply promising news by a date (``"promise"``) or an invitation to a
    future interview (``"interview"``). Earlier messages never close the
    conversation then, and with a specific ``final`` they hold no invitation.
    """
    starter = outgoing(date=START)
    kinds = _KINDS
    if they_answer_last:
        kinds = [k for k in _KINDS if k not in _CLOSING]
    if final != "any":
        kinds = [k for k in kinds if k is not IncomingKind.INVITATION]
    theirs = draw(st.lists(their_message(starter, kinds), max_size=4))
    mine = draw(st.lists(my_message(starter), max_size=3))
    if they_answer_last:
        sent = _hours_since_start([starter, *theirs, *mine]) + 1 + draw(hours)
        if final == "promise":
            last = answer(
                starter,
                date=at(sent),
                promised_by=at(sent + draw(st.integers(0, 24 * 30))),
                promise_text="We expect to decide soon.",
            )
        elif final == "interview":
            last = answer(
                starter,
                IncomingKind.INVITATION,
                date=at(sent),
                interview_at=at(sent + draw(st.integers(0, 24 * 30))),
            )
        else:
            last = draw(their_message(starter, _HUMAN_OPEN, after=sent, odds=2))
        theirs.append(last)
    return conversation(
        starter,
        *theirs,
        *mine,
        nudges_sent=draw(st.sampled_from([0, 0, 1, 2, 3])),
        stage=draw(st.sampled_from(list(Stage))),
    )


moments = hours.map(at)


def _their_human(conv: Conversation) -> list[ClassifiedMessage]:
    return [
        m
        for m in conv.messages
        if not m.from_me
        and m.classification.incoming is not None
        and m.classification.incoming.is_human
    ]


def _mine(conv: Conversation) -> list[ClassifiedMessage]:
    return [m for m in conv.messages if m.from_me]


def _assert_schedulable(verdict: Verdict, policy: PolicySettings) -> None:
    if verdict.due_at is not None:
        assert Calendar.from_settings(policy).is_schedulable(verdict.due_at), verdict


@FEW
@given(conversations(they_answer_last=True), policies(), moments)
def test_when_they_spoke_last_nothing_is_due_before_their_promise_or_interview(
    conv: Conversation, policy: PolicySettings, now: datetime
) -> None:
    human = _their_human(conv)
    last_mine = max(m.message.date for m in _mine(conv))
    if not human or max(m.message.date for m in human) < last_mine:
        return
    last = max(human, key=lambda m: (m.message.date, m.message.message_id))
    verdict = evaluate(conv, settings=policy, now=now)
    if verdict.state is not State.DUE and verdict.due_at is None:
        return
    assert verdict.due_at is not None
    c = last.classification
    promised = c.promised_by is not None or bool(c.promise_text)
    keeps_promise = promised and (c.promised_by is None or verdict.due_at >= c.promised_by)
    interviews = [
        m.classification.interview_at
        for m in human
        if m.classification.incoming is IncomingKind.INVITATION
        and m.classification.interview_at is not None
    ]
    after_interview = any(
        verdict.due_at >= when and last_mine < when for when in interviews if when is not None
    )
    assert keeps_promise or after_interview, verdict.reasons
    if verdict.state is State.DUE:
        assert now >= verdict.due_at


@FEW
@given(conversations(they_answer_last=True, final="promise"), policies(), moments)
def test_after_a_dated_promise_nothing_is_due_before_the_date_and_its_grace(
    conv: Conversation, policy: PolicySettings, now: datetime
) -> None:
    promised_by = conv.messages[-1].classification.promised_by
    assert promised_by is not None
    verdict = evaluate(conv, settings=policy, now=now)
    if now < promised_by + policy.promise_grace:
        assert verdict.state is not State.DUE
    if verdict.due_at is not None:
        assert verdict.due_at >= promised_by + policy.promise_grace


@FEW
@given(conversations(they_answer_last=True, final="interview"), policies(), moments)
def test_after_an_invitation_nothing_is_due_before_the_interview(
    conv: Conversation, policy: PolicySettings, now: datetime
) -> None:
    interview_at = conv.messages[-1].classification.interview_at
    assert interview_at is not None
    verdict = evaluate(conv, settings=policy, now=now)
    if now < interview_at:
        assert verdict.state is not State.DUE
    if verdict.due_at is not None:
        assert verdict.due_at > interview_at


@FEW
@given(conversations(), policies(), moments)
def test_a_rejected_or_bounced_conversation_is_never_due(
    conv: Conversation, policy: PolicySettings, now: datetime
) -> None:
    closing = [
        m.classification.incoming
        for m in conv.messages
        if not m.from_me and m.classification.incoming in CLOSED
    ]
    for verdict in (
        evaluate(conv, settings=policy, now=now),
        *plan_followups([conv], settings=policy, now=now),
    ):
        if closing:
            assert verdict.state in (State.REJECTED, State.BOUNCED, State.OFFER)
            assert verdict.due_at is None


@FEW
@given(conversations(), policies(), moments)
def test_nudges_never_exceed_the_limit(
    conv: Conversation, policy: PolicySettings, now: datetime
) -> None:
    if conv.nudges_sent < policy.max_nudges:
        return
    for verdict in plan_followups([conv], settings=policy, now=now):
        assert verdict.state is not State.DUE
        assert verdict.due_at is None


@FEW
@given(st.lists(conversations(), min_size=1, max_size=4), policies(), moments)
def test_due_times_avoid_quiet_hours_and_days_off_and_match_the_state(
    convs: list[Conversation], policy: PolicySettings, now: datetime
) -> None:
    verdicts = plan_followups(convs, settings=policy, now=now)
    for verdict in verdicts:
        _assert_schedulable(verdict, policy)
        if verdict.state is State.DUE:
            assert verdict.due_at is not None
            assert verdict.due_at <= now
        if verdict.state in (State.WAITING, State.PROMISED) and verdict.due_at is not None:
            assert verdict.due_at > now


@FEW
@given(st.lists(conversations(), min_size=2, max_size=5), policies(), moments)
def test_at_most_one_due_nudge_per_recipient_and_the_limit_per_company(
    convs: list[Conversation], policy: PolicySettings, now: datetime
) -> None:
    people = [JANE, Address("bob@acme.example"), Address("sam@globex.example")]
    spread = [
        replace(
            c, id=f"c{i}", counterpart=people[i % 3], company=people[i % 3].domain.split(".")[0]
        )
        for i, c in enumerate(convs)
    ]
    by_id = {c.id: c for c in spread}
    due = [v for v in plan_followups(spread, settings=policy, now=now) if v.state is State.DUE]
    recipients = Counter(by_id[v.conversation_id].counterpart.email for v in due)
    companies = Counter(by_id[v.conversation_id].company for v in due)
    assert all(n <= 1 for n in recipients.values())
    assert all(n <= max(policy.per_company_limit, 1) for n in companies.values())


# --- the user's own messages ---------------------------------------------------

_CASES = st.sampled_from([str.lower, str.upper, str.title, lambda s: s])
_FOLDERS = st.sampled_from(list(FolderRole))
_PRETENDING = st.sampled_from(
    [
        IncomingKind.HUMAN_REPLY,
        IncomingKind.REJECTION,
        IncomingKind.BOUNCE,
        IncomingKind.OFFER,
        IncomingKind.INVITATION,
    ]
)


@st.composite
def my_messages_in_disguise(draw: st.DrawFn, original: ClassifiedMessage) -> ClassifiedMessage:
    """My own message, from any alias in any case and any folder, misclassified
    as the other side's answer."""
    who = draw(st.sampled_from([ME, ALIAS]))
    sender = Address(draw(_CASES)(who.email), who.name)
    flags = frozenset({"\\Draft"}) if draw(st.booleans()) else frozenset()
    return answer(
        original,
        draw(_PRETENDING),
        sender=sender,
        to=(JANE,),
        date=at(draw(hours)),
        folder_role=draw(_FOLDERS),
        flags=flags,
        asks_question=draw(st.booleans()),
        promise_text="soon",
        interview_at=at(draw(hours)),
    )


@FEW
@given(st.data(), policies(), moments)
def test_my_own_messages_never_count_as_a_reply(
    data: st.DataObject, policy: PolicySettings, now: datetime
) -> None:
    starter = outgoing(date=START, to=(JANE,))
    disguised = data.draw(st.lists(my_messages_in_disguise(starter), max_size=4))
    [conv] = infer_conversations([starter, *disguised], identity=IDENTITY, policy=policy)
    assert all(m.from_me for m in conv.messages)
    verdict = evaluate(conv, settings=policy, now=now)
    assert verdict.state in (State.DUE, State.WAITING, State.EXHAUSTED)
    assert verdict.last_reply_at is None
