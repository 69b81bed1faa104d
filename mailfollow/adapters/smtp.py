"""Send one message over SMTP with aiosmtplib: the only async module.

Transport security is not optional: implicit TLS or STARTTLS, certificates
always verified. Plain SMTP is allowed only to a loopback host, and only when
the configuration says ``allow_insecure``.

Library exceptions are translated at one seam (:func:`_translate_errors`):

* nothing could have been delivered and trying later may work (connection
  refused, timeout, 4xx before the message was accepted, a missing STARTTLS):
  :class:`~mailfollow.errors.SendUnavailable`;
* the server refused for good (5xx): :class:`~mailfollow.errors.SendRejected`
  with the server's code and text;
* the server refused the login: :class:`~mailfollow.errors.CredentialError`;
* the connection failed or timed out once the DATA command went out and
  before the server's final answer: :class:`SendOutcomeUnknown`. The message
  may or may not have been accepted, so the caller must never resend it by
  itself. (A refusal code at DATA is a clear answer: nothing was accepted.)
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from mailfollow.errors import CredentialError, SendError, SendRejected, SendUnavailable
from mailfollow.transport import is_loopback_host

logger = logging.getLogger(__name__)

SECURITY_MODES: tuple[str, ...] = ("tls", "starttls", "none")
DEFAULT_TIMEOUT = 30.0


class SendOutcomeUnknown(SendError):  # noqa: N818 - reads as a state, like its siblings
    """The connection failed while the server was taking the message.

    It may have been delivered: mark the item unconfirmed, never resend it
    automatically.
    """


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit mail. Holds no secret."""

    host: str
    port: int
    security: str = "starttls"  # "tls", "starttls" or "none" (config's Security enum fits)
    username: str | None = None  # no AUTH when empty (a local relay)
    ca_file: Path | None = None  # extra CA to trust (a self-signed server); system CAs otherwise
    allow_insecure: bool = False  # plain SMTP, loopback hosts only
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class SendResult:
    """The server's final answer to the message."""

    code: int
    message: str


_Phase = Literal["connect", "tls", "auth", "envelope", "content"]


@dataclass
class _Progress:
    phase: _Phase = "connect"
    transports: list[asyncio.BaseTransport] = field(default_factory=list)

    def remember(self, client: aiosmtplib.SMTP) -> None:
        """Keep the connection's transport, to be sure it is closed at the end."""
        if client.transport is not None:
            self.transports.append(client.transport)


def check_transport_security(settings: SmtpSettings) -> None:
    """Refuse settings that would send in the clear to another machine."""
    if settings.security not in SECURITY_MODES:
        raise SendRejected(
            f"unknown SMTP security mode {settings.security!r}; use one of"
            f" {', '.join(SECURITY_MODES)}"
        )
    if settings.security != "none":
        return
    if not is_loopback_host(settings.host):
        raise SendRejected(
            f"refusing to send to {settings.host} without TLS: plain SMTP is only allowed to a"
            " loopback host (set security to 'tls' or 'starttls')"
        )
    if not settings.allow_insecure:
        raise SendRejected(
            f"refusing to send to {settings.host} without TLS: set allow_insecure = true to"
            " allow plain SMTP to this loopback host"
        )


def _envelope_address(address: str, role: str) -> str:
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise SendRejected(f"invalid {role} address {address!r}: {exc}") from exc
    return checked.ascii_email or checked.normalized


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    cafile = str(settings.ca_file) if settings.ca_file is not None else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise SendRejected(f"cannot load the CA file {settings.ca_file}: {exc}") from exc


def _xoauth2_argument(username: str, token: str) -> bytes:
    """The base64 SASL XOAUTH2 initial response."""
    sasl = f"user={username}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(sasl.encode("utf-8"))


def _certificate_problem(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _server_text(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _response_error(
    exc: aiosmtplib.SMTPResponseException, progress: _Progress, where: str
) -> SendError | CredentialError:
    if progress.phase == "auth" and exc.code >= 500:
        return CredentialError(f"{where} refused the login: {_server_text(exc)}")
    if 400 <= exc.code < 500:
        return SendUnavailable(f"{where} answered {_server_text(exc)} (temporary; try later)")
    return SendRejected(exc.message or _server_text(exc), code=exc.code)


def _connection_error(exc: BaseException, progress: _Progress, where: str) -> SendError:
    if progress.phase == "content":
        return SendOutcomeUnknown(
            f"the connection to {where} failed after the message was sent and before the server"
            f" confirmed it ({exc}); it may or may not have been delivered"
        )
    problem = _certificate_problem(exc)
    if problem is not None:
        return SendUnavailable(f"TLS with {where} failed: {problem}")
    return SendUnavailable(f"cannot reach {where}: {exc}")


@contextmanager
def _translate_errors(settings: SmtpSettings, progress: _Progress) -> Iterator[None]:
    """The one place where aiosmtplib and socket errors become mailfollow errors."""
    where = f"{settings.host}:{settings.port}"
    try:
        yield
    except (SendError, CredentialError):
        raise
    except aiosmtplib.SMTPResponseException as exc:
        raise _response_error(exc, progress, where) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise _connection_error(exc, progress, where) from exc


async def _secure(client: aiosmtplib.SMTP, settings: SmtpSettings, progress: _Progress) -> None:
    progress.phase = "tls"
    await client.ehlo()
    if settings.security != "starttls":
        return
    if not client.supports_extension("starttls"):
        raise SendUnavailable(
            f"{settings.host}:{settings.port} does not offer STARTTLS; refusing to send in the"
            " clear (check the port: 465 needs security 'tls', 587 'starttls')"
        )
    await client.starttls()
    progress.remember(client)
    await client.ehlo()


async def _authenticate(
    client: aiosmtplib.SMTP,
    settings: SmtpSettings,
    progress: _Progress,
    *,
    password: str | None,
    oauth2_token: str | None,
) -> None:
    if not settings.username:
        return
    progress.phase = "auth"
    methods = set(client.server_auth_methods)
    if oauth2_token is not None:
        if "xoauth2" not in methods:
            raise CredentialError(f"{settings.host} does not offer XOAUTH2 login")
        await _auth_xoauth2(client, settings.username, oauth2_token)
    elif password is not None:
        if "plain" in methods:
            await client.auth_plain(settings.username, password)
        elif "login" in methods:
            await client.auth_login(settings.username, password)
        else:
            raise CredentialError(f"{settings.host} offers no password login (AUTH PLAIN/LOGIN)")
    else:
        raise CredentialError(f"no password or OAuth2 token for SMTP user {settings.username}")
    logger.debug("logged in to %s as %s", settings.host, settings.username)


async def _auth_xoauth2(client: aiosmtplib.SMTP, username: str, token: str) -> None:
    response = await client.execute_command(b"AUTH", b"XOAUTH2", _xoauth2_argument(username, token))
    if response.code == 334:  # an error challenge: an empty line fetches the final answer
        response = await client.execute_command(b"")
    if response.code != 235:
        raise aiosmtplib.SMTPAuthenticationError(response.code, response.message)


async def _transfer(
    client: aiosmtplib.SMTP,
    raw: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    progress: _Progress,
) -> SendResult:
    progress.phase = "envelope"
    await client.mail(sender)
    for recipient in recipients:
        await client.rcpt(recipient)
    # The DATA command and the message go out in one library call, so from
    # here on a lost connection or a timeout cannot be told apart from one
    # after the final dot: the server may have the message.
    progress.phase = "content"
    final = await client.data(raw)
    return SendResult(final.code, final.message)


async def _quit_quietly(client: aiosmtplib.SMTP) -> None:
    """Say goodbye after success; the message is already accepted, so a failing
    QUIT changes nothing."""
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        logger.debug("QUIT failed after the message was accepted: %s", exc)


async def _disconnect(client: aiosmtplib.SMTP, progress: _Progress) -> None:
    """Close the connection for good before the event loop ends.

    A TLS transport that is merely closed waits for the server's close_notify,
    which ``asyncio.run`` does not wait for; aborting drops the socket now
    (the SMTP session is over either way), and one loop turn lets asyncio
    release it.
    """
    client.close()
    for transport in progress.transports:
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def send_message(
    raw: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    settings: SmtpSettings,
    password: str | None = None,
    oauth2_token: str | None = None,
) -> SendResult:
    """Submit ``raw`` (a complete RFC 5322 message) to the SMTP server.

    Raises SendRejected (permanent, incl. insecure settings and invalid
    addresses, before connecting), SendUnavailable (temporary, nothing sent),
    SendOutcomeUnknown (may have been sent) or CredentialError.
    """
    if password is not None and oauth2_token is not None:
        raise ValueError("give a password or an OAuth2 token, not both")
    check_transport_security(settings)
    envelope_from = _envelope_address(sender, "sender")
    envelope_to = [_envelope_address(r, "recipient") for r in recipients]
    if not envelope_to:
        raise SendRejected("no recipients")
    context = _tls_context(settings) if settings.security != "none" else None

    progress = _Progress()
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.security == "tls",
        start_tls=False,  # done by hand below, so that a missing STARTTLS is an error
        tls_context=context,
        timeout=settings.timeout,
    )
    logger.debug("connecting to %s:%d (%s)", settings.host, settings.port, settings.security)
    try:
        with _translate_errors(settings, progress):
            await client.connect()
            progress.remember(client)
            await _secure(client, settings, progress)
            await _authenticate(
                client, settings, progress, password=password, oauth2_token=oauth2_token
            )
            result = await _transfer(
                client, raw, sender=envelope_from, recipients=envelope_to, progress=progress
            )
        await _quit_quietly(client)
    finally:
        await _disconnect(client, progress)
    logger.debug("%s:%d accepted the message: %d", settings.host, settings.port, result.code)
    return result


def send_message_sync(
    raw: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    settings: SmtpSettings,
    password: str | None = None,
    oauth2_token: str | None = None,
) -> SendResult:
    """:func:`send_message` for synchronous callers: one ``asyncio.run``."""
    return asyncio.run(
        send_message(
            raw,
            sender=sender,
            recipients=recipients,
            settings=settings,
            password=password,
            oauth2_token=oauth2_token,
        )
    )
