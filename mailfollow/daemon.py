"""The long-running service behind ``mailfollow run``.

Start-up checks, then an APScheduler 3 ``BlockingScheduler`` with these jobs:

============  ==============================================  ========================
job           what                                            when
============  ==============================================  ========================
poll          ``pipeline.poll_once``, then                    every poll_interval,
              ``pipeline.send_approved``                      the first at once
poll-now      the same, when IDLE saw new mail                on request
digest        the daily summary (:mod:`mailfollow.digest`)    digest_time, local
housekeeping  database upkeep                                 daily, 04:15 local
reload        SIGHUP: read the configuration again            on request
heartbeat     proves to the systemd watchdog that the         half the ping interval
              scheduler still dispatches jobs (own thread)
============  ==============================================  ========================

Every job except the heartbeat runs on one worker thread, so they never
overlap and SQLite has a single writer; each opens its own store connection,
because a sqlite3 connection belongs to the thread that made it.

Failures never stop the daemon. Each job remembers its current problem and
logs only when it changes or clears ("IMAP reachable again"), not once per
poll; transient ones (server unreachable) are retried with exponential,
capped, jittered backoff; a rejected login is an ERROR, shown by ``mailfollow
status`` and in the digest. The facts ``mailfollow status`` shows are kept in
the store's meta table (``daemon.*`` keys).

Signals: SIGTERM/SIGINT stop within :data:`STOP_GRACE` seconds plus a little,
SIGHUP reloads the configuration (a broken file is reported and the running
configuration kept). A lock file in the state directory keeps a second
daemon away from the same database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import fcntl
import json
import logging
import os
import queue
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from mailfollow import errors
from mailfollow.config import Config, Digest, load_config
from mailfollow.model import QueueState
from mailfollow.sdnotify import Notifier, WatchdogPinger, watchdog_ping_interval
from mailfollow.sync import RetryPolicy

if TYPE_CHECKING:
    from mailfollow.adapters.store import Store
    from mailfollow.credentials import Credentials
    from mailfollow.idle import IdleWatcher
    from mailfollow.pipeline import PollReport

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = "mailfollow.lock"
# After SIGTERM the running job gets this long to finish; then the process
# exits anyway (SQLite rolls the unfinished transaction back). Under the
# promised 10 s, and under the units' TimeoutStopSec=15.
STOP_GRACE = 7.0
STARTUP_LOGIN_TIMEOUT = 15.0
HOUSEKEEPING_TIME = (4, 15)  # local time; an hour when nobody waits for mail
DIGEST_MISFIRE_GRACE = timedelta(hours=12)  # a late digest (laptop asleep at 8:00) still helps
HOUSEKEEPING_MISFIRE_GRACE = timedelta(hours=24)
MAX_JOB_RUNTIME = 30 * 60.0  # seconds; a job running longer is hung: let the watchdog act
_LOCK_RETRY_FOR = 1.0  # `mailfollow status` holds a shared lock for a moment

POLL_JOB = "poll"
POLL_NOW_JOB = "poll-now"  # a poll IDLE asked for
SEND_JOB = "send"
DIGEST_JOB = "digest"
HOUSEKEEPING_JOB = "housekeeping"
RELOAD_JOB = "reload"
STATUS_JOB = "status"
HEARTBEAT_JOB = "heartbeat"


# --------------------------------------------------------------------------- lock file


class DaemonAlreadyRunningError(errors.MailfollowError):
    """Another daemon holds the lock of this state directory."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        self.state_dir = state_dir
        self.pid = pid
        who = f"(pid {pid}) " if pid else ""
        super().__init__(
            f"another mailfollow daemon {who}is already running on {state_dir}; stop it first "
            "(systemctl --user stop mailfollow), or give this one another [state] dir"
        )


def lock_path(state_dir: Path) -> Path:
    return state_dir / LOCK_FILE_NAME


class DaemonLock:
    """An exclusive ``flock`` on ``<state dir>/mailfollow.lock``, with our pid inside.

    The kernel drops the lock when the process ends, however it ends, so a
    crash never leaves a stale lock behind (the pid inside may stay; it is
    only informative).
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(
        cls, state_dir: Path, *, pid: int | None = None, retry_for: float = _LOCK_RETRY_FOR
    ) -> DaemonLock:
        """Take the lock or raise DaemonAlreadyRunningError (StoreError if unusable)."""
        path = lock_path(state_dir)
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise errors.StoreError(f"cannot create the lock file {path}: {exc}") from exc
        deadline = time.monotonic() + retry_for
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    raise DaemonAlreadyRunningError(state_dir, holder) from None
                time.sleep(0.05)
            except OSError as exc:
                os.close(fd)
                raise errors.StoreError(f"cannot lock {path}: {exc}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid() if pid is None else pid}\n".encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Empty the file (no pid: nobody runs) and drop the lock; idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@dataclass(frozen=True)
class LockStatus:
    """What the lock file says about a daemon on a state directory."""

    held: bool  # some process holds the lock right now
    pid: int | None  # the pid written inside, if any
    pid_alive: bool  # that process exists (as far as we can see)

    @property
    def running(self) -> bool:
        return self.held and self.pid_alive


def probe_lock(state_dir: Path) -> LockStatus:
    """Whether a daemon holds the lock, without taking it for more than an instant."""
    path = lock_path(state_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return LockStatus(held=False, pid=None, pid_alive=False)
    except OSError as exc:
        raise errors.StoreError(f"cannot read the lock file {path}: {exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held = True
        else:
            held = False
            fcntl.flock(fd, fcntl.LOCK_UN)
        pid = _read_pid(fd)
    finally:
        os.close(fd)
    return LockStatus(held=held, pid=pid, pid_alive=pid is not None and pid_exists(pid))


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


# --------------------------------------------------------------------------- backoff


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with a cap and "equal jitter".

    The n-th consecutive failure waits between half and all of
    ``min(maximum, initial * multiplier ** (n - 1))`` seconds: never less
    than half (so a dead server is not hammered), randomised so that clients
    that failed together do not retry together.
    """

    initial: float
    maximum: float
    multiplier: float = 2.0

    def ceiling(self, failures: int) -> float:
        exponent = max(0, failures - 1)
        # Compare exponents rather than computing huge powers after long outages.
        if exponent > 64:
            return self.maximum
        return min(self.maximum, self.initial * self.multiplier**exponent)

    def delay(self, failures: int, *, rng: random.Random) -> float:
        ceiling = self.ceiling(failures)
        return ceiling / 2 + rng.random() * ceiling / 2


# A server that went away is retried soon; a rejected login slowly, because
# repeated failed logins can get the account locked by the provider.
TRANSIENT_BACKOFF = BackoffPolicy(initial=2.0, maximum=600.0)
CREDENTIAL_BACKOFF = BackoffPolicy(initial=60.0, maximum=3600.0)


@dataclass
class Backoff:
    """Consecutive failures of one job and the earliest time to try again."""

    failures: int = 0
    not_before: datetime | None = None

    def failed(self, now: datetime, policy: BackoffPolicy, *, rng: random.Random) -> timedelta:
        self.failures += 1
        delay = timedelta(seconds=policy.delay(self.failures, rng=rng))
        self.not_before = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = None

    def ready(self, now: datetime) -> bool:
        return self.not_before is None or now >= self.not_before


# --------------------------------------------------------------------------- problems


class ProblemKind(enum.StrEnum):
    UNREACHABLE = "unreachable"  # the server is away: transient, retried
    CREDENTIALS = "credentials"  # the password or token is missing, rejected or expired
    ERROR = "error"  # an expected error that retrying may not fix
    BUG = "bug"  # an unexpected exception


def classify(exc: BaseException) -> ProblemKind:
    if isinstance(exc, errors.CredentialError):
        return ProblemKind.CREDENTIALS
    if isinstance(exc, errors.MailboxUnavailable | errors.SendUnavailable):
        return ProblemKind.UNREACHABLE
    if isinstance(exc, errors.MailfollowError):
        return ProblemKind.ERROR
    return ProblemKind.BUG


_SERVER_OF_JOB = {POLL_JOB: "IMAP", SEND_JOB: "SMTP", DIGEST_JOB: "SMTP (daily digest)"}
_WHAT_OF_JOB = {
    POLL_JOB: "checking mail",
    SEND_JOB: "sending approved follow-ups",
    DIGEST_JOB: "the daily digest",
    HOUSEKEEPING_JOB: "database housekeeping",
    RELOAD_JOB: "reloading the configuration",
    STATUS_JOB: "saving the daemon status",
}


@dataclass(frozen=True)
class Problem:
    """What currently goes wrong with one job."""

    job: str
    kind: ProblemKind
    message: str
    since: datetime  # the first failure of this run of failures
    failures: int = 1
    error_type: str = ""

    @property
    def loud(self) -> bool:
        """Whether the user has to act (as opposed to waiting for a server to come back)."""
        return self.kind is not ProblemKind.UNREACHABLE

    def headline(self) -> str:
        """One line for `status`, the digest and sd_notify."""
        server = _SERVER_OF_JOB.get(self.job, self.job)
        what = _WHAT_OF_JOB.get(self.job, self.job)
        if self.kind is ProblemKind.UNREACHABLE:
            return f"{server} unreachable: {self.message}"
        if self.kind is ProblemKind.CREDENTIALS:
            return (
                f"{server} authentication failed: {self.message} (fix the password or token: "
                "`mailfollow login`, or [account.password] in the configuration)"
            )
        if self.kind is ProblemKind.BUG:
            return f"{what} failed unexpectedly: {self.message}"
        return f"{what} failed: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "kind": self.kind.value,
            "message": self.message,
            "since": _iso(self.since),
            "failures": self.failures,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        return cls(
            job=str(data["job"]),
            kind=ProblemKind(data["kind"]),
            message=str(data["message"]),
            since=datetime.fromisoformat(str(data["since"])),
            failures=int(data.get("failures", 1)),
        )


class Change(enum.StrEnum):
    """How one job's health moved with its latest run; decides what gets logged."""

    STILL_OK = "still_ok"  # nothing to say
    FAILED = "failed"  # it was fine (or failed differently): log the new problem
    STILL_FAILING = "still_failing"  # the same problem again: DEBUG only
    RECOVERED = "recovered"  # it works again: say so once


@dataclass(frozen=True)
class Outcome:
    change: Change
    problem: Problem | None  # the current one (FAILED, STILL_FAILING)
    previous: Problem | None  # the one that cleared (RECOVERED) or was replaced (FAILED)


class ProblemTracker:
    """The current problem of every job; thread-safe (IDLE and jobs report to it)."""

    def __init__(self, problems: Sequence[Problem] = ()) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, Problem] = {p.job: p for p in problems}

    def failed(self, job: str, exc: BaseException, *, now: datetime) -> Outcome:
        kind = classify(exc)
        message = _one_line(str(exc)) or type(exc).__name__
        with self._lock:
            previous = self._problems.get(job)
            # The same kind and exception class is the same state: a server
            # that stays down may word its errors differently each time.
            same = (
                previous is not None
                and previous.kind is kind
                and previous.error_type == type(exc).__name__
            )
            problem = Problem(
                job=job,
                kind=kind,
                message=message,
                since=previous.since if previous is not None else now,
                failures=(previous.failures + 1) if previous is not None else 1,
                error_type=type(exc).__name__,
            )
            self._problems[job] = problem
        return Outcome(Change.STILL_FAILING if same else Change.FAILED, problem, previous)

    def succeeded(self, job: str) -> Outcome:
        with self._lock:
            previous = self._problems.pop(job, None)
        if previous is None:
            return Outcome(Change.STILL_OK, None, None)
        return Outcome(Change.RECOVERED, None, previous)

    def current(self) -> list[Problem]:
        """Current problems, the ones needing the user first, then oldest first."""
        with self._lock:
            problems = list(self._problems.values())
        return sorted(problems, key=lambda p: (not p.loud, p.since, p.job))

    def get(self, job: str) -> Problem | None:
        with self._lock:
            return self._problems.get(job)


def log_outcome(
    outcome: Outcome,
    *,
    exc: BaseException | None = None,
    retry_in: timedelta | None = None,
    log: logging.Logger = logger,
) -> None:
    """Log a job's health change: once when it starts failing, once when it recovers."""
    if outcome.change is Change.STILL_OK:
        return
    if outcome.change is Change.RECOVERED:
        if outcome.previous is not None:
            log.info("%s", _recovery_line(outcome.previous))
        return
    problem = outcome.problem
    if problem is None:
        return
    retry = f"; next attempt in {_short_duration(retry_in)}" if retry_in is not None else ""
    if outcome.change is Change.STILL_FAILING:
        log.debug("%s (failure %d in a row)%s", problem.headline(), problem.failures, retry)
        return
    if problem.kind is ProblemKind.UNREACHABLE:
        log.warning("%s%s", problem.headline(), retry)
    elif problem.kind is ProblemKind.BUG:
        log.error("%s%s; this is a bug, please report it", problem.headline(), retry, exc_info=exc)
    else:
        log.error("%s%s", problem.headline(), retry)


def _recovery_line(previous: Problem) -> str:
    server = _SERVER_OF_JOB.get(previous.job, previous.job)
    what = _WHAT_OF_JOB.get(previous.job, previous.job)
    after = f"after {previous.failures} failed attempt{'s' if previous.failures != 1 else ''}"
    if previous.kind is ProblemKind.UNREACHABLE:
        return f"{server} reachable again ({after})"
    if previous.kind is ProblemKind.CREDENTIALS:
        return f"{server} authentication works again ({after})"
    return f"{what} works again ({after})"


# --------------------------------------------------------------------------- status in the store

META_PID = "daemon.pid"
META_STARTED_AT = "daemon.started_at"
META_STOPPED_AT = "daemon.stopped_at"
META_LAST_POLL_AT = "daemon.last_poll_at"
META_LAST_POLL_RESULT = "daemon.last_poll_result"
META_NEXT_POLL_AT = "daemon.next_poll_at"
META_LAST_ERROR = "daemon.last_error"
META_LAST_ERROR_SINCE = "daemon.last_error_since"
META_PROBLEMS = "daemon.problems"
META_CONVERSATIONS = "daemon.conversations"
META_PENDING_DRAFTS = "daemon.pending_drafts"
META_LAST_DIGEST_AT = "daemon.last_digest_at"


@dataclass(frozen=True)
class DaemonStatus:
    """The daemon's facts as last saved in the store (`mailfollow status` reads them)."""

    pid: int | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_poll_result: str | None = None
    next_poll_at: datetime | None = None
    last_error: str | None = None
    last_error_since: datetime | None = None
    problems: tuple[Problem, ...] = ()
    conversations: Mapping[str, int] = field(default_factory=dict)
    pending_drafts: int | None = None
    last_digest_at: datetime | None = None


def read_status(store: Store) -> DaemonStatus:
    """The saved daemon facts; unreadable values are treated as missing."""
    return DaemonStatus(
        pid=_opt_int(store.get_meta(META_PID)),
        started_at=_opt_datetime(store.get_meta(META_STARTED_AT)),
        stopped_at=_opt_datetime(store.get_meta(META_STOPPED_AT)),
        last_poll_at=_opt_datetime(store.get_meta(META_LAST_POLL_AT)),
        last_poll_result=store.get_meta(META_LAST_POLL_RESULT),
        next_poll_at=_opt_datetime(store.get_meta(META_NEXT_POLL_AT)),
        last_error=store.get_meta(META_LAST_ERROR),
        last_error_since=_opt_datetime(store.get_meta(META_LAST_ERROR_SINCE)),
        problems=tuple(_problems_from_json(store.get_meta(META_PROBLEMS))),
        conversations=_counts_from_json(store.get_meta(META_CONVERSATIONS)),
        pending_drafts=_opt_int(store.get_meta(META_PENDING_DRAFTS)),
        last_digest_at=_opt_datetime(store.get_meta(META_LAST_DIGEST_AT)),
    )


def save_meta(store: Store, values: Mapping[str, str | None]) -> None:
    """Write several ``daemon.*`` facts in one transaction (None deletes a key)."""
    with store.transaction():
        for key, value in values.items():
            store.set_meta(key, value)


def problems_meta(problems: Sequence[Problem]) -> dict[str, str | None]:
    """The meta values describing the current problems (the loudest is "last_error")."""
    if not problems:
        return {META_PROBLEMS: None, META_LAST_ERROR: None, META_LAST_ERROR_SINCE: None}
    first = problems[0]
    return {
        META_PROBLEMS: json.dumps([p.to_json() for p in problems]),
        META_LAST_ERROR: first.headline(),
        META_LAST_ERROR_SINCE: _iso(first.since),
    }


def count_conversations(store: Store) -> dict[str, int]:
    """Conversations by state, from the last saved policy judgement."""
    return dict(sorted(Counter(row.state.value for row in store.snapshot()).items()))


def count_pending_drafts(store: Store) -> int:
    return len(store.list_drafts([QueueState.PENDING]))


def _problems_from_json(text: str | None) -> list[Problem]:
    if not text:
        return []
    try:
        return [Problem.from_json(item) for item in json.loads(text)]
    except (ValueError, KeyError, TypeError):
        return []


def _counts_from_json(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    try:
        data = json.loads(text)
        return {str(k): int(v) for k, v in data.items()}
    except (ValueError, AttributeError, TypeError):
        return {}


# --------------------------------------------------------------------------- jobs


class PollFunction(Protocol):
    def __call__(self, config: Config, /, *, now: datetime) -> PollReport: ...


class SendFunction(Protocol):
    def __call__(self, config: Config, /, *, now: datetime) -> int: ...


class DigestFunction(Protocol):
    def __call__(
        self, config: Config, /, *, now: datetime, problems: Sequence[Problem]
    ) -> bool: ...


class HousekeepingFunction(Protocol):
    def __call__(self, config: Config, /, *, now: datetime) -> None: ...


@dataclass(frozen=True)
class DaemonJobs:
    """What the daemon's jobs call; the pipeline by default, fakes in tests."""

    poll: PollFunction
    send: SendFunction
    digest: DigestFunction
    housekeeping: HousekeepingFunction


SINGLE_ATTEMPT = RetryPolicy(attempts=1)


def pipeline_jobs() -> DaemonJobs:
    """The real work: the pipeline, the digest and the store's upkeep."""
    from mailfollow import digest, pipeline

    def poll_once(config: Config, *, now: datetime) -> pipeline.PollReport:
        # One attempt per poll: the daemon's own backoff spaces the retries and
        # logs an outage once, not once per attempt.
        return pipeline.poll_once(config, now=now, retry=SINGLE_ATTEMPT)

    return DaemonJobs(
        poll=poll_once,
        send=send_approved,
        digest=digest.run_digest,
        housekeeping=store_housekeeping,
    )


def send_approved(config: Config, *, now: datetime) -> int:
    """``pipeline.send_approved``, counted (its report's ``int()`` is the number sent)."""
    from mailfollow import pipeline

    return int(pipeline.send_approved(config, now=now))


def store_housekeeping(config: Config, *, now: datetime) -> None:
    """Daily upkeep of the database.

    Closing the last connection already checkpoints SQLite's WAL, and every
    job closes its own; this adds what the store offers for upkeep (a
    ``maintain()`` method, when it has one).
    """
    from mailfollow.adapters.store import Store

    with Store.open(config.store_path()) as store:
        maintain = getattr(store, "maintain", None)
        if callable(maintain):
            maintain()
    logger.debug("housekeeping done")


# --------------------------------------------------------------------------- reload


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of re-reading the configuration file."""

    config: Config  # the configuration to use from now on (the old one if rejected)
    applied: bool
    problems: tuple[str, ...] = ()  # why it was rejected
    changes: tuple[str, ...] = ()  # "key = value" lines that differ


def reload_config(
    current: Config,
    *,
    load: Callable[[Path], Config] = load_config,
    check_credentials: Callable[[Config], object] | None = None,
) -> ReloadResult:
    """Read ``current.path`` again; keep ``current`` when the new file is unusable.

    Unusable: invalid, its credentials unavailable, or a different state
    directory (the lock and the database stay where the daemon started).
    """
    if check_credentials is None:
        from mailfollow.credentials import get_credentials

        check_credentials = get_credentials
    try:
        new = load(Path(current.path))
    except errors.ConfigError as exc:
        return ReloadResult(current, applied=False, problems=tuple(exc.problems))
    if new.state_dir != current.state_dir:
        return ReloadResult(
            current,
            applied=False,
            problems=(
                f"state.dir: changed from {current.state_dir} to {new.state_dir}, which takes "
                "a restart of the daemon (systemctl --user restart mailfollow)",
            ),
        )
    try:
        check_credentials(new)
    except errors.CredentialError as exc:
        return ReloadResult(current, applied=False, problems=(f"account.password: {exc}",))
    old_lines = set(current.describe())
    changes = tuple(line for line in new.describe() if line not in old_lines)
    return ReloadResult(new, applied=True, changes=changes)


# --------------------------------------------------------------------------- start-up checks


def check_startup(
    config: Config,
    *,
    credentials: Callable[[Config], Credentials] | None = None,
    login_check: bool = True,
) -> None:
    """Fail fast on what retrying cannot fix, before anything is scheduled.

    Raises CredentialError (no password, or the server rejects it),
    StoreError (database unusable), ConfigError. An unreachable server is
    only a warning: the daemon waits for it.
    """
    from mailfollow.adapters.store import Store

    if credentials is None:
        from mailfollow.credentials import get_credentials

        credentials = get_credentials
    found = credentials(config)
    with Store.open(config.store_path()):
        pass
    if login_check:
        _check_imap_login(config, found)


def _check_imap_login(config: Config, found: Credentials) -> None:
    from mailfollow.adapters.mailbox import MailboxSession, imap_settings_from_config

    settings = dataclasses.replace(imap_settings_from_config(config), timeout=STARTUP_LOGIN_TIMEOUT)
    session = MailboxSession(settings, lambda: found)
    try:
        session.open()
    except errors.MailboxUnavailable as exc:
        logger.warning("IMAP unreachable at start-up (%s); will keep trying", exc)
        return
    except (errors.CredentialError, errors.ConfigError):
        raise
    except errors.MailfollowError as exc:
        logger.error("IMAP check at start-up failed: %s; will keep trying", exc)
        return
    finally:
        session.close()
    logger.debug("IMAP at start-up: %s accepts the credentials", settings)


# --------------------------------------------------------------------------- the daemon


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DaemonOptions:
    """Knobs the tests and the benchmark turn; the defaults suit real use."""

    stop_grace: float = STOP_GRACE
    max_job_runtime: float = MAX_JOB_RUNTIME
    transient_backoff: BackoffPolicy = TRANSIENT_BACKOFF
    credential_backoff: BackoffPolicy = CREDENTIAL_BACKOFF
    idle_renew_after: float = 10 * 60.0  # re-issue IDLE well before the 29-minute limit
    idle_check_every: float = 1.0  # how soon the IDLE thread notices a stop request


class Daemon:
    """The scheduler, its jobs and everything around them (signals, watchdog, IDLE).

    ``run()`` blocks until a stop is requested and returns True when every
    job finished in time (False: one was still running and the caller should
    exit without waiting for it).
    """

    def __init__(
        self,
        config: Config,
        *,
        jobs: DaemonJobs | None = None,
        notifier: Notifier | None = None,
        options: DaemonOptions | None = None,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
        reload: Callable[[Config], ReloadResult] = reload_config,
        idle_factory: Callable[[Daemon], IdleWatcher | None] | None = None,
    ) -> None:
        self.config = config
        self.jobs = jobs or pipeline_jobs()
        self.notifier = notifier or Notifier.from_environment(environ)
        self.options = options or DaemonOptions()
        self.tracker = ProblemTracker()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._reload = reload
        self._idle_factory = idle_factory if idle_factory is not None else _default_idle_watcher
        self._watchdog_interval = watchdog_ping_interval(environ)
        self._backoffs = {POLL_JOB: Backoff(), SEND_JOB: Backoff()}
        self._requests: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._poll_requested = threading.Event()
        self._worker_idle = threading.Event()
        self._worker_idle.set()
        self._job_lock = threading.Lock()
        self._running_job: tuple[str, float] | None = None
        self._heartbeat = time.monotonic()
        self._scheduler: BlockingScheduler | None = None
        self._idle: IdleWatcher | None = None
        self._pinger: WatchdogPinger | None = None
        self._started_at = clock()
        self._pending_drafts: int | None = None
        self._last_poll_at: datetime | None = None
        self._counts_stale = True

    # -- public ----------------------------------------------------------

    def run(self) -> bool:
        """Schedule the jobs and block until stopped; True when nothing was cut short."""
        scheduler = self._build_scheduler()
        self._scheduler = scheduler
        self._schedule_jobs(scheduler, self.config)
        self._install_signal_handlers()
        self._save_start()
        self._start_watchdog()
        self._start_idle()
        self.notifier.ready(status="started; first poll now")
        logger.info(
            "mailfollow daemon started (pid %d): checking %s every %s%s",
            os.getpid(),
            self.config.account.imap,
            _short_duration(self.config.daemon.poll_interval),
            ", and on IDLE notices" if self._idle is not None else "",
        )
        scheduler.start()  # blocks until _begin_stop() shuts it down
        return self._finish()

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the daemon to stop (safe from signal handlers and other threads)."""
        self._requests.put(f"stop:{reason}")

    def request_reload(self) -> None:
        """Ask for a configuration reload (safe from signal handlers and other threads)."""
        self._requests.put("reload")

    def request_poll(self) -> None:
        """Poll as soon as possible (IDLE saw new mail); a poll under way polls again."""
        self._poll_requested.set()
        if self._stopping.is_set() or self._scheduler is None:
            return
        # A one-off job queued on the same worker: it runs after whatever runs
        # now, and does nothing if a poll under way has already gone round again.
        with contextlib.suppress(SchedulerNotRunningError):
            self._scheduler.add_job(
                self._run_requested_poll,
                id=POLL_NOW_JOB,
                name=POLL_NOW_JOB,
                replace_existing=True,
                misfire_grace_time=None,
            )

    def healthy(self) -> bool:
        """For the systemd watchdog: the scheduler dispatches, and no job hangs."""
        return self.health_problem() is None

    def health_problem(self) -> str | None:
        if self._stopping.is_set():
            return None  # the scheduler is shut down on purpose; the exit is bounded
        bound = max(3 * (self._watchdog_interval or 1.0), 2.0)
        silent = time.monotonic() - self._heartbeat
        if silent > bound:
            return f"the scheduler has not run its heartbeat for {silent:.0f} s"
        with self._job_lock:
            running = self._running_job
        if running is not None:
            busy = time.monotonic() - running[1]
            if busy > self.options.max_job_runtime:
                return f"the {running[0]} job has been running for {busy:.0f} s"
        return None

    # -- scheduling ------------------------------------------------------

    def _build_scheduler(self) -> BlockingScheduler:
        # BlockingScheduler, one worker thread, max_instances=1: polling,
        # sending and the digest never overlap, so SQLite has one writer
        # (STYLE.md 2.2). The heartbeat has its own thread and touches no store.
        scheduler = BlockingScheduler(
            executors={
                "default": ThreadPoolExecutor(1, {"thread_name_prefix": "mailfollow-job"}),
                "heartbeat": ThreadPoolExecutor(1, {"thread_name_prefix": "mailfollow-beat"}),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        scheduler.add_listener(self._on_scheduler_started, EVENT_SCHEDULER_STARTED)
        return scheduler

    def _schedule_jobs(self, scheduler: BlockingScheduler, config: Config) -> None:
        now = datetime.now(UTC)
        scheduler.add_job(
            self._run_poll_job,
            _poll_trigger(config),
            id=POLL_JOB,
            name=POLL_JOB,
            next_run_time=now,
            misfire_grace_time=max(1, int(config.daemon.poll_interval.total_seconds())),
        )
        self._schedule_digest(scheduler, config)
        scheduler.add_job(
            self._run_housekeeping_job,
            CronTrigger(
                hour=HOUSEKEEPING_TIME[0], minute=HOUSEKEEPING_TIME[1], timezone=_zone(config)
            ),
            id=HOUSEKEEPING_JOB,
            name=HOUSEKEEPING_JOB,
            misfire_grace_time=int(HOUSEKEEPING_MISFIRE_GRACE.total_seconds()),
        )
        if self._watchdog_interval is not None:
            scheduler.add_job(
                self._beat,
                IntervalTrigger(seconds=max(0.25, self._watchdog_interval / 2)),
                id=HEARTBEAT_JOB,
                name=HEARTBEAT_JOB,
                executor="heartbeat",
                next_run_time=now,
                misfire_grace_time=None,
            )

    def _schedule_digest(self, scheduler: BlockingScheduler, config: Config) -> None:
        with contextlib.suppress(JobLookupError):
            scheduler.remove_job(DIGEST_JOB)
        if config.daemon.digest is Digest.NONE:
            return
        at = config.daemon.digest_time
        scheduler.add_job(
            self._run_digest_job,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=_zone(config)),
            id=DIGEST_JOB,
            name=DIGEST_JOB,
            misfire_grace_time=int(DIGEST_MISFIRE_GRACE.total_seconds()),
        )

    def _on_scheduler_started(self, event: SchedulerEvent) -> None:
        # Requests (signals) wait in the queue until the scheduler can act on them.
        threading.Thread(
            target=self._serve_requests, name="mailfollow-control", daemon=True
        ).start()

    def _beat(self) -> None:
        self._heartbeat = time.monotonic()

    # -- requests: stop and reload ---------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # tests drive a daemon from a thread; they call request_stop()

        def on_stop(signum: int, frame: FrameType | None) -> None:
            self._requests.put(f"stop:{signal.Signals(signum).name}")

        def on_reload(signum: int, frame: FrameType | None) -> None:
            self._requests.put("reload")

        # The handlers only enqueue (SimpleQueue.put is reentrant, so safe in a
        # signal handler); the control thread drives the scheduler.
        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    def _serve_requests(self) -> None:
        while True:
            request = self._requests.get()
            if request.startswith("stop:"):
                self._begin_stop(request.removeprefix("stop:"))
                return
            if request == "reload":
                self._queue_reload()

    def _begin_stop(self, reason: str) -> None:
        self._stopping.set()
        logger.info("stopping (%s)", reason)
        self.notifier.stopping(status=f"stopping ({reason})")
        if self._idle is not None:
            self._idle.request_stop()
        scheduler = self._scheduler
        if scheduler is not None:
            # wait=False: APScheduler's wait has no time limit; _finish()
            # waits for the running job itself, at most stop_grace seconds.
            with contextlib.suppress(SchedulerNotRunningError):
                scheduler.shutdown(wait=False)

    def _queue_reload(self) -> None:
        if self._stopping.is_set() or self._scheduler is None:
            return
        logger.info("SIGHUP: reloading the configuration from %s", self.config.path)
        self.notifier.reloading(status="reloading the configuration")
        # On the job thread, so that a reload never lands in the middle of a poll.
        with contextlib.suppress(SchedulerNotRunningError):
            self._scheduler.add_job(
                self._run_reload_job, id=RELOAD_JOB, name=RELOAD_JOB, replace_existing=True
            )

    def _finish(self) -> bool:
        self._stopping.set()
        finished = self._worker_idle.wait(self.options.stop_grace)
        if self._pinger is not None:
            self._pinger.stop()
        if not finished:
            with self._job_lock:
                job = self._running_job[0] if self._running_job else "running"
            logger.warning(
                "the %s job did not finish within %.0f s; exiting without it: what it had not "
                "committed is rolled back, and a follow-up caught mid-send is never sent twice",
                job,
                self.options.stop_grace,
            )
            # Best effort: the job may hold the database's write lock.
            self._save_stop(busy_timeout=0.5)
            return False
        if self._idle is not None:
            self._idle.stop(timeout=2.0)
        self._save_stop()
        logger.info("stopped")
        return True

    # -- job wrappers ----------------------------------------------------

    @contextlib.contextmanager
    def _job(self, name: str) -> Iterator[bool]:
        """Mark the worker busy; yields False when the daemon is stopping (skip the work)."""
        if self._stopping.is_set():
            yield False
            return
        with self._job_lock:
            self._running_job = (name, time.monotonic())
            self._worker_idle.clear()
        try:
            yield True
        finally:
            with self._job_lock:
                self._running_job = None
                self._worker_idle.set()

    def _run_poll_job(self) -> None:
        with self._job(POLL_JOB) as go:
            while go:
                forced = self._poll_requested.is_set()
                self._poll_requested.clear()
                self.poll_and_send(force=forced)
                if not self._poll_requested.is_set() or self._stopping.is_set():
                    break
                logger.debug("new mail arrived during the poll; polling again")

    def _run_requested_poll(self) -> None:
        if self._poll_requested.is_set():
            self._run_poll_job()

    def _run_digest_job(self) -> None:
        with self._job(DIGEST_JOB) as go:
            if go:
                self.send_digest()

    def _run_housekeeping_job(self) -> None:
        with self._job(HOUSEKEEPING_JOB) as go:
            if go:
                self.housekeeping()

    def _run_reload_job(self) -> None:
        with self._job(RELOAD_JOB) as go:
            if go:
                self.apply_reload(self._reload(self.config))

    # -- the work (public so tests can drive one step at a time) ---------

    def poll_and_send(self, *, force: bool = False) -> PollReport | None:
        """One poll, then the approved drafts; failures are recorded, never raised."""
        config = self.config
        now = self._clock()
        backoff = self._backoffs[POLL_JOB]
        if not force and not backoff.ready(now):
            logger.debug("poll skipped: backing off until %s", backoff.not_before)
            return None
        try:
            report = self.jobs.poll(config, now=now)
        except Exception as exc:  # noqa: BLE001 (every failure is reported; the daemon goes on)
            self._failed(POLL_JOB, exc, now, config=config)
            problem = self.tracker.get(POLL_JOB)
            result = f"failed: {problem.headline() if problem else exc}"
            self._last_poll_at = now
            self._save_poll_status(config, now, result=result)
            return None
        self._succeeded(POLL_JOB)
        self._last_poll_at = now
        self._log_report(report)
        if _report_changed_anything(report):
            self._counts_stale = True
        sent = self._send(config, now)
        if sent:
            self._counts_stale = True
        self._save_poll_status(config, now, result=describe_report(report, sent=sent))
        return report

    def _send(self, config: Config, now: datetime) -> int:
        if not self._backoffs[SEND_JOB].ready(now):
            return 0
        try:
            sent = self.jobs.send(config, now=now)
        except Exception as exc:  # noqa: BLE001 (as above)
            self._failed(SEND_JOB, exc, now, config=config)
            return 0
        self._succeeded(SEND_JOB)
        return sent

    def send_digest(self) -> bool:
        """Build and deliver the daily digest; True when there was something to say."""
        now = self._clock()
        try:
            said = self.jobs.digest(self.config, now=now, problems=self.tracker.current())
        except Exception as exc:  # noqa: BLE001 (as above)
            self._failed(DIGEST_JOB, exc, now, config=self.config, backoff=False)
            return False
        self._succeeded(DIGEST_JOB)
        self._save_meta({META_LAST_DIGEST_AT: _iso(now)})
        return said

    def housekeeping(self) -> None:
        now = self._clock()
        try:
            self.jobs.housekeeping(self.config, now=now)
        except Exception as exc:  # noqa: BLE001 (as above)
            self._failed(HOUSEKEEPING_JOB, exc, now, config=self.config, backoff=False)
            return
        self._succeeded(HOUSEKEEPING_JOB)

    def apply_reload(self, result: ReloadResult) -> None:
        """Use the reloaded configuration for the next jobs, or report why not."""
        if not result.applied:
            logger.error(
                "configuration reload failed; keeping the running configuration. Problems in "
                "%s:\n%s",
                self.config.path,
                "\n".join(f"  {problem}" for problem in result.problems),
            )
            self.notifier.ready(status="reload failed; running with the previous configuration")
            return
        old, new = self.config, result.config
        self.config = new
        if result.changes:
            logger.info(
                "configuration reloaded: %d change(s):\n%s",
                len(result.changes),
                "\n".join(f"  {line}" for line in result.changes),
            )
        else:
            logger.info("configuration reloaded: nothing changed")
        self._apply_schedule_changes(old, new)
        self.notifier.ready(status="configuration reloaded")

    def _apply_schedule_changes(self, old: Config, new: Config) -> None:
        scheduler = self._scheduler
        if scheduler is None or self._stopping.is_set():
            return
        with contextlib.suppress(SchedulerNotRunningError, JobLookupError):
            if old.daemon.poll_interval != new.daemon.poll_interval:
                scheduler.reschedule_job(POLL_JOB, trigger=_poll_trigger(new))
                scheduler.modify_job(
                    POLL_JOB,
                    misfire_grace_time=max(1, int(new.daemon.poll_interval.total_seconds())),
                )
            if (old.daemon.digest, old.daemon.digest_time, _zone(old)) != (
                new.daemon.digest,
                new.daemon.digest_time,
                _zone(new),
            ):
                self._schedule_digest(scheduler, new)
            if _zone(old) != _zone(new):
                scheduler.reschedule_job(
                    HOUSEKEEPING_JOB,
                    trigger=CronTrigger(
                        hour=HOUSEKEEPING_TIME[0], minute=HOUSEKEEPING_TIME[1], timezone=_zone(new)
                    ),
                )
        if (old.account, old.daemon.idle) != (new.account, new.daemon.idle):
            if self._idle is not None:
                self._idle.stop(timeout=2.0)
                self._idle = None
            self._start_idle()

    # -- failures ----------------------------------------------------------

    def _failed(
        self, job: str, exc: Exception, now: datetime, *, config: Config, backoff: bool = True
    ) -> None:
        outcome = self.tracker.failed(job, exc, now=now)
        retry_in: timedelta | None = None
        if backoff and job in self._backoffs:
            policy = (
                self.options.credential_backoff
                if classify(exc) is ProblemKind.CREDENTIALS
                else self.options.transient_backoff
            )
            delay = self._backoffs[job].failed(now, policy, rng=self._rng)
            retry_in = max(delay, config.daemon.poll_interval)
        log_outcome(outcome, exc=exc, retry_in=retry_in)

    def _succeeded(self, job: str) -> None:
        if job in self._backoffs:
            self._backoffs[job].succeeded()
        log_outcome(self.tracker.succeeded(job))

    def _log_report(self, report: PollReport) -> None:
        if _report_changed_anything(report):
            logger.info("poll: %s", describe_report(report).removeprefix("ok: "))
        else:
            logger.debug("poll: nothing new")

    # -- status ------------------------------------------------------------

    def _save_start(self) -> None:
        self._save_meta(
            {
                META_PID: str(os.getpid()),
                META_STARTED_AT: _iso(self._started_at),
                META_STOPPED_AT: None,
                META_NEXT_POLL_AT: _iso(self._started_at),
                **problems_meta([]),
            }
        )

    def _save_stop(self, *, busy_timeout: float | None = None) -> None:
        self._save_meta(
            {META_PID: None, META_NEXT_POLL_AT: None, META_STOPPED_AT: _iso(self._clock())},
            busy_timeout=busy_timeout,
        )

    def _save_poll_status(self, config: Config, now: datetime, *, result: str | None) -> None:
        from mailfollow.adapters.store import Store

        next_poll = self._next_poll_at()
        values: dict[str, str | None] = {
            META_NEXT_POLL_AT: _iso(next_poll) if next_poll else None,
            **problems_meta(self.tracker.current()),
        }
        if result is not None:
            values[META_LAST_POLL_AT] = _iso(now)
            values[META_LAST_POLL_RESULT] = result
        try:
            with Store.open(config.store_path()) as store:
                self._pending_drafts = count_pending_drafts(store)
                values[META_PENDING_DRAFTS] = str(self._pending_drafts)
                if self._counts_stale:
                    values[META_CONVERSATIONS] = json.dumps(count_conversations(store))
                    self._counts_stale = False
                save_meta(store, values)
        except Exception as exc:  # noqa: BLE001 (status is best effort; the poll is what matters)
            log_outcome(self.tracker.failed(STATUS_JOB, exc, now=now), exc=exc)
        else:
            log_outcome(self.tracker.succeeded(STATUS_JOB))
        self.notifier.status(self.status_line())

    def _save_meta(
        self, values: Mapping[str, str | None], *, busy_timeout: float | None = None
    ) -> None:
        from mailfollow.adapters.store import DEFAULT_BUSY_TIMEOUT, Store

        timeout = DEFAULT_BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        try:
            with Store.open(self.config.store_path(), busy_timeout=timeout) as store:
                save_meta(store, values)
        except errors.MailfollowError as exc:
            logger.warning("cannot save the daemon status: %s", exc)

    def _next_poll_at(self) -> datetime | None:
        scheduler = self._scheduler
        job = scheduler.get_job(POLL_JOB) if scheduler is not None else None
        scheduled: datetime | None = getattr(job, "next_run_time", None)
        not_before = self._backoffs[POLL_JOB].not_before
        if scheduled is None:
            return not_before
        if not_before is not None and not_before > scheduled:
            # The first tick at or after the backoff deadline.
            interval = self.config.daemon.poll_interval
            ticks = -(-(not_before - scheduled) // interval)
            return scheduled + ticks * interval
        return scheduled

    def status_line(self) -> str:
        """The one-line STATUS= for systemctl: last poll, drafts waiting, problems."""
        parts = []
        if self._last_poll_at is not None:
            local = self._last_poll_at.astimezone(_zone(self.config))
            parts.append(f"last poll {local:%H:%M}")
        else:
            parts.append("no poll yet")
        if self._pending_drafts is not None:
            n = self._pending_drafts
            parts.append(f"{n} draft{'s' if n != 1 else ''} pending")
        problems = self.tracker.current()
        if problems:
            parts.append(problems[0].headline())
        return ", ".join(parts)

    # -- helpers threads ---------------------------------------------------

    def _start_watchdog(self) -> None:
        if self._watchdog_interval is None or not self.notifier.enabled:
            return
        self._pinger = WatchdogPinger(
            self.notifier,
            interval=self._watchdog_interval,
            healthy=self.healthy,
            describe_problem=lambda: self.health_problem() or "unhealthy",
        )
        self._pinger.start()

    def _start_idle(self) -> None:
        if not self.config.daemon.idle or self._stopping.is_set():
            return
        watcher = self._idle_factory(self)
        if watcher is not None:
            self._idle = watcher
            watcher.start()


def _default_idle_watcher(daemon: Daemon) -> IdleWatcher | None:
    from mailfollow.idle import IdleWatcher, imap_idle_connector

    options = daemon.options
    return IdleWatcher(
        connect=imap_idle_connector(lambda: daemon.config),
        on_activity=daemon.request_poll,
        retry_delay=lambda failures: options.transient_backoff.delay(
            failures,
            rng=random.Random(),  # noqa: S311 (jitter, not security)
        ),
        renew_after=options.idle_renew_after,
        check_every=options.idle_check_every,
    )


# --------------------------------------------------------------------------- entry point


def run_daemon(
    config: Config,
    *,
    jobs: DaemonJobs | None = None,
    verbose: int = 0,
    environ: Mapping[str, str] | None = None,
    exit_now: Callable[[int], object] = os._exit,
) -> int:
    """``mailfollow run``: lock, check, serve until SIGTERM; returns the exit status.

    Raises DaemonAlreadyRunningError, CredentialError, ConfigError or
    StoreError before anything is scheduled (the CLI turns them into one line
    and exit status 1 or 2).
    """
    # APScheduler warns about every skipped or late run; the daemon's own log
    # lines say what matters, once.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose >= 3 else logging.ERROR)
    with DaemonLock.acquire(config.state_dir):
        check_startup(config)
        daemon = Daemon(config, jobs=jobs, environ=environ)
        finished = daemon.run()
    if not finished:
        # A job is still running on a worker thread, which the interpreter
        # would wait for at exit: leave now instead (the promise is 10 s).
        logging.shutdown()
        exit_now(0)
    return 0


# --------------------------------------------------------------------------- small helpers


def describe_report(report: PollReport, *, sent: int = 0) -> str:
    """A short summary of a poll for `status`: "ok: 3 new messages, 1 follow-up drafted"."""
    parts = []
    if report.new_messages:
        parts.append(_plural(report.new_messages, "new message"))
    if report.sync.changed:
        parts.append(_plural(report.sync.changed, "flag change"))
    if report.sync.removed:
        parts.append(_plural(report.sync.removed, "removed message"))
    if report.drafted:
        parts.append(_plural(len(report.drafted), "follow-up") + " drafted")
    if report.withdrawn:
        parts.append(_plural(len(report.withdrawn), "draft") + " withdrawn")
    if sent:
        parts.append(_plural(sent, "follow-up") + " sent")
    return "ok: " + (", ".join(parts) if parts else "nothing new")


def _report_changed_anything(report: PollReport) -> bool:
    return bool(
        report.new_messages
        or report.sync.changed
        or report.sync.removed
        or report.drafted
        or report.withdrawn
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _poll_trigger(config: Config) -> IntervalTrigger:
    return IntervalTrigger(seconds=config.daemon.poll_interval.total_seconds(), timezone=UTC)


def _zone(config: Config) -> ZoneInfo:
    return ZoneInfo(config.policy_settings().timezone)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _opt_datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _opt_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _short_duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    from mailfollow.config import format_duration

    return format_duration(value)
