"""The systemd notification protocol (sd_notify), without libsystemd.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``: a Unix datagram socket
(a path, or an abstract name written with a leading ``@``) to which the service
sends newline-separated ``KEY=VALUE`` assignments:

- ``READY=1`` once start-up is complete (systemd waits for it);
- ``STATUS=...`` a one-line status shown by ``systemctl status``;
- ``WATCHDOG=1`` a keep-alive, due at least every ``$WATCHDOG_USEC``
  microseconds when the unit sets ``WatchdogSec=`` (we ping at half of it);
- ``RELOADING=1`` / ``STOPPING=1`` around a reload and before exiting.

Without ``$NOTIFY_SOCKET`` (started by hand, in a terminal) every call is a
no-op, so the daemon never needs to ask whether it runs under systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
_STATUS_LIMIT = 200  # systemctl shows one line; keep the datagram small


def socket_address(name: str) -> str | bytes:
    """The ``sendto`` address for a NOTIFY_SOCKET value ("@name" is an abstract socket)."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


class Notifier:
    """Sends notifications to systemd; does nothing when there is no NOTIFY_SOCKET.

    A failed send is logged at DEBUG and otherwise ignored: systemd being away
    (or a test socket gone) must never stop the daemon.
    """

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get(NOTIFY_SOCKET_ENV))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; True when it was sent."""
        if self.address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode("utf-8", "replace")
        # A socket per message: notifications are rare (at most a few per
        # second), and nothing stays open between them.
        try:
            with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, socket_address(self.address))
        except OSError as exc:
            logger.debug("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *_status_line(status))

    def status(self, text: str) -> bool:
        return self.notify(*_status_line(text))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def reloading(self, status: str | None = None) -> bool:
        # MONOTONIC_USEC lets Type=notify-reload units match this to the reload they asked for.
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}", *_status_line(status))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *_status_line(status))


def _status_line(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    one_line = " ".join(text.split())
    return (f"STATUS={one_line[:_STATUS_LIMIT]}",)


def watchdog_ping_interval(
    environ: Mapping[str, str] | None = None, *, pid: int | None = None
) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when not asked.

    ``$WATCHDOG_PID``, when set, must name this process: the variables may have
    been inherited from a parent that systemd watches, not from systemd itself.
    """
    env = os.environ if environ is None else environ
    usec_text = env.get(WATCHDOG_USEC_ENV, "")
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid_text = env.get(WATCHDOG_PID_ENV, "")
    if pid_text and pid_text != str(os.getpid() if pid is None else pid):
        return None
    return usec / 2 / 1_000_000


class WatchdogPinger:
    """A thread that sends WATCHDOG=1 every ``interval`` seconds while ``healthy()`` holds.

    When the daemon stops being healthy (its scheduler stopped dispatching,
    or a job hangs) the pings stop, and systemd restarts the service after
    WatchdogSec; the change is logged once either way.
    """

    def __init__(
        self,
        notifier: Notifier,
        *,
        interval: float,
        healthy: Callable[[], bool],
        describe_problem: Callable[[], str] = lambda: "the scheduler looks stuck",
    ) -> None:
        self._notifier = notifier
        self._interval = interval
        self._healthy = healthy
        self._describe_problem = describe_problem
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailfollow-watchdog", daemon=True)
        self.pings = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        was_healthy = True
        while not self._stop.is_set():
            healthy = self._healthy()
            if healthy:
                if self._notifier.watchdog():
                    self.pings += 1
                if not was_healthy:
                    logger.info("watchdog: healthy again; pinging systemd again")
            elif was_healthy:
                logger.error(
                    "watchdog: %s; no longer pinging systemd, which will restart mailfollow",
                    self._describe_problem(),
                )
            was_healthy = healthy
            self._stop.wait(self._interval)
