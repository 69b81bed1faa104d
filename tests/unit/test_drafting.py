"""Follow-up drafts: recipient, threading headers, template variables and MIME output."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailfollow.core.drafting import (
    MAILFOLLOW_ID_HEADER,
    DraftRefusal,
    HeaderInjectionError,
    RenderedDraft,
    RenderedText,
    ReplyPlan,
    build_references,
    build_variables,
    choose_recipient,
    choose_sender,
    company_for,
    company_from_domain,
    describe_elapsed,
    describe_meeting_day,
    draft_to_mime,
    extract_role,
    first_name_from,
    format_day,
    greeting_for,
    is_no_reply_address,
    mailfollow_id_for,
    make_draft,
    make_message_id,
    plan_reply,
    quote_message,
    render_draft,
    reply_subject,
    strip_reply_prefixes,
)
from mailfollow.errors import MailfollowError
from mailfollow.model import (
    Address,
    Classification,
    ClassifiedMessage,
    Conversation,
    Draft,
    Identity,
    IncomingKind,
    Message,
    OutgoingKind,
    Stage,
)
from tests.factories import ME, NOW, make_message

IDENTITY = Identity("Alex Doe", frozenset({ME.email, "alex@alias.example"}))
JANE = Address("jane@acme.example", "Jane Smith")


def mine(message: Message, kind: OutgoingKind = OutgoingKind.APPLICATION) -> ClassifiedMessage:
    return ClassifiedMessage(
        message, Classification("test.mine", "sent by me", outgoing=kind), True
    )


def theirs(
    message: Message, kind: IncomingKind = IncomingKind.HUMAN_REPLY, **extra: object
) -> ClassifiedMessage:
    classification = Classification("test.theirs", "received", incoming=kind, **extra)  # type: ignore[arg-type]
    return ClassifiedMessage(message, classification, False)


def conversation(
    *items: ClassifiedMessage,
    stage: Stage = Stage.APPLICATION,
    counterpart: Address = JANE,
    company: str = "",
    subject: str = "Application for Senior Backend Engineer",
) -> Conversation:
    if not items:
        items = (
            mine(make_message(subject=subject, to=(counterpart,), message_id="app@example.org")),
        )
    return Conversation(
        id="conv-1",
        stage=stage,
        counterpart=counterpart,
        company=company,
        subject=subject,
        messages=items,
    )


def a_draft(**changes: object) -> Draft:
    draft = Draft(
        conversation_id="conv-1",
        mailfollow_id="mf1-abc-1",
        message_id="mailfollow.tok123@example.org",
        sender=ME,
        to=JANE,
        subject="Re: Application for Senior Backend Engineer",
        in_reply_to="app@example.org",
        references=("root@acme.example", "app@example.org"),
        body="Hi Jane,\n\nJust following up.\n\nBest regards,\nAlex Doe\n",
        created_at=NOW,
    )
    return replace(draft, **changes)  # type: ignore[arg-type]


def parse(raw: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def text_of(parsed: email.message.EmailMessage) -> str:
    """The decoded body with the wire's CRLF line ends turned back into newlines."""
    return str(parsed.get_content()).replace("\r\n", "\n")


# --- subjects --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Application for Senior Backend Engineer", "Re: Application for Senior Backend Engineer"),
        ("Re: Application", "Re: Application"),
        ("RE: Re: AW: Application", "Re: Application"),
        ("Re[2]: Application", "Re: Application"),
        ("SV: Ansökan", "Re: Ansökan"),
        ("Fwd: Referral", "Re: Fwd: Referral"),
        ("  Re :   spaced   out ", "Re: spaced out"),
        ("", "Re: Following up"),
        ("Re:", "Re: Following up"),
    ],
)
def test_the_reply_subject_has_exactly_one_re_prefix(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


def test_a_line_break_in_the_original_subject_is_flattened_not_kept() -> None:
    assert reply_subject("Hello\r\nBcc: victim@example.com") == "Re: Hello Bcc: victim@example.com"


@given(st.text())
def test_any_subject_gives_one_re_prefix_and_a_single_line(original: str) -> None:
    subject = reply_subject(original)
    assert subject.startswith("Re: ")
    assert not subject[4:].lower().startswith(("re:", "re ", "aw:", "sv:"))
    assert "\r" not in subject
    assert "\n" not in subject
    assert strip_reply_prefixes(subject) == subject[4:]


@given(st.text())
def test_any_subject_survives_the_trip_through_mime(original: str) -> None:
    draft = a_draft(subject=reply_subject(original))
    assert parse(draft_to_mime(draft))["Subject"] == draft.subject


# --- recipients --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "noreply@acme.example",
        "no-reply@us.greenhouse-mail.io",
        "no_reply@acme.example",
        "NoReply+abc@acme.example",
        "donotreply@acme.example",
        "do-not-reply@acme.example",
        "jobs-noreply@acme.example",
        "mailer-daemon@acme.example",
        "postmaster@acme.example",
        "notifications@acme.example",
        "bounces+1234@acme.example",
    ],
)
def test_no_reply_style_addresses_are_recognised(address: str) -> None:
    assert is_no_reply_address(address)


@pytest.mark.parametrize(
    "address", ["jane@acme.example", "jobs@acme.example", "reply@acme.example"]
)
def test_ordinary_addresses_are_not_no_reply(address: str) -> None:
    assert not is_no_reply_address(Address(address))


def test_the_recipient_honours_the_reply_to_of_their_last_human_message() -> None:
    reply = make_message(
        sender=JANE,
        to=(ME,),
        subject="Re: Application",
        reply_to=(Address("hiring@acme.example", "Acme Hiring"),),
        days_ago=8,
    )
    conv = conversation(
        mine(make_message(days_ago=12)), theirs(reply), mine(make_message(days_ago=7))
    )
    assert choose_recipient(conv, identity=IDENTITY) == Address(
        "hiring@acme.example", "Acme Hiring"
    )


def test_a_no_reply_reply_to_falls_back_to_the_human_sender() -> None:
    reply = make_message(sender=JANE, to=(ME,), reply_to=(Address("noreply@acme.example"),))
    conv = conversation(mine(make_message(days_ago=12)), theirs(reply))
    assert choose_recipient(conv, identity=IDENTITY) == JANE


def test_an_auto_acknowledgement_sender_is_not_the_recipient() -> None:
    ack = make_message(sender=Address("ats@acme.example", "Acme ATS"), to=(ME,), days_ago=9)
    conv = conversation(mine(make_message(days_ago=10)), theirs(ack, IncomingKind.AUTO_ACK))
    assert choose_recipient(conv, identity=IDENTITY) == JANE


def test_a_conversation_with_only_a_no_reply_counterpart_is_refused_with_a_reason() -> None:
    no_reply = Address("no-reply@us.greenhouse-mail.io", "Acme Careers")
    sent = make_message(to=(no_reply,), subject="Application for Engineer")
    refusal = choose_recipient(conversation(mine(sent), counterpart=no_reply), identity=IDENTITY)
    assert isinstance(refusal, DraftRefusal)
    assert refusal.rule == "recipient.no-reply"
    assert "no-reply@us.greenhouse-mail.io" in refusal.reason


def test_the_user_is_never_their_own_recipient() -> None:
    sent = make_message(to=(Address("alex@alias.example"),))
    refusal = choose_recipient(
        conversation(mine(sent), counterpart=Address("alex@alias.example")), identity=IDENTITY
    )
    assert isinstance(refusal, DraftRefusal)
    assert refusal.rule == "recipient.none"


def test_a_recipient_name_with_a_line_break_is_flattened() -> None:
    sneaky = Address("jane@acme.example", "Jane\r\nBcc: victim@example.com")
    conv = conversation(mine(make_message(to=(sneaky,))), counterpart=sneaky)
    recipient = choose_recipient(conv, identity=IDENTITY)
    assert recipient == Address("jane@acme.example", "Jane Bcc: victim@example.com")


def test_the_sender_is_the_alias_the_user_wrote_from() -> None:
    sent = make_message(sender=Address("alex@alias.example", "Alex"))
    chosen = choose_sender(conversation(mine(sent)), identity=IDENTITY, default=ME)
    assert chosen == Address("alex@alias.example", "Alex Doe")


def test_the_default_sender_is_used_when_the_user_never_wrote() -> None:
    reply = theirs(make_message(sender=JANE, to=(ME,)))
    assert choose_sender(conversation(reply), identity=IDENTITY, default=ME) == ME


# --- threading ---------------------------------------------------------------------------


def test_the_follow_up_answers_the_users_last_tracked_message() -> None:
    first = make_message(message_id="app@example.org", days_ago=20)
    ack = make_message(sender=Address("noreply@acme.example"), to=(ME,), days_ago=19)
    nudge = make_message(
        message_id="nudge1@example.org",
        in_reply_to=("app@example.org",),
        references=("app@example.org",),
        subject="Re: Application for Senior Backend Engineer",
        days_ago=10,
    )
    plan = plan_reply(
        conversation(mine(first), theirs(ack, IncomingKind.AUTO_ACK), mine(nudge)),
        identity=IDENTITY,
    )
    assert isinstance(plan, ReplyPlan)
    assert plan.in_reply_to == "nudge1@example.org"
    assert plan.references == ("app@example.org", "nudge1@example.org")
    assert plan.subject == "Re: Application for Senior Backend Engineer"


def test_references_are_deduplicated_and_capped_keeping_the_thread_root() -> None:
    chain = tuple(f"m{i}@example.org" for i in range(30))
    parent = make_message(message_id="m29@example.org", references=(*chain[:-1], chain[3]))
    references = build_references(parent, limit=5)
    assert references == ("m0@example.org", *chain[26:])
    assert len(set(references)) == len(references)


def test_references_fall_back_to_in_reply_to_and_skip_malformed_ids() -> None:
    parent = make_message(message_id="p@example.org", in_reply_to=("a@example.org", "bad id<>"))
    assert build_references(parent) == ("a@example.org", "p@example.org")


def test_a_synthetic_message_id_is_never_replied_to() -> None:
    sent = make_message(message_id="sha256-abc@mailfollow.invalid", id_is_synthetic=True)
    plan = plan_reply(conversation(mine(sent)), identity=IDENTITY)
    assert isinstance(plan, ReplyPlan)
    assert plan.in_reply_to == ""
    assert plan.references == ()


def test_an_empty_conversation_is_refused() -> None:
    empty = replace(conversation(), messages=())
    refusal = plan_reply(empty, identity=IDENTITY)
    assert isinstance(refusal, DraftRefusal)
    assert refusal.rule == "conversation.empty"


# --- template variables ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jane Smith", "Jane"),
        ("Smith, Jane", "Jane"),
        ("Dr. Jane Smith", "Jane"),
        ("JANE SMITH", "Jane"),
        ("Jane Smith, PhD", "Jane"),
        ("Jane Smith via LinkedIn", "Jane"),
        ("José Álvarez", "José"),
        ("", ""),
        ("jobs", ""),
        ("Careers at Acme", ""),
        ("Acme Talent Acquisition Team", ""),
        ("Acme", ""),
        ("jane@acme.example", ""),
        ("J. Smith", ""),
    ],
)
def test_the_first_name_comes_from_a_persons_display_name_only(name: str, expected: str) -> None:
    assert first_name_from(Address("jane@acme.example", name), company="Acme") == expected


def test_the_local_part_of_an_address_is_never_a_first_name() -> None:
    assert first_name_from(Address("jobs@acme.example")) == ""
    assert first_name_from(Address("jsmith@acme.example", "jsmith")) == ""


def test_the_greeting_is_neutral_without_a_first_name() -> None:
    assert greeting_for("Jane") == "Hi Jane"
    assert greeting_for("") == "Hello"


@pytest.mark.parametrize(
    ("subject", "role"),
    [
        ("Application for Senior Backend Engineer", "Senior Backend Engineer"),
        ("Application: Backend Engineer", "Backend Engineer"),
        ("Application - Staff Engineer", "Staff Engineer"),
        ("Re: Application for Senior Backend Engineer (Job ID 4411)", "Senior Backend Engineer"),
        ("Application for Data Analyst - Alex Doe", "Data Analyst"),
        ("Applying for the Product Designer role at Acme", "Product Designer"),
        ("Interest in the Data Analyst role", "Data Analyst"),
        ("Backend Engineer application", "Backend Engineer"),
        ("Thank you - Technical Writer interview", "Technical Writer"),
        ("Phone interview", ""),
        ("Your application", ""),
        ("Quick question", ""),
        ("Application to Acme", ""),
        ("", ""),
    ],
)
def test_the_role_is_extracted_from_the_subject(subject: str, role: str) -> None:
    assert extract_role(subject) == role


def test_the_role_falls_back_to_the_users_own_text() -> None:
    text = "Dear Jane,\nI am writing to apply for the UX Designer position at Acme. Thanks"
    assert extract_role("Hello", text) == "UX Designer"


@pytest.mark.parametrize(
    ("domain", "company"),
    [
        ("acme.example", "Acme"),
        ("mail.acme-corp.co.uk", "Acme Corp"),
        ("gmail.com", ""),
        ("us.greenhouse-mail.io", ""),
        ("localhost", ""),
    ],
)
def test_the_company_comes_from_the_domain_unless_it_is_a_provider(
    domain: str, company: str
) -> None:
    assert company_from_domain(domain) == company


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (0, "today"),
        (1, "yesterday"),
        (3, "a few days ago"),
        (7, "last week"),
        (13, "last week"),
        (14, "two weeks ago"),
        (21, "three weeks ago"),
        (35, "about a month ago"),
        (95, "three months ago"),
        (400, "over a year ago"),
    ],
)
def test_elapsed_time_is_described_in_words(days: int, words: str) -> None:
    today = NOW.date()
    assert describe_elapsed(today - timedelta(days=days), today=today) == words


def test_dates_name_the_month_and_the_year_only_when_it_differs() -> None:
    today = NOW.date()
    assert format_day(datetime(2026, 3, 6, tzinfo=UTC).date(), today=today) == "March 6"
    assert format_day(datetime(2025, 12, 30, tzinfo=UTC).date(), today=today) == "December 30, 2025"


def test_the_interview_day_is_described_relative_to_today() -> None:
    today = NOW.date()  # a Monday
    assert describe_meeting_day(today, today=today) == "today"
    assert describe_meeting_day(today - timedelta(days=1), today=today) == "yesterday"
    assert describe_meeting_day(today - timedelta(days=4), today=today) == "on Thursday"
    assert describe_meeting_day(today - timedelta(days=10), today=today) == "on March 6"


def test_variables_describe_the_conversation_in_the_users_time_zone() -> None:
    sent = make_message(
        subject="Application for Senior Backend Engineer",
        date=datetime(2026, 3, 6, 23, 30, tzinfo=UTC),  # already March 7 in Berlin
    )
    variables = build_variables(
        conversation(mine(sent)),
        recipient=JANE,
        my_name="Alex Doe",
        signature="\n+1 555 0100\n",
        now=NOW,
        timezone="Europe/Berlin",
        nudge_number=2,
    )
    assert variables == {
        "first_name": "Jane",
        "greeting": "Hi Jane",
        "company": "Acme",
        "role": "Senior Backend Engineer",
        "subject": "Application for Senior Backend Engineer",
        "stage": "application",
        "sent_date": "March 7",
        "elapsed": "last week",
        "interview_date": "",
        "interview_when": "",
        "my_name": "Alex Doe",
        "signature": "+1 555 0100",
        "nudge_number": 2,
    }


def test_variables_name_the_interview_from_the_invitation() -> None:
    invitation = make_message(sender=JANE, to=(ME,), subject="Interview invitation", days_ago=3)
    interview_at = NOW - timedelta(days=1)
    conv = conversation(
        mine(make_message(days_ago=10)),
        theirs(invitation, IncomingKind.INVITATION, interview_at=interview_at),
        stage=Stage.INTERVIEW_THANK_YOU,
        company="Acme Robotics",
    )
    variables = build_variables(
        conv, recipient=JANE, my_name="Alex Doe", signature="", now=NOW, nudge_number=1
    )
    assert variables["interview_date"] == "March 15"
    assert variables["interview_when"] == "yesterday"
    assert variables["company"] == "Acme Robotics"


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    variables = build_variables(
        conversation(), recipient=JANE, my_name="A", signature="", now=NOW, timezone="Mars/Base"
    )
    assert variables["elapsed"] == "last week"


# --- drafts ------------------------------------------------------------------------------


class RecordingRenderer:
    def __init__(self) -> None:
        self.calls: list[tuple[Stage, int, Mapping[str, object]]] = []

    def render(
        self, stage: Stage, nudge_number: int, variables: Mapping[str, object]
    ) -> RenderedText:
        self.calls.append((stage, nudge_number, variables))
        return RenderedText(f"{variables['greeting']},\n\nBody.\n", "test.txt", ("a warning",))


def test_render_draft_builds_a_reply_draft_with_the_rendered_body() -> None:
    renderer = RecordingRenderer()
    conv = replace(conversation(), nudges_sent=1)
    result = render_draft(
        conv,
        renderer=renderer,
        sender=ME,
        identity=IDENTITY,
        signature="",
        now=NOW,
        message_id="mailfollow.t1@example.org",
        mailfollow_id="mf1-x-2",
    )
    assert isinstance(result, RenderedDraft)
    assert renderer.calls[0][:2] == (Stage.APPLICATION, 2)
    assert result.draft == Draft(
        conversation_id="conv-1",
        mailfollow_id="mf1-x-2",
        message_id="mailfollow.t1@example.org",
        sender=ME,
        to=JANE,
        subject="Re: Application for Senior Backend Engineer",
        in_reply_to="app@example.org",
        references=("app@example.org",),
        body="Hi Jane,\n\nBody.\n",
        created_at=NOW,
        nudge_number=2,
    )
    assert result.template == "test.txt"
    assert result.warnings == ("a warning",)


def test_render_draft_refuses_before_rendering_when_only_no_reply_is_known() -> None:
    renderer = RecordingRenderer()
    no_reply = Address("noreply@acme.example")
    conv = conversation(mine(make_message(to=(no_reply,))), counterpart=no_reply)
    result = render_draft(
        conv,
        renderer=renderer,
        sender=ME,
        identity=IDENTITY,
        signature="",
        now=NOW,
        message_id="mailfollow.t1@example.org",
        mailfollow_id="mf1-x-1",
    )
    assert isinstance(result, DraftRefusal)
    assert renderer.calls == []


def test_make_draft_refuses_a_no_reply_conversation() -> None:
    no_reply = Address("do-not-reply@acme.example")
    conv = conversation(mine(make_message(to=(no_reply,))), counterpart=no_reply)
    result = make_draft(
        conv,
        "Hi",
        sender=ME,
        identity=IDENTITY,
        now=NOW,
        message_id="a@b.example",
        mailfollow_id="x",
    )
    assert isinstance(result, DraftRefusal)


def test_make_draft_requires_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_draft(
            conversation(),
            "Hi",
            sender=ME,
            identity=IDENTITY,
            now=NOW.replace(tzinfo=None),
            message_id="a@b.example",
            mailfollow_id="x",
        )


def test_message_ids_are_made_from_the_callers_token() -> None:
    assert make_message_id("3f2a9c", domain="Example.org") == "mailfollow.3f2a9c@example.org"
    with pytest.raises(ValueError, match="unusable"):
        make_message_id("bad token", domain="example.org")


def test_the_mailfollow_id_is_stable_per_conversation_and_nudge() -> None:
    assert mailfollow_id_for("conv-1", 1) == mailfollow_id_for("conv-1", 1)
    assert mailfollow_id_for("conv-1", 1) != mailfollow_id_for("conv-1", 2)
    assert mailfollow_id_for("conv-1", 1) != mailfollow_id_for("conv-2", 1)
    assert mailfollow_id_for("conv-1\r\nX: y", 1).isprintable()


# --- MIME --------------------------------------------------------------------------------


def test_the_mime_message_carries_every_reply_header() -> None:
    raw = draft_to_mime(a_draft())
    parsed = parse(raw)
    assert parsed["Subject"] == "Re: Application for Senior Backend Engineer"
    assert parsed["From"] == "Alex Doe <alex.doe@example.org>"
    assert parsed["To"] == "Jane Smith <jane@acme.example>"
    assert parsed["Message-ID"] == "<mailfollow.tok123@example.org>"
    assert parsed["In-Reply-To"] == "<app@example.org>"
    assert parsed["References"] == "<root@acme.example> <app@example.org>"
    assert parsed[MAILFOLLOW_ID_HEADER] == "mf1-abc-1"
    assert parsed["Date"].datetime == NOW
    assert parsed["MIME-Version"] == "1.0"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert text_of(parsed) == "Hi Jane,\n\nJust following up.\n\nBest regards,\nAlex Doe\n"


def test_the_mime_message_uses_crlf_line_endings_only() -> None:
    raw = draft_to_mime(a_draft())
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert raw.endswith(b"\r\n")


def test_a_draft_without_a_parent_has_no_threading_headers() -> None:
    parsed = parse(draft_to_mime(a_draft(in_reply_to="", references=())))
    assert "In-Reply-To" not in parsed
    assert "References" not in parsed


def test_non_ascii_names_subjects_and_bodies_round_trip() -> None:
    draft = a_draft(
        sender=Address("alex.doe@example.org", "Álex Dœ"),
        to=Address("jose@acme.example", "José Müller, Jr."),
        subject="Re: Bewerbung als Softwareentwickler (m/w/d) \u2013 München",
        body="Hallo José,\n\nvielen Dank für Ihre Zeit. 😊\n",
    )
    raw = draft_to_mime(draft)
    assert raw.isascii()
    parsed = parse(raw)
    assert parsed["Subject"] == draft.subject
    assert parsed["From"].addresses[0].display_name == "Álex Dœ"
    assert parsed["To"].addresses[0].display_name == "José Müller, Jr."
    assert parsed["To"].addresses[0].addr_spec == "jose@acme.example"
    assert text_of(parsed) == draft.body


def test_a_quote_of_the_original_is_appended_below_the_body() -> None:
    original = make_message(
        date=datetime(2026, 3, 6, 9, 0, tzinfo=UTC), snippet="Dear Jane,\r\nPlease find my CV.\n"
    )
    quote = quote_message(original)
    body = text_of(parse(draft_to_mime(a_draft(), quote=quote)))
    assert body.endswith(
        "Alex Doe\n\nOn March 6, 2026, Alex Doe <alex.doe@example.org> wrote:\n"
        "> Dear Jane,\n> Please find my CV.\n"
    )


def test_a_message_without_text_gives_no_quote() -> None:
    assert quote_message(make_message(snippet="")) == ""


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Re: Hi\r\nBcc: victim@example.com"},
        {"subject": "Re: Hi\nBcc: victim@example.com"},
        {"subject": "Re: Hi\x00"},
        {"subject": "Re: Hi\u2028Bcc: victim@example.com"},
        {"to": Address("jane@acme.example", "Jane\r\nBcc: victim@example.com")},
        {"to": Address("jane@acme.example\r\nBcc: victim@example.com", "Jane")},
        {"sender": Address("alex.doe@example.org", "Alex\nX-Evil: 1")},
        {"mailfollow_id": "mf1\r\nBcc: victim@example.com"},
        {"message_id": "a@b\r\nBcc: victim@example.com"},
        {"in_reply_to": "a@b\nBcc: victim@example.com"},
        {"references": ("a@b", "c@d\r\nBcc: victim@example.com")},
    ],
)
def test_header_injection_attempts_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(HeaderInjectionError):
        draft_to_mime(a_draft(**changes))


def test_a_header_injection_error_is_a_value_error_and_an_expected_error() -> None:
    assert issubclass(HeaderInjectionError, ValueError)
    assert issubclass(HeaderInjectionError, MailfollowError)


def test_a_malformed_message_id_is_refused() -> None:
    with pytest.raises(HeaderInjectionError, match="not a usable Message-ID"):
        draft_to_mime(a_draft(message_id="<a@b>"))


def test_an_address_that_is_not_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be used"):
        draft_to_mime(a_draft(to=Address("not an address")))


def test_a_naive_created_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        draft_to_mime(a_draft(created_at=NOW.replace(tzinfo=None)))


def test_a_draft_made_from_hostile_input_still_builds_a_clean_message() -> None:
    hostile = Address("jane@acme.example", "Jane\r\nBcc: victim@example.com")
    sent = make_message(to=(hostile,), subject="Application\r\nBcc: victim@example.com")
    conv = conversation(mine(sent), counterpart=hostile, subject=sent.subject)
    draft = make_draft(
        conv,
        "Hi",
        sender=ME,
        identity=IDENTITY,
        now=NOW,
        message_id="mailfollow.t@example.org",
        mailfollow_id="mf1-x-1",
    )
    assert isinstance(draft, Draft)
    parsed = parse(draft_to_mime(draft))
    assert "Bcc" not in parsed
    assert parsed["Subject"] == "Re: Application Bcc: victim@example.com"


def test_a_company_given_as_a_domain_is_made_readable() -> None:
    conv = conversation(company="careers.acme-robotics.example")
    variables = build_variables(conv, recipient=JANE, my_name="A", signature="", now=NOW)
    assert variables["company"] == "Acme Robotics"


def test_the_company_falls_back_to_the_counterparts_domain() -> None:
    recruiter = Address("jane.recruits@gmail.com", "Jane Smith")
    variables = build_variables(
        conversation(), recipient=recruiter, my_name="A", signature="", now=NOW
    )
    assert variables["company"] == "Acme"


def test_the_role_comes_from_the_users_own_message_when_the_subject_has_none() -> None:
    sent = make_message(
        subject="Hello from Alex",
        snippet="Hi Jane, I would love to apply for the Platform Engineer opening.",
    )
    conv = conversation(mine(sent), subject="Hello from Alex")
    variables = build_variables(conv, recipient=JANE, my_name="A", signature="", now=NOW)
    assert variables["role"] == "Platform Engineer"


def test_dates_fall_back_to_the_first_message_when_the_user_wrote_none() -> None:
    reply = make_message(sender=JANE, to=(ME,), date=datetime(2026, 3, 2, 12, tzinfo=UTC))
    variables = build_variables(
        conversation(theirs(reply)), recipient=JANE, my_name="A", signature="", now=NOW
    )
    assert variables["sent_date"] == "March 2"
    assert variables["elapsed"] == "two weeks ago"


def test_a_non_ascii_subject_without_a_prefix_round_trips() -> None:
    draft = a_draft(subject="Ärger über Umlaute, lange Betreffzeile " * 3)
    assert parse(draft_to_mime(draft))["Subject"] == draft.subject


def test_a_company_slug_from_a_domain_reads_as_a_name() -> None:
    slugged = conversation(company="willow-networks")
    assert company_for(slugged, slugged.counterpart) == "Willow Networks"
    named = conversation(company="Acme GmbH")
    assert company_for(named, named.counterpart) == "Acme GmbH"
