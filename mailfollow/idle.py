"""Noticing new mail at once: an IMAP IDLE watcher on the inbox.

A thread keeps one extra IMAP connection in IDLE on the inbox (opened
read-only, so nothing is marked read). When the server reports activity
(EXISTS, EXPUNGE, FETCH), it asks the daemon for an immediate poll; it never
touches the store itself, so the poll job stays SQLite's only writer.

IDLE is an accelerator, not a requirement: the regular polls go on whatever
happens here. The watcher

- waits for responses in short slices (``check_every``, 1 s), so a stop
  request is noticed within about a second;
- re-issues IDLE every ``renew_after`` (10 min; servers may drop an IDLE
  after 30 min, RFC 2177 says re-issue before 29). The server's answer to
  DONE doubles as a liveness probe, so a connection that died silently (a
  NAT box forgot it) is found out within that time instead of never;
- treats a BYE, or a socket that keeps reporting data but yields none (the
  peer closed it), as a lost connection;
- reconnects after a loss with the daemon's backoff (exponential, capped,
  jittered); meanwhile the regular polls cover.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mailfollow import errors

if TYPE_CHECKING:
    from mailfollow.adapters.mailbox import Credential, ImapSettings, MailboxSession
    from mailfollow.config import Config

logger = logging.getLogger(__name__)

IDLE_LIMIT = 29 * 60.0  # seconds: RFC 2177's "re-issue at least every 29 minutes"
IDLE_CONNECT_TIMEOUT = 20.0
_STABLE_AFTER = 60.0  # a connection that lasted this long resets the backoff
_EARLY_EMPTY_LIMIT = 3  # "readable" with nothing to read this many times: the peer closed
_ACTIVITY = frozenset({b"EXISTS", b"EXPUNGE", b"FETCH", b"RECENT", b"VANISHED"})

T = TypeVar("T")


class IdleUnsupportedError(errors.MailboxError):
    """The server does not offer IDLE (polling alone has to do)."""


class IdleLostError(errors.MailboxUnavailable):
    """The IDLE connection ended (BYE, closed by the peer, or no answer)."""


class IdleConnection(Protocol):
    """An IMAP connection with the inbox selected, able to IDLE."""

    @property
    def description(self) -> str: ...

    def start_idle(self) -> None: ...

    def check(self, timeout: float) -> list[Any]:
        """Untagged responses received within ``timeout`` seconds (maybe none)."""
        ...

    def end_idle(self) -> list[Any]:
        """Send DONE and wait for the server's tagged answer; returns late responses."""
        ...

    def close(self) -> None: ...


class ImapIdleConnection:
    """IDLE on a logged-in `MailboxSession`, errors translated like the adapter's own."""

    def __init__(self, session: MailboxSession, folder: str) -> None:
        self._session = session
        self._folder = folder
        self._idling = False
        self._broken = False
        self._pending: list[Any] = []

    @property
    def description(self) -> str:
        return f"{self._folder} on {self._session.settings.host}"

    def start_idle(self) -> None:
        client = self._client()
        # NOOP first collects what changed since the last command: an update
        # arriving together with IDLE's "+ idling" would sit in imaplib's read
        # buffer, where polling the socket cannot see it.
        _, pending = self._guard(client.noop)
        self._pending.extend(pending)
        self._guard(client.idle)
        self._idling = True

    def check(self, timeout: float) -> list[Any]:
        pending, self._pending = self._pending, []
        if pending:
            return pending
        responses: list[Any] = self._guard(lambda: self._client().idle_check(timeout=timeout))
        return responses

    def end_idle(self) -> list[Any]:
        self._idling = False
        _, late = self._guard(self._client().idle_done)
        return list(late)

    def close(self) -> None:
        # LOGOUT is not allowed during IDLE, and may hang on a dead connection:
        # those are just dropped.
        if self._idling or self._broken:
            self._session.abort()
        else:
            self._session.close()

    def _client(self) -> Any:
        # MailboxSession.wait_for_changes() suits a one-off wait, not a watcher
        # that must stop within a second yet send only a few commands an hour
        # (it costs NOOP + IDLE + DONE per wait); so the commands are issued
        # here, on the session's imapclient connection.
        return self._session._require_client()

    def _guard(self, action: Callable[[], T]) -> T:
        from mailfollow.adapters.mailbox import translate_error

        try:
            return action()
        except errors.MailfollowError:
            self._broken = True
            raise
        except Exception as exc:
            self._broken = True
            translated = translate_error(exc, server=str(self._session.settings))
            if translated is None:
                raise
            raise translated from exc


def open_idle_connection(
    settings: ImapSettings, credentials: Callable[[], Credential], *, folder: str = "INBOX"
) -> ImapIdleConnection:
    """Log in and EXAMINE ``folder``; IdleUnsupportedError when the server has no IDLE."""
    from mailfollow.adapters.mailbox import MailboxSession

    session = MailboxSession(settings, credentials)
    session.open()
    try:
        if not session.has("IDLE"):
            raise IdleUnsupportedError(f"{settings} does not support IDLE")
        session.select(folder)
    except BaseException:
        session.close()
        raise
    return ImapIdleConnection(session, folder)


def imap_idle_connector(
    config_source: Callable[[], Config], *, timeout: float = IDLE_CONNECT_TIMEOUT
) -> Callable[[], IdleConnection]:
    """A ``connect`` for IdleWatcher that follows the daemon's current configuration."""

    def connect() -> IdleConnection:
        from mailfollow.adapters.mailbox import imap_settings_from_config
        from mailfollow.credentials import get_credentials

        config = config_source()
        settings = dataclasses.replace(imap_settings_from_config(config), timeout=timeout)
        return open_idle_connection(
            settings, lambda: get_credentials(config), folder=config.folders.inbox or "INBOX"
        )

    return connect


def has_activity(responses: Sequence[Any]) -> bool:
    """Whether IDLE responses report a change in the folder (new, removed or changed mail)."""
    return any(_keyword(response) in _ACTIVITY for response in responses)


def said_bye(responses: Sequence[Any]) -> bool:
    return any(_keyword(response) == b"BYE" for response in responses)


def _keyword(response: Any) -> bytes | None:
    """The response's keyword: (3, b'EXISTS') -> b'EXISTS', (b'OK', b'Still here') -> b'OK'."""
    if not isinstance(response, tuple) or not response:
        return None
    for item in response[:2]:
        if isinstance(item, bytes) and item.isalpha():
            return item.upper()
    return None


class IdleWatcher:
    """The IDLE thread: connects, watches, calls ``on_activity``, reconnects after a loss."""

    def __init__(
        self,
        *,
        connect: Callable[[], IdleConnection],
        on_activity: Callable[[], None],
        retry_delay: Callable[[int], float],
        renew_after: float = 10 * 60.0,
        check_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < renew_after < IDLE_LIMIT:
            raise ValueError(f"renew_after must be between 0 and {IDLE_LIMIT:.0f} s")
        self._connect = connect
        self._on_activity = on_activity
        self._retry_delay = retry_delay
        self._renew_after = renew_after
        self._check_every = check_every
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailfollow-idle", daemon=True)
        self._state = "starting"  # -> watching / down / unsupported / stopped
        self.activity = 0  # how many times on_activity was called
        self.connections = 0  # successful connections so far

    @property
    def state(self) -> str:
        return self._state

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop and wait up to ``timeout`` s (a thread stuck in a connect is left behind)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread --------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                connection = self._connect()
            except IdleUnsupportedError as exc:
                logger.info("IDLE: %s; new mail is noticed by the regular polls", exc)
                self._state = "unsupported"
                return
            except Exception as exc:  # noqa: BLE001 (the poll reports IMAP trouble loudly)
                failures += 1
                self._went_down(exc, failures)
                self._stop.wait(self._retry_delay(failures))
                continue
            self.connections += 1
            started = self._clock()
            try:
                self._watch(connection)
            except Exception as exc:  # noqa: BLE001 (as above)
                failures = 1 if self._clock() - started >= _STABLE_AFTER else failures + 1
                self._went_down(exc, failures)
                self._stop.wait(self._retry_delay(failures))
            finally:
                connection.close()
        self._state = "stopped"

    def _watch(self, connection: IdleConnection) -> None:
        connection.start_idle()
        self._came_up(connection)
        idle_since = self._clock()
        early_empties = 0
        while not self._stop.is_set():
            asked_at = self._clock()
            responses = connection.check(self._check_every)
            now = self._clock()
            if responses:
                early_empties = 0
                if said_bye(responses):
                    raise IdleLostError("the server closed the IDLE connection (BYE)")
                if has_activity(responses):
                    self._report_activity(responses)
            elif now - asked_at < self._check_every / 2:
                early_empties += 1
                if early_empties >= _EARLY_EMPTY_LIMIT:
                    raise IdleLostError("the IDLE connection was closed by the server")
            else:
                early_empties = 0
            if now - idle_since >= self._renew_after:
                # Re-issue IDLE before the server's timeout; the tagged answer
                # to DONE also proves the connection still works.
                late = connection.end_idle()
                if has_activity(late):
                    self._report_activity(late)
                connection.start_idle()
                idle_since = self._clock()
                logger.debug("IDLE: renewed")
        connection.end_idle()

    def _report_activity(self, responses: Sequence[Any]) -> None:
        self.activity += 1
        logger.debug("IDLE: %s; asking for a poll", responses)
        self._on_activity()

    def _came_up(self, connection: IdleConnection) -> None:
        if self._state == "down":
            logger.info("IDLE: watching %s again", connection.description)
        else:
            logger.info("IDLE: watching %s for new mail", connection.description)
        self._state = "watching"

    def _went_down(self, exc: BaseException, failures: int) -> None:
        if self._stop.is_set():
            return
        if self._state == "down":
            logger.debug("IDLE: still down (failure %d in a row): %s", failures, exc)
            return
        was_watching = self._state == "watching"
        self._state = "down"
        logger.info(
            "IDLE: %s (%s); the regular polls go on until it is back",
            "connection lost" if was_watching else "cannot connect",
            exc,
        )
