"""Builders of classified messages and conversations for the threading,
conversation and policy tests (on top of tests/factories.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mailfollow.core.conversations import conversation_id_for
from mailfollow.model import (
    Address,
    Classification,
    ClassifiedMessage,
    Conversation,
    Identity,
    IncomingKind,
    OutgoingKind,
    PolicySettings,
    Stage,
)
from tests.factories import ME, NOW, make_message

ALIAS = Address("alex@alias.example", "Alex")
IDENTITY = Identity(name="Alex Doe", addresses=frozenset({ME.email, ALIAS.email}))
JANE = Address("jane@acme.example", "Jane Smith")
BOB = Address("bob@acme.example", "Bob Jones")
SETTINGS = PolicySettings()
CALENDAR_DAYS = PolicySettings(business_days_only=False)


def day(month: int, date: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in March/April 2026, UTC (2026-03-16 is a Monday)."""
    return datetime(2026, month, date, hour, minute, tzinfo=UTC)


def outgoing(
    kind: OutgoingKind = OutgoingKind.APPLICATION,
    *,
    rule: str | None = None,
    from_me: bool = True,
    **message: Any,
) -> ClassifiedMessage:
    """A message the user sent, classified as ``kind``."""
    message.setdefault("to", (JANE,))
    return ClassifiedMessage(
        make_message(**message),
        Classification(rule=rule or f"{kind.value}.test", explanation="test", outgoing=kind),
        from_me=from_me,
    )


def incoming(
    kind: IncomingKind = IncomingKind.HUMAN_REPLY,
    *,
    sender: Address | str = JANE,
    rule: str | None = None,
    return_date: datetime | None = None,
    interview_at: datetime | None = None,
    promised_by: datetime | None = None,
    promise_text: str = "",
    asks_question: bool = False,
    from_me: bool = False,
    **message: Any,
) -> ClassifiedMessage:
    """A message someone else sent the user, classified as ``kind``."""
    message.setdefault("to", (ME,))
    message.setdefault("subject", "Re: Application: Backend Engineer")
    return ClassifiedMessage(
        make_message(sender=sender, **message),
        Classification(
            rule=rule or f"{kind.value}.test",
            explanation="test",
            incoming=kind,
            return_date=return_date,
            interview_at=interview_at,
            promised_by=promised_by,
            promise_text=promise_text,
            asks_question=asks_question,
        ),
        from_me=from_me,
    )


def answer(
    original: ClassifiedMessage,
    kind: IncomingKind = IncomingKind.HUMAN_REPLY,
    **kw: Any,
) -> ClassifiedMessage:
    """An incoming reply threaded under ``original``."""
    kw.setdefault("subject", f"Re: {original.message.subject}")
    msg_id = original.message.message_id
    return incoming(kind, in_reply_to=(msg_id,), references=(msg_id,), **kw)


def follow_up(original: ClassifiedMessage, **kw: Any) -> ClassifiedMessage:
    """The user's follow-up threaded under ``original``."""
    kw.setdefault("subject", f"Re: {original.message.subject}")
    msg_id = original.message.message_id
    return outgoing(OutgoingKind.FOLLOW_UP, in_reply_to=(msg_id,), references=(msg_id,), **kw)


def conversation(
    *items: ClassifiedMessage,
    stage: Stage = Stage.APPLICATION,
    nudges_sent: int = 0,
    ignored: bool = False,
    counterpart: Address = JANE,
    company: str = "acme",
) -> Conversation:
    """A conversation built directly, bypassing inference."""
    ordered = tuple(sorted(items, key=lambda i: (i.message.date, i.message.message_id)))
    return Conversation(
        id=conversation_id_for(ordered[0].message.message_id) if ordered else "empty",
        stage=stage,
        counterpart=counterpart,
        company=company,
        subject=ordered[0].message.subject if ordered else "",
        messages=ordered,
        nudges_sent=nudges_sent,
        ignored=ignored,
    )


def ids(items: Iterable[ClassifiedMessage]) -> list[str]:
    return [i.message.message_id for i in items]


__all__ = [
    "ALIAS",
    "BOB",
    "CALENDAR_DAYS",
    "IDENTITY",
    "JANE",
    "ME",
    "NOW",
    "SETTINGS",
    "answer",
    "conversation",
    "day",
    "follow_up",
    "ids",
    "incoming",
    "outgoing",
]
