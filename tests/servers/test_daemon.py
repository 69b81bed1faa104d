"""`mailfollow run` as a real process against the test Dovecot.

Each test starts ``python -m mailfollow run`` with its own state directory, a
1-second poll, a password_command, a NOTIFY_SOCKET the test owns and
WATCHDOG_USEC set, then checks what systemd would see (READY=1, watchdog
pings, STOPPING=1), what a user would see (the log, the store) and how it
takes signals, a second instance and a Dovecot restart.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from mailfollow.adapters.store import DraftRecord, Store
from mailfollow.config import load_config
from mailfollow.daemon import DaemonStatus, read_status
from mailfollow.model import QueueState
from tests.servers.dovecot import ImapAccount, append_message, connect

START_TIMEOUT = 30.0  # start-up includes a TLS login and, on CI, a cold interpreter
STOP_LIMIT = 10.0  # the promise: SIGTERM ends the daemon within 10 s
WATCHDOG_USEC = 2_000_000  # ping every second


def pipeline_ready() -> bool:
    """Whether pipeline.poll_once does real work (not the early stub)."""
    import inspect

    from mailfollow import pipeline

    return "NotImplementedError" not in inspect.getsource(pipeline.poll_once)


def pipeline_mirrors_drafts() -> bool:
    """Whether the pipeline puts its drafts into the IMAP Drafts folder yet."""
    import inspect

    from mailfollow import pipeline

    return "drafts_folder" in inspect.getsource(pipeline)


needs_pipeline = pytest.mark.skipif(not pipeline_ready(), reason="needs pipeline")
needs_drafts_mirror = pytest.mark.skipif(
    not pipeline_mirrors_drafts(),
    reason="needs pipeline: drafts are not appended to the IMAP Drafts folder yet",
)


# --------------------------------------------------------------------------- helpers


class NotifyListener:
    """The NOTIFY_SOCKET systemd would own: collects every datagram in a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.monotonic()
            with self._lock:
                self._lines.extend((now, line) for line in data.decode().split("\n"))

    def lines(self, prefix: str = "", *, since: float = 0.0) -> list[str]:
        with self._lock:
            return [line for at, line in self._lines if line.startswith(prefix) and at >= since]

    def wait_for(
        self, prefix: str, *, since: float = 0.0, count: int = 1, timeout: float
    ) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.lines(prefix, since=since)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"expected {count} x {prefix!r} within {timeout} s; got {self.lines()[-20:]}"
        )

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._sock.close()


class DaemonProcess:
    """One `mailfollow run` child process, its log file and its notifications."""

    def __init__(self, config: Path, directory: Path, *, name: str = "daemon") -> None:
        self.config = config
        self.log_path = directory / f"{name}.log"
        self.notify = NotifyListener(directory / f"{name}.notify")
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"}
        }
        env.update(
            MAILFOLLOW_CONFIG=str(config),
            NOTIFY_SOCKET=str(self.notify.path),
            WATCHDOG_USEC=str(WATCHDOG_USEC),
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mailfollow", "run"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=directory,
            )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, pattern: str, *, timeout: float, after: int = 0) -> str:
        """Wait until ``pattern`` (a regex) appears in the log after offset ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()[after:]
            match = re.search(pattern, text)
            if match:
                return match.group(0)
            if not self.running:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"{pattern!r} not in the daemon log within {timeout} s "
            f"(running: {self.running}):\n{self.log()[-4000:]}"
        )

    def wait_ready(self) -> None:
        try:
            self.notify.wait_for("READY=1", timeout=START_TIMEOUT)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- log ---\n{self.log()[-4000:]}") from None

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``sig`` and wait; (exit status, seconds it took)."""
        begun = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout=STOP_LIMIT + 20)
        return code, time.monotonic() - begun

    def close(self) -> None:
        if self.running:
            self.process.kill()
            self.process.wait(timeout=10)
        self.notify.close()


CONFIG = """
[account]
name = "Alex Doe"
address = "alex.doe@example.org"
username = "{username}"
[account.imap]
host = "127.0.0.1"
port = {port}
security = "tls"
ca_file = "{ca_file}"
[account.smtp]
host = "127.0.0.1"
port = 9
security = "none"
allow_insecure = true
[account.password]
password_command = ["printf", "%s", "{password}"]
[detection]
track_domains = ["acme.example"]
[daemon]
poll_interval = "1s"
idle = true
digest = "log"
[policy]
timezone = "UTC"
[state]
dir = "{state_dir}"
"""


def write_config(
    path: Path, account: ImapAccount, state_dir: Path, *, poll_interval: str = "1s"
) -> Path:
    text = CONFIG.format(
        username=account.username,
        port=account.tls_port,
        ca_file=account.ca_file,
        password=account.password,
        state_dir=state_dir,
    )
    path.write_text(
        text.replace('poll_interval = "1s"', f'poll_interval = "{poll_interval}"'),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config_path(tmp_path: Path, imap_account: ImapAccount) -> Path:
    return write_config(tmp_path / "config.toml", imap_account, tmp_path / "state")


@pytest.fixture
def start_daemon(tmp_path: Path, config_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(name: str = "daemon") -> DaemonProcess:
        daemon = DaemonProcess(config_path, tmp_path, name=name)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def saved_status(config_path: Path) -> DaemonStatus:
    with Store.open(load_config(config_path).store_path()) as store:
        return read_status(store)


# --------------------------------------------------------------------------- tests


def test_the_daemon_says_ready_then_pings_the_watchdog_and_reports_status(
    start_daemon: Callable[..., DaemonProcess],
) -> None:
    daemon = start_daemon()
    daemon.wait_ready()
    ready_at = time.monotonic()

    pings = daemon.notify.wait_for("WATCHDOG=1", since=ready_at, count=3, timeout=10)
    daemon.notify.wait_for("STATUS=last poll", timeout=10)

    assert len(pings) >= 3
    assert daemon.running
    assert "mailfollow daemon started" in daemon.log()


def test_sigterm_stops_it_within_ten_seconds_leaving_a_consistent_store(
    start_daemon: Callable[..., DaemonProcess], config_path: Path
) -> None:
    daemon = start_daemon()
    daemon.wait_ready()
    daemon.notify.wait_for("STATUS=last poll", timeout=15)

    code, seconds = daemon.stop(signal.SIGTERM)

    assert code == 0, daemon.log()[-3000:]
    assert seconds < STOP_LIMIT
    assert daemon.notify.lines("STOPPING=1")
    database = load_config(config_path).store_path()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    status = saved_status(config_path)
    assert status.pid is None
    assert status.stopped_at is not None
    assert status.last_poll_at is not None


def test_sigint_stops_it_too(start_daemon: Callable[..., DaemonProcess]) -> None:
    daemon = start_daemon()
    daemon.wait_ready()

    code, seconds = daemon.stop(signal.SIGINT)

    assert code == 0
    assert seconds < STOP_LIMIT
    assert "stopping (SIGINT)" in daemon.log()


def test_a_second_instance_on_the_same_state_directory_refuses_to_start(
    start_daemon: Callable[..., DaemonProcess], config_path: Path
) -> None:
    first = start_daemon()
    first.wait_ready()

    second = subprocess.run(
        [sys.executable, "-m", "mailfollow", "run"],
        env={**os.environ, "MAILFOLLOW_CONFIG": str(config_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert second.returncode == 1
    assert f"another mailfollow daemon (pid {first.process.pid}) is already running" in (
        second.stderr
    )
    assert first.running


def test_sighup_with_a_broken_config_keeps_the_running_one(
    start_daemon: Callable[..., DaemonProcess], config_path: Path
) -> None:
    daemon = start_daemon()
    daemon.wait_ready()
    good = config_path.read_text()
    config_path.write_text(good.replace('poll_interval = "1s"', 'poll_interval = "often"'))
    before = len(daemon.log())

    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log(
        r"configuration reload failed; keeping the running configuration", timeout=15, after=before
    )
    problems = daemon.wait_for_log(r"daemon\.poll_interval: [^\n]*", timeout=5, after=before)
    resumed = time.monotonic()
    daemon.notify.wait_for("WATCHDOG=1", since=resumed, count=2, timeout=10)

    assert daemon.running
    assert "often" in problems
    assert daemon.notify.lines("RELOADING=1")

    config_path.write_text(good.replace('poll_interval = "1s"', 'poll_interval = "2s"'))
    after_fix = len(daemon.log())
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log(r"configuration reloaded: 1 change", timeout=15, after=after_fix)
    assert daemon.running


def test_a_dovecot_restart_is_survived(
    start_daemon: Callable[..., DaemonProcess],
    imap_account: ImapAccount,
    config_path: Path,
) -> None:
    dovecot = imap_account.server
    daemon = start_daemon()
    daemon.wait_ready()
    daemon.wait_for_log(r"IDLE: watching INBOX", timeout=15)
    before = len(daemon.log())
    try:
        dovecot.stop()
        daemon.wait_for_log(r"IDLE: connection lost", timeout=15, after=before)
        time.sleep(1.0)  # a few polls while the server is away
    finally:
        dovecot.start()
    restarted = datetime.now(UTC)
    daemon.wait_for_log(r"IDLE: watching INBOX[^\n]* again", timeout=30, after=before)

    def polled_since_restart() -> bool:
        last = saved_status(config_path).last_poll_at
        return last is not None and last >= restarted - timedelta(seconds=1)

    wait_until(polled_since_restart, timeout=30, what="a poll after the restart")
    assert daemon.running
    assert "Traceback" not in daemon.log()[before:]


def test_sigterm_during_an_outage_still_stops_within_ten_seconds(
    start_daemon: Callable[..., DaemonProcess], imap_account: ImapAccount
) -> None:
    daemon = start_daemon()
    daemon.wait_ready()
    daemon.notify.wait_for("STATUS=last poll", timeout=15)
    try:
        imap_account.server.stop()
        time.sleep(2.0)  # the poll is now busy retrying a server that is gone

        code, seconds = daemon.stop(signal.SIGTERM)
    finally:
        imap_account.server.start()

    assert code == 0, daemon.log()[-3000:]
    assert seconds < STOP_LIMIT
    assert daemon.notify.lines("STOPPING=1")


# --------------------------------------------------------------------------- with the pipeline

APPLICATION = """\
From: Alex Doe <alex.doe@example.org>\r
To: Jane Smith <jane@acme.example>\r
Subject: Application for the Backend Engineer position\r
Date: {date}\r
Message-ID: <{message_id}>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
\r
Dear Jane,\r
\r
I am writing to apply for the Backend Engineer position at Acme. My CV is\r
attached; I would be glad to tell you more about my work on payment systems.\r
\r
Best regards,\r
Alex Doe\r
"""

REPLY = """\
From: Jane Smith <jane@acme.example>\r
To: Alex Doe <alex.doe@example.org>\r
Subject: Re: Application for the Backend Engineer position\r
Date: {date}\r
Message-ID: <reply-{message_id}>\r
In-Reply-To: <{message_id}>\r
References: <{message_id}>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
\r
Hi Alex,\r
\r
thank you for your application. Could you do a call with our team lead on\r
Thursday afternoon?\r
\r
Jane\r
"""


def append_application(account: ImapAccount, *, days_ago: int, message_id: str) -> None:
    sent = datetime.now(UTC) - timedelta(days=days_ago)
    raw = APPLICATION.format(date=format_datetime(sent), message_id=message_id).encode()
    append_message(account, "Sent", raw, flags=("\\Seen",), internal_date=sent)


def drafts_in_folder(account: ImapAccount) -> list[bytes]:
    with connect(account) as client:
        client.select_folder("Drafts", readonly=True)
        uids = client.search(["ALL"])
        if not uids:
            return []
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER]"])
        return [item[b"BODY[HEADER]"] for item in fetched.values()]


def drafts_with_status(config_path: Path, status: QueueState) -> list[DraftRecord]:
    with Store.open(load_config(config_path).store_path()) as store:
        return list(store.list_drafts([status]))


@needs_pipeline
def test_new_mail_in_the_inbox_is_picked_up_at_once_through_idle(
    start_daemon: Callable[..., DaemonProcess],
    imap_account: ImapAccount,
    config_path: Path,
    tmp_path: Path,
) -> None:
    # An hour between polls: only IDLE can make the daemon see the new message soon.
    write_config(config_path, imap_account, tmp_path / "state", poll_interval="1h")
    daemon = start_daemon()
    daemon.wait_ready()
    daemon.wait_for_log(r"IDLE: watching INBOX", timeout=15)
    daemon.notify.wait_for("STATUS=last poll", timeout=15)
    before = len(daemon.log())

    arrived = datetime.now(UTC)
    raw = REPLY.format(date=format_datetime(arrived), message_id="unrelated@example.org")
    append_message(imap_account, "INBOX", raw.encode(), internal_date=arrived)

    daemon.wait_for_log(r"poll: 1 new message", timeout=10, after=before)
    assert daemon.running


@needs_pipeline
def test_a_silent_application_gets_a_pending_draft(
    start_daemon: Callable[..., DaemonProcess],
    imap_account: ImapAccount,
    config_path: Path,
) -> None:
    daemon = start_daemon()
    daemon.wait_ready()
    daemon.wait_for_log(r"IDLE: watching INBOX", timeout=15)

    append_application(imap_account, days_ago=20, message_id="app-due@example.org")

    wait_until(
        lambda: bool(drafts_with_status(config_path, QueueState.PENDING)),
        timeout=30,
        what="a pending draft for the silent application",
    )
    drafts = drafts_with_status(config_path, QueueState.PENDING)
    assert [d.recipient.email for d in drafts] == ["jane@acme.example"]
    assert daemon.running


@needs_drafts_mirror
def test_a_silent_application_gets_its_draft_in_the_drafts_folder(
    start_daemon: Callable[..., DaemonProcess],
    imap_account: ImapAccount,
) -> None:
    daemon = start_daemon()
    daemon.wait_ready()

    append_application(imap_account, days_ago=20, message_id="app-folder@example.org")

    wait_until(
        lambda: any(b"jane@acme.example" in header for header in drafts_in_folder(imap_account)),
        timeout=30,
        what="the draft in the Drafts folder",
    )
    assert daemon.running


@needs_pipeline
def test_a_reply_while_a_draft_is_pending_withdraws_it(
    start_daemon: Callable[..., DaemonProcess],
    imap_account: ImapAccount,
    config_path: Path,
) -> None:
    append_application(imap_account, days_ago=20, message_id="app-reply@example.org")
    daemon = start_daemon()
    daemon.wait_ready()
    wait_until(
        lambda: bool(drafts_with_status(config_path, QueueState.PENDING)),
        timeout=30,
        what="a pending draft for the silent application",
    )

    replied = datetime.now(UTC) - timedelta(minutes=5)
    raw = REPLY.format(date=format_datetime(replied), message_id="app-reply@example.org")
    append_message(imap_account, "INBOX", raw.encode(), internal_date=replied)

    wait_until(
        lambda: bool(drafts_with_status(config_path, QueueState.WITHDRAWN)),
        timeout=30,
        what="the draft withdrawn after the reply",
    )
    assert drafts_with_status(config_path, QueueState.PENDING) == []
    assert daemon.running
