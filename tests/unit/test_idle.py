"""The IDLE watcher against scripted connections: activity, renewal, losses, reconnects."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from mailfollow import errors
from mailfollow.idle import IdleUnsupportedError, IdleWatcher, has_activity, said_bye

WAIT = 5.0  # seconds any test waits for the watcher thread at most


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeConnection:
    """Plays back check() results; ``waits`` says whether a check lets time pass."""

    clock: FakeClock
    script: list[Any] = field(default_factory=list)  # lists of responses or exceptions
    waits: bool = True
    fail_end_idle: BaseException | None = None
    late: list[Any] = field(default_factory=list)  # what the server says before DONE's answer
    on_exhausted: Callable[[], None] | None = None  # default: the connection drops
    log: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        return "INBOX on test"

    def start_idle(self) -> None:
        self.log.append("IDLE")

    def check(self, timeout: float) -> list[Any]:
        if self.waits:
            self.clock.now += timeout
        if not self.script:
            if self.on_exhausted is None:
                raise errors.MailboxUnavailable("end of the script")
            self.on_exhausted()
            return []
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return list(step)

    def end_idle(self) -> list[Any]:
        self.log.append("DONE")
        if self.fail_end_idle is not None:
            raise self.fail_end_idle
        late, self.late = self.late, []
        return late

    def close(self) -> None:
        self.log.append("closed")


class Harness:
    """A watcher whose connect() hands out the given connections in turn."""

    def __init__(self, *connections: FakeConnection | BaseException, renew_after: float = 600):
        self.clock = FakeClock()
        self.pending = list(connections)
        self.delays: list[int] = []
        self.polls = threading.Event()
        self.done = threading.Event()
        self.watcher = IdleWatcher(
            connect=self.connect,
            on_activity=self.polls.set,
            retry_delay=self.retry_delay,
            renew_after=renew_after,
            check_every=1.0,
            clock=self.clock,
        )

    def connect(self) -> FakeConnection:
        if not self.pending:
            self.done.set()
            self.watcher.request_stop()
            raise errors.MailboxUnavailable("no more scripted connections")
        item = self.pending.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def retry_delay(self, failures: int) -> float:
        self.delays.append(failures)
        return 0.0

    def run_until_done(self) -> None:
        self.watcher.start()
        assert self.done.wait(WAIT), "the watcher did not use up its script"
        self.watcher.stop(timeout=WAIT)
        assert not self.watcher.is_alive()


def test_new_mail_reported_during_idle_asks_for_a_poll() -> None:
    harness = Harness()
    harness.pending = [FakeConnection(harness.clock, script=[[], [(3, b"EXISTS"), (1, b"RECENT")]])]

    harness.run_until_done()

    assert harness.polls.is_set()
    assert harness.watcher.activity == 1


def test_keepalive_lines_are_not_mistaken_for_new_mail() -> None:
    harness = Harness()
    connection = FakeConnection(harness.clock, script=[[(b"OK", b"Still here")]] * 3)
    harness.pending = [connection]

    harness.run_until_done()

    assert not harness.polls.is_set()


def test_idle_is_reissued_before_the_server_would_drop_it() -> None:
    harness = Harness(renew_after=300)
    connection = FakeConnection(harness.clock, script=[[]] * 700)
    harness.pending = [connection]

    harness.run_until_done()

    # 700 one-second checks with a renewal every 300 s: two renewals, each DONE + IDLE.
    assert connection.log[:5] == ["IDLE", "DONE", "IDLE", "DONE", "IDLE"]


def test_new_mail_reported_just_before_a_renewal_is_not_lost() -> None:
    harness = Harness(renew_after=3)
    connection = FakeConnection(harness.clock, script=[[]] * 5, late=[(9, b"EXISTS")])
    harness.pending = [connection]

    harness.run_until_done()

    assert harness.polls.is_set()
    assert harness.watcher.activity == 1


def test_a_renewal_without_an_answer_counts_as_a_lost_connection() -> None:
    harness = Harness(renew_after=5)
    silent = FakeConnection(
        harness.clock,
        script=[[]] * 10,
        fail_end_idle=errors.MailboxUnavailable("timed out"),
    )
    harness.pending = [silent]

    harness.run_until_done()

    assert harness.watcher.connections == 1
    assert silent.log[-1] == "closed"
    assert harness.delays[0] == 1


def test_a_bye_from_the_server_is_a_lost_connection_and_it_reconnects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mailfollow.idle")
    harness = Harness()
    first = FakeConnection(harness.clock, script=[[(b"BYE", b"Server shutting down.")]])
    second = FakeConnection(harness.clock, script=[[(5, b"EXISTS")]])
    harness.pending = [first, second]

    harness.run_until_done()

    messages = [r.getMessage() for r in caplog.records]
    assert harness.watcher.connections == 2
    assert any("connection lost" in m and "BYE" in m for m in messages)
    assert any("watching INBOX on test again" in m for m in messages)
    assert harness.polls.is_set()


def test_a_socket_that_keeps_returning_nothing_at_once_was_closed_by_the_peer() -> None:
    harness = Harness()
    dead = FakeConnection(harness.clock, script=[[]] * 50, waits=False)
    harness.pending = [dead]

    harness.run_until_done()

    assert len(dead.script) > 40  # given up after a few empty answers, not 50
    assert dead.log[-1] == "closed"


def test_failed_connections_back_off_with_a_growing_failure_count() -> None:
    harness = Harness()
    harness.pending = [
        errors.MailboxUnavailable("refused"),
        errors.MailboxUnavailable("refused"),
        errors.CredentialError("rejected"),
    ]

    harness.run_until_done()

    assert harness.delays[:3] == [1, 2, 3]
    assert harness.watcher.connections == 0


def test_a_server_without_idle_leaves_the_work_to_the_polls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mailfollow.idle")
    harness = Harness(IdleUnsupportedError("imap.example.org does not support IDLE"))

    harness.watcher.start()
    harness.watcher.stop(timeout=WAIT)

    assert harness.watcher.state == "unsupported"
    assert "regular polls" in caplog.records[-1].getMessage()


def test_a_stop_request_ends_idle_and_closes_the_connection() -> None:
    harness = Harness()
    watching = threading.Event()
    connection = FakeConnection(harness.clock, on_exhausted=watching.set)
    harness.pending = [connection]

    harness.watcher.start()
    assert watching.wait(WAIT)
    harness.watcher.stop(timeout=WAIT)

    assert not harness.watcher.is_alive()
    assert connection.log[-2:] == ["DONE", "closed"]
    assert harness.watcher.state == "stopped"


def test_renewing_idle_only_well_inside_the_29_minute_limit_is_allowed() -> None:
    with pytest.raises(ValueError, match="renew_after"):
        Harness(renew_after=30 * 60)


def test_which_idle_responses_mean_activity() -> None:
    assert has_activity([(4, b"EXISTS")])
    assert has_activity([(2, b"EXPUNGE")])
    assert has_activity([(1, b"FETCH", (b"FLAGS", (b"\\Seen",)))])
    assert not has_activity([(b"OK", b"Still here")])
    assert not has_activity([])
    assert said_bye([(b"BYE", b"Server shutting down.")])
    assert not said_bye([(4, b"EXISTS")])
