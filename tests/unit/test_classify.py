"""core.classify (and the text helpers in core.signals): what each email is, and why."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailfollow.core import classify as classify_module
from mailfollow.core import signals as signals_module
from mailfollow.core.classify import classify_message
from mailfollow.core.headers import CLASSIFICATION_HEADERS, parse_message
from mailfollow.core.signals import (
    PhraseTable,
    find_date,
    find_phrase,
    find_time,
    prefilter_for,
    sentences,
    strip_quoted,
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
from tests.factories import ME, NOW, make_message

IDENTITY = Identity(name="Alex Doe", addresses=frozenset({ME.email, "alex@personal.example"}))
RULES = DetectionRules()
RECRUITER = Address("jane@acme.example", "Jane Smith")
ATS = Address("no-reply@us.greenhouse-mail.io", "Acme Recruiting")
PARIS = timezone(timedelta(hours=1))
MONDAY = datetime(2026, 3, 16, 10, 0, tzinfo=PARIS)

ACK_TEXT = (
    "Hi Alex,\n\nThank you for applying to the Backend Engineer role at Acme. Your application "
    "has been received and will be reviewed by our team. If you are not selected for this "
    "position, we will keep your resume on file. If your background is a strong fit, we'll "
    "reach out to schedule a conversation.\n\nThe Acme Recruiting Team"
)


def classify(message: Message, rules: DetectionRules = RULES, **options: object) -> Classification:
    return classify_message(message, identity=IDENTITY, rules=rules, **options)  # type: ignore[arg-type]


def incoming(
    snippet: str = "",
    *,
    subject: str = "Re: Application: Backend Engineer",
    sender: Address = RECRUITER,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Message:
    extra.setdefault("date", MONDAY)
    return make_message(
        sender=sender, to=(ME,), subject=subject, snippet=snippet, headers=headers, **extra
    )


def outgoing(
    snippet: str = "", *, subject: str = "Hello", sender: Address = ME, **extra: object
) -> Message:
    extra.setdefault("to", (RECRUITER,))
    return make_message(sender=sender, subject=subject, snippet=snippet, **extra)  # type: ignore[arg-type]


def kind_of(message: Message) -> IncomingKind | None:
    return classify(message).incoming


# --------------------------------------------------------------------------- outgoing


def test_the_users_own_message_is_outgoing_whatever_the_alias_case() -> None:
    message = outgoing(sender=Address("Alex@Personal.EXAMPLE"))
    result = classify(message)
    assert result.outgoing is not None
    assert result.incoming is None


@pytest.mark.parametrize(
    ("attachment", "expected"),
    [
        ("Alex_Doe_CV.pdf", True),
        ("resume-2026.docx", True),
        ("Lebenslauf Alex Doe.pdf", True),
        ("Cover Letter.pdf", True),
        ("cvs-receipt.pdf", False),
        ("holiday.jpg", False),
    ],
)
def test_a_cv_attachment_marks_an_application(attachment: str, expected: bool) -> None:
    result = classify(outgoing("Hi!", attachment_names=(attachment,)))
    assert (result.rule == "application.cv-attachment") is expected
    if expected:
        assert result.outgoing is OutgoingKind.APPLICATION
        assert attachment in result.explanation


@pytest.mark.parametrize(
    "snippet",
    [
        "Dear hiring team,\nI am writing to apply for the Senior Backend Engineer role at Acme.",
        "Please find attached my resume for your consideration.",
        "I'd like to apply for the open data analyst position.",
    ],
)
def test_application_wording_marks_an_application(snippet: str) -> None:
    result = classify(outgoing(snippet))
    assert result.outgoing is OutgoingKind.APPLICATION
    assert result.rule.startswith("application.")


def test_mail_to_a_hiring_mailbox_is_an_application() -> None:
    result = classify(outgoing("Hello, here I am.", to=(Address("careers@acme.example"),)))
    assert result.rule == "application.jobs-mailbox"


def test_tracked_domains_and_keywords_make_an_application() -> None:
    rules = DetectionRules(track_domains=frozenset({"acme.example"}), track_keywords=("REQ-42",))
    assert classify(outgoing("Hi Jane"), rules).rule == "application.track-domain"
    other = outgoing("About REQ-42", to=(Address("bob@other.example"),))
    assert classify(other, rules).rule == "application.track-keyword"


def test_ignored_domains_and_keywords_win_over_application_wording() -> None:
    text = "Please find attached my resume."
    rules = DetectionRules(ignore_domains=frozenset({"acme.example"}))
    assert classify(outgoing(text), rules).outgoing is OutgoingKind.OTHER
    rules = DetectionRules(ignore_keywords=("personal",))
    result = classify(outgoing(f"{text} (personal)"), rules)
    assert result.rule == "other.ignore-keyword"


def test_mail_to_the_users_own_addresses_is_not_tracked() -> None:
    result = classify(outgoing("Please find attached my resume.", to=(ME,)))
    assert result.rule == "other.to-self"


@pytest.mark.parametrize(
    "snippet",
    [
        "It was great to meet you at PyCon yesterday!",
        "Would you be open to a coffee chat next week?",
        "Maria suggested I introduce myself.",
        "I'd love to connect and learn more about your work.",
    ],
)
def test_networking_wording_marks_a_networking_note(snippet: str) -> None:
    assert classify(outgoing(snippet)).outgoing is OutgoingKind.NETWORKING


def test_a_thank_you_note_after_an_interview_is_a_thank_you() -> None:
    by_subject = classify(outgoing("Hi Jane, it was lovely.", subject="Thank you!"))
    by_text = classify(outgoing("Thank you for taking the time to interview me today."))
    assert by_subject.outgoing is OutgoingKind.THANK_YOU
    assert by_text.outgoing is OutgoingKind.THANK_YOU


def test_a_reply_to_an_acknowledgement_is_not_a_thank_you_note() -> None:
    result = classify(outgoing("Great, thanks.", subject="Re: Thank you for applying"))
    assert result.outgoing is not OutgoingKind.THANK_YOU


def test_informational_interviews_are_their_own_kind() -> None:
    request = classify(outgoing("Would you have time for an informational interview?"))
    thanks = classify(outgoing("Thank you for the informational chat yesterday."))
    assert request.outgoing is OutgoingKind.INFORMATIONAL
    assert thanks.outgoing is OutgoingKind.INFORMATIONAL


def test_follow_ups_are_recognised_by_wording_and_by_the_mailfollow_header() -> None:
    worded = classify(outgoing("Just following up on my application from last week."))
    header = classify(outgoing("Hi", headers={"x-mailfollow-id": "mf-1"}))
    assert worded.outgoing is OutgoingKind.FOLLOW_UP
    assert header.rule == "follow_up.mailfollow-header"


def test_personal_mail_is_not_tracked() -> None:
    result = classify(outgoing("See you at dinner on Friday!", to=(Address("mum@family.example"),)))
    assert result.rule == "other.untracked"
    assert result.outgoing is OutgoingKind.OTHER


# --------------------------------------------------------------------------- bounces


DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example>
To: alex.doe@example.org
Subject: Undelivered Mail Returned to Sender
Date: Mon, 16 Mar 2026 10:00:00 +0100
Message-ID: <dsn@mx.example>
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary=B

--B
Content-Type: text/plain

This is the mail system. {text}
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; jane@acme.example
Action: {action}
Status: {status}
--B--
"""


def dsn(action: str, status: str, text: str = "") -> Message:
    return parse_message(DSN.format(action=action, status=status, text=text).encode())


def test_a_delivery_status_report_with_a_failed_action_is_a_bounce_despite_auto_replied() -> None:
    result = classify(dsn("failed", "5.1.1", "Your message could not be delivered."))
    assert result.incoming is IncomingKind.BOUNCE
    assert result.rule == "bounce.dsn-report"
    assert "delivery failed" in result.explanation


def test_delayed_and_successful_delivery_reports_are_not_bounces() -> None:
    delayed = classify(dsn("delayed", "4.4.7", "This is a warning only."))
    delivered = classify(dsn("delivered", "2.0.0", "Delivered."))
    assert (delayed.incoming, delayed.rule) == (IncomingKind.OTHER_AUTOMATIC, "dsn.delayed")
    assert (delivered.incoming, delivered.rule) == (IncomingKind.OTHER_AUTOMATIC, "dsn.success")


@pytest.mark.parametrize(
    ("sender", "subject", "headers", "rule"),
    [
        (Address("mailer-daemon@mx.example"), "failure notice", {}, "bounce.mailer-daemon"),
        (Address("postmaster@mx.example"), "Error", {}, "bounce.mailer-daemon"),
        (RECRUITER, "Hello", {"x-failed-recipients": "j@x.example"}, "bounce.x-failed-recipients"),
        (RECRUITER, "Undeliverable: Application", {}, "bounce.subject"),
        (RECRUITER, "Delivery Status Notification (Failure)", {}, "bounce.subject"),
        (RECRUITER, "Mail delivery failed: returning message to sender", {}, "bounce.subject"),
        (RECRUITER, "Returned mail: see transcript for details", {}, "bounce.subject"),
    ],
)  # fmt: skip
def test_bounces_without_a_report_part_are_bounces(
    sender: Address, subject: str, headers: dict[str, str], rule: str
) -> None:
    message = incoming("Recipient address rejected: user unknown.", subject=subject,
                       sender=sender, headers=headers)  # fmt: skip
    result = classify(message)
    assert (result.incoming, result.rule) == (IncomingKind.BOUNCE, rule)


def test_a_gmail_delay_notice_is_not_a_bounce() -> None:
    message = incoming(
        "THIS IS A WARNING MESSAGE ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE.",
        subject="Delivery Status Notification (Delay)",
        sender=Address("mailer-daemon@googlemail.com"),
    )
    assert classify(message).rule == "dsn.delayed"


def test_a_person_replying_about_a_bounce_is_not_a_bounce() -> None:
    message = incoming("Sorry, my old address is gone - use this one.", subject="Re: Undeliverable")
    assert kind_of(message) is IncomingKind.HUMAN_REPLY


def test_a_bounce_text_from_a_null_sender_is_a_bounce() -> None:
    message = incoming(
        "Your message could not be delivered: mailbox unavailable.",
        subject="Problem",
        headers={"return-path": "<>"},
    )
    assert classify(message).rule == "bounce.text"


def test_read_receipts_and_abuse_reports_are_other_automatic() -> None:
    report = "multipart/report; boundary=x; report-type="
    mdn = incoming("Displayed.", headers={"content-type": report + "disposition-notification"})
    arf = incoming("Complaint.", headers={"content-type": report + "feedback-report"})
    assert classify(mdn).rule == "report.mdn"
    assert classify(arf).rule == "report.arf"
    assert kind_of(mdn) is kind_of(arf) is IncomingKind.OTHER_AUTOMATIC


# --------------------------------------------------------------------------- out of office


@pytest.mark.parametrize(
    ("headers", "rule"),
    [
        ({"auto-submitted": "auto-replied"}, "ooo.auto-submitted"),
        ({"auto-submitted": "auto-replied (zimbra; vacation)"}, "ooo.auto-submitted"),
        ({"x-autoreply": "yes"}, "ooo.x-autoreply"),
        ({"x-autorespond": "true"}, "ooo.x-autoreply"),
        ({"precedence": "auto_reply"}, "ooo.precedence-auto-reply"),
        ({"x-apple-action": "VACATION"}, "ooo.apple-vacation"),
        (
            {"x-auto-response-suppress": "All", "x-ms-exchange-inbox-rules-loop": "j@x.example"},
            "ooo.exchange-rules",
        ),
        (
            {"x-ms-exchange-generated-message-source": "Mailbox Rules Agent"},
            "ooo.exchange-mailbox-rules",
        ),
        ({"x-autogenerated": "Reply"}, "ooo.x-autogenerated-reply"),
    ],
)  # fmt: skip
def test_autoresponder_headers_mark_an_out_of_office(headers: dict[str, str], rule: str) -> None:
    result = classify(incoming("I'm out of the office this week.", headers=headers))
    assert (result.incoming, result.rule) == (IncomingKind.OUT_OF_OFFICE, rule)


@pytest.mark.parametrize(
    ("subject", "lang"),
    [
        ("Out of Office: Application", "en"),
        ("Automatic reply: Application", "en"),
        ("Auto reply: Application", "en"),
        ("Auto: Application", "en"),
        ("Abwesenheitsnotiz: Bewerbung", "de"),
        ("AW: Automatische Antwort: Bewerbung", "de"),
        ("Réponse automatique : Candidature", "fr"),
        ("Respuesta automática: Solicitud", "es"),
        ("Risposta automatica: Candidatura", "it"),
        ("Automatisch antwoord: Sollicitatie", "nl"),
        ("Automatiskt svar: Ansökan", "sv"),
        ("Autosvar: Ansøgning", "da"),
        ("[External] Automatic reply: Application", "en"),
    ],
)
def test_localised_autoreply_subjects_mark_an_out_of_office(subject: str, lang: str) -> None:
    result = classify(incoming("Thank you for your message.", subject=subject))
    assert result.incoming is IncomingKind.OUT_OF_OFFICE
    assert result.rule == f"ooo.subject-{lang}"


def test_a_person_replying_to_an_autoreply_is_still_a_person() -> None:
    snippet = "Hi Alex, no worries!\n\nOn Mon, Mar 16, 2026 at 9:00 AM Alex wrote:\n> I am away."
    result = classify(incoming(snippet, subject="Re: Automatic reply: Coffee"))
    assert result.incoming is IncomingKind.HUMAN_REPLY


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("I am out of the office and back on Monday 23 March.", date(2026, 3, 23)),
        ("I will return on 2026-03-23.", date(2026, 3, 23)),
        ("I'm away until 3/23 with limited access to email.", date(2026, 3, 23)),
        ("I'm on leave and will be back on Friday.", date(2026, 3, 20)),
        ("Ich bin ab dem 24.03.2026 wieder im Büro.", date(2026, 3, 24)),
    ],
)
def test_the_return_date_is_read_relative_to_the_message_date(snippet: str, expected: date) -> None:
    result = classify(incoming(snippet, headers={"auto-submitted": "auto-replied"}))
    assert result.return_date == datetime.combine(expected, time(0), tzinfo=PARIS)


def test_an_out_of_office_without_a_stated_return_has_no_return_date() -> None:
    result = classify(incoming("I am travelling.", subject="Out of Office: Hello"))
    assert result.incoming is IncomingKind.OUT_OF_OFFICE
    assert result.return_date is None


# --------------------------------------------------------------------------- traps


def test_x_auto_response_suppress_alone_is_not_automatic() -> None:
    message = incoming("Thanks Alex, could you send your portfolio?",
                       headers={"x-auto-response-suppress": "All"})  # fmt: skip
    result = classify(message)
    assert result.incoming is IncomingKind.HUMAN_REPLY
    assert result.asks_question


def test_auto_submitted_no_is_not_automatic() -> None:
    result = classify(incoming("Sounds good, talk soon.", headers={"auto-submitted": "no"}))
    assert result.incoming is IncomingKind.HUMAN_REPLY


def test_an_exchange_rules_loop_header_alone_is_not_automatic() -> None:
    headers = {"x-ms-exchange-inbox-rules-loop": "jane@acme.example", "thread-index": "x"}
    assert (
        kind_of(incoming("Forwarding this to the team.", headers=headers))
        is IncomingKind.HUMAN_REPLY
    )


def test_an_auto_generated_ats_rejection_is_still_a_rejection() -> None:
    message = incoming(
        "Thank you for your interest. Unfortunately, we will not be moving forward with your "
        "application for the Backend Engineer role.",
        sender=ATS,
        subject="Update on your application",
        headers={"auto-submitted": "auto-generated"},
    )
    assert kind_of(message) is IncomingKind.REJECTION


def test_auto_generated_mail_without_a_decision_is_other_automatic() -> None:
    message = incoming(
        "Your weekly summary is ready.", headers={"auto-submitted": "auto-generated"}
    )
    assert classify(message).rule == "auto.auto-submitted"


def test_an_acknowledgement_that_mentions_not_being_selected_is_not_a_rejection() -> None:
    result = classify(incoming(ACK_TEXT, sender=ATS, subject="Thank you for applying to Acme"))
    assert result.incoming is IncomingKind.AUTO_ACK
    assert result.rule.startswith("ack.")


def test_a_human_reply_quoting_the_users_application_is_a_human_reply() -> None:
    snippet = (
        "Hi Alex, thanks - could we talk on Thursday?\n\n"
        "On Mon, 16 Mar 2026 at 09:00, Alex Doe <alex.doe@example.org> wrote:\n"
        "> Please find attached my resume. I am applying for the Backend Engineer role.\n"
        "> Thank you for applying is what your system said; unfortunately I was not selected "
        "for the last role."
    )
    result = classify(incoming(snippet))
    assert result.incoming in {IncomingKind.HUMAN_REPLY, IncomingKind.INVITATION}
    assert result.incoming.is_human


def test_a_bulk_header_on_a_reply_to_the_user_keeps_it_a_human_reply() -> None:
    message = incoming(
        "Thanks Alex, I'll pass this to the hiring manager.",
        headers={"precedence": "bulk", "list-id": "<helpdesk.acme.example>"},
        in_reply_to=("app-1@example.org",),
    )
    result = classify(message, own_message_ids=frozenset({"app-1@example.org"}))
    assert result.incoming is IncomingKind.HUMAN_REPLY
    assert result.rule == "human.reply-despite-list-headers"


def test_without_own_ids_a_list_reply_addressed_to_the_user_stays_human() -> None:
    message = incoming("Good point.", headers={"list-id": "<l.example>"}, in_reply_to=("x@y",))
    assert classify(message).rule == "human.reply-despite-list-headers"


def test_list_mail_that_answers_someone_else_is_bulk() -> None:
    message = incoming("Good point.", headers={"list-id": "<l.example>"}, in_reply_to=("x@y",))
    result = classify(message, own_message_ids=frozenset({"mine@example.org"}))
    assert result.incoming is IncomingKind.BULK


# --------------------------------------------------------------------------- acknowledgements


def test_an_ats_acknowledgement_is_automatic() -> None:
    result = classify(incoming(ACK_TEXT, sender=ATS, subject="Thank you for applying to Acme"))
    assert result.incoming is IncomingKind.AUTO_ACK
    assert not result.incoming.is_human
    assert "greenhouse-mail.io" in result.explanation


def test_an_acknowledgement_that_invites_conditionally_is_not_an_invitation() -> None:
    assert kind_of(incoming(ACK_TEXT, sender=ATS, subject="Application received")) is not (
        IncomingKind.INVITATION
    )


def test_a_recruiter_thanking_for_the_application_in_a_reply_is_a_person() -> None:
    message = incoming(
        "Thanks for applying, Alex! I have passed your resume to the hiring manager.",
        in_reply_to=("app-1@example.org",),
    )
    assert kind_of(message) is IncomingKind.HUMAN_REPLY


def test_a_recruiters_own_words_relayed_by_an_ats_are_a_person() -> None:
    message = incoming(
        "Hi Alex,\n\nThanks for your application. The hiring manager liked your profile and "
        "I'll get back to you next week.\n\nJane",
        sender=Address("x7f3@acme.workablemail.com", "Jane Smith"),
        subject="Backend Engineer at Acme",
    )
    result = classify(message)
    assert result.incoming is IncomingKind.HUMAN_REPLY
    assert result.rule == "human.personal-acknowledgement"
    assert result.promised_by == datetime(2026, 3, 27, tzinfo=PARIS)


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    "snippet",
    [
        "Unfortunately, we are not moving forward with your application at this time.",
        "After careful consideration, we have decided to pursue other candidates whose "
        "experience more closely aligns with the role.",
        "Your application for the Backend Engineer position was not selected.",
        "We regret to inform you that we will not proceed with your candidacy.",
        "We wanted to let you know that the position has been filled.",
        "We are putting this position on hold while we reevaluate our needs.",
        "While our team was impressed, we unfortunately don\u2019t see a strong fit for the role.",
        "We have decided to move forward with other candidates for this role.",
    ],
)
def test_rejection_wording_is_a_rejection(snippet: str) -> None:
    result = classify(incoming(f"Hi Alex,\n\nThank you for your interest. {snippet}"))
    assert result.incoming is IncomingKind.REJECTION
    assert result.rule.startswith("rejection.")
    assert result.incoming.is_human


def test_a_clear_rejection_beats_acknowledgement_wording() -> None:
    snippet = (
        "Thank you for applying to Acme. We have received your application. Unfortunately, "
        "we will not be moving forward with your application."
    )
    assert kind_of(incoming(snippet, sender=ATS)) is IncomingKind.REJECTION


def test_unfortunately_about_a_meeting_time_is_not_a_rejection() -> None:
    snippet = "Unfortunately I can't make the interview on Tuesday. Could we do Wednesday instead?"
    assert kind_of(incoming(snippet)) is not IncomingKind.REJECTION


def test_rejection_words_in_unrelated_prose_are_not_a_rejection() -> None:
    snippet = "Software teams are not successful when design is done elsewhere."
    assert kind_of(incoming(snippet, subject="Weekly essay")) is not IncomingKind.REJECTION


# --------------------------------------------------------------------------- invitations and offers


def test_a_calendar_part_is_an_invitation() -> None:
    message = incoming("Join us.", part_types=("multipart/mixed", "text/plain", "text/calendar"))
    assert classify(message).rule == "invitation.calendar-part"


def test_a_google_calendar_invitation_subject_is_an_invitation() -> None:
    message = incoming("Details inside.", subject="Invitation: Interview @ Tue 24 Mar 2026 10am")
    assert classify(message).rule == "invitation.subject"


@pytest.mark.parametrize(
    ("snippet", "rule"),
    [
        ("We would like to invite you to an interview.", "invitation.invite-to-interview"),
        ("Would you be available for a call on Thursday?", "invitation.asks-availability"),
        ("Please book a time that works for you.", "invitation.book-a-time"),
        ("Pick a slot here: https://calendly.com/jane/30min", "invitation.scheduling-link"),
        ("Let's schedule a call to discuss next steps.", "invitation.schedule-a-call"),
    ],
)  # fmt: skip
def test_invitation_wording_is_an_invitation(snippet: str, rule: str) -> None:
    result = classify(incoming(snippet))
    assert (result.incoming, result.rule) == (IncomingKind.INVITATION, rule)


def test_the_interview_time_is_read_when_stated() -> None:
    snippet = (
        "We're pleased to invite you to interview.\n\n- Date: Wednesday, 25 March 2026\n"
        "- Time: 2:00 PM - 3:00 PM\n\nPlease confirm by replying."
    )
    result = classify(incoming(snippet, subject="Interview Invitation - Backend Engineer"))
    assert result.incoming is IncomingKind.INVITATION
    assert result.interview_at == datetime(2026, 3, 25, 14, 0, tzinfo=PARIS)
    assert result.asks_question


def test_a_deadline_is_not_an_interview_time() -> None:
    snippet = "You have been invited to complete an online assessment by 22 March 2026."
    result = classify(incoming(snippet))
    assert result.incoming is IncomingKind.INVITATION
    assert result.interview_at is None


@pytest.mark.parametrize(
    ("snippet", "subject"),
    [
        ("We are pleased to offer you the position of Backend Engineer.", "Great news"),
        ("Congratulations! We are delighted to extend an offer for the role.", "Acme"),
        ("Attached is your offer letter.", "Documents"),
        ("Jane sent you a document to review and sign.", "Please DocuSign: Offer Letter"),
    ],
)
def test_offers_are_offers(snippet: str, subject: str) -> None:
    assert kind_of(incoming(snippet, subject=subject)) is IncomingKind.OFFER


# --------------------------------------------------------------------------- bulk


@pytest.mark.parametrize(
    ("headers", "sender", "snippet", "subject"),
    [
        ({"list-id": "<jobs.lists.example>"}, RECRUITER, "News.", "Digest"),
        ({"list-unsubscribe": "<mailto:u@x>"}, RECRUITER, "News.", "Digest"),
        ({"precedence": "bulk"}, RECRUITER, "News.", "Digest"),
        ({"feedback-id": "1:2:3:ses"}, RECRUITER, "News.", "Digest"),
        ({}, Address("jobalerts-noreply@linkedin.com"), "New jobs.", "30 new jobs for you"),
        ({}, RECRUITER, "Big sale! Click to unsubscribe.", "Deals"),
    ],
)  # fmt: skip
def test_bulk_mail_is_bulk(
    headers: dict[str, str], sender: Address, snippet: str, subject: str
) -> None:
    message = incoming(snippet, headers=headers, sender=sender, subject=subject)
    assert kind_of(message) is IncomingKind.BULK


def test_a_no_reply_notification_is_other_automatic() -> None:
    message = incoming("Your account has been created.", sender=Address("noreply@shop.example"),
                       subject="Welcome")  # fmt: skip
    assert classify(message).rule == "auto.noreply-sender"


# --------------------------------------------------------------------------- human replies


def test_a_question_to_the_user_is_noted() -> None:
    result = classify(incoming("Thanks Alex. Could you send me your portfolio?"))
    assert result.incoming is IncomingKind.HUMAN_REPLY
    assert result.asks_question
    assert "asks you something" in result.explanation


def test_a_sign_off_offering_help_is_not_a_question() -> None:
    result = classify(incoming("Thanks, received. Let me know if you have any questions."))
    assert not result.asks_question


def test_a_question_in_quoted_text_does_not_count() -> None:
    snippet = (
        "Noted, thanks.\n\nOn Mon, 16 Mar 2026, Alex <alex.doe@example.org> wrote:\n> Any news?"
    )
    assert not classify(incoming(snippet)).asks_question


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("We'll get back to you next week.", date(2026, 3, 27)),
        ("We expect to make a decision by the 25th.", date(2026, 3, 25)),
        ("I will let you know by Friday.", date(2026, 3, 20)),
        ("You'll hear from us in two weeks.", date(2026, 3, 30)),
        ("We should have an update within 5 business days.", date(2026, 3, 23)),
        ("We expect to get back to every candidate by 30 March.", date(2026, 3, 30)),
    ],
)
def test_a_promise_of_news_is_dated_from_the_message(snippet: str, expected: date) -> None:
    result = classify(incoming(f"Hi Alex, thanks for your patience. {snippet}"))
    assert result.incoming is IncomingKind.HUMAN_REPLY
    assert result.promised_by == datetime.combine(expected, time(0), tzinfo=PARIS)
    assert snippet.rstrip(".") in result.promise_text


def test_a_promise_without_a_date_keeps_its_words_only() -> None:
    result = classify(incoming("We will update you as soon as we have news."))
    assert result.promised_by is None
    assert "update you" in result.promise_text


def test_a_plain_reply_is_a_human_reply_with_a_named_rule() -> None:
    result = classify(incoming("Sounds good, see you then."))
    assert result.rule == "human.reply"
    assert result.incoming is IncomingKind.HUMAN_REPLY
    assert result.outgoing is None


# --------------------------------------------------------------------------- signals


def test_strip_quoted_removes_attributions_separators_and_quote_lines() -> None:
    text = "New words.\n> old line\nMore new words.\n\n-----Original Message-----\nFrom: x\nold"
    assert strip_quoted(text) == "New words.\nMore new words."
    german = "Danke!\n\nAm 16.03.2026 um 09:00 schrieb Alex Doe <alex@example.org>:\n> Hallo"
    assert strip_quoted(german) == "Danke!"
    outlook = "Sure.\n\nFrom: Alex Doe\nSent: Monday, March 16, 2026 9:00 AM\nTo: Jane\nHi"
    assert strip_quoted(outlook) == "Sure."


def test_sentences_join_wrapped_lines_and_split_bullets() -> None:
    text = "If you match, a recruiter\nwill reach out. Thanks!\n\n- Date: Friday"
    assert sentences(text) == [
        "If you match, a recruiter will reach out.",
        "Thanks!",
        "- Date: Friday",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("back on 23 March", date(2026, 3, 23)),
        ("back on March 23rd, 2026", date(2026, 3, 23)),
        ("back on 2026-03-23", date(2026, 3, 23)),
        ("back on 3/23", date(2026, 3, 23)),
        ("back on 23/3", date(2026, 3, 23)),
        ("wieder am 23.03.", date(2026, 3, 23)),
        ("back on 2 March", date(2027, 3, 2)),  # already past this year: next year
        ("by Monday", date(2026, 3, 23)),  # strictly after the reference Monday
        ("tomorrow", date(2026, 3, 17)),
        ("within 2-3 weeks", date(2026, 4, 6)),
        ("end of the month", date(2026, 3, 31)),
    ],
)
def test_find_date_resolves_against_the_reference(text: str, expected: date) -> None:
    found = find_date(text, MONDAY, end_of_period=True)
    assert found is not None
    assert found.day == expected


def test_find_date_ignores_text_without_dates() -> None:
    assert find_date("we provide 24/7 support", MONDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("at 2:00 PM", time(14, 0)), ("10am", time(10, 0)), ("um 14.30 Uhr", time(14, 30))],
)
def test_find_time_reads_clock_times(text: str, expected: time) -> None:
    assert find_time(text) == expected


# --------------------------------------------------------------------------- properties

header_names = st.sampled_from([name.lower() for name in CLASSIFICATION_HEADERS])
header_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["auto-replied", "auto-generated", "no", "bulk", "<>", "All", "VACATION",
                     "multipart/report; report-type=delivery-status"]),
)  # fmt: skip
free_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            ["Unfortunately", "not moving forward", "Thank you for applying", "?", "\n> ",
             "On Mon, 1 Jan 2026, X <x@y> wrote:", "back on 3/23", "Action: failed",
             "invite you to an interview", "by Friday", "unsubscribe", "offer letter", "24.12.",
             # letters the regex engine folds onto ASCII: a long s, the Kelvin sign, dotted I
             "by 23 \u017fept", "in 2 wee\u212as", "next \u017funday", "\u0130n two weeks"]
        ),
        max_size=12,
    ).map(" ".join),
)  # fmt: skip
PART_TYPES = ["text/plain", "text/calendar", "message/rfc822", "message/delivery-status"]
addresses = st.builds(
    Address,
    st.from_regex(r"[a-z0-9.]{1,10}@[a-z]{1,8}\.example", fullmatch=True),
    st.text(max_size=10),
)


@settings(max_examples=200, deadline=None)
@given(
    subject=free_text,
    snippet=free_text,
    headers=st.dictionaries(header_names, header_text, max_size=6),
    sender=st.one_of(st.none(), addresses),
    part_types=st.lists(st.sampled_from(PART_TYPES), max_size=3),
    in_reply_to=st.lists(st.text(min_size=1, max_size=8), max_size=2),
    when=st.datetimes(
        min_value=datetime(1980, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)
    ),
)
def test_classify_message_never_raises_and_always_explains(
    subject: str,
    snippet: str,
    headers: dict[str, str],
    sender: Address | None,
    part_types: list[str],
    in_reply_to: list[str],
    when: datetime,
) -> None:
    message = Message(
        message_id="p@x",
        subject=subject,
        date=when,
        sender=sender,
        to=(ME,),
        headers=headers,
        snippet=snippet,
        part_types=tuple(part_types),
        in_reply_to=tuple(in_reply_to),
    )
    result = classify(message, own_message_ids=frozenset({"mine@x"}))
    assert (result.incoming is None) != (result.outgoing is None)
    assert "." in result.rule
    assert result.explanation


@settings(max_examples=150, deadline=None)
@given(
    alias=st.sampled_from(sorted(IDENTITY.addresses)),
    case=st.lists(st.booleans(), min_size=40, max_size=40),
    subject=free_text,
    snippet=free_text,
    headers=st.dictionaries(header_names, header_text, max_size=6),
)
def test_the_users_own_messages_are_always_outgoing(
    alias: str, case: list[bool], subject: str, snippet: str, headers: dict[str, str]
) -> None:
    cased = "".join(ch.upper() if up else ch for ch, up in zip(alias, case, strict=False))
    message = Message(
        message_id="o@x",
        subject=subject,
        date=NOW,
        sender=Address(cased),
        to=(RECRUITER,),
        headers=headers,
        snippet=snippet,
    )
    result = classify(message)
    assert result.outgoing is not None
    assert result.incoming is None


# --------------------------------------------------------------------------- prefilters
#
# Phrase tables and the rules' own patterns skip the regex engine when plain substring
# tests (prefilters read out of each pattern) show it cannot match. A prefilter that
# ruled out a text its pattern matches would change a decision.

SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]  # texts drawn from big patterns
TABLES = {
    name: value for name, value in vars(classify_module).items() if isinstance(value, PhraseTable)
}
GATES = [
    (f"{name}.{pattern_name}", gate)
    for name, table in TABLES.items()
    for (pattern_name, _), gate in zip(table.patterns, table.gates, strict=True)
    if gate.pattern
]
RULE_PATTERNS = [
    (f"{module.__name__}.{name}", value)
    for module in (classify_module, signals_module)
    for name, value in vars(module).items()
    if isinstance(value, re.Pattern) and isinstance(value.pattern, str) and value.pattern
]


@settings(max_examples=400, deadline=None, suppress_health_check=SLOW_DATA)
@given(st.data())
def test_a_prefilter_admits_every_text_its_pattern_matches(data: st.DataObject) -> None:
    name, pattern = data.draw(st.sampled_from(GATES + RULE_PATTERNS), label="pattern")
    text = data.draw(st.from_regex(pattern), label="text")
    prefilter = prefilter_for(pattern)
    assert pattern.search(text)
    assert prefilter is None or prefilter.admits_text(text), name


def test_prefilters_rule_out_text_without_the_words_a_pattern_needs() -> None:
    prefilter = prefilter_for(re.compile(r"\bregret\s+to\s+(?:inform|advise)\b"))
    assert prefilter is not None
    assert prefilter.admits_text("We regret to inform you")
    assert not prefilter.admits_text("We are happy to inform you")
    assert not prefilter.admits_text("We regret it")


def test_a_case_insensitive_prefilter_never_rules_out_text_with_non_ascii_letters() -> None:
    # The regex engine takes a long s for an s; lower-casing does not.
    pattern = re.compile(r"(?i)\bunsubscribe\b")
    prefilter = prefilter_for(pattern)
    assert prefilter is not None
    assert pattern.search("To un\u017fubscribe, click")
    assert prefilter.admits_text("To un\u017fubscribe, click")
    assert not prefilter.admits_text("To leave the list, click")


def test_patterns_whose_words_cannot_be_known_get_no_prefilter() -> None:
    assert prefilter_for(re.compile(r"\d+\s*%")) is None
    assert prefilter_for(re.compile(r"(?:a|\w+)b?")) is None


def find_phrase_without_prefilters(
    table: PhraseTable, text: str, *, skip_conditional: bool = True
) -> tuple[str, str, str] | None:
    """find_phrase as first written: every gate, then every sentence."""
    flat = re.sub(r"\s+", " ", text).lower()
    split = sentences(text)
    for (name, pattern), gate in zip(table.patterns, table.gates, strict=True):
        if not gate.search(flat):
            continue
        for sentence in split:
            for match in pattern.finditer(sentence):
                if skip_conditional and signals_module._CONDITIONAL.search(
                    sentence, 0, match.start()
                ):
                    continue
                return name, match.group(0), sentence
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_DATA)
@given(st.data())
def test_phrase_tables_find_what_they_found_without_prefilters(data: st.DataObject) -> None:
    table = data.draw(st.sampled_from(sorted(TABLES.items())), label="table")[1]
    phrases = [st.from_regex(pattern) for _, pattern in table.patterns]
    parts = data.draw(
        st.lists(
            st.one_of(
                *phrases,
                st.sampled_from(["If you are not selected, ", "Thanks. ", "\n\n", "? ", "Hi "]),
                st.text(alphabet="abcdefghij .,\n", max_size=20),
            ),
            max_size=5,
        ),
        label="parts",
    )
    text = "".join(parts)
    skip = data.draw(st.booleans(), label="skip_conditional")
    hit = find_phrase(table, text, skip_conditional=skip)
    found = (hit.name, hit.words, hit.sentence) if hit else None
    assert found == find_phrase_without_prefilters(table, text, skip_conditional=skip)


# --------------------------------------------------------------------------- fast paths

subject_or_text = st.lists(
    st.one_of(
        st.sampled_from([" ", "\n", "\t", "\u00a0", "\u2028", ".", "\u03a3", "\u0130", "\u2019"]),
        st.sampled_from(["Re: ", "Fwd:", "[ext] ", "Thanks", "apply", "ΟΔΟΣ", "role"]),
        st.text(alphabet="abcXYZ", max_size=5),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(subject=subject_or_text, snippet=subject_or_text)
def test_the_subject_and_text_flatten_together_as_they_do_joined(
    subject: str, snippet: str
) -> None:
    evidence = classify_module._evidence(
        make_message(subject=subject, snippet=snippet), IDENTITY, frozenset()
    )
    assert evidence.headed_flat == signals_module.flatten(evidence.headed)


@given(st.text(alphabet="ab '\"\u2018\u2019\u201c\u201d\u00e9", max_size=20))
def test_typographic_quotes_read_as_ascii_ones(text: str) -> None:
    marks = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
    assert classify_module._normalise_quotes(text) == text.translate(marks)


OOO_LANGUAGES = [
    *(("anywhere", lang, pattern) for lang, pattern in classify_module._OOO_ANYWHERE),
    *(("prefix", lang, pattern) for lang, pattern in classify_module._OOO_PREFIX),
]


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_DATA)
@given(st.data())
def test_every_automatic_reply_subject_one_language_finds_all_languages_find(
    data: st.DataObject,
) -> None:
    where, lang, pattern = data.draw(st.sampled_from(OOO_LANGUAGES), label="language")
    subject = data.draw(st.from_regex(pattern), label="subject")
    assert pattern.search(subject)
    combined = (
        classify_module._ANY_OOO_ANYWHERE
        if where == "anywhere"
        else classify_module._ANY_OOO_PREFIX
    )
    assert combined.search(subject), (lang, subject)


def test_an_automatic_reply_subject_names_its_language() -> None:
    message = incoming("I am away until Monday.", subject="Abwesenheitsnotiz: Bewerbung")
    evidence = classify_module._evidence(message, IDENTITY, frozenset())
    assert classify_module._ooo_subject(evidence) == ("de", "Abwesenheitsnotiz")


def test_the_users_addresses_may_be_given_as_a_plain_set() -> None:
    identity = Identity(name="Alex", addresses={ME.email.upper()})  # type: ignore[arg-type]
    result = classify_message(
        make_message(sender=ME, attachment_names=("cv.pdf",)), identity=identity, rules=RULES
    )
    assert result.outgoing is OutgoingKind.APPLICATION
