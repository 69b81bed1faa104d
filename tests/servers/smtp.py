"""A recording SMTP sink on loopback: a threaded aiosmtpd Controller with TLS and AUTH.

Threaded because the code under test runs its own `asyncio.run()`. Tests read what arrived
from `sink.messages`, make the next commands fail with `sink.fail_next(...)`, and simulate a
dead server with `sink.stop()`.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers import TlsAuthority
from tests.servers.dovecot import HOST, free_port

Stage = Literal["mail", "rcpt", "data"]
STAGES: tuple[Stage, ...] = ("mail", "rcpt", "data")
READY_TIMEOUT = 5.0


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message, with its envelope and how the session was protected."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly as received, after SMTP dot-unstuffing (CRLF line ends kept)
    tls: bool
    authenticated: bool
    auth_username: str | None = None
    mail_options: tuple[str, ...] = ()


@dataclass
class _Failure:
    code: int
    text: str
    at: Stage
    remaining: int


@dataclass
class SmtpSink:
    """An SMTP server that keeps every accepted message in `messages`.

    Plain port with STARTTLS by default; `implicit_tls=True` gives SMTPS instead. AUTH
    PLAIN and LOGIN accept `username`/`password`, only over TLS. With `require_auth`,
    MAIL FROM before AUTH gets 530.
    """

    tls: TlsAuthority
    implicit_tls: bool = False
    require_auth: bool = False
    username: str = "mailfollow"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    host: str = HOST
    port: int = field(default_factory=free_port)
    messages: list[ReceivedMessage] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _controller: Controller | None = field(default=None, repr=False)

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen (again) on the same port; a no-op when already running."""
        if self._controller is not None:
            return
        context = self.tls.server_context()
        controller = _SinkController(
            _RecordingHandler(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=READY_TIMEOUT,
            ssl_context=context if self.implicit_tls else None,
            server_hostname="smtp.example.test",
            tls_context=None if self.implicit_tls else context,
            # aiosmtpd only counts STARTTLS as TLS; on SMTPS the whole session already is.
            auth_require_tls=not self.implicit_tls,
            authenticator=self._authenticate,
            decode_data=False,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: clients now get 'connection refused', as from a dead server."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def fail_next(self, code: int, text: str, *, at: Stage = "data", times: int = 1) -> None:
        """Answer the next `times` MAIL, RCPT or DATA commands with `code text`.

        4xx codes are temporary rejections, 5xx permanent ones. For "rcpt", each
        recipient uses up one time.
        """
        if not 400 <= code <= 599:
            raise ValueError(f"a rejection needs a 4xx or 5xx code, not {code}")
        if at not in STAGES:
            raise ValueError(f"at must be one of {STAGES}, not {at!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.append(_Failure(code, text, at, times))

    def clear(self) -> None:
        """Forget received messages and pending failures."""
        with self._lock:
            self.messages.clear()
            self._failures.clear()

    def take_failure(self, stage: Stage) -> str | None:
        """The reply for the first pending failure at `stage`, using it up; else None."""
        with self._lock:
            for failure in self._failures:
                if failure.at == stage:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return f"{failure.code} {failure.text}"
        return None

    def record(self, message: ReceivedMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        accepted = (
            isinstance(auth_data, LoginPassword)
            and secrets.compare_digest(auth_data.login, self.username.encode())
            and secrets.compare_digest(auth_data.password, self.password.encode())
        )
        return AuthResult(success=accepted, handled=False, auth_data=self.username)


class _SinkController(Controller):
    """A Controller that closes every client connection when it stops.

    aiosmtpd can leave a server-side socket open when a client hangs up at the wrong
    moment; found later by the garbage collector, it becomes a ResourceWarning (a failure
    under filterwarnings=error) in whatever test runs then.
    """

    def __init__(self, handler: object, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session = SMTP(self.handler, **self.SMTP_kwargs)  # what Controller.factory() does
        self.sessions.append(session)  # also keeps its transport from an early GC
        return session

    def stop(self, no_assert: bool = False) -> None:
        # Queued before super().stop()'s own callback, so it runs first in the loop thread.
        self.loop.call_soon_threadsafe(self._abort_connections)
        super().stop(no_assert)

    def _abort_connections(self) -> None:
        for session in self.sessions:
            for transport in (session.transport, session._original_transport):
                if isinstance(transport, asyncio.Transport) and not transport.is_closing():
                    transport.abort()
        self.sessions.clear()


class _RecordingHandler:
    """aiosmtpd hooks: inject the requested failures, record what is accepted."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.sink.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = self.sink.take_failure("mail")
        if failure is not None:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        failure = self.sink.take_failure("rcpt")
        if failure is not None:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        failure = self.sink.take_failure("data")
        if failure is not None:
            return failure
        raw = envelope.original_content or b""
        self.sink.record(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(raw),
                tls=_is_tls(server),
                authenticated=bool(session.authenticated),
                auth_username=session.auth_data if session.authenticated else None,
                mail_options=tuple(envelope.mail_options),
            )
        )
        return "250 OK: queued"


def _is_tls(server: SMTP) -> bool:
    # After STARTTLS aiosmtpd swaps in the TLS transport; with SMTPS it is TLS from the start.
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None
