"""The labelled mailbox generator: determinism, well-formed mail, consistent labels."""

from __future__ import annotations

import email
import email.policy
import mailbox
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailfollow.demo import (
    DEMO_AS_OF,
    DEMO_CONVERSATIONS,
    DEMO_SEED,
    demo_labels,
    demo_messages,
)
from mailfollow.demo.generator import (
    ARCHIVE,
    DRAFTS,
    INBOX,
    SCENARIO_WEIGHTS,
    SEEN,
    SENT,
    ConversationLabel,
    GeneratedMessage,
    MailboxPlan,
    default_noise,
    generate_mailbox,
    main,
    plan_mailbox,
    read_labels,
    read_mbox,
    write_labels,
    write_mbox,
)
from mailfollow.model import Address, IncomingKind, Stage, State

AS_OF = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
ME = {"alex.doe@example.org", "alex@doe.example"}
DEMO_DIR = Path(__file__).resolve().parents[2] / "mailfollow" / "demo"


def parse(message: GeneratedMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def message_id(parsed: EmailMessage) -> str:
    return str(parsed["Message-ID"]).strip().strip("<>")


def sender(parsed: EmailMessage) -> str:
    return str(parsed["From"].addresses[0].addr_spec).lower()


class Mailbox:
    """A generated mailbox, parsed once for the many tests that look at it."""

    def __init__(self, plan: MailboxPlan) -> None:
        self.plan = plan
        self.messages = list(plan.messages())
        self.parsed = [parse(m) for m in self.messages]
        self.by_id: dict[str, list[tuple[GeneratedMessage, EmailMessage]]] = {}
        for raw, parsed in zip(self.messages, self.parsed, strict=True):
            self.by_id.setdefault(message_id(parsed), []).append((raw, parsed))

    def first(self, mid: str) -> EmailMessage:
        return self.by_id[mid][0][1]

    def labels_for(self, scenario: str) -> list[ConversationLabel]:
        return [label for label in self.plan.labels if label.scenario == scenario]


@pytest.fixture(scope="module")
def big() -> Mailbox:
    return Mailbox(plan_mailbox(seed=11, conversations=200, as_of=AS_OF, noise=120))


def snapshot(messages: Iterator[GeneratedMessage]) -> list[GeneratedMessage]:
    return list(messages)


# --------------------------------------------------------------------------- determinism


def test_the_same_seed_gives_the_same_bytes_and_labels() -> None:
    first_messages, first_labels = generate_mailbox(seed=5, conversations=60, as_of=AS_OF)
    second_messages, second_labels = generate_mailbox(seed=5, conversations=60, as_of=AS_OF)
    assert snapshot(first_messages) == snapshot(second_messages)
    assert first_labels == second_labels


def test_a_plan_streams_the_same_messages_every_time_it_is_asked() -> None:
    plan = plan_mailbox(seed=5, conversations=30, as_of=AS_OF)
    assert snapshot(plan.messages()) == snapshot(plan.messages())


def test_a_different_seed_gives_a_different_mailbox() -> None:
    one, _ = generate_mailbox(seed=1, conversations=20, as_of=AS_OF)
    two, _ = generate_mailbox(seed=2, conversations=20, as_of=AS_OF)
    assert [m.raw for m in one] != [m.raw for m in two]


def test_a_larger_mailbox_starts_with_the_same_conversations_as_a_smaller_one() -> None:
    small = plan_mailbox(seed=9, conversations=10, as_of=AS_OF, noise=0)
    large = plan_mailbox(seed=9, conversations=40, as_of=AS_OF, noise=0)
    assert large.labels[:10] == small.labels


# --------------------------------------------------------------------------- well-formed mail


def test_every_message_parses_without_defects_and_carries_the_core_headers(big: Mailbox) -> None:
    for raw, parsed in zip(big.messages, big.parsed, strict=True):
        defects = [d for part in parsed.walk() for d in part.defects]
        assert defects == [], raw.raw[:200]
        for name in ("Message-ID", "Date", "From", "To", "Subject", "MIME-Version"):
            assert parsed[name] is not None, name
        assert parsed["Date"].datetime.utcoffset() is not None
        assert parsed["From"].addresses
        assert parsed["To"].addresses
        body = parsed.get_body(preferencelist=("plain",))
        assert body is not None
        assert body.get_content().strip()


def test_raw_messages_use_crlf_line_endings_and_stay_within_line_limits(big: Mailbox) -> None:
    for message in big.messages:
        assert message.raw.endswith(b"\r\n")
        assert b"\n" not in message.raw.replace(b"\r\n", b"")
        assert b"\r" not in message.raw.replace(b"\r\n", b"")
        assert max(len(line) for line in message.raw.split(b"\r\n")) <= 998
        message.raw.decode("ascii")  # 7-bit clean: every non-ASCII byte is encoded


def test_message_ids_are_unique_except_the_users_bcc_copy(big: Mailbox) -> None:
    for mid, copies in big.by_id.items():
        if len(copies) > 1:
            folders = sorted(raw.folder for raw, _ in copies)
            assert folders == [INBOX, SENT], mid
            assert all(sender(parsed) in ME for _, parsed in copies)


def test_folders_flags_and_internal_dates_are_what_imap_append_needs(big: Mailbox) -> None:
    for message in big.messages:
        assert message.folder in {INBOX, SENT, DRAFTS, ARCHIVE}
        assert message.internal_date.tzinfo is not None
        assert message.internal_date <= AS_OF
        assert all(flag.startswith("\\") for flag in message.flags)


def test_sent_mail_is_seen_and_some_incoming_mail_stays_unread(big: Mailbox) -> None:
    sent = [m for m in big.messages if m.folder == SENT]
    incoming = [m for m in big.messages if m.folder == INBOX]
    assert sent
    assert all(SEEN in m.flags for m in sent)
    assert any(SEEN not in m.flags for m in incoming)
    assert any(SEEN in m.flags for m in incoming)


# --------------------------------------------------------------------------- labels


def test_labels_reference_only_generated_message_ids(big: Mailbox) -> None:
    for label in big.plan.labels:
        assert set(label.message_ids) <= big.by_id.keys()
        assert set(label.incoming) <= set(label.message_ids)
        assert label.key == label.message_ids[0]
    for noise in big.plan.noise:
        assert noise.message_id in big.by_id


def test_labels_use_model_values(big: Mailbox) -> None:
    for label in big.plan.labels:
        Stage(label.stage)
        State(label.expected_state)
        for kind in label.incoming.values():
            IncomingKind(kind)
        assert label.notes
        assert label.due_at is None


def test_the_key_is_the_users_first_message_and_messages_are_in_date_order(big: Mailbox) -> None:
    for label in big.plan.labels:
        assert sender(big.first(label.key)) in ME
        dates = [big.first(mid)["Date"].datetime for mid in label.message_ids]
        assert dates == sorted(dates)


def test_incoming_kinds_cover_exactly_the_mail_not_from_the_user(big: Mailbox) -> None:
    for label in big.plan.labels:
        not_mine = {mid for mid in label.message_ids if sender(big.first(mid)) not in ME}
        assert set(label.incoming) == not_mine


def test_no_message_belongs_to_two_conversations_or_to_noise_too(big: Mailbox) -> None:
    owners = Counter(mid for label in big.plan.labels for mid in label.message_ids)
    owners.update(noise.message_id for noise in big.plan.noise)
    assert max(owners.values()) == 1
    assert set(owners) == big.by_id.keys()


def test_every_scenario_appears_in_a_200_conversation_mailbox(big: Mailbox) -> None:
    assert set(big.plan.scenario_counts()) == set(SCENARIO_WEIGHTS)
    assert sum(big.plan.scenario_counts().values()) == 200


def test_variants_of_the_scenarios_all_appear_in_a_200_conversation_mailbox(big: Mailbox) -> None:
    tags = {tag for label in big.plan.labels for tag in label.tags}
    for vendor in ("greenhouse", "lever", "workday", "ashby", "smartrecruiters", "company"):
        assert f"ats:{vendor}" in tags
    for language in ("en", "de", "fr"):
        assert f"lang:{language}" in tags
    for variant in ("threaded", "new-thread", "other-address"):
        assert f"reply:{variant}" in tags
    assert {"alias", "bcc-self", "folder:archive", "calendar-invite"} <= tags
    noise_kinds = {noise.kind for noise in big.plan.noise}
    assert noise_kinds == {
        "newsletter",
        "job_alert",
        "receipt",
        "personal",
        "personal_sent",
        "draft",
    }


def test_every_state_and_stage_of_the_brief_is_labelled(big: Mailbox) -> None:
    states = {label.expected_state for label in big.plan.labels}
    stages = {label.stage for label in big.plan.labels}
    assert states == {s.value for s in State} - {State.IGNORED.value}
    assert stages == {s.value for s in Stage} - {Stage.INFORMATIONAL.value}


def last_from_me(big: Mailbox, label: ConversationLabel) -> datetime:
    mine: list[datetime] = [
        big.first(m)["Date"].datetime for m in label.message_ids if sender(big.first(m)) in ME
    ]
    return max(mine)


def test_due_conversations_are_silent_far_beyond_their_threshold(big: Mailbox) -> None:
    minimum = {"application": 13, "networking": 18, "interview_follow_up": 16}
    for label in big.plan.labels:
        if label.expected_state != "due" or label.stage == "interview_thank_you":
            continue
        silence = AS_OF - last_from_me(big, label)
        assert silence > timedelta(days=minimum[label.stage]), label.notes


def test_waiting_conversations_are_recent_unless_an_away_notice_postpones_them(
    big: Mailbox,
) -> None:
    for label in big.plan.labels:
        if label.expected_state == "waiting" and label.scenario != "application_ooo_return_future":
            assert AS_OF - last_from_me(big, label) < timedelta(days=5), label.notes


def test_a_thank_you_is_due_only_after_an_interview_at_least_two_weekdays_ago(
    big: Mailbox,
) -> None:
    for label in big.labels_for("interview_thank_you_due"):
        invitation = next(
            big.first(mid) for mid, kind in label.incoming.items() if kind == "invitation"
        )
        calendar = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
        start = next(
            line.split(":", 1)[1]
            for line in calendar.get_content().splitlines()
            if line.startswith("DTSTART")
        )
        interview = datetime.strptime(start, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        assert timedelta(days=2) < AS_OF - interview < timedelta(days=8)
        thank_yous = [m for m in label.message_ids if big.first(m)["Date"].datetime > interview]
        assert thank_yous == []


def test_follow_ups_sent_by_hand_are_counted_in_the_label(big: Mailbox) -> None:
    for label in big.plan.labels:
        sent = [m for m in label.message_ids if sender(big.first(m)) in ME]
        if label.scenario.startswith("application_manual_follow_up"):
            assert label.nudges_sent == 1
            assert len(sent) == 2
        elif label.scenario == "application_exhausted":
            assert label.nudges_sent == 2
            assert len(sent) == 3
        else:
            assert label.nudges_sent == 0


# --------------------------------------------------------------------------- scenario details


def test_applications_carry_the_cv_as_a_pdf_attachment(big: Mailbox) -> None:
    for label in big.plan.labels:
        if label.stage == "application" and not label.scenario.startswith("networking"):
            first = big.first(label.key)
            names = [part.get_filename() for part in first.iter_attachments()]
            assert names == ["Alex_Doe_CV.pdf"]
            (attachment,) = first.iter_attachments()
            assert attachment.get_content().startswith(b"%PDF-")


def test_networking_emails_carry_no_attachment(big: Mailbox) -> None:
    for label in big.plan.labels:
        if label.stage == "networking":
            assert list(big.first(label.key).iter_attachments()) == []


def test_mail_from_the_alias_is_the_users_mail(big: Mailbox) -> None:
    aliased = [label for label in big.plan.labels if "alias" in label.tags]
    assert aliased
    for label in aliased:
        assert sender(big.first(label.key)) == "alex@doe.example"
        for mid in label.incoming:
            recipients = {a.addr_spec for a in big.first(mid)["To"].addresses}
            assert recipients == {"alex@doe.example"}


def test_the_bcc_copy_in_the_inbox_is_the_users_own_message(big: Mailbox) -> None:
    for label in big.labels_for("application_bcc_copy_due"):
        copies = big.by_id[label.key]
        assert sorted(raw.folder for raw, _ in copies) == [INBOX, SENT]
        assert label.incoming == {}
        assert label.expected_state == "due"


def test_ats_acknowledgements_come_from_tracking_systems_and_thread_on_the_application(
    big: Mailbox,
) -> None:
    seen_domains = set()
    for label in big.labels_for("application_ats_ack_due"):
        (ack_id,) = label.incoming
        ack = big.first(ack_id)
        seen_domains.add(sender(ack).partition("@")[2])
        assert str(ack["In-Reply-To"]).strip("<>") == label.key
        assert ack["List-Unsubscribe"] is None
    assert {"us.greenhouse-mail.io", "hire.lever.co", "myworkday.com"} <= seen_domains


def test_bounces_are_delivery_status_reports_from_the_mailer_daemon(big: Mailbox) -> None:
    for label in big.labels_for("application_bounced"):
        (bounce_id,) = label.incoming
        bounce = big.first(bounce_id)
        assert sender(bounce).startswith("mailer-daemon@")
        assert bounce.get_content_type() == "multipart/report"
        assert bounce.get_param("report-type") == "delivery-status"
        kinds = [part.get_content_type() for part in bounce.walk()]
        assert "message/delivery-status" in kinds
        headers = next(p for p in bounce.walk() if p.get_content_type() == "text/rfc822-headers")
        assert label.key in headers.get_payload()


def test_out_of_office_replies_in_german_and_french_keep_their_encoded_subjects(
    big: Mailbox,
) -> None:
    prefixes = set()
    for label in big.plan.labels:
        for mid, kind in label.incoming.items():
            if kind == "out_of_office":
                reply = big.first(mid)
                prefixes.add(str(reply["Subject"]).split(":")[0])
                assert reply["Auto-Submitted"] in {"auto-generated", "auto-replied"}
    assert {"Automatic reply", "Automatische Antwort", "Réponse automatique "} <= prefixes
    raw = b"".join(m.raw for m in big.messages)
    assert b"Subject: =?utf-8?q?R=C3=A9ponse_automatique" in raw


def test_interview_invitations_carry_a_calendar_request(big: Mailbox) -> None:
    invitations = [
        big.first(mid)
        for label in big.plan.labels
        for mid, kind in label.incoming.items()
        if kind == "invitation"
    ]
    assert invitations
    for invitation in invitations:
        calendars = [p for p in invitation.walk() if p.get_content_type() == "text/calendar"]
        assert len(calendars) == 1
        assert calendars[0].get_param("method") == "REQUEST"
        assert "METHOD:REQUEST" in calendars[0].get_content()


def test_replies_in_a_new_thread_drop_the_threading_headers(big: Mailbox) -> None:
    new_threads = [label for label in big.plan.labels if "reply:new-thread" in label.tags]
    assert new_threads
    for label in new_threads:
        (reply_id,) = label.incoming
        reply = big.first(reply_id)
        assert reply["In-Reply-To"] is None
        assert reply["References"] is None
        assert sender(reply) == label.counterpart


def test_replies_from_another_address_stay_at_the_same_company(big: Mailbox) -> None:
    for label in [lb for lb in big.plan.labels if "reply:other-address" in lb.tags]:
        (reply_id,) = label.incoming
        reply_from = sender(big.first(reply_id))
        assert reply_from != label.counterpart
        assert reply_from.partition("@")[2] == label.company_domain


def test_noise_is_untracked_and_bulk_noise_carries_list_headers(big: Mailbox) -> None:
    for noise in big.plan.noise:
        parsed = big.first(noise.message_id)
        if noise.kind in {"newsletter", "job_alert"}:
            assert parsed["List-Id"] is not None
            assert parsed["List-Unsubscribe"] is not None
            assert noise.expected_incoming == "bulk"
        if noise.kind == "draft":
            assert noise.folder == DRAFTS
        if noise.kind in {"draft", "personal_sent"}:
            assert noise.expected_incoming is None
            assert sender(parsed) in ME


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    hours=st.integers(min_value=0, max_value=24 * 14),
)
def test_nothing_is_dated_after_as_of_whatever_the_day_and_hour(seed: int, hours: int) -> None:
    as_of = AS_OF + timedelta(hours=hours, minutes=seed % 60)
    plan = plan_mailbox(seed=seed, conversations=len(SCENARIO_WEIGHTS), as_of=as_of, noise=8)
    for message in plan.messages():
        assert message.internal_date <= as_of
        assert parse(message)["Date"].datetime <= as_of


# --------------------------------------------------------------------------- API edges


def test_as_of_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_mailbox(seed=1, conversations=3, as_of=datetime(2026, 3, 16, 9))


def test_noise_defaults_to_a_third_of_the_conversations() -> None:
    assert default_noise(30) == 10
    assert default_noise(3) == 4
    assert default_noise(0) == 0
    plan = plan_mailbox(seed=1, conversations=30, as_of=AS_OF)
    assert plan.noise_count == len(plan.noise) == 10


def test_a_mailbox_of_only_noise_or_only_conversations_can_be_made() -> None:
    only_noise = plan_mailbox(seed=1, conversations=0, as_of=AS_OF, noise=5)
    assert only_noise.labels == ()
    assert len(list(only_noise.messages())) == 5
    only_conversations = plan_mailbox(seed=1, conversations=5, as_of=AS_OF, noise=0)
    assert only_conversations.noise == ()
    assert len(only_conversations.labels) == 5


def test_messages_can_be_ordered_by_date() -> None:
    plan = plan_mailbox(seed=4, conversations=20, as_of=AS_OF)
    dates = [m.internal_date for m in plan.messages(order="date")]
    assert dates == sorted(dates)
    with pytest.raises(ValueError, match="order"):
        plan.messages(order="random")


def test_a_custom_user_gets_their_own_addresses_and_cv_name() -> None:
    user = Address("sam.lee@mail.example", "Sam Lee")
    plan = plan_mailbox(seed=2, conversations=12, as_of=AS_OF, user=user, aliases=())
    senders = set()
    for message in plan.messages():
        parsed = parse(message)
        if message.folder == SENT:
            senders.add(sender(parsed))
            names = [part.get_filename() for part in parsed.iter_attachments()]
            assert names in ([], ["Sam_Lee_CV.pdf"])
    assert senders == {"sam.lee@mail.example"}


def test_streaming_20000_messages_works_without_building_a_list() -> None:
    messages, labels = generate_mailbox(seed=3, conversations=500, as_of=AS_OF, noise=19000)
    assert isinstance(messages, Iterator)
    count = 0
    size = 0
    for message in messages:
        count += 1
        size += len(message.raw)
    assert count >= 20000
    assert len(labels) == 500
    assert size > count * 500


# --------------------------------------------------------------------------- files


def test_an_mbox_round_trip_keeps_folders_flags_dates_and_bytes(tmp_path: Path) -> None:
    plan = plan_mailbox(seed=8, conversations=40, as_of=AS_OF)
    original = list(plan.messages())
    path = tmp_path / "box.mbox"
    assert write_mbox(original, path) == len(original)
    assert list(read_mbox(path)) == original
    standard = mailbox.mbox(path)
    try:
        assert len(standard) == len(original)
        assert {m["X-Folder"] for m in standard} == {m.folder for m in original}
    finally:
        standard.close()


def test_a_body_line_starting_with_from_survives_the_mbox(tmp_path: Path) -> None:
    raw = (
        b"Message-ID: <x@example.org>\r\nFrom: a@example.org\r\nTo: b@example.org\r\n"
        b"Subject: s\r\n\r\nFrom here on\r\n>From there\r\n"
    )
    message = GeneratedMessage(INBOX, raw, (), AS_OF)
    path = tmp_path / "one.mbox"
    write_mbox([message], path)
    assert b"\n>From here on\n>>From there\n" in path.read_bytes()
    assert list(read_mbox(path)) == [message]


def test_a_labels_file_round_trip_keeps_every_label(tmp_path: Path) -> None:
    plan = plan_mailbox(seed=8, conversations=40, as_of=AS_OF)
    path = tmp_path / "labels.json"
    write_labels(plan, path)
    conversations, noise = read_labels(path)
    assert tuple(conversations) == plan.labels
    assert tuple(noise) == plan.noise


def test_the_bundled_demo_is_exactly_what_the_generator_writes(tmp_path: Path) -> None:
    argv = [
        "--seed", str(DEMO_SEED), "--conversations", str(DEMO_CONVERSATIONS),
        "--as-of", DEMO_AS_OF.isoformat(), "--out", str(tmp_path),
    ]  # fmt: skip
    assert DEMO_AS_OF.isoformat() == "2026-03-16T09:00:00+00:00"
    assert main(argv) == 0
    for name in ("mailbox.mbox", "labels.json"):
        assert (tmp_path / name).read_bytes() == (DEMO_DIR / name).read_bytes(), name


def test_the_bundled_demo_loads_with_its_labels() -> None:
    messages = list(demo_messages())
    conversations, noise = demo_labels()
    assert 40 <= len(messages) <= 120
    assert len(conversations) == DEMO_CONVERSATIONS
    assert {label.scenario for label in conversations} == set(SCENARIO_WEIGHTS)
    ids = {message_id(parse(m)) for m in messages}
    assert {mid for label in conversations for mid in label.message_ids} <= ids
    assert {n.message_id for n in noise} <= ids
