"""Commands: run, status."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from mailfollow.cli import AppContext, pass_app

if TYPE_CHECKING:
    from mailfollow.daemon import DaemonStatus, LockStatus


@click.command("run")
@pass_app
def run(app: AppContext) -> None:
    """Run the daemon: poll the mailbox, draft follow-ups, send the approved ones.

    Runs in the foreground until SIGTERM or Ctrl-C; SIGHUP reloads the
    configuration. Meant for the systemd unit (systemd/mailfollow.service),
    which it tells when it is ready and that it is alive.
    """
    from mailfollow.daemon import run_daemon
    from mailfollow.logs import setup_logging

    # A daemon logs one INFO line per state change by default; -v adds DEBUG,
    # -vv the IMAP protocol.
    verbose = max(1 + app.verbose, 2 if app.debug else 1)
    setup_logging(verbose=verbose)
    config = app.config()
    raise SystemExit(run_daemon(config, verbose=verbose))


@click.command("status")
@pass_app
def status(app: AppContext) -> None:
    """Show whether the daemon runs, its last and next poll, problems, and the queue.

    Works whether or not the daemon is running (it reads the database).
    """
    from mailfollow.adapters.store import Store
    from mailfollow.daemon import (
        DaemonStatus,
        count_conversations,
        count_pending_drafts,
        probe_lock,
        read_status,
    )

    config = app.config()
    zone = ZoneInfo(config.policy_settings().timezone)
    lock = probe_lock(config.state_dir)
    database = config.store_path()
    if not database.exists():
        click.echo(_daemon_line(lock, DaemonStatus(), zone))
        click.echo(f"database:       none yet at {database} (`mailfollow run` creates it)")
        return
    with Store.open(database) as store:
        saved = read_status(store)
        conversations = count_conversations(store)
        pending = count_pending_drafts(store)
    for line in status_lines(lock, saved, zone, conversations=conversations, pending=pending):
        click.echo(line)


def status_lines(
    lock: LockStatus,
    saved: DaemonStatus,
    zone: ZoneInfo,
    *,
    conversations: dict[str, int],
    pending: int,
) -> list[str]:
    """What `mailfollow status` prints, one entry per line."""
    running = lock.running
    lines = [_daemon_line(lock, saved, zone)]
    lines.append(f"last poll:      {_when(saved.last_poll_at, zone)}{_result(saved)}")
    lines.append(f"next poll:      {_when(saved.next_poll_at, zone) if running else '-'}")
    if saved.last_digest_at is not None:
        lines.append(f"last digest:    {_when(saved.last_digest_at, zone)}")
    if not saved.problems:
        lines.append("problems:       none" if running else "problems:       none recorded")
    else:
        lines.append("problems:" + ("" if running else " (when the daemon last ran)"))
        for problem in saved.problems:
            mark = "!!" if problem.loud else "--"
            lines.append(f"  {mark} {problem.headline()}")
            lines.append(f"     since {_when(problem.since, zone)}")
    total = sum(conversations.values())
    by_state = ", ".join(
        f"{count} {state.replace('_', ' ')}" for state, count in conversations.items()
    )
    lines.append(f"conversations:  {total}" + (f" ({by_state})" if by_state else ""))
    hint = " (list them with `mailfollow pending`)" if pending else ""
    lines.append(f"pending drafts: {pending}{hint}")
    return lines


def _daemon_line(lock: LockStatus, saved: DaemonStatus, zone: ZoneInfo) -> str:
    if lock.running:
        since = f", since {_when(saved.started_at, zone)}" if saved.started_at else ""
        return f"daemon:         running (pid {lock.pid}{since})"
    if lock.held:
        return "daemon:         running (lock held; its pid is not visible from here)"
    if saved.stopped_at is not None:
        return f"daemon:         not running (stopped {_when(saved.stopped_at, zone)})"
    if saved.started_at is not None:
        return (
            f"daemon:         not running (last started {_when(saved.started_at, zone)}; "
            "it did not stop cleanly)"
        )
    return "daemon:         not running (never started)"


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "-"
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"


def _result(saved: DaemonStatus) -> str:
    return f" ({saved.last_poll_result})" if saved.last_poll_result else ""


def add_commands(group: click.Group) -> None:
    """Attach this module's commands to the root group."""
    group.add_command(run)
    group.add_command(status)
