from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailfollow.core.calendar import load_zone
from mailfollow.core.conversations import (
    Correction,
    CorrectionKind,
    company_of,
    conversation_id_for,
    domain_company,
    in_date_order,
    infer_conversations,
    is_ats_domain,
    is_draft,
    is_free_mail,
    mentions_company,
    organisation_of,
    sent_or_received,
)
from mailfollow.model import (
    Address,
    ClassifiedMessage,
    Conversation,
    FolderRole,
    IncomingKind,
    OutgoingKind,
    PolicySettings,
    Stage,
)
from tests.conv_factories import (
    ALIAS,
    BOB,
    IDENTITY,
    JANE,
    ME,
    NOW,
    SETTINGS,
    answer,
    follow_up,
    ids,
    incoming,
    outgoing,
)
from tests.factories import make_message

GREENHOUSE = Address("no-reply@us.greenhouse-mail.io", "Greenhouse")


def in_days(days: float) -> datetime:
    return NOW + timedelta(days=days)


def infer(*items: ClassifiedMessage, **kw: object) -> list[Conversation]:
    kw.setdefault("identity", IDENTITY)
    kw.setdefault("policy", SETTINGS)
    return infer_conversations(list(items), **kw)  # type: ignore[arg-type]


def only(conversations: list[Conversation]) -> Conversation:
    assert len(conversations) == 1, conversations
    return conversations[0]


# --- organisations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("jobs.acme.com", "acme"),
        ("acme.com", "acme"),
        ("mail.acme.co.uk", "acme"),
        ("gh-mail.acme.com", "acme"),
        ("acme.example", "acme"),
        ("localhost", ""),
    ],
)
def test_the_organisation_is_the_label_before_the_public_suffix(domain: str, expected: str) -> None:
    assert organisation_of(domain) == expected


@pytest.mark.parametrize(
    "domain", ["gmail.com", "outlook.com", "yahoo.co.uk", "hotmail.fr", "gmx.de"]
)
def test_free_mail_domains_name_no_company(domain: str) -> None:
    assert is_free_mail(domain)
    assert company_of(Address(f"someone@{domain}")) == ""


def test_an_ats_sender_names_the_company_only_through_via() -> None:
    assert company_of(Address("x@workablemail.com", "Jane Smith")) == ""
    assert (
        company_of(Address("x@smartrecruiters.com", "Acme Corp via SmartRecruiters")) == "acmecorp"
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Thank you for applying to Acme!", True),
        ("Your application at ACME Corp", True),
        ("Update from Acme-Corp", True),
        ("Acmecorp careers", False),
        ("acme.example.com", True),
        ("Reacme", False),
    ],
)
def test_a_company_is_mentioned_only_as_whole_words(text: str, found: bool) -> None:
    assert mentions_company("acme", [text]) is found


def test_a_two_word_company_matches_its_spaced_spelling() -> None:
    assert mentions_company("acmecorp", ["Your application at ACME Corp"])
    assert not mentions_company("acmecorp", ["acme is not corporate"])


# --- starting conversations --------------------------------------------------


def test_an_application_starts_a_conversation_with_the_main_recipient() -> None:
    sent = outgoing(message_id="app@x", to=(ME, JANE), cc=(BOB,), days_ago=3)
    conversation = only(infer(sent))
    assert conversation.id == hashlib.sha1(b"app@x", usedforsecurity=False).hexdigest()[:12]
    assert conversation.id == conversation_id_for("app@x")
    assert conversation.counterpart == JANE
    assert conversation.company == "acme"
    assert conversation.stage is Stage.APPLICATION
    assert conversation.subject == "Application: Backend Engineer"
    assert conversation.nudges_sent == 0
    assert not conversation.ignored


@pytest.mark.parametrize(
    ("kind", "stage"),
    [
        (OutgoingKind.APPLICATION, Stage.APPLICATION),
        (OutgoingKind.NETWORKING, Stage.NETWORKING),
        (OutgoingKind.INFORMATIONAL, Stage.INFORMATIONAL),
        (OutgoingKind.THANK_YOU, Stage.INTERVIEW_FOLLOW_UP),
    ],
)
def test_each_tracked_kind_starts_its_stage(kind: OutgoingKind, stage: Stage) -> None:
    assert only(infer(outgoing(kind))).stage is stage


@pytest.mark.parametrize("kind", [OutgoingKind.OTHER, OutgoingKind.FOLLOW_UP])
def test_untracked_messages_start_nothing(kind: OutgoingKind) -> None:
    assert infer(outgoing(kind)) == []


def test_a_free_mail_counterpart_has_no_company() -> None:
    friend = Address("sam@gmail.com", "Sam")
    conversation = only(infer(outgoing(OutgoingKind.NETWORKING, to=(friend,))))
    assert conversation.counterpart == friend
    assert conversation.company == ""


def test_a_tracked_message_sent_only_to_myself_starts_nothing() -> None:
    assert infer(outgoing(to=(ME,))) == []


def test_the_conversation_id_does_not_depend_on_input_order() -> None:
    sent = outgoing(message_id="app@x", days_ago=5)
    reply = answer(sent, days_ago=3)
    nudge = follow_up(sent, days_ago=1)
    forward = infer(sent, reply, nudge)
    backward = infer(nudge, reply, sent)
    assert forward == backward
    assert only(forward).id == conversation_id_for("app@x")


def test_two_applications_in_separate_threads_are_two_conversations() -> None:
    first = outgoing(days_ago=9, subject="Backend Engineer")
    second = outgoing(days_ago=5, subject="Platform Engineer")
    assert [c.subject for c in infer(second, first)] == ["Backend Engineer", "Platform Engineer"]


# --- replies -----------------------------------------------------------------


def test_a_reply_in_the_thread_joins_the_conversation() -> None:
    sent = outgoing(days_ago=5)
    reply = answer(sent, days_ago=3, sender=Address("someone@elsewhere.example"))
    assert only(infer(sent, reply)).message_ids == tuple(ids([sent, reply]))


def test_a_reply_in_a_new_thread_from_the_same_person_joins() -> None:
    sent = outgoing(days_ago=5)
    fresh = incoming(days_ago=2, subject="Quick question", sender=JANE)
    assert only(infer(sent, fresh)).message_ids == tuple(ids([sent, fresh]))


def test_a_reply_from_someone_i_copied_joins() -> None:
    sent = outgoing(days_ago=5, to=(JANE,), cc=(Address("max@partner.example"),))
    fresh = incoming(days_ago=2, subject="Hello", sender=Address("max@partner.example"))
    assert len(only(infer(sent, fresh)).messages) == 2


def test_a_reply_from_the_same_organisation_joins() -> None:
    sent = outgoing(days_ago=5)
    colleague = incoming(
        days_ago=2, subject="Your application", sender=Address("hr@mail.acme.example")
    )
    assert len(only(infer(sent, colleague)).messages) == 2


def test_a_namesake_at_another_address_is_not_the_counterpart() -> None:
    sent = outgoing(days_ago=5)
    namesake = incoming(days_ago=2, subject="Hi", sender=Address("js1984@gmail.com", "Jane Smith"))
    assert len(only(infer(sent, namesake)).messages) == 1


def test_two_strangers_on_the_same_free_mail_domain_are_not_one_organisation() -> None:
    friend = Address("sam@gmail.com", "Sam")
    sent = outgoing(OutgoingKind.NETWORKING, days_ago=5, to=(friend,))
    stranger = incoming(days_ago=2, subject="Hi", sender=Address("someone@gmail.com"))
    assert len(only(infer(sent, stranger)).messages) == 1


def test_a_message_from_the_person_before_the_application_is_not_a_reply() -> None:
    earlier = incoming(days_ago=9, subject="Newsletter-ish hello", sender=JANE)
    sent = outgoing(days_ago=5)
    assert len(only(infer(earlier, sent)).messages) == 1


def test_a_new_thread_after_the_conversation_window_does_not_join() -> None:
    policy = PolicySettings(conversation_window=timedelta(days=30))
    sent = outgoing(days_ago=90)
    late = incoming(days_ago=10, subject="Another role?", sender=JANE)
    assert len(only(infer(sent, late, policy=policy)).messages) == 1


def test_ats_mail_naming_the_company_joins_the_application() -> None:
    sent = outgoing(days_ago=5)
    ack = incoming(
        IncomingKind.AUTO_ACK,
        sender=GREENHOUSE,
        subject="Thank you for applying to Acme",
        days_ago=5 - 0.01,
    )
    conversation = only(infer(sent, ack))
    assert conversation.message_ids == tuple(ids([sent, ack]))


def test_ats_mail_naming_a_hyphenated_company_joins_the_application() -> None:
    sent = outgoing(days_ago=5, to=(Address("jobs@acme-mobility.example"),))
    ack = incoming(
        IncomingKind.AUTO_ACK,
        sender=GREENHOUSE,
        subject="Thank you for applying to Acme Mobility",
        days_ago=5 - 0.01,
    )
    conversation = only(infer(sent, ack))
    assert conversation.message_ids == tuple(ids([sent, ack]))


def test_ats_mail_naming_another_company_stays_out() -> None:
    sent = outgoing(days_ago=5)
    ack = incoming(
        IncomingKind.REJECTION,
        sender=GREENHOUSE,
        subject="Your application to Globex",
        snippet="Unfortunately...",
        days_ago=2,
    )
    assert len(only(infer(sent, ack)).messages) == 1


def test_ats_mail_goes_to_the_matching_company_among_several() -> None:
    acme = outgoing(days_ago=6)
    globex = outgoing(days_ago=5, to=(Address("hr@globex.example"),), subject="Application")
    rejection = incoming(
        IncomingKind.REJECTION,
        sender=GREENHOUSE,
        subject="Update",
        snippet="Acme regrets",
        days_ago=2,
    )
    by_company = {c.company: c for c in infer(acme, globex, rejection)}
    assert rejection.message.message_id in by_company["acme"].message_ids
    assert rejection.message.message_id not in by_company["globex"].message_ids


def test_a_bounce_naming_the_recipient_joins_without_references() -> None:
    sent = outgoing(days_ago=5)
    bounce = incoming(
        IncomingKind.BOUNCE,
        sender=Address("mailer-daemon@example.org"),
        subject="Undelivered Mail Returned to Sender",
        headers={"x-failed-recipients": "jane@acme.example"},
        days_ago=5 - 0.01,
    )
    assert len(only(infer(sent, bounce)).messages) == 2


def test_bulk_mail_from_the_same_organisation_stays_out() -> None:
    sent = outgoing(days_ago=5)
    newsletter = incoming(IncomingKind.BULK, sender=Address("news@acme.example"), days_ago=2)
    assert len(only(infer(sent, newsletter)).messages) == 1


def test_earlier_messages_of_the_thread_join_when_the_conversation_starts() -> None:
    outreach = incoming(message_id="hello@x", days_ago=9, subject="Would you like to apply?")
    sent = outgoing(days_ago=5, subject="Re: Would you like to apply?", in_reply_to=("hello@x",))
    conversation = only(infer(sent, outreach))
    assert conversation.message_ids == ("hello@x", sent.message.message_id)
    assert conversation.id == conversation_id_for(sent.message.message_id)


# --- the user's own messages -------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "role"),
    [
        (ME, FolderRole.SENT),
        (ME, FolderRole.INBOX),
        (Address("ALEX.DOE@EXAMPLE.ORG", "Alex"), FolderRole.INBOX),
        (Address("Alex@Alias.Example"), FolderRole.ARCHIVE),
        (ALIAS, FolderRole.ALL),
    ],
)
def test_my_own_messages_are_never_replies_whatever_the_folder_or_case(
    sender: Address, role: FolderRole
) -> None:
    sent = outgoing(days_ago=5)
    mine = answer(sent, sender=sender, folder_role=role, days_ago=2)  # misclassified as a reply
    conversation = only(infer(sent, mine))
    assert [m.from_me for m in conversation.messages] == [True, True]


def test_drafts_are_never_counted_as_sent() -> None:
    in_drafts = outgoing(folder_role=FolderRole.DRAFTS)
    flagged = outgoing(flags=frozenset({"\\Draft"}), subject="Other")
    assert infer(in_drafts, flagged) == []


def test_a_draft_follow_up_does_not_count_as_a_nudge() -> None:
    sent = outgoing(days_ago=9)
    draft = follow_up(sent, days_ago=1, folder_role=FolderRole.DRAFTS)
    conversation = only(infer(sent, draft))
    assert conversation.nudges_sent == 0
    assert len(conversation.messages) == 1


def test_a_message_in_sent_and_drafts_counts_once_as_sent() -> None:
    sent = outgoing(message_id="a@x", folder_role=FolderRole.SENT)
    draft_copy = replace(
        sent, message=replace(sent.message, folder="Drafts", folder_role=FolderRole.DRAFTS)
    )
    conversation = only(infer(draft_copy, sent))
    assert conversation.messages == (sent,)


def test_a_message_in_several_folders_counts_once() -> None:
    sent = outgoing(days_ago=5)
    reply = answer(sent, days_ago=2)
    archived = replace(
        reply, message=replace(reply.message, folder="Archive", folder_role=FolderRole.ARCHIVE)
    )
    assert len(only(infer(sent, reply, archived)).messages) == 2


def test_a_bcc_copy_of_my_message_under_another_message_id_counts_once() -> None:
    sent = outgoing(message_id="a@x", days_ago=5)
    copy = ClassifiedMessage(
        replace(sent.message, message_id="copy@x", folder="INBOX", folder_role=FolderRole.INBOX),
        sent.classification,
        from_me=False,
    )
    cleaned = sent_or_received([copy, sent], identity=IDENTITY)
    assert [c.message.message_id for c in cleaned] == ["a@x"]


# --- follow-ups and stages ---------------------------------------------------


def test_follow_ups_join_by_thread_or_recipient_and_count_as_nudges() -> None:
    sent = outgoing(days_ago=20)
    threaded = follow_up(sent, days_ago=10)
    fresh = outgoing(OutgoingKind.FOLLOW_UP, days_ago=2, subject="Checking in")
    conversation = only(infer(sent, threaded, fresh))
    assert conversation.nudges_sent == 2
    assert len(conversation.messages) == 3


def test_a_follow_up_to_nobody_tracked_is_dropped() -> None:
    sent = outgoing(days_ago=20)
    elsewhere = outgoing(
        OutgoingKind.FOLLOW_UP, days_ago=2, to=(Address("x@globex.example"),), subject="Hi"
    )
    assert len(only(infer(sent, elsewhere)).messages) == 1


def test_a_message_sent_through_mailfollow_counts_as_a_nudge() -> None:
    sent = outgoing(days_ago=20)
    nudge = outgoing(
        OutgoingKind.OTHER,
        days_ago=5,
        headers={"x-mailfollow-id": "q1"},
        in_reply_to=(sent.message.message_id,),
    )
    assert only(infer(sent, nudge)).nudges_sent == 1


def test_a_human_answer_starts_a_new_round_of_nudges() -> None:
    sent = outgoing(days_ago=30)
    first = follow_up(sent, days_ago=20)
    reply = answer(sent, days_ago=15)
    second = follow_up(sent, days_ago=5)
    assert only(infer(sent, first, reply, second)).nudges_sent == 1


@pytest.mark.parametrize("kind", [OutgoingKind.APPLICATION, OutgoingKind.OTHER])
def test_any_message_sent_again_into_the_silence_counts_as_a_nudge(kind: OutgoingKind) -> None:
    sent = outgoing(days_ago=30)
    nudge = follow_up(sent, days_ago=20)
    again = outgoing(kind, days_ago=10, in_reply_to=(sent.message.message_id,), subject="Re: x")
    assert only(infer(sent, nudge, again)).nudges_sent == 2


def test_a_thank_you_is_not_a_nudge() -> None:
    sent = outgoing(days_ago=30)
    thanks = outgoing(OutgoingKind.THANK_YOU, days_ago=10, in_reply_to=(sent.message.message_id,))
    assert only(infer(sent, thanks)).nudges_sent == 0


def test_a_cv_sent_because_they_asked_is_not_a_nudge() -> None:
    intro = outgoing(OutgoingKind.NETWORKING, days_ago=30)
    ask = answer(intro, days_ago=20, asks_question=True)
    cv = outgoing(days_ago=10, in_reply_to=(ask.message.message_id,), subject="Re: CV")
    conversation = only(infer(intro, ask, cv))
    assert conversation.nudges_sent == 0
    assert conversation.stage is Stage.APPLICATION


def test_an_automatic_answer_does_not_reset_the_nudge_count() -> None:
    sent = outgoing(days_ago=30)
    first = follow_up(sent, days_ago=20)
    ooo = answer(sent, IncomingKind.OUT_OF_OFFICE, days_ago=19)
    second = follow_up(sent, days_ago=5)
    assert only(infer(sent, first, ooo, second)).nudges_sent == 2


def test_an_invitation_moves_an_application_to_the_thank_you_stage() -> None:
    sent = outgoing(days_ago=20)
    invite = answer(sent, IncomingKind.INVITATION, days_ago=10, interview_at=in_days(2))
    assert only(infer(sent, invite)).stage is Stage.INTERVIEW_THANK_YOU


def test_a_confirmation_before_the_interview_keeps_the_thank_you_stage() -> None:
    sent = outgoing(days_ago=20)
    invite = answer(sent, IncomingKind.INVITATION, days_ago=10, interview_at=in_days(-1))
    confirm = outgoing(OutgoingKind.OTHER, days_ago=9, in_reply_to=(invite.message.message_id,))
    assert only(infer(sent, invite, confirm)).stage is Stage.INTERVIEW_THANK_YOU


def test_any_message_after_the_interview_moves_on_to_the_interview_follow_up() -> None:
    sent = outgoing(days_ago=20)
    invite = answer(sent, IncomingKind.INVITATION, days_ago=10, interview_at=in_days(-3))
    after = outgoing(OutgoingKind.OTHER, days_ago=2, in_reply_to=(invite.message.message_id,))
    assert only(infer(sent, invite, after)).stage is Stage.INTERVIEW_FOLLOW_UP


def test_a_thank_you_to_the_interviewer_joins_the_company_conversation() -> None:
    sent = outgoing(days_ago=20)
    invite = answer(sent, IncomingKind.INVITATION, days_ago=10, interview_at=in_days(-2))
    thanks = outgoing(OutgoingKind.THANK_YOU, to=(BOB,), subject="Thank you", days_ago=1)
    conversation = only(infer(sent, invite, thanks))
    assert conversation.stage is Stage.INTERVIEW_FOLLOW_UP
    assert conversation.counterpart == JANE
    assert len(conversation.messages) == 3


def test_a_thank_you_without_an_invitation_starts_its_own_conversation() -> None:
    sent = outgoing(days_ago=20)
    thanks = outgoing(OutgoingKind.THANK_YOU, to=(BOB,), subject="Thank you", days_ago=1)
    stages = sorted(c.stage for c in infer(sent, thanks))
    assert stages == sorted([Stage.APPLICATION, Stage.INTERVIEW_FOLLOW_UP])


def test_an_application_sent_again_in_the_thread_joins_it() -> None:
    first = outgoing(OutgoingKind.NETWORKING, days_ago=20)
    cv = outgoing(days_ago=10, in_reply_to=(first.message.message_id,))
    conversation = only(infer(first, cv))
    assert conversation.stage is Stage.APPLICATION
    assert len(conversation.messages) == 2


# --- corrections -------------------------------------------------------------


def test_a_track_correction_starts_a_conversation_from_any_message_of_mine() -> None:
    note = outgoing(OutgoingKind.OTHER, message_id="note@x")
    conversation = only(infer(note, corrections=[Correction(CorrectionKind.TRACK, "<note@x>")]))
    assert conversation.stage is Stage.APPLICATION
    assert conversation.id == conversation_id_for("note@x")


def test_a_track_correction_with_a_stage_uses_it() -> None:
    note = outgoing(OutgoingKind.OTHER, message_id="note@x")
    track = Correction("track", "note@x", Stage.NETWORKING)  # type: ignore[arg-type]
    assert track.kind is CorrectionKind.TRACK
    assert only(infer(note, corrections=[track])).stage is Stage.NETWORKING


def test_a_track_correction_on_someone_elses_message_is_ignored() -> None:
    theirs = incoming(message_id="theirs@x")
    assert infer(theirs, corrections=[Correction(CorrectionKind.TRACK, "theirs@x")]) == []


def test_an_ignore_correction_on_any_message_marks_the_conversation_ignored() -> None:
    sent = outgoing(days_ago=5)
    reply = answer(sent, days_ago=3)
    ignore = Correction(CorrectionKind.IGNORE, reply.message.message_id)
    assert only(infer(sent, reply, corrections=[ignore])).ignored


def test_a_later_track_on_the_conversation_id_unignores_it_and_sets_the_stage() -> None:
    sent = outgoing(message_id="a@x")
    cid = conversation_id_for("a@x")
    corrections = [
        Correction(CorrectionKind.IGNORE, cid),
        Correction(CorrectionKind.TRACK, cid, Stage.INFORMATIONAL),
    ]
    conversation = only(infer(sent, corrections=corrections))
    assert not conversation.ignored
    assert conversation.stage is Stage.INFORMATIONAL


# --- date order, worked out fast ----------------------------------------------------

OFFSETS = [timezone(timedelta(hours=h, minutes=m)) for h in (-8, -5, 0, 1, 5) for m in (0, 30)]


@settings(max_examples=200, deadline=None)
@given(
    stamps=st.lists(
        st.tuples(
            st.integers(0, 400_000),  # minutes after NOW
            st.sampled_from(["a@x", "b@x", "c@x", "d@x"]),
            st.sampled_from([*OFFSETS, load_zone("Europe/Berlin"), load_zone("America/New_York")]),
            st.booleans(),
        ),
        max_size=12,
        unique_by=lambda stamp: stamp[1],
    ),
    fixed_only=st.booleans(),
)
def test_messages_come_in_the_order_of_their_dates_then_message_ids(
    stamps: list[tuple[int, str, tzinfo, bool]], fixed_only: bool
) -> None:
    items = [
        incoming(
            date=(NOW + timedelta(minutes=minutes)).astimezone(
                OFFSETS[minutes % len(OFFSETS)] if fixed_only else zone
            ),
            message_id=message_id,
        )
        for minutes, message_id, zone, _ in stamps
    ]
    expected = sorted(items, key=lambda item: (item.message.date, item.message.message_id))
    assert in_date_order(items) == expected
    assert sent_or_received(items, identity=IDENTITY) == expected


def test_messages_at_the_same_instant_in_different_offsets_are_ordered_by_message_id() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    first = incoming(date=paris, message_id="b@x")
    second = incoming(date=NOW, message_id="a@x")
    assert in_date_order([first, second]) == [second, first]


@pytest.mark.parametrize(
    "address",
    [
        Address("jane@jobs.acme.co.uk"),
        Address("Jane@ACME.example", "Jane"),
        Address("recruiting@gmail.com", "Acme Careers via Gmail"),
        Address("x@outlook.fr", "Acme via Outlook"),
        Address("no-reply@us.greenhouse-mail.io", "Acme Corp via Greenhouse"),
        Address("no-reply@us.greenhouse-mail.io", "Greenhouse"),
        Address("someone@localhost"),
    ],
)
def test_a_company_is_read_from_the_domain_once_and_from_the_name_when_needed(
    address: Address,
) -> None:
    domain = address.domain.lower()
    if is_ats_domain(domain) or is_free_mail(domain):
        assert domain_company(address.domain) is None
    else:
        assert domain_company(address.domain) == organisation_of(domain)
        assert company_of(address) == organisation_of(domain)


@pytest.mark.parametrize(
    ("role", "flags", "draft"),
    [
        (FolderRole.DRAFTS, frozenset(), True),
        (FolderRole.SENT, frozenset({"\\Seen", "\\DRAFT"}), True),
        (FolderRole.SENT, frozenset({"\\Seen", "$Draft"}), False),
        (FolderRole.INBOX, frozenset(), False),
    ],
)
def test_a_draft_is_in_drafts_or_flagged_as_one(
    role: FolderRole, flags: frozenset[str], draft: bool
) -> None:
    assert is_draft(make_message(folder_role=role, flags=flags)) is draft
