"""Soak benchmark: `mailfollow run` against a 10,000-message mailbox for many polls.

Starts a throwaway Dovecot (tests/servers/dovecot.py), fills one user's
mailbox with generated job-search mail (mailfollow.demo.generator), runs the
daemon as a subprocess with a 1-second poll while a message trickles into
INBOX every few polls, and reads /proc/<pid> after each poll (the daemon
sends a STATUS= notification after each one, to a NOTIFY_SOCKET owned here).

Reports:
- CPU seconds per idle poll (polls with no message appended just before),
  the daemon's own CPU and that of its children (password_command);
- RSS after the last poll vs after poll 10 (must grow less than 10 %);
- open file descriptors after the last poll vs after poll 10;
- how long SIGTERM took at the end.

Usage::

    python bench/soak_bench.py                 # 1,000 polls (about 20 minutes)
    python bench/soak_bench.py --polls 200     # a quicker run

Exits 1 when RSS grows by 10 % or more, or file descriptors leak.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailfollow.demo.generator import plan_mailbox  # noqa: E402
from tests.servers import TlsAuthority  # noqa: E402
from tests.servers.dovecot import DovecotServer  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
RSS_GROWTH_LIMIT = 0.10
FD_GROWTH_LIMIT = 3
BASELINE_POLL = 10
FILL_BATCH = 500  # messages per MULTIAPPEND
DAEMON_FLAGS: list[str] = os.environ.get("SOAK_DAEMON_FLAGS", "").split()


@dataclass(frozen=True)
class Sample:
    """The daemon process as /proc shows it right after one poll."""

    at: float  # time.monotonic()
    cpu: float  # seconds, the process itself
    children_cpu: float  # seconds, waited-for children (password_command)
    rss_kb: int
    fds: int


def sample(pid: int) -> Sample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return Sample(
        at=time.monotonic(),
        cpu=(utime + stime) / CLOCK_TICKS,
        children_cpu=(cutime + cstime) / CLOCK_TICKS,
        rss_kb=rss_pages * PAGE_KB,
        fds=fds,
    )


class PollCounter:
    """Counts the daemon's per-poll STATUS= notifications and samples /proc at each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.pid: int | None = None
        self.samples: list[Sample] = []
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                lines = self.sock.recv(4096).decode().split("\n")
            except TimeoutError:
                continue
            except OSError:
                return
            if "READY=1" in lines:
                self.ready.set()
            if self.pid is not None and any(line.startswith("STATUS=last poll") for line in lines):
                try:
                    taken = sample(self.pid)
                except (FileNotFoundError, ProcessLookupError):
                    return
                with self.lock:
                    self.samples.append(taken)

    @property
    def polls(self) -> int:
        with self.lock:
            return len(self.samples)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def fill_mailbox(server: DovecotServer, user: str, password: str, count: int) -> float:
    """Store ``count`` generated messages (MULTIAPPEND in batches); returns seconds taken."""
    plan = plan_mailbox(seed=11, conversations=400, noise=count, as_of=datetime.now(UTC))
    begun = time.monotonic()
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=120)
    try:
        client.login(user, password)
        by_folder: dict[str, list[dict[str, object]]] = {}
        for index, message in enumerate(itertools.islice(plan.messages(), count)):
            batch = by_folder.setdefault(message.folder, [])
            batch.append(
                {"msg": message.raw, "flags": message.flags, "date": message.internal_date}
            )
            if len(batch) >= FILL_BATCH:
                client.multiappend(message.folder, batch)
                batch.clear()
            if index % 2000 == 1999:
                print(f"  appended {index + 1} messages", flush=True)
        for folder, batch in by_folder.items():
            if batch:
                client.multiappend(folder, batch)
    except BaseException:
        client.shutdown()
        raise
    client.logout()
    return time.monotonic() - begun


def trickle_message(server: DovecotServer, user: str, password: str, number: int) -> None:
    now = datetime.now(UTC)
    raw = (
        f"From: Recruiter {number} <recruiter{number}@hiring.example>\r\n"
        f"To: Alex Doe <alex.doe@example.org>\r\n"
        f"Subject: Quick question {number}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: <trickle-{number}-{time.time_ns()}@hiring.example>\r\n"
        "\r\n"
        "Hello Alex, are you still looking? Best, R.\r\n"
    ).encode()
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=30)
    try:
        client.login(user, password)
        client.append("INBOX", raw, msg_time=now)
    except BaseException:
        client.shutdown()
        raise
    client.logout()


CONFIG = """
[account]
name = "Alex Doe"
address = "alex.doe@example.org"
aliases = ["alex@doe.example"]
username = "{user}"
[account.imap]
host = "127.0.0.1"
port = {port}
security = "none"
allow_insecure = true
[account.smtp]
host = "127.0.0.1"
port = 9
security = "none"
allow_insecure = true
[account.password]
password_command = ["printf", "%s", "{password}"]
[daemon]
poll_interval = "1s"
idle = true
digest = "none"
[state]
dir = "{state}"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=1000, help="polls to observe (default 1000)")
    parser.add_argument("--messages", type=int, default=10_000, help="mailbox size")
    parser.add_argument(
        "--trickle-every", type=int, default=25, help="append one INBOX message every N polls"
    )
    parser.add_argument(
        "--max-minutes", type=float, default=60.0, help="give up after this long (default 60)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    if args.polls <= BASELINE_POLL:
        parser.error(f"--polls must be more than {BASELINE_POLL}")

    work = Path(tempfile.mkdtemp(prefix="mf-soak-"))
    server = DovecotServer.create(tls=TlsAuthority.create(work))
    counter = PollCounter(work / "notify.sock")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        server.start()
        user, password = "soak", "soak-password"
        server.add_user(user, password)
        print(f"filling the mailbox with {args.messages} messages ...", flush=True)
        fill_seconds = fill_mailbox(server, user, password, args.messages)
        print(f"  done in {fill_seconds:.1f} s", flush=True)

        config = work / "config.toml"
        config.write_text(
            CONFIG.format(user=user, port=server.port, password=password, state=work / "state"),
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k not in {"WATCHDOG_USEC", "JOURNAL_STREAM"}}
        env.update(MAILFOLLOW_CONFIG=str(config), NOTIFY_SOCKET=str(counter.path))
        log_path = work / "daemon.log"
        with log_path.open("wb") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "mailfollow", *DAEMON_FLAGS, "run"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=work,
            )
        counter.pid = daemon.pid
        started = time.monotonic()
        if not counter.ready.wait(60):
            raise SystemExit(f"no READY=1 within 60 s; see {log_path}")
        deadline = started + args.max_minutes * 60
        while counter.polls < 1:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit(f"the first poll did not finish; see {log_path}")
            time.sleep(0.1)
        first_sync = time.monotonic() - started
        print(f"first poll (initial sync of the mailbox) after {first_sync:.1f} s", flush=True)

        busy_polls: set[int] = set()
        trickled = 0
        last_reported = 0
        while counter.polls < args.polls + 1:
            polls = counter.polls
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited ({daemon.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                print(f"time limit reached after {polls} polls", flush=True)
                break
            if (
                polls >= BASELINE_POLL
                and polls % args.trickle_every == 0
                and polls not in busy_polls
            ):
                trickled += 1
                trickle_message(server, user, password, trickled)
                # The next two polls (or an IDLE-triggered one) see the new message.
                busy_polls.update({polls, polls + 1, polls + 2})
            if polls - last_reported >= 100:
                last_reported = polls
                print(f"  {polls} polls", flush=True)
            time.sleep(0.05)

        with counter.lock:
            samples = list(counter.samples)
        begun_stop = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=30)
        stop_seconds = time.monotonic() - begun_stop
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
        counter.close()
        server.remove()

    return report(samples, busy_polls, trickled, first_sync, stop_seconds, code, work, args.keep)


def report(
    samples: list[Sample],
    busy_polls: set[int],
    trickled: int,
    first_sync: float,
    stop_seconds: float,
    code: int,
    work: Path,
    keep: bool,
) -> int:
    # samples[0] follows poll 1 (the initial sync); samples[i] follows poll i + 1.
    idle_costs = [
        later.cpu - earlier.cpu
        for index, (earlier, later) in enumerate(itertools.pairwise(samples), start=2)
        if index > 2 and index not in busy_polls and (index - 1) not in busy_polls
    ]
    child_costs = [
        later.children_cpu - earlier.children_cpu
        for earlier, later in itertools.pairwise(samples[1:])
    ]
    base, last = samples[BASELINE_POLL - 1], samples[-1]
    rss_growth = (last.rss_kb - base.rss_kb) / base.rss_kb
    fd_growth = last.fds - base.fds
    wall = (last.at - samples[1].at) / max(1, len(samples) - 2)
    polls = len(samples)
    print()
    print(f"polls observed:               {polls} ({trickled} messages trickled in)")
    print(f"initial sync (first poll):    {first_sync:.1f} s")
    print(f"wall time per poll:           {wall:.3f} s (poll interval 1 s)")
    if idle_costs:
        print(
            f"CPU per idle poll:            mean {statistics.fmean(idle_costs):.4f} s, "
            f"median {statistics.median(idle_costs):.4f} s "
            f"({len(idle_costs)} idle polls; /proc resolution {1 / CLOCK_TICKS:.2f} s)"
        )
    if child_costs:
        print(f"children CPU per poll:        mean {statistics.fmean(child_costs):.4f} s")
    print(
        f"RSS after poll {BASELINE_POLL}:          {base.rss_kb / 1024:.1f} MiB; after poll "
        f"{polls}: {last.rss_kb / 1024:.1f} MiB ({rss_growth:+.1%})"
    )
    print(f"open fds after poll {BASELINE_POLL}:     {base.fds}; after poll {polls}: {last.fds}")
    print(f"SIGTERM to exit:              {stop_seconds:.2f} s (exit status {code})")
    failed = False
    if rss_growth >= RSS_GROWTH_LIMIT:
        print(f"FAIL: RSS grew by {rss_growth:.1%} (limit {RSS_GROWTH_LIMIT:.0%})")
        failed = True
    if fd_growth > FD_GROWTH_LIMIT:
        print(f"FAIL: {fd_growth} more open file descriptors")
        failed = True
    if stop_seconds >= 10:
        print("FAIL: SIGTERM took 10 s or more")
        failed = True
    if failed or keep:
        print(f"(kept {work} with the daemon log)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
