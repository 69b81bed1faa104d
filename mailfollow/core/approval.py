"""The approval queue's state machine: which status may follow which.

A drafted follow-up starts ``pending``. The user approves, skips or snoozes
it; mailfollow withdraws it when a reply, rejection or bounce makes it
pointless. An approved draft is marked ``sending`` (committed before the SMTP
transaction starts) and ends ``sent``, ``failed`` (the server refused it) or
``unconfirmed`` (found in ``sending`` after a crash and not seen in Sent, so
it is never resent without the user's say-so).

The table below is the single source of truth; the store checks every status
change against it.
"""

from __future__ import annotations

from collections.abc import Mapping

from mailfollow.errors import MailfollowError
from mailfollow.model import QueueState

Q = QueueState

ALLOWED_TRANSITIONS: Mapping[QueueState, frozenset[QueueState]] = {
    Q.PENDING: frozenset({Q.APPROVED, Q.SKIPPED, Q.SNOOZED, Q.WITHDRAWN}),
    Q.SNOOZED: frozenset({Q.PENDING, Q.SKIPPED, Q.WITHDRAWN, Q.APPROVED}),
    # Back to pending is "un-approve".
    Q.APPROVED: frozenset({Q.SENDING, Q.WITHDRAWN, Q.PENDING}),
    # Back to pending or approved only after a temporary failure that never
    # reached DATA, so nothing can have been delivered; approved keeps the
    # user's decision and the outbox tries again later.
    Q.SENDING: frozenset({Q.SENT, Q.UNCONFIRMED, Q.FAILED, Q.PENDING, Q.APPROVED}),
    # The user decides: send again, give up, or confirm that it did go out.
    Q.UNCONFIRMED: frozenset({Q.APPROVED, Q.SKIPPED, Q.SENT}),
    Q.FAILED: frozenset({Q.APPROVED, Q.SKIPPED}),
    Q.SENT: frozenset(),
    Q.SKIPPED: frozenset(),
    Q.WITHDRAWN: frozenset(),
}

TERMINAL: frozenset[QueueState] = frozenset({Q.SENT, Q.SKIPPED, Q.WITHDRAWN})

# While a draft is in one of these, a draft exists for its conversation and
# no second one may be made.
ACTIVE: frozenset[QueueState] = frozenset(
    {Q.PENDING, Q.SNOOZED, Q.APPROVED, Q.SENDING, Q.UNCONFIRMED}
)


class TransitionError(MailfollowError, ValueError):
    """A status change the approval queue does not allow."""

    def __init__(self, current: QueueState, target: QueueState) -> None:
        self.current = current
        self.target = target
        super().__init__(describe_refusal(current, target))


def can_transition(current: QueueState, target: QueueState) -> bool:
    """Whether a draft in ``current`` may move to ``target``."""
    return target in ALLOWED_TRANSITIONS[current]


def check_transition(current: QueueState, target: QueueState) -> None:
    """Raise TransitionError unless ``current`` may move to ``target``."""
    if not can_transition(current, target):
        raise TransitionError(current, target)


def is_active(state: QueueState) -> bool:
    """Whether a draft in this status still stands for its conversation."""
    return state in ACTIVE


def describe_refusal(current: QueueState, target: QueueState) -> str:
    """One sentence saying why ``current`` cannot become ``target``."""
    if current in TERMINAL:
        return f"a {current.value} draft is final and cannot become {target.value}"
    if current == target:
        return f"the draft is already {current.value}"
    allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current]))
    return f"a {current.value} draft cannot become {target.value} (it can become: {allowed})"
