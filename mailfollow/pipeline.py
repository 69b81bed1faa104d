"""The glue: read top to bottom, this is mailfollow's data flow.

sync the mailbox -> classify messages -> infer conversations -> apply the
silence policy -> draft what is due -> (after approval) send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailfollow.config import Config


@dataclass(frozen=True)
class PollReport:
    """What one pass of the pipeline did, for the CLI summary, logs and `status`."""

    new_messages: int = 0
    changed_messages: int = 0
    removed_messages: int = 0
    conversations: int = 0
    due: int = 0
    drafted: int = 0
    withdrawn: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)


def poll_once(config: Config, *, now: datetime, source: str | None = None, draft: bool = True) -> PollReport:
    """Sync, re-evaluate every conversation, draft what is due."""
    raise NotImplementedError


def send_approved(config: Config, *, now: datetime) -> int:
    """Send every approved draft (at most once each); returns how many were sent."""
    raise NotImplementedError
