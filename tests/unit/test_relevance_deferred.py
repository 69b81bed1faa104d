"""core.relevance on messages whose text is not fetched yet (``Message.text_deferred``).

The pipeline fetches the text of the deferred messages the filter keeps, then
classifies. A bounce names the address that failed only in its text, so the
filter must keep every deferred message that could be a bounce: dropping one
would let mailfollow nudge an address that bounced.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailfollow.core.relevance import relevant_messages
from mailfollow.demo.generator import DEFAULT_USER
from mailfollow.model import (
    Address,
    Conversation,
    FolderRole,
    Identity,
    IncomingKind,
    Message,
    Verdict,
)
from tests.factories import ME, as_deferred, make_message
from tests.unit.test_relevance import (
    AS_OF,
    USER,
    classified,
    starts_for,
)
from tests.unit.test_relevance import decide as decide_as_the_pipeline
from tests.unit.test_relevance import generated_mailbox as generated_mailbox_of

ME_IDENTITY = Identity(name="Alex Doe", addresses=frozenset({ME.email}))
JANE = Address("jane@acme.example", "Jane Smith")
starts = starts_for(USER, ())


def decide(messages: Sequence[Message]) -> tuple[list[Conversation], list[Verdict]]:
    return decide_as_the_pipeline(messages, identity=USER, now=AS_OF)


def generated_mailbox(seed: int) -> tuple[Message, ...]:
    return generated_mailbox_of(seed, 15, 10)


# --------------------------------------------------------------------------- generated mailboxes

# Mail that may be a bounce without saying so in a way the filter read before it
# knew deferred text: no thread link, no X-Failed-Recipients, a sender that is not
# the mail system's; the failed address is only in the text.
BOUNCE_SHAPES: list[tuple[dict[str, object], Callable[[str], str]]] = [
    (  # bounce.text: a null envelope sender
        {
            "sender": Address("mail-notifier@provider.example", "Provider Mail"),
            "headers": {"return-path": "<>"},
            "subject": "Your message",
        },
        lambda email: f"Your message to {email} could not be delivered: mailbox unavailable.",
    ),
    (  # bounce.text: Auto-Submitted
        {
            "sender": Address("robot@relay.example", "Mail Robot"),
            "headers": {"auto-submitted": "auto-replied"},
            "subject": "About your message",
        },
        lambda email: f"Delivery to {email} failed permanently: 550 5.1.1 user unknown.",
    ),
    (  # bounce.subject, from an address that says nothing
        {"sender": Address("someone@stranger.example", "Someone"), "subject": "Undeliverable"},
        lambda email: f"Delivery to {email} failed permanently.",
    ),
    (  # bounce.ses-notification
        {
            "sender": Address("no-reply@sns.amazonaws.com", "AWS Notifications"),
            "subject": "AWS Notification Message",
        },
        lambda email: (
            '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",'
            f'"bouncedRecipients":[{{"emailAddress":"{email}"}}]}}}}'
        ),
    ),
]
NEUTRAL_TEXTS = ["", "Could we talk on Friday?", "Unsubscribe.", "Thanks, see you then."]


def written_to(base: Sequence[Message]) -> list[str]:
    return sorted({a.email for m in base if USER.is_me(m.sender) for a in (*m.to, *m.cc)})


@st.composite
def extra_mail(draw: st.DrawFn, base: Sequence[Message], *, mentions: bool) -> list[Message]:
    """Bounces that name someone the user wrote to only in their text, mail from
    strangers, newsletters and replies; with ``mentions``, also a person's mail
    that names someone the user wrote to (the full-text filter keeps it, though
    it joins no conversation by what it names)."""
    own = [m for m in base if USER.is_me(m.sender)]
    recipients = written_to(base)
    kinds = ["bounce", "bounce", "stranger", "newsletter", "reply"]
    extra = []
    for number in range(draw(st.integers(1, 8))):
        near = draw(st.sampled_from(own))
        email = draw(st.sampled_from(recipients))
        fields: dict[str, object] = {
            "message_id": f"x{number}@extra",
            "subject": "Hello",
            "date": near.date + timedelta(days=draw(st.integers(1, 20))),
            "sender": Address("someone@stranger.example", "Someone"),
            "to": (DEFAULT_USER,),
            "snippet": draw(st.sampled_from(NEUTRAL_TEXTS)),
            "folder": "INBOX",
            "folder_role": FolderRole.INBOX,
        }
        kind = draw(st.sampled_from([*kinds, "mention"] if mentions else kinds))
        if kind == "bounce":
            shape, text = draw(st.sampled_from(BOUNCE_SHAPES))
            fields.update(shape, snippet=text(email))
        elif kind == "newsletter":
            fields.update(
                sender=Address("news@letters.example", "Weekly News"),
                headers={"list-id": "<weekly.letters.example>"},
            )
        elif kind == "reply":
            fields["sender"] = Address(email)
        elif kind == "mention":
            fields["snippet"] = f"I met {email} yesterday, lovely person."
        extra.append(Message(**fields))  # type: ignore[arg-type]
    return extra


SEEDS = [3, 7]


def mailboxes(
    seed: int, extra: Sequence[Message], shuffler: random.Random, share: float
) -> tuple[list[Message], list[Message]]:
    """(the generated mailbox of ``seed`` with ``extra`` mail in a random order, the
    same with about ``share`` of the incoming mail's text deferred)."""
    messages = [*generated_mailbox(seed), *extra]
    shuffler.shuffle(messages)
    later = [
        as_deferred(m) if not USER.is_me(m.sender) and shuffler.random() < share else m
        for m in messages
    ]
    return messages, later


def kept_ids(messages: Sequence[Message], **options: Callable[[Message], bool]) -> set[str]:
    return {m.message_id for m in relevant_messages(messages, identity=USER, **options)}


shares = st.sampled_from([0.3, 0.7, 1.0])
shufflers = st.randoms(use_true_random=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(SEEDS), shufflers, shares)
def test_deferring_text_never_drops_a_message_the_full_text_keeps(
    data: st.DataObject, seed: int, shuffler: random.Random, share: float
) -> None:
    extra = data.draw(extra_mail(generated_mailbox(seed), mentions=False), label="extra")
    full, later = mailboxes(seed, extra, shuffler, share)
    assert kept_ids(full) <= kept_ids(later)
    assert kept_ids(full, starts=starts) <= kept_ids(later, starts=starts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(SEEDS), shufflers, shares)
def test_fetching_the_text_of_what_is_kept_decides_as_the_whole_mailbox_does(
    data: st.DataObject, seed: int, shuffler: random.Random, share: float
) -> None:
    extra = data.draw(extra_mail(generated_mailbox(seed), mentions=True), label="extra")
    full, later = mailboxes(seed, extra, shuffler, share)
    everything = decide(full)
    text_of = {id(deferred_copy): m for deferred_copy, m in zip(later, full, strict=True)}
    for options in ({}, {"starts": starts}):
        kept = relevant_messages(later, identity=USER, **options)
        assert decide([text_of[id(m)] for m in kept]) == everything


# --------------------------------------------------------------------------- examples


def test_a_deferred_bounce_from_an_unusual_sender_naming_a_recipient_is_kept() -> None:
    application = make_message(to=(JANE,), attachment_names=("cv.pdf",))
    bounce = make_message(
        sender=Address("mail-notifier@provider.example", "Provider Mail"),
        to=(ME,),
        subject="Your message",
        headers={"return-path": "<>"},
        snippet="Your message to jane@acme.example could not be delivered.",
    )
    assert classified(bounce, ME_IDENTITY).classification.incoming is IncomingKind.BOUNCE
    for messages in ([application, bounce], [application, as_deferred(bounce)]):
        assert relevant_messages(messages, identity=ME_IDENTITY) == messages
        assert relevant_messages(messages, identity=ME_IDENTITY, starts=lambda m: True) == messages


def test_a_deferred_message_from_a_stranger_that_cannot_be_a_bounce_is_left_out() -> None:
    application = make_message(to=(JANE,), attachment_names=("cv.pdf",))
    stranger = as_deferred(
        make_message(sender=Address("someone@stranger.example"), to=(ME,), subject="Hello")
    )
    assert relevant_messages([application, stranger], identity=ME_IDENTITY) == [application]


def test_a_deferred_reply_from_someone_the_user_wrote_to_is_kept() -> None:
    application = make_message(to=(JANE,), attachment_names=("cv.pdf",))
    reply = as_deferred(make_message(sender=JANE, to=(ME,), subject="Hello again"))
    assert relevant_messages([application, reply], identity=ME_IDENTITY) == [application, reply]


def test_the_text_of_a_deferred_message_is_not_read() -> None:
    application = make_message(to=(JANE,), attachment_names=("cv.pdf",))
    note = make_message(
        sender=Address("someone@stranger.example"),
        to=(ME,),
        subject="Hello",
        snippet="Delivery to jane@acme.example failed.",
    )
    # With its text, the filter keeps it for the address it names; a text marked
    # as not fetched is not looked at, and nothing else about it could matter.
    assert relevant_messages([application, note], identity=ME_IDENTITY) == [application, note]
    stale = dataclasses.replace(note, text_deferred=True)
    assert relevant_messages([application, stale], identity=ME_IDENTITY) == [application]


def test_each_generated_bounce_is_a_bounce_once_its_text_is_read() -> None:
    for shape, text in BOUNCE_SHAPES:
        message = make_message(to=(ME,), snippet=text(JANE.email), **shape)  # type: ignore[arg-type]
        assert classified(message, ME_IDENTITY).classification.incoming is IncomingKind.BOUNCE
