from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailfollow.core.calendar import Calendar, load_zone
from mailfollow.core.conversations import infer_conversations
from mailfollow.core.policy import (
    THANK_YOU_DELAY,
    _when,
    evaluate,
    explain,
    needs_new_draft,
    plan_followups,
)
from mailfollow.model import (
    Address,
    ClassifiedMessage,
    Conversation,
    IncomingKind,
    OutgoingKind,
    PolicySettings,
    QuietHours,
    Stage,
    State,
    Verdict,
)
from tests.conv_factories import (
    BOB,
    CALENDAR_DAYS,
    IDENTITY,
    JANE,
    NOW,
    SETTINGS,
    answer,
    conversation,
    day,
    follow_up,
    incoming,
    outgoing,
)

BERLIN_NIGHTS = PolicySettings(
    timezone="Europe/Berlin", quiet_hours=QuietHours(time(20, 0), time(8, 0))
)


def judge(conv: Conversation, settings: PolicySettings = SETTINGS, now: datetime = NOW) -> Verdict:
    return evaluate(conv, settings=settings, now=now)


# --- silence -------------------------------------------------------------------


def test_an_application_left_unanswered_past_its_threshold_is_due() -> None:
    sent = outgoing(date=day(3, 2), rule="application.cv-attachment")  # a Monday
    verdict = judge(conversation(sent))
    assert verdict.state is State.DUE
    assert verdict.due_at == day(3, 11)  # seven business days later
    assert verdict.last_sent_at == day(3, 2)
    assert verdict.last_reply_at is None
    assert any(
        '"Application: Backend Engineer"' in r and "application.cv-attachment" in r
        for r in verdict.reasons
    )


def test_the_threshold_counts_business_days_so_a_friday_application_waits_longer() -> None:
    verdict = judge(conversation(outgoing(date=day(3, 6))))
    assert verdict.state is State.WAITING
    assert verdict.due_at == day(3, 17)


def test_configured_holidays_are_skipped_like_weekends() -> None:
    settings = replace(SETTINGS, holidays=frozenset({"2026-03-10"}))
    assert judge(conversation(outgoing(date=day(3, 2))), settings).due_at == day(3, 12)


def test_without_business_days_the_threshold_is_calendar_time() -> None:
    verdict = judge(conversation(outgoing(date=day(3, 6))), CALENDAR_DAYS)
    assert verdict.state is State.DUE
    assert verdict.due_at == day(3, 13)


def test_each_stage_has_its_own_threshold() -> None:
    networking = conversation(
        outgoing(OutgoingKind.NETWORKING, date=day(3, 2)), stage=Stage.NETWORKING
    )
    assert judge(networking, CALENDAR_DAYS).due_at == day(3, 12)


def test_automatic_acknowledgements_and_out_of_office_replies_are_not_answers() -> None:
    sent = outgoing(date=day(3, 2))
    ack = answer(sent, IncomingKind.AUTO_ACK, date=day(3, 2, 11), rule="ack.ats-template")
    ooo = answer(sent, IncomingKind.OUT_OF_OFFICE, date=day(3, 2, 12), rule="ooo.auto-submitted")
    verdict = judge(conversation(sent, ack, ooo))
    assert verdict.state is State.DUE
    assert verdict.last_reply_at is None
    assert any("ack.ats-template" in r and "ooo.auto-submitted" in r for r in verdict.reasons)


def test_an_acknowledgement_from_the_person_days_later_counts_as_their_answer() -> None:
    sent = outgoing(date=day(3, 2))
    late = incoming(
        IncomingKind.AUTO_ACK, date=day(3, 5), subject="Your application", rule="ack.thanks"
    )
    verdict = judge(conversation(sent, late))
    assert verdict.state is State.REPLIED
    assert verdict.last_reply_at == day(3, 5)
    assert any("ack.thanks" in r and "within minutes" in r for r in verdict.reasons)


@pytest.mark.parametrize(
    ("sender", "delay"),
    [
        (JANE, timedelta(minutes=3)),
        (Address("no-reply@acme.example"), timedelta(days=3)),
    ],
)
def test_a_prompt_or_impersonal_acknowledgement_is_not_an_answer(
    sender: Address, delay: timedelta
) -> None:
    sent = outgoing(date=day(3, 2))
    ack = incoming(IncomingKind.AUTO_ACK, sender=sender, date=day(3, 2) + delay)
    assert judge(conversation(sent, ack)).state is State.DUE


def test_an_out_of_office_return_date_postpones_until_the_next_business_day() -> None:
    sent = outgoing(date=day(3, 2))
    ooo = answer(sent, IncomingKind.OUT_OF_OFFICE, date=day(3, 2, 11), return_date=day(3, 19, 0))
    verdict = judge(conversation(sent, ooo))
    assert verdict.state is State.WAITING
    assert verdict.due_at == day(3, 20, 9)  # Friday morning, the day after they are back
    assert any("Out of office until Thu 2026-03-19" in r for r in verdict.reasons)


def test_a_follow_up_restarts_the_silence_and_keeps_its_spacing() -> None:
    settings = replace(SETTINGS, nudge_spacing=timedelta(days=14))
    sent = outgoing(date=day(2, 2))
    nudge = follow_up(sent, date=day(3, 12))
    verdict = judge(conversation(sent, nudge, nudges_sent=1), settings)
    assert verdict.state is State.WAITING
    assert verdict.due_at == day(3, 26)
    assert any("spacing" in r for r in verdict.reasons)


def test_writing_again_after_their_answer_restarts_the_clock_from_my_message() -> None:
    sent = outgoing(date=day(2, 16))
    reply = answer(sent, date=day(2, 20))
    again = outgoing(OutgoingKind.OTHER, date=day(3, 2), subject="One more thing")
    verdict = judge(conversation(sent, reply, again))
    assert verdict.state is State.DUE
    assert verdict.due_at == day(3, 11)
    assert verdict.last_reply_at == day(2, 20)
    assert any("clock restarted" in r for r in verdict.reasons)


def test_a_conversation_with_nothing_sent_by_me_is_never_due() -> None:
    lonely = answer(outgoing(date=day(3, 1)), date=day(3, 2))
    verdict = judge(conversation(lonely))
    assert verdict.state is State.WAITING
    assert verdict.due_at is None


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        judge(conversation(outgoing()), now=datetime(2026, 3, 16, 9, 0))


# --- scheduling ----------------------------------------------------------------


def test_a_due_time_in_quiet_hours_moves_to_their_end_in_the_users_zone() -> None:
    sent = outgoing(date=day(3, 2, 21, 30))  # 22:30 in Berlin
    verdict = judge(conversation(sent), BERLIN_NIGHTS)
    assert verdict.due_at == day(3, 12, 7)  # 08:00 in Berlin
    assert any("quiet hours" in r for r in verdict.reasons)


def test_a_due_time_on_a_weekend_moves_to_the_next_business_morning() -> None:
    sent = outgoing(date=day(3, 2))
    reply = answer(sent, date=day(3, 4), promised_by=day(3, 12, 0), promise_text="by Thursday")
    verdict = judge(conversation(sent, reply))  # Thursday + 2 days of grace is a Saturday
    assert verdict.due_at == day(3, 16, 9)
    assert verdict.state is State.DUE


def test_business_days_keep_the_local_time_across_a_daylight_saving_change() -> None:
    calendar = Calendar(zone=load_zone("Europe/Berlin"))
    friday = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # 10:00 CET
    assert calendar.add_threshold(friday, timedelta(days=1)) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )  # 10:00 CEST


def test_the_end_of_quiet_hours_is_found_after_a_repeated_hour() -> None:
    calendar = Calendar(
        zone=load_zone("Europe/Berlin"), quiet_hours=QuietHours(time(1, 0), time(2, 30))
    )
    # 2026-10-25: 02:00-03:00 happens twice in Berlin; 02:10 the second time.
    second_pass = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)
    assert calendar.in_quiet_hours(second_pass)
    moved = calendar.schedule(second_pass)
    assert moved > second_pass
    assert not calendar.in_quiet_hours(moved)


def test_equal_quiet_hour_bounds_mean_no_quiet_hours() -> None:
    calendar = Calendar(zone=load_zone("UTC"), quiet_hours=QuietHours(time(8, 0), time(8, 0)))
    assert not calendar.in_quiet_hours(day(3, 16, 8))


def test_an_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        judge(conversation(outgoing()), replace(SETTINGS, timezone="Mars/Olympus"))


# --- their answers -------------------------------------------------------------


def test_a_human_reply_ends_the_silence() -> None:
    sent = outgoing(date=day(3, 2))
    reply = answer(sent, date=day(3, 3), rule="reply.quoted-original")
    verdict = judge(conversation(sent, reply))
    assert verdict.state is State.REPLIED
    assert verdict.due_at is None
    assert verdict.last_reply_at == day(3, 3)
    assert any("reply.quoted-original" in r for r in verdict.reasons)


def test_a_reply_dated_before_the_message_it_answers_still_counts() -> None:
    sent = outgoing(date=day(2, 2))
    nudge = follow_up(sent, date=day(3, 2))
    skewed = answer(nudge, date=day(3, 1, 23))  # the sender's clock is off
    verdict = judge(conversation(sent, nudge, skewed, nudges_sent=1))
    assert verdict.state is State.REPLIED
    assert verdict.last_reply_at == day(3, 2)


def test_a_reply_that_asks_me_something_is_my_turn_until_i_write() -> None:
    sent = outgoing(date=day(2, 2))
    question = answer(sent, date=day(2, 3), asks_question=True)
    verdict = judge(conversation(sent, question), now=day(6, 1))
    assert verdict.state is State.YOUR_TURN
    assert verdict.due_at is None


def test_an_invitation_without_a_time_is_my_turn() -> None:
    sent = outgoing(date=day(2, 2))
    invite = answer(sent, IncomingKind.INVITATION, date=day(2, 3))
    assert judge(conversation(sent, invite)).state is State.YOUR_TURN


def test_a_promise_with_a_date_waits_for_it_plus_the_grace_period() -> None:
    sent = outgoing(date=day(3, 2))
    reply = answer(
        sent,
        date=day(3, 10),
        promised_by=day(3, 20, 0),
        promise_text="We expect to decide by March 20.",
        rule="promise.dated",
    )
    conv = conversation(sent, reply)
    waiting = judge(conv)
    assert waiting.state is State.PROMISED
    assert waiting.due_at == day(3, 23, 9)  # Sunday the 22nd moves to Monday morning
    assert any(
        "We expect to decide by March 20." in r and "promise.dated" in r for r in waiting.reasons
    )
    later = judge(conv, now=day(3, 23, 9))
    assert later.state is State.DUE
    assert later.due_at == day(3, 23, 9)


def test_a_promise_without_a_date_waits_the_stage_threshold_after_the_reply() -> None:
    sent = outgoing(date=day(3, 2))
    reply = answer(sent, date=day(3, 13), promise_text="We will be in touch soon.")
    verdict = judge(conversation(sent, reply))
    assert verdict.state is State.PROMISED
    assert verdict.due_at == day(3, 26)  # Tue 24th (7 business days) + 2 days


def test_a_promised_date_before_the_reply_itself_counts_as_no_date() -> None:
    sent = outgoing(date=day(3, 2))
    reply = answer(sent, date=day(3, 13), promised_by=day(3, 1), promise_text="by Monday")
    verdict = judge(conversation(sent, reply))
    assert verdict.state is State.PROMISED
    assert verdict.due_at == day(3, 26)


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        (IncomingKind.REJECTION, State.REJECTED),
        (IncomingKind.BOUNCE, State.BOUNCED),
        (IncomingKind.OFFER, State.OFFER),
    ],
)
def test_a_rejection_bounce_or_offer_closes_the_conversation_for_good(
    kind: IncomingKind, state: State
) -> None:
    sent = outgoing(date=day(1, 5))
    closing = answer(sent, kind, date=day(1, 6), rule=f"{kind.value}.rule")
    again = outgoing(OutgoingKind.FOLLOW_UP, date=day(1, 20))
    verdict = judge(conversation(sent, closing, again))
    assert verdict.state is state
    assert verdict.due_at is None
    assert any(f"{kind.value}.rule" in r for r in verdict.reasons)


def test_nudges_stop_at_the_limit() -> None:
    sent = outgoing(date=day(1, 5))
    verdict = judge(conversation(sent, nudges_sent=2))
    assert verdict.state is State.EXHAUSTED
    assert verdict.due_at is None
    assert any("the limit is 2" in r for r in verdict.reasons)


def test_an_ignored_conversation_is_never_due() -> None:
    verdict = judge(conversation(outgoing(date=day(1, 5)), ignored=True))
    assert verdict.state is State.IGNORED
    assert verdict.due_at is None


# --- interviews ----------------------------------------------------------------


def interview_conversation(interview_at: datetime, *more: object) -> Conversation:
    sent = outgoing(date=day(3, 2))
    invite = answer(
        sent, IncomingKind.INVITATION, date=day(3, 4), interview_at=interview_at, rule="invite.ics"
    )
    return conversation(sent, invite, *more, stage=Stage.INTERVIEW_THANK_YOU)  # type: ignore[arg-type]


def test_before_the_interview_nothing_is_due_and_the_thank_you_is_scheduled() -> None:
    verdict = judge(interview_conversation(day(3, 18, 14)))
    assert verdict.state is State.WAITING
    assert verdict.due_at == day(3, 18, 14) + THANK_YOU_DELAY
    assert any("invite.ics" in r for r in verdict.reasons)


def test_after_the_interview_a_thank_you_is_due_without_waiting_for_silence() -> None:
    verdict = judge(interview_conversation(day(3, 12, 14)), now=day(3, 12, 18))
    assert verdict.state is State.DUE
    assert verdict.due_at == day(3, 12, 16)
    assert not any("window has passed" in r for r in verdict.reasons)


def test_a_thank_you_long_after_the_interview_is_still_due_but_says_it_is_late() -> None:
    verdict = judge(interview_conversation(day(3, 5, 14)))
    assert verdict.state is State.DUE
    assert any("window has passed" in r for r in verdict.reasons)


def test_confirming_the_interview_does_not_bring_the_thank_you_forward() -> None:
    confirm = outgoing(OutgoingKind.OTHER, date=day(3, 5), subject="See you then")
    verdict = judge(interview_conversation(day(3, 18, 14), confirm))
    assert verdict.state is State.WAITING
    assert verdict.due_at == day(3, 18, 16)


def test_after_the_thank_you_the_interview_follow_up_threshold_runs() -> None:
    thanks = outgoing(OutgoingKind.THANK_YOU, date=day(3, 5, 18), subject="Thank you")
    conv = replace(interview_conversation(day(3, 5, 14), thanks), stage=Stage.INTERVIEW_FOLLOW_UP)
    verdict = judge(conv)
    assert verdict.state is State.WAITING
    assert verdict.due_at == day(3, 16, 18)  # seven business days after the thank-you
    assert any("interview follow-up threshold" in r for r in verdict.reasons)


def test_a_thank_you_already_sent_means_none_is_due_even_if_the_interview_time_is_off() -> None:
    thanks = outgoing(OutgoingKind.THANK_YOU, date=day(3, 10), subject="Thank you")
    verdict = judge(interview_conversation(day(3, 12, 14), thanks), now=day(3, 12, 18))
    assert verdict.state is State.WAITING
    assert verdict.due_at == day(3, 19)  # the interview follow-up, 7 business days later


def test_their_reply_after_an_early_thank_you_still_ends_the_silence() -> None:
    thanks = outgoing(OutgoingKind.THANK_YOU, date=day(3, 10), subject="Thank you")
    reply = answer(thanks, date=day(3, 11), subject="Re: Thank you")
    verdict = judge(interview_conversation(day(3, 12, 14), thanks, reply), now=day(4, 30))
    assert verdict.state is State.REPLIED
    assert verdict.due_at is None


def test_their_reply_after_the_interview_ends_the_silence() -> None:
    thanks_from_them = answer(
        outgoing(date=day(3, 2)), date=day(3, 12, 18), subject="Great to meet you"
    )
    verdict = judge(interview_conversation(day(3, 12, 14), thanks_from_them))
    assert verdict.state is State.REPLIED


def test_their_note_before_the_interview_does_not_cancel_the_thank_you() -> None:
    link = answer(outgoing(date=day(3, 2)), date=day(3, 11), subject="Zoom link")
    verdict = judge(interview_conversation(day(3, 12, 14), link))
    assert verdict.state is State.DUE


def test_an_interview_stage_without_a_known_time_schedules_nothing() -> None:
    conv = conversation(outgoing(date=day(2, 2)), stage=Stage.INTERVIEW_THANK_YOU)
    verdict = judge(conv)
    assert verdict.state is State.WAITING
    assert verdict.due_at is None


# --- across conversations ------------------------------------------------------


def test_a_rejection_cancels_every_nudge_to_that_company() -> None:
    rejected_app = outgoing(date=day(3, 2), subject="Backend")
    rejection = answer(
        rejected_app, IncomingKind.REJECTION, date=day(3, 9), rule="rejection.phrase"
    )
    other_app = outgoing(date=day(3, 2, 11), to=(BOB,), subject="Platform")
    first, second = conversation(rejected_app, rejection), conversation(other_app, counterpart=BOB)
    verdicts = plan_followups([first, second], settings=SETTINGS, now=NOW)
    assert [v.conversation_id for v in verdicts] == [first.id, second.id]
    assert verdicts[0].state is State.REJECTED
    assert verdicts[1].state is State.REJECTED
    assert verdicts[1].due_at is None
    assert any("acme turned you down" in r and "rejection.phrase" in r for r in verdicts[1].reasons)


def test_a_company_rejection_does_not_cancel_a_later_application() -> None:
    rejected_app = outgoing(date=day(2, 2), subject="Backend")
    rejection = answer(rejected_app, IncomingKind.REJECTION, date=day(2, 9))
    later_app = outgoing(date=day(3, 2), to=(BOB,), subject="Platform")
    verdicts = plan_followups(
        [conversation(rejected_app, rejection), conversation(later_app, counterpart=BOB)],
        settings=SETTINGS,
        now=NOW,
    )
    assert verdicts[1].state is State.DUE


def test_a_bounce_cancels_nudges_to_the_same_address() -> None:
    first = outgoing(date=day(3, 2), subject="One")
    bounce = answer(first, IncomingKind.BOUNCE, date=day(3, 2, 11))
    second = outgoing(date=day(3, 2, 9), subject="Two")
    verdicts = plan_followups(
        [conversation(first, bounce), conversation(second)], settings=SETTINGS, now=NOW
    )
    assert [v.state for v in verdicts] == [State.BOUNCED, State.BOUNCED]


def test_only_one_nudge_per_recipient_is_due_at_a_time() -> None:
    one = conversation(outgoing(date=day(3, 2), subject="One"))
    two = conversation(outgoing(date=day(3, 3), subject="Two"))
    verdicts = plan_followups([two, one], settings=SETTINGS, now=NOW)
    assert verdicts[1].state is State.DUE
    assert verdicts[0].state is State.WAITING
    assert verdicts[0].due_at == NOW + timedelta(days=1)
    assert any("at most one per recipient" in r for r in verdicts[0].reasons)


def test_a_company_gets_at_most_its_limit_of_nudges_per_window() -> None:
    people = [Address(f"p{i}@acme.example") for i in range(3)]
    convs = [
        conversation(outgoing(date=day(3, 2, 9 + i), to=(p,), subject=f"Role {i}"), counterpart=p)
        for i, p in enumerate(people)
    ]
    verdicts = plan_followups(convs, settings=SETTINGS, now=NOW)
    assert [v.state for v in verdicts] == [State.DUE, State.DUE, State.WAITING]
    assert verdicts[2].due_at == NOW + timedelta(days=1)


def test_a_recent_nudge_to_the_same_person_delays_the_next_one() -> None:
    conv = conversation(outgoing(date=day(3, 2)))
    recent = [("Jane@Acme.example", "acme", NOW - timedelta(hours=2))]
    [verdict] = plan_followups([conv], settings=SETTINGS, now=NOW, recent_nudges=recent)
    assert verdict.state is State.WAITING
    assert verdict.due_at == NOW + timedelta(hours=22)


def test_a_pending_draft_keeps_the_conversation_due_without_a_second_draft() -> None:
    conv = conversation(outgoing(date=day(3, 2)))
    pending = {conv.id: "queue item 7"}
    [verdict] = plan_followups([conv], settings=SETTINGS, now=NOW, pending=pending)
    assert verdict.state is State.DUE
    assert not needs_new_draft(verdict, pending=pending)
    assert needs_new_draft(verdict, pending={})
    assert any("queue item 7" in r and "no second draft" in r for r in verdict.reasons)


def test_a_pending_draft_claims_the_recipients_slot() -> None:
    drafted = conversation(outgoing(date=day(3, 3), subject="Drafted"))
    other = conversation(outgoing(date=day(3, 2), subject="Other"))
    verdicts = plan_followups(
        [other, drafted], settings=SETTINGS, now=NOW, pending={drafted.id: "q1"}
    )
    assert [v.state for v in verdicts] == [State.WAITING, State.DUE]


def test_a_pending_draft_for_a_conversation_that_got_an_answer_should_be_withdrawn() -> None:
    sent = outgoing(date=day(3, 2))
    conv = conversation(sent, answer(sent, date=day(3, 15)))
    [verdict] = plan_followups([conv], settings=SETTINGS, now=NOW, pending={conv.id: "q9"})
    assert verdict.state is State.REPLIED
    assert any("should be withdrawn" in r for r in verdict.reasons)


# --- explaining ----------------------------------------------------------------


def test_explain_lists_the_timeline_then_the_reasons() -> None:
    sent = outgoing(date=day(3, 2), rule="application.cv-attachment")
    ack = answer(sent, IncomingKind.AUTO_ACK, date=day(3, 2, 11), rule="ack.ats")
    conv = conversation(sent, ack)
    verdict = judge(conv)
    lines = explain(conv, verdict)
    assert lines[0] == (
        "2026-03-02 10:00 UTC  sent      application (application.cv-attachment)  "
        "Application: Backend Engineer"
    )
    assert lines[1].startswith("2026-03-02 11:00 UTC  received  auto_ack (ack.ats)  Re: ")
    assert lines[2] == "=> due, due 2026-03-11 10:00 UTC"
    assert lines[3:] == list(verdict.reasons)


def test_explain_marks_drafts() -> None:
    from mailfollow.model import FolderRole

    draft = outgoing(date=day(3, 2), folder_role=FolderRole.DRAFTS)
    conv = conversation(draft)
    assert "  draft  " in explain(conv, judge(conv))[0]
    assert judge(conv).due_at is None  # a draft was never sent


def test_an_answer_from_anyone_on_the_other_side_ends_the_silence() -> None:
    sent = outgoing(date=day(3, 2), to=(JANE, BOB))
    assert (
        judge(conversation(sent, answer(sent, sender=BOB, date=day(3, 3)))).state is State.REPLIED
    )


# --- end to end: nobody who answered gets a nudge ------------------------------


def plan(*items: ClassifiedMessage) -> list[Verdict]:
    convs = infer_conversations(list(items), identity=IDENTITY, policy=SETTINGS)
    return plan_followups(convs, settings=SETTINGS, now=NOW)


@pytest.mark.parametrize(
    "their_answer",
    [
        pytest.param(lambda sent: answer(sent, date=day(3, 4)), id="in the thread"),
        pytest.param(
            lambda sent: incoming(date=day(3, 4), subject="Your note", sender=JANE),
            id="new thread, same person",
        ),
        pytest.param(
            lambda sent: incoming(
                date=day(3, 4), subject="Re: hello", sender=JANE, in_reply_to=("rewritten@relay",)
            ),
            id="references a Message-ID the relay rewrote",
        ),
        pytest.param(
            lambda sent: incoming(
                date=day(3, 4), subject="Hello", sender=Address("cto@acme.example")
            ),
            id="a colleague at the same company",
        ),
        pytest.param(
            lambda sent: incoming(
                IncomingKind.REJECTION,
                date=day(3, 4),
                sender=Address("no-reply@us.greenhouse-mail.io"),
                subject="Your application to Acme",
            ),
            id="an ATS rejection naming the company",
        ),
        pytest.param(
            lambda sent: incoming(
                IncomingKind.BOUNCE,
                date=day(3, 2, 11),
                sender=Address("mailer-daemon@example.org"),
                subject="Undeliverable",
                snippet="Delivery to jane@acme.example failed permanently.",
            ),
            id="a bounce naming the address",
        ),
    ],
)
def test_no_nudge_goes_to_someone_who_answered(their_answer: Any) -> None:
    sent = outgoing(date=day(3, 2))
    verdicts = plan(sent, their_answer(sent))
    assert [v.state for v in verdicts] != [State.DUE]
    assert all(v.due_at is None for v in verdicts)


def test_the_same_mail_without_an_answer_would_be_due() -> None:
    sent = outgoing(date=day(3, 2))
    assert [v.state for v in plan(sent)] == [State.DUE]


# --- how moments read in reasons ---------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), load_zone("Asia/Tokyo")]),
    ),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_a_moment_in_a_reason_reads_as_strftime_writes_it(moment: datetime, zone: str) -> None:
    calendar = Calendar(zone=load_zone(zone))
    local = calendar.local(moment)
    assert _when(moment, calendar) == local.strftime("%a %Y-%m-%d %H:%M %Z")


def test_a_moment_in_a_reason_names_the_users_zone() -> None:
    calendar = Calendar(zone=load_zone("Europe/Berlin"))
    assert _when(day(3, 30, 8), calendar) == "Mon 2026-03-30 10:00 CEST"
