"""The parse queue: batches handed back in fetch order, shared between the worker and us."""

from __future__ import annotations

import runpy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from mailfollow.adapters.mailbox import FetchedMessage
from mailfollow.model import FolderRole
from mailfollow.parsing import WORKER_QUEUE, ParsedFetch, ParseQueue, parse_batch


def fetched(uid: int) -> FetchedMessage:
    return FetchedMessage(
        uid=uid,
        header=b"From: Jane <jane@acme.example>\r\nMessage-ID: <m%d@x>\r\n\r\n" % uid,
        internal_date=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        flags=frozenset(),
    )


@dataclass
class HeldBatch:
    """A batch the fake worker finishes only when told to."""

    batch: Sequence[FetchedMessage]
    finished: bool = False
    waited_for: bool = False

    def done(self) -> bool:
        return self.finished

    def result(self) -> list[ParsedFetch]:
        self.waited_for = not self.finished  # a real one blocks until the worker is done
        self.finished = True
        return parse_batch(self.batch, "INBOX", FolderRole.INBOX)


@dataclass
class SlowWorker:
    held: list[HeldBatch] = field(default_factory=list)

    def submit(self, batch: Sequence[FetchedMessage], folder: str, role: FolderRole) -> HeldBatch:
        self.held.append(HeldBatch(batch))
        return self.held[-1]

    def close(self) -> None:
        pass


def test_while_the_worker_is_behind_the_next_batch_is_parsed_here_and_order_is_kept() -> None:
    worker = SlowWorker()
    queue = ParseQueue(worker, "INBOX", FolderRole.INBOX)

    queue.put([1, 2], [fetched(1), fetched(2)])
    queue.put([3], [fetched(3)])  # the worker may hold one batch in reserve
    queue.put([4], [fetched(4)])
    nothing_yet = list(queue.ready())
    worker.held[0].finished = True
    first = list(queue.ready())
    worker.held[1].finished = True
    rest = list(queue.ready())

    assert len(worker.held) == WORKER_QUEUE  # batch [4] never went to the busy worker
    assert nothing_yet == []  # batch [4] is parsed but must not overtake [1, 2] and [3]
    assert [(key, [p.uid for p in parsed]) for key, parsed in first + rest] == [
        ([1, 2], [1, 2]),
        ([3], [3]),
        ([4], [4]),
    ]


def test_a_free_worker_gets_the_next_batch() -> None:
    worker = SlowWorker()
    queue = ParseQueue(worker, "INBOX", FolderRole.INBOX)
    queue.put([1], [fetched(1)])
    worker.held[0].finished = True
    assert [key for key, _ in queue.ready()] == [[1]]

    queue.put([2], [fetched(2)])

    assert len(worker.held) == 2


def test_the_rest_waits_for_every_batch_in_order() -> None:
    worker = SlowWorker()
    queue = ParseQueue(worker, "INBOX", FolderRole.INBOX)
    queue.put([1], [fetched(1)])
    queue.put([2], [fetched(2)])
    worker.held[0].finished = True

    assert [key for key, _ in queue.rest()] == [[1], [2]]
    assert [held.waited_for for held in worker.held] == [False, True]


def test_starting_a_worker_from_python_m_mailfollow_does_not_rerun_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # "spawn" runs the parent's main module again in the worker under this name.
    runpy.run_module("mailfollow.__main__", run_name="__mp_main__")

    assert capsys.readouterr() == ("", "")
