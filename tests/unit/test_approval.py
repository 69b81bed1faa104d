"""The approval queue's transition table."""

from __future__ import annotations

import itertools
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailfollow.core import approval
from mailfollow.core.approval import (
    ACTIVE,
    TERMINAL,
    TransitionError,
    can_transition,
    check_transition,
    is_active,
)
from mailfollow.errors import MailfollowError
from mailfollow.model import QueueState as Q

# The table as the design states it, written out independently of the module.
EXPECTED = {
    (Q.PENDING, Q.APPROVED),
    (Q.PENDING, Q.SKIPPED),
    (Q.PENDING, Q.SNOOZED),
    (Q.PENDING, Q.WITHDRAWN),
    (Q.SNOOZED, Q.PENDING),
    (Q.SNOOZED, Q.SKIPPED),
    (Q.SNOOZED, Q.WITHDRAWN),
    (Q.SNOOZED, Q.APPROVED),
    (Q.APPROVED, Q.SENDING),
    (Q.APPROVED, Q.WITHDRAWN),
    (Q.APPROVED, Q.PENDING),
    (Q.SENDING, Q.SENT),
    (Q.SENDING, Q.UNCONFIRMED),
    (Q.SENDING, Q.FAILED),
    (Q.SENDING, Q.PENDING),
    (Q.SENDING, Q.APPROVED),
    (Q.UNCONFIRMED, Q.APPROVED),
    (Q.UNCONFIRMED, Q.SKIPPED),
    (Q.UNCONFIRMED, Q.SENT),
    (Q.FAILED, Q.APPROVED),
    (Q.FAILED, Q.SKIPPED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Q, Q)))
def test_the_transition_table_is_exactly_the_designed_one(current: Q, target: Q) -> None:
    assert can_transition(current, target) == ((current, target) in EXPECTED)


def test_sent_skipped_and_withdrawn_are_final() -> None:
    assert {Q.SENT, Q.SKIPPED, Q.WITHDRAWN} == TERMINAL
    for state, target in itertools.product(TERMINAL, Q):
        assert not can_transition(state, target)


def test_a_draft_exists_while_pending_snoozed_approved_sending_or_unconfirmed() -> None:
    assert {Q.PENDING, Q.SNOOZED, Q.APPROVED, Q.SENDING, Q.UNCONFIRMED} == ACTIVE
    assert [s for s in Q if is_active(s)] == [s for s in Q if s in ACTIVE]
    assert not is_active(Q.FAILED)


def test_only_an_approved_draft_can_start_sending() -> None:
    assert [s for s in Q if can_transition(s, Q.SENDING)] == [Q.APPROVED]


def test_a_temporary_smtp_refusal_puts_a_sending_draft_back_to_approved_for_a_retry() -> None:
    check_transition(Q.SENDING, Q.APPROVED)  # does not raise
    assert can_transition(Q.APPROVED, Q.SENDING)


def test_a_draft_is_sent_only_through_sending_or_the_users_confirmation() -> None:
    assert {s for s in Q if can_transition(s, Q.SENT)} == {Q.SENDING, Q.UNCONFIRMED}


def test_no_state_moves_to_itself() -> None:
    assert not any(can_transition(s, s) for s in Q)


def test_every_state_can_still_reach_an_end() -> None:
    for start in Q:
        seen, todo = {start}, deque([start])
        while todo:
            for nxt in approval.ALLOWED_TRANSITIONS[todo.popleft()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        assert seen & TERMINAL, start


def test_a_refused_transition_raises_a_readable_value_error() -> None:
    with pytest.raises(TransitionError, match="a sent draft is final and cannot become approved"):
        check_transition(Q.SENT, Q.APPROVED)
    with pytest.raises(ValueError, match=r"pending draft cannot become sent \(it can become: "):
        check_transition(Q.PENDING, Q.SENT)
    with pytest.raises(MailfollowError, match="already approved"):
        check_transition(Q.APPROVED, Q.APPROVED)


def test_the_error_keeps_both_states() -> None:
    with pytest.raises(TransitionError) as caught:
        check_transition(Q.FAILED, Q.SENT)
    assert (caught.value.current, caught.value.target) == (Q.FAILED, Q.SENT)


def test_an_allowed_transition_passes_the_check() -> None:
    check_transition(Q.APPROVED, Q.SENDING)  # does not raise
    assert can_transition(Q.APPROVED, Q.SENDING)


@given(st.lists(st.sampled_from(list(Q)), max_size=40))
def test_random_walks_only_take_allowed_steps_and_terminal_states_stay_terminal(
    attempts: list[Q],
) -> None:
    state = Q.PENDING
    for target in attempts:
        before = state
        try:
            check_transition(state, target)
        except TransitionError:
            assert not can_transition(before, target)
        else:
            assert (before, target) in EXPECTED
            state = target
        if before in TERMINAL:
            assert state == before
