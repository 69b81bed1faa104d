from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailfollow.core.threads import (
    Thread,
    base_subject,
    index_threads,
    reference_chain,
    says_reply,
    thread_messages,
)
from mailfollow.model import Address, FolderRole, Message
from tests.factories import ME, NOW, make_message

JANE = Address("jane@acme.example", "Jane Smith")
GLOBEX = Address("hr@globex.example")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail instead of hanging (POSIX main thread only; elsewhere no limit)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError(f"threading took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def partition(threads: list[Thread]) -> set[frozenset[str]]:
    return {frozenset(t.message_ids) for t in threads}


def test_a_reply_joins_the_message_it_references() -> None:
    sent = make_message(message_id="a@x", days_ago=5)
    reply = make_message(
        sender=JANE,
        to=(ME,),
        message_id="b@x",
        days_ago=3,
        in_reply_to=("a@x",),
        references=("a@x",),
    )
    [thread] = thread_messages([reply, sent])
    assert thread == Thread("a@x", ("a@x", "b@x"), "Application: Backend Engineer")


def test_replies_to_a_missing_message_share_a_thread_rooted_at_it() -> None:
    one = make_message(message_id="r1@x", days_ago=3, references=("gone@x",))
    two = make_message(message_id="r2@x", days_ago=2, in_reply_to=("gone@x",))
    [thread] = thread_messages([one, two])
    assert thread.root_id == "gone@x"
    assert thread.message_ids == ("r1@x", "r2@x")


def test_a_missing_parent_with_one_child_gives_way_to_the_child_as_root() -> None:
    child = make_message(message_id="c@x", references=("gone@x",))
    [thread] = thread_messages([child])
    assert thread.root_id == "c@x"


def test_a_references_chain_links_every_ancestor_even_through_a_missing_middle() -> None:
    first = make_message(message_id="1@x", days_ago=9)
    third = make_message(message_id="3@x", days_ago=1, references=("1@x", "2@x"))
    [thread] = thread_messages([third, first])
    assert thread.message_ids == ("1@x", "3@x")
    assert thread.root_id == "1@x"


def test_in_reply_to_is_the_parent_when_references_are_missing() -> None:
    message = make_message(message_id="m@x", in_reply_to=("p@x", "other@x"))
    assert reference_chain(message) == ["p@x"]


def test_in_reply_to_becomes_the_last_parent_when_references_disagree() -> None:
    message = make_message(
        message_id="m@x", references=("a@x", "p@x", "b@x"), in_reply_to=("<p@x>",)
    )
    assert reference_chain(message) == ["a@x", "b@x", "p@x"]


def test_a_message_never_references_itself() -> None:
    message = make_message(message_id="m@x", references=("m@x",), in_reply_to=("m@x",))
    assert reference_chain(message) == []
    assert partition(thread_messages([message])) == {frozenset({"m@x"})}


def test_a_reference_loop_neither_hangs_nor_drags_in_other_threads() -> None:
    a = make_message(message_id="a@x", days_ago=3, references=("b@x",), subject="Loop")
    b = make_message(message_id="b@x", days_ago=2, references=("c@x", "a@x"), subject="Loop")
    c = make_message(message_id="c@x", days_ago=1, references=("a@x", "b@x"), subject="Loop")
    other = make_message(message_id="o@x", days_ago=2, subject="Something else")
    with time_limit(5):
        threads = thread_messages([a, b, c, other])
    assert partition(threads) == {
        frozenset({"a@x", "b@x", "c@x"}),
        frozenset({"o@x"}),
    }


def test_a_headerless_reply_from_the_same_person_joins_by_subject() -> None:
    sent = make_message(message_id="a@x", days_ago=5, subject="Backend Engineer")
    reply = make_message(
        sender=JANE, to=(ME,), message_id="b@x", days_ago=3, subject="AW: RE[2]: Backend Engineer"
    )
    assert partition(thread_messages([sent, reply])) == {frozenset({"a@x", "b@x"})}


def test_notices_with_a_fixed_subject_do_not_thread_together() -> None:
    daemon = Address("mailer-daemon@mail.example.org")
    notices = [
        make_message(
            sender=daemon, to=(ME,), message_id=f"n{i}@x", days_ago=i, subject="Undelivered Mail"
        )
        for i in range(3)
    ]
    assert len(thread_messages(notices)) == 3


def test_a_new_message_with_an_old_subject_starts_its_own_thread() -> None:
    first = make_message(message_id="a@x", days_ago=30, subject="Application")
    reply = make_message(
        sender=JANE, to=(ME,), message_id="r@x", days_ago=20, subject="Re: Application"
    )
    again = make_message(message_id="b@x", days_ago=5, subject="Application")
    assert partition(thread_messages([first, reply, again])) == {
        frozenset({"a@x", "r@x"}),
        frozenset({"b@x"}),
    }


@pytest.mark.parametrize(
    ("subject", "reply"),
    [
        ("Re: x", True),
        ("[External] AW: x", True),
        ("Fwd: x", True),
        ("x", False),
        ("[tag] x", False),
    ],
)
def test_a_subject_says_it_is_a_reply_by_its_marker(subject: str, reply: bool) -> None:
    assert says_reply(subject) is reply


def test_the_subject_never_joins_a_message_that_has_reference_headers() -> None:
    sent = make_message(message_id="a@x", days_ago=5, subject="Backend Engineer")
    reply = make_message(
        sender=JANE,
        to=(ME,),
        message_id="b@x",
        days_ago=3,
        subject="Re: Backend Engineer",
        in_reply_to=("unknown@x",),
    )
    assert len(thread_messages([sent, reply])) == 2


def test_the_same_subject_sent_to_two_companies_stays_two_threads() -> None:
    to_acme = make_message(message_id="a@x", to=(JANE,), subject="Application")
    to_globex = make_message(message_id="g@x", to=(GLOBEX,), subject="Application")
    reply = make_message(sender=JANE, to=(ME,), message_id="r@x", subject="Re: Application")
    assert partition(thread_messages([to_acme, to_globex, reply])) == {
        frozenset({"a@x", "r@x"}),
        frozenset({"g@x"}),
    }


def test_a_headerless_reply_joins_the_latest_matching_thread_before_it() -> None:
    old = make_message(message_id="old@x", days_ago=30, subject="Hello", references=("g1@x",))
    new = make_message(message_id="new@x", days_ago=10, subject="Hello", references=("g2@x",))
    later = make_message(message_id="late@x", days_ago=1, subject="Hello", references=("g3@x",))
    reply = make_message(sender=JANE, to=(ME,), message_id="r@x", days_ago=5, subject="Re: Hello")
    assert partition(thread_messages([old, new, later, reply])) == {
        frozenset({"old@x"}),
        frozenset({"new@x", "r@x"}),
        frozenset({"late@x"}),
    }


def test_a_headerless_message_never_joins_a_later_one_by_subject() -> None:
    first = make_message(message_id="a@x", days_ago=5, subject="Backend Engineer")
    later = make_message(
        sender=JANE,
        to=(ME,),
        message_id="b@x",
        days_ago=3,
        subject="Re: Backend Engineer",
        references=("elsewhere@x",),
    )
    assert len(thread_messages([first, later])) == 2


def test_an_empty_base_subject_never_joins_anything() -> None:
    a = make_message(message_id="a@x", subject="[External]", to=(JANE,))
    b = make_message(sender=JANE, to=(ME,), message_id="b@x", subject="Re: [External]")
    assert len(thread_messages([a, b])) == 2


def test_gmail_thread_ids_group_messages_without_headers() -> None:
    a = make_message(message_id="a@x", subject="One", gm_thread_id="t1")
    b = make_message(message_id="b@x", subject="Two", gm_thread_id="t1", to=(GLOBEX,))
    c = make_message(message_id="c@x", subject="Three", gm_thread_id="t2")
    assert partition(thread_messages([a, b, c])) == {
        frozenset({"a@x", "b@x"}),
        frozenset({"c@x"}),
    }


def test_a_message_in_several_folders_appears_once() -> None:
    sent = make_message(message_id="a@x", folder_role=FolderRole.SENT)
    copy = make_message(message_id="a@x", folder_role=FolderRole.INBOX)
    [thread] = thread_messages([sent, copy])
    assert thread.message_ids == ("a@x",)


def test_threads_list_messages_in_date_order_and_come_oldest_first() -> None:
    base = NOW - timedelta(days=10)
    late = make_message(message_id="z@x", date=base, subject="Late")
    early = make_message(message_id="y@x", date=base - timedelta(days=1), subject="Early")
    reply = make_message(
        sender=JANE, to=(ME,), message_id="a@x", date=base + timedelta(days=1), references=("z@x",)
    )
    threads = thread_messages([reply, late, early])
    assert [t.message_ids for t in threads] == [("y@x",), ("z@x", "a@x")]
    assert index_threads(threads)["a@x"].root_id == "z@x"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Backend Engineer", "Backend Engineer"),
        ("RE: Fwd: FW: Backend Engineer", "Backend Engineer"),
        ("AW: WG: Bewerbung", "Bewerbung"),
        ("SV: VS: Ansökan", "Ansökan"),
        ("Antw: Sollicitatie", "Sollicitatie"),
        ("Réf : Candidature", "Candidature"),
        ("RE[2]: Re(3): Re^4: Offer", "Offer"),
        ("[External] Re: [jobs] Interview", "Interview"),
        ("回复\uff1a面试", "面试"),
        ("  Re:   spaced    out  ", "spaced out"),
        ("Reply needed", "Reply needed"),
        ("Refactoring: notes", "Refactoring: notes"),
    ],
)
def test_base_subject_strips_reply_markers_and_tags(subject: str, expected: str) -> None:
    assert base_subject(subject) == expected


# --- properties --------------------------------------------------------------

_IDS = [f"m{i}@x" for i in range(8)]
_GHOSTS = ["ghost1@x", "ghost2@x"]
_PEOPLE = [ME, JANE, GLOBEX]


@st.composite
def mailboxes(draw: st.DrawFn) -> list[Message]:
    count = draw(st.integers(1, len(_IDS)))
    refs = st.lists(st.sampled_from(_IDS + _GHOSTS), max_size=4)
    messages = []
    for message_id in _IDS[:count]:
        sender = draw(st.sampled_from(_PEOPLE))
        messages.append(
            make_message(
                message_id=message_id,
                sender=sender,
                to=(draw(st.sampled_from(_PEOPLE)),),
                subject=draw(st.sampled_from(["Job", "Re: Job", "Other", "Fwd: Other", ""])),
                date=NOW - timedelta(hours=draw(st.integers(0, 5))),
                references=tuple(draw(refs)),
                in_reply_to=tuple(draw(st.lists(st.sampled_from(_IDS + _GHOSTS), max_size=2))),
                gm_thread_id=draw(st.sampled_from([None, None, "g1", "g2"])),
            )
        )
    if draw(st.booleans()):
        copied = draw(st.sampled_from(messages))
        messages.append(replace(copied, folder="INBOX", folder_role=FolderRole.INBOX))
    return messages


@settings(max_examples=200, deadline=None)
@given(mailboxes(), st.randoms(use_true_random=False))
def test_threading_is_a_partition_that_ignores_input_order(
    messages: list[Message], rng: random.Random
) -> None:
    shuffled = list(messages)
    rng.shuffle(shuffled)
    with time_limit(5):
        threads = thread_messages(messages)
        again = thread_messages(shuffled)
    assert partition(again) == partition(threads)
    assert [t.root_id for t in again] == [t.root_id for t in threads]
    listed = [m for t in threads for m in t.message_ids]
    assert sorted(listed) == sorted({m.message_id for m in messages})


@settings(max_examples=200, deadline=None)
@given(mailboxes())
def test_a_message_always_shares_a_thread_with_the_parent_it_names(
    messages: list[Message],
) -> None:
    where = index_threads(thread_messages(messages))
    present = {m.message_id for m in messages}
    for message in messages:
        chain = reference_chain(message)
        if chain and chain[-1] in present:
            assert where[message.message_id] is where[chain[-1]]
