"""core.relevance: the filter that keeps every message a conversation could hold.

The promise: inferring conversations and planning follow-ups from the kept
messages gives exactly what the whole mailbox gives.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailfollow.core import conversations as conversations_module
from mailfollow.core.classify import classify_message
from mailfollow.core.conversations import (
    START_STAGES,
    Correction,
    CorrectionKind,
    infer_conversations,
    own_kind,
)
from mailfollow.core.headers import parse_message
from mailfollow.core.policy import plan_followups
from mailfollow.core.relevance import BOUNCE_ADDRESS, _addresses_in, relevant_messages
from mailfollow.demo import DEMO_AS_OF, demo_messages
from mailfollow.demo.generator import (
    ARCHIVE,
    DEFAULT_ALIASES,
    DEFAULT_USER,
    DRAFTS,
    INBOX,
    SENT,
    GeneratedMessage,
    plan_mailbox,
)
from mailfollow.model import (
    Address,
    ClassifiedMessage,
    Conversation,
    DetectionRules,
    FolderRole,
    Identity,
    Message,
    PolicySettings,
    Stage,
    Verdict,
)
from tests.factories import ME, NOW, make_message

USER = Identity(name="Alex Doe", addresses=frozenset({DEFAULT_USER.email, *DEFAULT_ALIASES}))
ROLES = {INBOX: FolderRole.INBOX, SENT: FolderRole.SENT, DRAFTS: FolderRole.DRAFTS}
ROLES[ARCHIVE] = FolderRole.ARCHIVE
AS_OF = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
SETTINGS = PolicySettings()

JANE = Address("jane@acme.example", "Jane Smith")
ME_IDENTITY = Identity(name="Alex Doe", addresses=frozenset({ME.email}))


def parsed(items: Sequence[GeneratedMessage]) -> list[Message]:
    return [
        parse_message(
            item.raw,
            internal_date=item.internal_date,
            folder=item.folder,
            folder_role=ROLES.get(item.folder, FolderRole.OTHER),
            flags=frozenset(item.flags),
        )
        for item in items
    ]


def classified(message: Message, identity: Identity) -> ClassifiedMessage:
    classification = classify_message(message, identity=identity, rules=DetectionRules())
    return ClassifiedMessage(message, classification, identity.is_me(message.sender))


def decide(
    messages: Sequence[Message],
    *,
    identity: Identity,
    now: datetime,
    corrections: Sequence[Correction] = (),
) -> tuple[list[Conversation], list[Verdict]]:
    """What the pipeline decides from these messages."""
    conversations = infer_conversations(
        [classified(m, identity) for m in messages],
        identity=identity,
        policy=SETTINGS,
        corrections=corrections,
    )
    return conversations, plan_followups(conversations, settings=SETTINGS, now=now)


def starts_for(identity: Identity, corrections: Sequence[Correction]) -> Callable[[Message], bool]:
    """Whether a message of the user's starts a conversation, as the pipeline asks it."""
    tracked = {c.target: c for c in corrections if c.kind is CorrectionKind.TRACK}
    return lambda message: own_kind(classified(message, identity), tracked) in START_STAGES


def assert_filter_changes_nothing(
    messages: Sequence[Message],
    *,
    identity: Identity,
    now: datetime,
    corrections: Sequence[Correction] = (),
) -> tuple[list[Message], list[Message]]:
    """Both ways of filtering decide as the whole mailbox does; returns what each kept."""
    everything = decide(messages, identity=identity, now=now, corrections=corrections)
    kept = relevant_messages(messages, identity=identity)
    assert decide(kept, identity=identity, now=now, corrections=corrections) == everything
    starts = starts_for(identity, corrections)
    reached = relevant_messages(messages, identity=identity, starts=starts)
    assert decide(reached, identity=identity, now=now, corrections=corrections) == everything
    assert {m.message_id for m in reached} <= {m.message_id for m in kept}
    return kept, reached


@functools.cache
def generated_mailbox(seed: int, conversations: int, noise: int) -> tuple[Message, ...]:
    plan = plan_mailbox(seed=seed, conversations=conversations, as_of=AS_OF, noise=noise)
    return tuple(parsed(list(plan.messages())))


# --------------------------------------------------------------------------- the promise


def test_generated_mailboxes_give_the_same_conversations_and_verdicts_once_filtered() -> None:
    for seed in (1, 2, 3, 42):
        messages = generated_mailbox(seed, 40, 60)
        kept, reached = assert_filter_changes_nothing(messages, identity=USER, now=AS_OF)
        assert len(kept) < len(messages)  # the newsletters, alerts and receipts go
        assert len(reached) < len(kept)  # and so does personal mail


def test_the_bundled_demo_gives_the_same_conversations_and_verdicts_once_filtered() -> None:
    messages = parsed(list(demo_messages()))
    kept, reached = assert_filter_changes_nothing(messages, identity=USER, now=DEMO_AS_OF)
    assert len(reached) <= len(kept) < len(messages)


def noise_messages(base: Sequence[Message]) -> st.SearchStrategy[list[Message]]:
    """Mail from strangers and machines: unrelated, or related to the mailbox in each
    way the filter knows (a reference, a Gmail thread, a reply by subject between the
    same people, a Reply-To, a colleague, an ATS naming the company, a bounce naming
    a recipient), at dates around the user's messages."""
    own = [m for m in base if USER.is_me(m.sender)]
    ids = [m.message_id for m in base]
    recipients = sorted({a.email for m in own for a in m.to})
    # Names an ATS message can mention (conversations match one-word names only).
    companies = sorted({e.rpartition("@")[2].split(".")[-2] for e in recipients} - {""})
    companies = [name for name in companies if "-" not in name] or companies
    written_to = st.sampled_from(recipients).map(Address)
    stranger = st.sampled_from(
        [
            Address("news@letters.example", "Weekly News"),
            Address("friend@gmail.com", "A Friend"),
            Address("someone@stranger.example", "Someone"),
            Address("robot@relay.example", "Mail Robot"),
        ]
    )
    lost_ids = st.sampled_from(["lost-1@x.example", "lost-2@x.example", "n1@noise", "n2@noise"])

    @st.composite
    def one(draw: st.DrawFn, number: int) -> list[Message]:
        near = draw(st.sampled_from(own))
        fields: dict[str, object] = {
            "message_id": f"n{number}@noise",
            "subject": "Hello",
            "date": near.date + timedelta(days=draw(st.integers(-3, 30))),
            "sender": draw(stranger),
            "to": (DEFAULT_USER,),
            "snippet": draw(st.sampled_from(["", "Could we talk on Friday?", "Unsubscribe."])),
            "folder": "INBOX",
            "folder_role": FolderRole.INBOX,
        }
        how = draw(st.sampled_from(HOW_NOISE_RELATES))
        if how == "reference":
            chain = tuple(draw(st.lists(st.one_of(st.sampled_from(ids), lost_ids), max_size=3)))
            fields.update(references=chain, in_reply_to=chain[-1:])
        elif how == "gmail":
            fields["gm_thread_id"] = draw(st.sampled_from(["g1", "g2"]))
        elif how == "subject":
            fields.update(subject=f"Re: {near.subject}", to=(DEFAULT_USER, *near.to))
        elif how == "reply-to":
            fields["reply_to"] = (draw(written_to),)
        elif how == "colleague":
            domain = draw(st.sampled_from(recipients)).rpartition("@")[2]
            fields["sender"] = Address(f"other@{domain}", "A Colleague")
        elif how == "ats":
            company = draw(st.sampled_from(companies))
            fields.update(
                sender=Address("no-reply@us.greenhouse-mail.io", "Hiring via Greenhouse"),
                subject=f"Your application to {company}",
                snippet=f"Thank you for applying to {company}. Your application was received.",
            )
        elif how == "bounce":
            fields.update(
                subject="Undelivered Mail Returned to Sender",
                snippet=f"Delivery to {draw(written_to).email} failed permanently.",
            )
        elif how == "new-person":  # the user writes to a known and a new person, who answers
            newcomer = Address(f"new{number}@elsewhere.example", "New Person")
            note = Message(
                message_id=f"own-{number}@doe.example",
                subject=draw(st.sampled_from(["Following up", "Hello", "Quick question"])),
                date=near.date + timedelta(days=1),
                sender=DEFAULT_USER,
                to=(draw(written_to), newcomer),
                folder="Sent",
                folder_role=FolderRole.SENT,
            )
            fields.update(sender=newcomer, date=near.date + timedelta(days=2))
            return [note, Message(**fields)]  # type: ignore[arg-type]
        return [Message(**fields)]  # type: ignore[arg-type]

    return st.integers(1, 12).flatmap(
        lambda count: st.tuples(*(one(number) for number in range(count))).map(
            lambda groups: [message for group in groups for message in group]
        )
    )


HOW_NOISE_RELATES = [
    *("unrelated", "reference", "gmail", "subject", "reply-to", "colleague", "ats", "bounce"),
    "new-person",
]
# A generated mailbox, plus an application to a company with a one-word name.
BASE = (
    *generated_mailbox(7, 15, 10),
    make_message(
        sender=DEFAULT_USER,
        to=(Address("jobs@quartz.example", "Quartz Jobs"),),
        subject="Application: Data Engineer",
        attachment_names=("cv.pdf",),
        date=AS_OF - timedelta(days=40),
        message_id="quartz-application@doe.example",
    ),
)


OWN_IDS = sorted(m.message_id for m in BASE if USER.is_me(m.sender))
corrections = st.lists(
    st.builds(
        Correction,
        st.sampled_from(list(CorrectionKind)),
        st.sampled_from(OWN_IDS),
        st.one_of(st.none(), st.sampled_from(list(Stage))),
    ),
    max_size=2,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noise_messages(BASE), corrections, st.randoms(use_true_random=False))
def test_added_noise_never_makes_the_filter_drop_a_message_that_matters(
    noise: list[Message], fixes: list[Correction], shuffler: random.Random
) -> None:
    messages = [*BASE, *noise]
    shuffler.shuffle(messages)
    assert_filter_changes_nothing(messages, identity=USER, now=AS_OF, corrections=fixes)


# --------------------------------------------------------------------------- what is kept


def test_the_users_own_messages_are_all_kept() -> None:
    sent = make_message(subject="Lunch?", to=(Address("friend@gmail.com"),))
    draft = make_message(subject="Unsent", folder_role=FolderRole.DRAFTS)
    assert relevant_messages([sent, draft], identity=ME_IDENTITY) == [sent, draft]


def test_mail_from_someone_the_user_wrote_to_is_kept_and_mail_from_strangers_is_not() -> None:
    application = make_message(to=(JANE,))
    reply = make_message(sender=JANE, to=(ME,), subject="Hello again")
    colleague = make_message(sender=Address("bob@acme.example"), to=(ME,), subject="Hi")
    stranger = make_message(sender=Address("news@letters.example"), to=(ME,), subject="News")
    kept = relevant_messages([application, reply, colleague, stranger], identity=ME_IDENTITY)
    assert kept == [application, reply, colleague]  # bob: the same organisation as Jane


def test_a_reply_to_a_reply_is_kept_even_when_it_names_only_the_middle_message() -> None:
    application = make_message(message_id="app@me", to=(JANE,))
    middle = make_message(
        sender=Address("x@elsewhere.example"), message_id="mid@x", references=("app@me",)
    )
    last = make_message(
        sender=Address("y@other.example"), message_id="last@y", in_reply_to=("mid@x",)
    )
    unrelated = make_message(sender=Address("z@third.example"), message_id="z@z")
    kept = relevant_messages([application, middle, last, unrelated], identity=ME_IDENTITY)
    assert kept == [application, middle, last]


def test_messages_naming_the_same_missing_original_stay_together() -> None:
    # The user answered a message that is gone; a stranger's reply to it joins that thread.
    answer = make_message(message_id="a@me", to=(JANE,), references=("gone@x",))
    other = make_message(sender=Address("y@other.example"), in_reply_to=("gone@x",))
    assert relevant_messages([answer, other], identity=ME_IDENTITY) == [answer, other]


def test_a_gmail_thread_and_a_reply_by_subject_keep_their_messages() -> None:
    application = make_message(subject="Backend role", to=(JANE,), gm_thread_id="t1")
    same_thread = make_message(sender=Address("y@other.example"), gm_thread_id="t1")
    by_subject = make_message(
        sender=Address("y@other.example"), subject="Re: Backend role", to=(ME, JANE)
    )
    kept = relevant_messages([application, same_thread, by_subject], identity=ME_IDENTITY)
    assert kept == [application, same_thread, by_subject]


def test_applicant_tracking_mail_and_bounces_naming_a_recipient_are_kept() -> None:
    application = make_message(to=(JANE,))
    ats = make_message(sender=Address("no-reply@lever.co"), subject="Your application")
    bounce = make_message(
        sender=Address("postmaster@mx.example"),
        subject="Undeliverable",
        snippet="Delivery to jane@acme.example failed permanently.",
    )
    report = make_message(
        sender=Address("mail@relay.example"),
        headers={"x-failed-recipients": "jane@acme.example"},
    )
    other_bounce_text = make_message(
        sender=Address("robot@relay.example"), snippet="Delivery to zed@nowhere.example failed."
    )
    messages = [application, ats, bounce, report, other_bounce_text]
    assert relevant_messages(messages, identity=ME_IDENTITY) == messages[:4]


def test_the_filter_reads_bounces_as_conversations_do() -> None:
    assert BOUNCE_ADDRESS.pattern == conversations_module._EMAIL.pattern


def test_every_copy_of_a_kept_message_is_kept() -> None:
    application = make_message(message_id="app@me", to=(JANE,))
    reply = make_message(sender=JANE, message_id="r@acme", folder_role=FolderRole.INBOX)
    copy = make_message(sender=JANE, message_id="r@acme", folder_role=FolderRole.ARCHIVE)
    assert relevant_messages([application, reply, copy], identity=ME_IDENTITY) == [
        application,
        reply,
        copy,
    ]


def test_mail_whose_reply_to_is_someone_the_user_wrote_to_is_kept() -> None:
    application = make_message(to=(JANE,))
    relayed = make_message(sender=Address("relay@forms.example"), reply_to=(JANE,))
    assert relevant_messages([application, relayed], identity=ME_IDENTITY) == [
        application,
        relayed,
    ]


def test_told_which_messages_start_conversations_the_filter_leaves_out_personal_mail() -> None:
    application = make_message(to=(JANE,), attachment_names=("cv.pdf",))
    lunch = make_message(subject="Lunch?", to=(Address("friend@gmail.com"),))
    friend = make_message(sender=Address("friend@gmail.com"), to=(ME,), subject="Sure")
    reply = make_message(sender=JANE, to=(ME,), subject="Thanks for applying")
    messages = [application, lunch, friend, reply]
    starts = starts_for(ME_IDENTITY, ())
    assert relevant_messages(messages, identity=ME_IDENTITY) == messages
    assert relevant_messages(messages, identity=ME_IDENTITY, starts=starts) == [application, reply]


def test_a_follow_up_to_a_new_person_brings_in_their_replies() -> None:
    application = make_message(to=(JANE,), attachment_names=("cv.pdf",), days_ago=20)
    follow_up = make_message(subject="Following up", to=(JANE, Address("hr@other.example")))
    answer = make_message(sender=Address("hr@other.example"), to=(ME,), subject="Hello")
    messages = [application, follow_up, answer]
    starts = starts_for(ME_IDENTITY, ())
    assert relevant_messages(messages, identity=ME_IDENTITY, starts=starts) == messages


def test_with_no_messages_of_the_user_nothing_is_kept() -> None:
    reply = make_message(sender=JANE, to=(ME,), date=NOW)
    assert relevant_messages([reply], identity=ME_IDENTITY) == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["@", ".", "-", "'", "+", "_", " ", "\n", "\u00a0", "<", ">", ","]),
            st.sampled_from(["jane", "x.y", "acme", "example", "co", "uk", "é", "7"]),
        ),
        max_size=24,
    ).map("".join)
)
def test_bounce_addresses_are_read_word_by_word_as_from_the_whole_text(text: str) -> None:
    assert _addresses_in(text) == BOUNCE_ADDRESS.findall(text)


def test_a_bounce_names_the_addresses_in_its_text() -> None:
    text = "Delivery to <jane@acme.example> failed;\nalso x@a.b.c@d.e and (bob@acme.co.uk)."
    assert _addresses_in(text) == ["jane@acme.example", "x@a.b.c", "bob@acme.co.uk"]
