"""The bundled demo mailbox and the generator of labelled mailboxes behind it.

``mailbox.mbox`` holds a small job-search mailbox (conversations plus noise)
written by :mod:`mailfollow.demo.generator`; ``labels.json`` is its answer key:
what mailfollow should conclude about each conversation at :data:`DEMO_AS_OF`.
Both are regenerated with::

    python -m mailfollow.demo.generator --seed 7 --conversations 30 \\
        --as-of 2026-03-16T09:00:00+00:00 --out mailfollow/demo/

This module stays light (no generator import) so that ``python -m`` can run
the generator without importing it twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailfollow.demo.generator import ConversationLabel, GeneratedMessage, NoiseLabel

DEMO_SEED = 7
DEMO_CONVERSATIONS = 30
DEMO_AS_OF = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a Monday morning
DEMO_MBOX = "mailbox.mbox"
DEMO_LABELS = "labels.json"


def demo_messages() -> Iterator[GeneratedMessage]:
    """The bundled demo mailbox, message by message, with folders and flags restored."""
    from mailfollow.demo.generator import parse_mbox

    return parse_mbox(files(__name__).joinpath(DEMO_MBOX).read_bytes())


def demo_labels() -> tuple[list[ConversationLabel], list[NoiseLabel]]:
    """The answer key of the bundled demo mailbox (conversations, then untracked noise)."""
    from mailfollow.demo.generator import parse_labels

    return parse_labels(files(__name__).joinpath(DEMO_LABELS).read_text(encoding="utf-8"))
