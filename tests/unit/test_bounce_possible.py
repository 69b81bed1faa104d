"""core.classify.bounce_possible: whether a message could be a bounce, from its headers alone.

A message whose text is not fetched yet (``Message.text_deferred``) is kept
for classifying only when it could be a bounce; calling a bounce impossible
when its text would have made it one would let a follow-up go to an address
that bounced.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from mailfollow.core import classify as classify_module
from mailfollow.core.classify import bounce_possible, classify_message
from mailfollow.core.headers import CLASSIFICATION_HEADERS
from mailfollow.model import Address, DetectionRules, Identity, IncomingKind, Message
from tests.factories import ME, NOW, as_deferred, make_message

IDENTITY = Identity(name="Alex Doe", addresses=frozenset({ME.email}))
JANE = Address("jane@acme.example", "Jane Smith")
SES_BOUNCE = (
    '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",'
    '"bouncedRecipients":[{"emailAddress":"jane@acme.example"}]}}'
)
# Every rule name the classifier can give a bounce (a new one needs an example below).
BOUNCE_RULES = sorted(set(re.findall(r'"(bounce\.[a-z-]+)"', inspect.getsource(classify_module))))


def classify(message: Message) -> IncomingKind | None:
    return classify_message(message, identity=IDENTITY, rules=DetectionRules()).incoming


def rule_of(message: Message) -> str:
    return classify_message(message, identity=IDENTITY, rules=DetectionRules()).rule


def incoming(**fields: Any) -> Message:
    fields.setdefault("sender", JANE)
    fields.setdefault("to", (ME,))
    fields.setdefault("subject", "Hello")
    return make_message(**fields)


# --------------------------------------------------------------------------- examples

RULE_EXAMPLES = {
    "bounce.dsn-report": incoming(
        sender=Address("mta@relay.example"),
        headers={"content-type": "multipart/report; report-type=delivery-status"},
        content_type="multipart/report",
        part_types=("multipart/report", "text/plain", "message/delivery-status"),
        snippet="Final-Recipient: rfc822; jane@acme.example\nAction: failed\nStatus: 5.1.1",
    ),
    "bounce.mdn-rejected": incoming(
        sender=Address("robot@relay.example"),
        headers={"content-type": 'multipart/report; report-type="disposition-notification"'},
        part_types=("text/plain", "message/disposition-notification"),
        snippet="Your message to jane@acme.example was rejected.",
    ),
    "bounce.ses-notification": incoming(
        sender=Address("no-reply@sns.amazonaws.com", "AWS Notifications"),
        subject="AWS Notification Message",
        snippet=SES_BOUNCE,
    ),
    "bounce.x-failed-recipients": incoming(
        sender=Address("mail@relay.example"), headers={"x-failed-recipients": JANE.email}
    ),
    "bounce.mailer-daemon": incoming(
        sender=Address("mailer-daemon@mx.example"), snippet="Sorry, it did not work out."
    ),
    "bounce.subject": incoming(
        sender=Address("friend@gmail.com"),
        subject="Undelivered Mail Returned to Sender",
        snippet="Delivery to jane@acme.example failed.",
    ),
    "bounce.text": incoming(
        sender=Address("mail-notifier@provider.example", "Provider Mail"),
        headers={"return-path": "<>"},
        subject="Your message",
        snippet="Your message to jane@acme.example could not be delivered.",
    ),
}


def test_every_bounce_rule_has_an_example() -> None:
    assert len(BOUNCE_RULES) >= 7
    assert sorted(RULE_EXAMPLES) == BOUNCE_RULES


@pytest.mark.parametrize("rule", sorted(RULE_EXAMPLES))
def test_each_bounce_rules_example_is_a_possible_bounce_without_its_text(rule: str) -> None:
    message = RULE_EXAMPLES[rule]
    assert rule_of(message) == rule
    assert bounce_possible(message)
    assert bounce_possible(as_deferred(message))


def test_a_plain_human_reply_is_not_a_possible_bounce() -> None:
    reply = incoming(
        subject="Re: Application: Backend Engineer",
        snippet="Thanks Alex, happy to talk on Friday at 10.",
        in_reply_to=("app@doe.example",),
    )
    assert classify(reply) is IncomingKind.HUMAN_REPLY
    assert not bounce_possible(reply)


def test_a_person_writing_about_a_bounce_is_not_a_possible_bounce() -> None:
    note = incoming(snippet="My old address bounced: delivery failed, 550 user unknown.")
    assert classify(note) is not IncomingKind.BOUNCE
    assert not bounce_possible(note)


def test_a_person_pasting_an_ses_notification_is_not_a_bounce() -> None:
    pasted = incoming(subject="Look at this", snippet=f"We got this from SES: {SES_BOUNCE}")
    assert classify(pasted) is not IncomingKind.BOUNCE
    assert not bounce_possible(pasted)


def test_an_ses_notification_from_a_machine_is_a_bounce() -> None:
    notice = incoming(
        sender=Address("robot@relay.example"),
        headers={"auto-submitted": "auto-generated"},
        snippet=SES_BOUNCE,
    )
    assert rule_of(notice) == "bounce.ses-notification"
    assert bounce_possible(notice)


def test_an_abuse_feedback_report_is_never_a_bounce_whatever_its_text() -> None:
    report = incoming(
        sender=Address("postmaster@mx.example", "Mail Delivery System"),
        subject="Undeliverable",
        headers={
            "content-type": "multipart/report; report-type=feedback-report",
            "x-failed-recipients": JANE.email,
        },
        part_types=("message/feedback-report", "message/delivery-status"),
        snippet="Action: failed. Delivery failed permanently.",
    )
    assert rule_of(report) == "report.arf"
    assert not bounce_possible(report)


# --------------------------------------------------------------------------- properties

SENDERS = [
    Address("mailer-daemon@mx.example"),
    Address("postmaster@mx.example", "Postmaster"),
    Address("relay@mx.example", "Mail Delivery Subsystem"),
    Address("mail-notifier@provider.example", "Provider Mail"),
    Address("no-reply@sns.amazonaws.com", "AWS Notifications"),
    Address("notifications@service.example", "Service"),
    Address("news@letters.example", "Weekly News"),
    JANE,
    Address("friend@gmail.com", "A Friend"),
    ME,
]
SUBJECTS = [
    "Undelivered Mail Returned to Sender",
    "Delivery Status Notification (Failure)",
    "Delivery Status Notification (Delay)",
    "Mail delivery failed: returning message to sender",
    "failure notice",
    "Undeliverable: Application",
    "Read: Application",
    "Abuse report",
    "AWS Notification Message",
    "Application: Backend Engineer",
    "Your application",
    "Hello",
    "",
]
HEADER_VALUES: dict[str, list[str]] = {
    "return-path": ["<>", "< >", "<bounce@relay.example>"],
    "auto-submitted": ["auto-replied", "auto-generated (failure)", "no", "auto-notified"],
    "x-failed-recipients": [JANE.email, " ", "bob@acme.example, x@y.example"],
    "content-type": [
        "multipart/report; report-type=delivery-status",
        'multipart/report; report-type="disposition-notification"',
        "multipart/report; report-type=feedback-report",
        "multipart/mixed",
    ],
    "list-id": ["<jobs.lists.example>"],
    "precedence": ["bulk", "auto_reply"],
    "x-autoreply": ["yes"],
}
CONTENT_TYPES = [
    "text/plain",
    "text/html",
    "multipart/report",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/related",
    "multipart/signed",
    "message/delivery-status",
]
ONE_DOCUMENT = {"multipart/alternative", "multipart/related"}
REPORT_PARTS = {
    "message/delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
}
PART_TYPES = [
    "text/plain",
    "text/html",
    "text/calendar",
    "message/rfc822",
    "message/delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
]
TEXTS = [
    SES_BOUNCE,
    '{"notificationType": "Delivery"}',
    '{"notificationType":"Complaint"}',
    "Action: failed",
    "Action: delayed",
    "Action: delivered",
    "Delivery to jane@acme.example failed permanently.",
    "550 5.1.1 <jane@acme.example>: Recipient address rejected: User unknown",
    "This is a warning only; delivery has been delayed.",
    "Your message was successfully delivered.",
    "The message was read.",
    "Could we talk on Friday?",
    "Thank you for applying.",
    "Unfortunately we will not be moving forward with your application.",
    "unsubscribe",
    "\n> ",
    "On Mon, 1 Jan 2026, Jane <jane@acme.example> wrote:",
]

headers = st.fixed_dictionaries(
    {}, optional={name: st.sampled_from(values) for name, values in HEADER_VALUES.items()}
)
other_headers = st.dictionaries(
    st.sampled_from([name.lower() for name in CLASSIFICATION_HEADERS]),
    st.text(max_size=20),
    max_size=2,
)
texts = st.one_of(
    st.lists(st.sampled_from(TEXTS), max_size=4).map("\n".join),
    st.text(max_size=80),
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """Ordinary mail and bounces of every rule (each as a header and text mix)."""
    prefix = draw(st.sampled_from(["", "", "Re: ", "Fwd: "]))
    subject = prefix + draw(st.one_of(st.sampled_from(SUBJECTS), st.text(max_size=30)))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    # As BODYSTRUCTURE gives them: the top-level type first, then the leaves' types.
    leaves = draw(st.lists(st.sampled_from(PART_TYPES), max_size=3))
    if content_type in ONE_DOCUMENT:
        # Alternative versions, or the parts of one page: never a report (no
        # real bounce has one there; bounce_possible relies on it).
        leaves = [t for t in leaves if t not in REPORT_PARTS]
    parts = (content_type, *leaves) if content_type.startswith("multipart/") else (content_type,)
    return Message(
        message_id="p@x",
        subject=subject,
        date=NOW,
        sender=draw(st.one_of(st.sampled_from(SENDERS), st.none())),
        to=(ME,),
        in_reply_to=draw(st.sampled_from([(), ("app@doe.example",)])),
        headers={**draw(other_headers), **draw(headers)},
        content_type=content_type,
        part_types=tuple(dict.fromkeys(parts)),
        attachment_names=draw(st.sampled_from([(), ("details.txt",), ("cv.pdf",)])),
        snippet=draw(texts),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_a_message_the_classifier_calls_a_bounce_is_a_possible_bounce(message: Message) -> None:
    if classify(message) is IncomingKind.BOUNCE:
        assert bounce_possible(message)
        assert bounce_possible(as_deferred(message))


@settings(max_examples=400, deadline=None)
@given(messages(), texts)
def test_whether_a_bounce_is_possible_never_depends_on_the_text(
    message: Message, other_text: str
) -> None:
    answer = bounce_possible(message)
    assert answer == bounce_possible(dataclasses.replace(message, snippet=""))
    assert answer == bounce_possible(dataclasses.replace(message, snippet=other_text))


@pytest.mark.parametrize("rule", [*BOUNCE_RULES, "human.reply", "report.arf"])
def test_the_generated_messages_include_each_bounce_rule_and_ordinary_mail(rule: str) -> None:
    found = find(
        messages(),
        lambda message: rule_of(message) == rule,
        settings=settings(max_examples=3000, database=None, deadline=None),
    )
    assert rule_of(found) == rule
