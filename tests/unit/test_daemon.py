"""The daemon's logic, one function at a time: lock, backoff, logging once per state
change, status in the store, reload, and the scheduler loop with fake jobs."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailfollow import errors
from mailfollow.adapters.store import Store
from mailfollow.config import Config, load_config
from mailfollow.daemon import (
    CREDENTIAL_BACKOFF,
    TRANSIENT_BACKOFF,
    Backoff,
    BackoffPolicy,
    Change,
    Daemon,
    DaemonAlreadyRunningError,
    DaemonJobs,
    DaemonLock,
    DaemonOptions,
    Problem,
    ProblemKind,
    ProblemTracker,
    ReloadResult,
    describe_report,
    lock_path,
    probe_lock,
    read_status,
    reload_config,
)
from mailfollow.model import FolderRole
from mailfollow.pipeline import PollReport
from mailfollow.sdnotify import Notifier
from mailfollow.sync import FolderReport, SyncReport

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)

CONFIG_TEMPLATE = """
[account]
address = "alex@example.org"
[account.imap]
host = "127.0.0.1"
port = 1143
security = "none"
allow_insecure = true
[account.smtp]
host = "127.0.0.1"
port = 1025
security = "none"
allow_insecure = true
[account.password]
password_command = ["printf", "%s", "not-a-real-password"]
[daemon]
poll_interval = "{poll_interval}"
idle = false
digest = "log"
[policy]
timezone = "Europe/Berlin"
[state]
dir = "{state_dir}"
"""


def write_config(
    tmp_path: Path, *, poll_interval: str = "1m", state_dir: Path | None = None
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        CONFIG_TEMPLATE.format(
            poll_interval=poll_interval, state_dir=state_dir or tmp_path / "state"
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(write_config(tmp_path))


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def report(*, new: int = 0) -> PollReport:
    folder = FolderReport(name="INBOX", role=FolderRole.INBOX, fetched=new, new=new)
    return PollReport(sync=SyncReport(folders=(folder,)))


@dataclass
class Scripted:
    """A fake job: returns or raises its outcomes in turn (the last one repeats)."""

    outcomes: list[Any]
    calls: list[datetime] = field(default_factory=list)

    def next(self, now: datetime) -> Any:
        self.calls.append(now)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@dataclass
class FakeJobs:
    poll: Scripted = field(default_factory=lambda: Scripted([report()]))
    send: Scripted = field(default_factory=lambda: Scripted([0]))
    digests: list[Sequence[Problem]] = field(default_factory=list)

    def as_jobs(self) -> DaemonJobs:
        def poll(config: Config, *, now: datetime) -> PollReport:
            result: PollReport = self.poll.next(now)
            return result

        def send(config: Config, *, now: datetime) -> int:
            result: int = self.send.next(now)
            return result

        def digest(config: Config, *, now: datetime, problems: Sequence[Problem]) -> bool:
            self.digests.append(problems)
            return bool(problems)

        def housekeeping(config: Config, *, now: datetime) -> None:
            return None

        return DaemonJobs(poll=poll, send=send, digest=digest, housekeeping=housekeeping)


def make_daemon(
    config: Config,
    jobs: FakeJobs,
    clock: Clock | None = None,
    **kwargs: Any,
) -> Daemon:
    return Daemon(
        config,
        jobs=jobs.as_jobs(),
        notifier=Notifier(None),
        clock=clock or Clock(),
        rng=random.Random(7),  # noqa: S311
        environ={},
        idle_factory=lambda daemon: None,
        **kwargs,
    )


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == level and r.name == "mailfollow.daemon"]


# --------------------------------------------------------------------------- the lock


def test_a_second_daemon_on_the_same_state_directory_is_refused(tmp_path: Path) -> None:
    with (
        DaemonLock.acquire(tmp_path, pid=4242),
        pytest.raises(DaemonAlreadyRunningError) as refused,
    ):
        DaemonLock.acquire(tmp_path, retry_for=0)
    assert refused.value.pid == 4242
    assert "already running" in str(refused.value)
    assert str(tmp_path) in str(refused.value)


def test_the_lock_file_names_the_daemons_pid(tmp_path: Path) -> None:
    with DaemonLock.acquire(tmp_path, pid=4242):
        assert lock_path(tmp_path).read_text() == "4242\n"
        status = probe_lock(tmp_path)
    assert status.held
    assert status.pid == 4242


def test_a_released_lock_lets_the_next_daemon_start_and_names_no_pid(tmp_path: Path) -> None:
    DaemonLock.acquire(tmp_path, pid=4242).release()

    status = probe_lock(tmp_path)
    with DaemonLock.acquire(tmp_path, retry_for=0) as second:
        assert second.held
    assert not status.held
    assert status.pid is None
    assert not status.running


def test_the_lock_probe_reports_running_only_when_the_pid_is_alive(tmp_path: Path) -> None:
    import os

    with DaemonLock.acquire(tmp_path):
        assert probe_lock(tmp_path).running
        assert probe_lock(tmp_path).pid == os.getpid()


def test_without_a_lock_file_no_daemon_runs(tmp_path: Path) -> None:
    status = probe_lock(tmp_path / "never-used")

    assert (status.held, status.pid, status.running) == (False, None, False)


def test_the_lock_creates_a_missing_state_directory_privately(tmp_path: Path) -> None:
    state = tmp_path / "new" / "state"

    with DaemonLock.acquire(state):
        assert state.is_dir()
        assert lock_path(state).stat().st_mode & 0o077 == 0


# --------------------------------------------------------------------------- backoff


@given(
    failures=st.integers(min_value=1, max_value=500),
    initial=st.floats(min_value=0.1, max_value=100),
    maximum=st.floats(min_value=100, max_value=10_000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_a_backoff_delay_lies_between_half_and_all_of_its_capped_ceiling(
    failures: int, initial: float, maximum: float, seed: int
) -> None:
    policy = BackoffPolicy(initial=initial, maximum=maximum)

    delay = policy.delay(failures, rng=random.Random(seed))  # noqa: S311

    ceiling = policy.ceiling(failures)
    assert ceiling <= maximum
    assert ceiling / 2 <= delay <= ceiling


def test_the_backoff_ceiling_doubles_from_its_start_until_the_cap() -> None:
    policy = BackoffPolicy(initial=2, maximum=30)

    assert [policy.ceiling(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_repeated_rejected_logins_back_off_far_longer_than_an_unreachable_server() -> None:
    assert CREDENTIAL_BACKOFF.ceiling(1) >= 30 * TRANSIENT_BACKOFF.ceiling(1)
    assert CREDENTIAL_BACKOFF.maximum >= TRANSIENT_BACKOFF.maximum


def test_a_backoff_is_ready_again_after_its_delay_and_after_a_success() -> None:
    backoff = Backoff()
    policy = BackoffPolicy(initial=10, maximum=10)
    delay = backoff.failed(T0, policy, rng=random.Random(1))  # noqa: S311

    assert not backoff.ready(T0 + delay - timedelta(seconds=0.01))
    assert backoff.ready(T0 + delay)
    backoff.succeeded()
    assert backoff.ready(T0)
    assert backoff.failures == 0


# --------------------------------------------------------------------------- problems


def test_the_same_failure_again_is_the_same_state() -> None:
    tracker = ProblemTracker()

    first = tracker.failed("poll", errors.MailboxUnavailable("refused"), now=T0)
    second = tracker.failed("poll", errors.MailboxUnavailable("timed out"), now=T0 + timedelta(1))

    assert first.change is Change.FAILED
    assert second.change is Change.STILL_FAILING
    assert second.problem is not None
    assert second.problem.since == T0
    assert second.problem.failures == 2
    assert second.problem.message == "timed out"


def test_a_failure_of_another_kind_is_a_new_state() -> None:
    tracker = ProblemTracker()
    tracker.failed("poll", errors.MailboxUnavailable("refused"), now=T0)

    outcome = tracker.failed("poll", errors.CredentialError("rejected"), now=T0)

    assert outcome.change is Change.FAILED
    assert outcome.problem is not None
    assert outcome.problem.kind is ProblemKind.CREDENTIALS


def test_a_success_after_failures_is_a_recovery_once() -> None:
    tracker = ProblemTracker()
    tracker.failed("poll", errors.MailboxUnavailable("refused"), now=T0)

    assert tracker.succeeded("poll").change is Change.RECOVERED
    assert tracker.succeeded("poll").change is Change.STILL_OK
    assert tracker.current() == []


def test_problems_needing_the_user_come_before_servers_that_are_away() -> None:
    tracker = ProblemTracker()
    tracker.failed("poll", errors.MailboxUnavailable("refused"), now=T0)
    tracker.failed("send", errors.CredentialError("535 rejected"), now=T0 + timedelta(hours=1))

    assert [p.kind for p in tracker.current()] == [ProblemKind.CREDENTIALS, ProblemKind.UNREACHABLE]


def test_an_unreachable_server_is_retried_with_a_warning_once_however_many_polls_fail(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = FakeJobs(
        poll=Scripted([errors.MailboxUnavailable("127.0.0.1:1143: connection refused")])
    )
    clock = Clock()
    daemon = make_daemon(config, jobs, clock)
    caplog.set_level(logging.DEBUG, logger="mailfollow")

    for _ in range(6):
        daemon.poll_and_send(force=True)
        clock.advance(minutes=1)

    warnings = records(caplog, logging.WARNING)
    assert len(jobs.poll.calls) == 6
    assert len(warnings) == 1
    assert "IMAP unreachable" in warnings[0].getMessage()
    assert "connection refused" in warnings[0].getMessage()
    assert records(caplog, logging.ERROR) == []


def test_the_recovery_is_logged_once_as_reachable_again(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = FakeJobs(
        poll=Scripted(
            [errors.MailboxUnavailable("down"), errors.MailboxUnavailable("down"), report()]
        )
    )
    daemon = make_daemon(config, jobs)
    caplog.set_level(logging.INFO, logger="mailfollow")

    for _ in range(5):
        daemon.poll_and_send(force=True)

    recovered = [r for r in records(caplog, logging.INFO) if "reachable again" in r.getMessage()]
    assert len(recovered) == 1
    assert "IMAP reachable again (after 2 failed attempts)" in recovered[0].getMessage()


def test_a_rejected_login_is_an_error_in_the_log_and_in_the_saved_status(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = FakeJobs(poll=Scripted([errors.CredentialError("127.0.0.1 rejected the login")]))
    daemon = make_daemon(config, jobs)

    daemon.poll_and_send(force=True)
    daemon.poll_and_send(force=True)

    errors_logged = records(caplog, logging.ERROR)
    assert len(errors_logged) == 1
    assert "IMAP authentication failed" in errors_logged[0].getMessage()
    with Store.open(config.store_path()) as store:
        status = read_status(store)
    assert status.last_error is not None
    assert "IMAP authentication failed" in status.last_error
    assert status.last_error_since == T0
    assert status.problems[0].kind is ProblemKind.CREDENTIALS
    assert status.last_poll_result is not None
    assert status.last_poll_result.startswith("failed: IMAP authentication failed")


def test_an_unexpected_exception_is_logged_with_its_traceback_and_polling_goes_on(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = FakeJobs(poll=Scripted([KeyError("surprise"), KeyError("surprise"), report(new=2)]))
    daemon = make_daemon(config, jobs)

    results = [daemon.poll_and_send(force=True) for _ in range(3)]

    bugs = records(caplog, logging.ERROR)
    assert len(bugs) == 1
    assert bugs[0].exc_info is not None
    assert "please report it" in bugs[0].getMessage()
    assert results[:2] == [None, None]
    assert results[2] is not None
    assert results[2].new_messages == 2


def test_polls_inside_the_backoff_window_are_skipped_but_a_forced_poll_is_not(
    config: Config,
) -> None:
    jobs = FakeJobs(poll=Scripted([errors.MailboxUnavailable("down")]))
    clock = Clock()
    daemon = make_daemon(
        config, jobs, clock, options=DaemonOptions(transient_backoff=BackoffPolicy(60, 60))
    )

    daemon.poll_and_send()
    clock.advance(seconds=10)  # inside the 30-60 s backoff
    daemon.poll_and_send()
    daemon.poll_and_send(force=True)  # IDLE saw mail: the server is back
    clock.advance(seconds=61)
    daemon.poll_and_send()

    assert jobs.poll.calls == [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=71)]


def test_approved_drafts_are_sent_only_after_a_successful_poll(config: Config) -> None:
    jobs = FakeJobs(
        poll=Scripted([errors.MailboxUnavailable("down"), report()]), send=Scripted([2])
    )
    daemon = make_daemon(config, jobs)

    daemon.poll_and_send(force=True)
    daemon.poll_and_send(force=True)

    assert len(jobs.send.calls) == 1
    with Store.open(config.store_path()) as store:
        assert read_status(store).last_poll_result == "ok: 2 follow-ups sent"


def test_an_smtp_outage_is_its_own_problem_and_does_not_fail_the_poll(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = FakeJobs(send=Scripted([errors.SendUnavailable("smtp: connection refused")]))
    daemon = make_daemon(config, jobs)

    polled = daemon.poll_and_send(force=True)

    assert polled is not None
    assert [p.job for p in daemon.tracker.current()] == ["send"]
    assert "SMTP unreachable" in records(caplog, logging.WARNING)[0].getMessage()


def test_a_poll_saves_when_it_ran_what_it_found_and_the_pending_drafts(config: Config) -> None:
    daemon = make_daemon(config, FakeJobs(poll=Scripted([report(new=3)])))

    daemon.poll_and_send(force=True)

    with Store.open(config.store_path()) as store:
        status = read_status(store)
    assert status.last_poll_at == T0
    assert status.last_poll_result == "ok: 3 new messages"
    assert status.pending_drafts == 0
    assert status.conversations == {}
    assert status.last_error is None


def test_the_systemd_status_line_names_the_last_poll_drafts_and_problems(config: Config) -> None:
    jobs = FakeJobs(poll=Scripted([report(), errors.MailboxUnavailable("refused")]))
    daemon = make_daemon(config, jobs)

    daemon.poll_and_send(force=True)
    healthy_line = daemon.status_line()
    daemon.poll_and_send(force=True)

    assert healthy_line == "last poll 10:00, 0 drafts pending"  # 09:00 UTC in Berlin
    assert daemon.status_line().startswith("last poll 10:00, 0 drafts pending, IMAP unreachable")


def test_the_digest_job_gets_the_current_problems(config: Config) -> None:
    jobs = FakeJobs(poll=Scripted([errors.CredentialError("rejected")]))
    daemon = make_daemon(config, jobs)
    daemon.poll_and_send(force=True)

    said = daemon.send_digest()

    assert said
    assert [p.kind for p in jobs.digests[0]] == [ProblemKind.CREDENTIALS]


def test_a_poll_summary_counts_what_happened() -> None:
    assert describe_report(report(new=1), sent=2) == "ok: 1 new message, 2 follow-ups sent"
    assert describe_report(report()) == "ok: nothing new"


def test_the_watchdog_sees_a_stalled_scheduler(config: Config) -> None:
    daemon = make_daemon(config, FakeJobs())
    assert daemon.healthy()

    daemon._heartbeat = time.monotonic() - 3600

    assert not daemon.healthy()
    assert "heartbeat" in (daemon.health_problem() or "")


# --------------------------------------------------------------------------- reload


def test_a_broken_new_config_is_rejected_with_its_problems_and_the_old_one_kept(
    tmp_path: Path, config: Config
) -> None:
    Path(config.path).write_text(
        Path(config.path).read_text() + '\n[drafts]\ndaily_send_cap = "many"\n'
    )

    result = reload_config(config, check_credentials=lambda c: None)

    assert not result.applied
    assert result.config is config
    assert any("drafts.daily_send_cap" in p for p in result.problems)


def test_a_valid_new_config_is_taken_with_what_changed(tmp_path: Path, config: Config) -> None:
    write_config(tmp_path, poll_interval="30s")

    result = reload_config(config, check_credentials=lambda c: None)

    assert result.applied
    assert result.config.daemon.poll_interval == timedelta(seconds=30)
    assert any("poll_interval" in line for line in result.changes)


def test_a_reload_may_not_move_the_state_directory(tmp_path: Path, config: Config) -> None:
    write_config(tmp_path, state_dir=tmp_path / "elsewhere")

    result = reload_config(config, check_credentials=lambda c: None)

    assert not result.applied
    assert "state.dir" in result.problems[0]
    assert "restart" in result.problems[0]


def test_a_reload_whose_credentials_are_unavailable_is_rejected(config: Config) -> None:
    def no_password(new: Config) -> None:
        raise errors.CredentialError("password_command `pass show mail` failed")

    result = reload_config(config, check_credentials=no_password)

    assert not result.applied
    assert "password_command" in result.problems[0]


def test_a_rejected_reload_is_an_error_listing_the_problems(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = make_daemon(config, FakeJobs())

    daemon.apply_reload(
        ReloadResult(config, applied=False, problems=("policy.timezone: unknown zone",))
    )

    assert daemon.config is config
    message = records(caplog, logging.ERROR)[0].getMessage()
    assert "keeping the running configuration" in message
    assert "policy.timezone: unknown zone" in message


def test_an_applied_reload_is_used_by_the_next_poll(tmp_path: Path, config: Config) -> None:
    jobs = FakeJobs()
    seen: list[Config] = []
    jobs_obj = jobs.as_jobs()

    def poll(cfg: Config, *, now: datetime) -> PollReport:
        seen.append(cfg)
        return jobs_obj.poll(cfg, now=now)

    daemon = make_daemon(config, jobs)
    daemon.jobs = DaemonJobs(poll, jobs_obj.send, jobs_obj.digest, jobs_obj.housekeeping)
    write_config(tmp_path, poll_interval="30s")

    daemon.apply_reload(reload_config(config, check_credentials=lambda c: None))
    daemon.poll_and_send(force=True)

    assert seen[0].daemon.poll_interval == timedelta(seconds=30)


# --------------------------------------------------------------------------- the loop


def run_in_thread(daemon: Daemon) -> tuple[threading.Thread, list[bool]]:
    finished: list[bool] = []
    thread = threading.Thread(target=lambda: finished.append(daemon.run()), daemon=True)
    thread.start()
    return thread, finished


def test_the_daemon_polls_at_once_and_stops_cleanly_on_request(config: Config) -> None:
    polled = threading.Event()
    jobs = FakeJobs()
    base = jobs.as_jobs()

    def poll(cfg: Config, *, now: datetime) -> PollReport:
        polled.set()
        return base.poll(cfg, now=now)

    daemon = make_daemon(config, jobs, clock=Clock())
    daemon.jobs = DaemonJobs(poll, base.send, base.digest, base.housekeeping)
    thread, finished = run_in_thread(daemon)

    assert polled.wait(5)
    daemon.request_stop("test")
    thread.join(5)

    assert finished == [True]
    with Store.open(config.store_path()) as store:
        status = read_status(store)
    assert status.pid is None
    assert status.stopped_at is not None


def test_a_job_that_does_not_finish_in_time_is_left_behind_on_stop(config: Config) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_poll(cfg: Config, *, now: datetime) -> PollReport:
        started.set()
        release.wait(10)
        return report()

    base = FakeJobs().as_jobs()
    daemon = make_daemon(config, FakeJobs(), options=DaemonOptions(stop_grace=0.2))
    daemon.jobs = DaemonJobs(slow_poll, base.send, base.digest, base.housekeeping)
    thread, finished = run_in_thread(daemon)
    try:
        assert started.wait(5)
        begun = time.monotonic()
        daemon.request_stop("test")
        thread.join(5)
        assert time.monotonic() - begun < 3
        assert finished == [False]
    finally:
        release.set()
    with Store.open(config.store_path()) as store:
        assert read_status(store).stopped_at is not None


def test_a_reload_request_goes_through_the_job_thread(config: Config) -> None:
    reloaded = threading.Event()

    def fake_reload(current: Config) -> ReloadResult:
        reloaded.set()
        return ReloadResult(current, applied=False, problems=("x: broken",))

    daemon = make_daemon(config, FakeJobs(), reload=fake_reload)
    thread, finished = run_in_thread(daemon)
    try:
        daemon.request_reload()
        assert reloaded.wait(5)
    finally:
        daemon.request_stop("test")
        thread.join(5)
    assert finished == [True]
    assert daemon.config is config


def test_a_poll_requested_by_idle_runs_at_once_and_only_once(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, poll_interval="1h"))
    polls: list[float] = []
    first, second = threading.Event(), threading.Event()

    def poll(cfg: Config, *, now: datetime) -> PollReport:
        polls.append(time.monotonic())
        (first if len(polls) == 1 else second).set()
        return report()

    base = FakeJobs().as_jobs()
    daemon = make_daemon(config, FakeJobs())
    daemon.jobs = DaemonJobs(poll, base.send, base.digest, base.housekeeping)
    thread, finished = run_in_thread(daemon)
    try:
        assert first.wait(5)
        daemon.request_poll()
        assert second.wait(5)  # an hour before the next scheduled poll
        # The request was served: nothing runs again.
        assert not daemon._poll_requested.is_set()
    finally:
        daemon.request_stop("test")
        thread.join(5)
    assert finished == [True]
    assert len(polls) == 2
