"""The SMTP adapter against the recording sink (and, for replies the sink cannot
give, a tiny scripted peer on loopback)."""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiosmtplib
import pytest

from mailfollow.adapters.smtp import (
    SendOutcomeUnknown,
    SendResult,
    SmtpSettings,
    send_message_sync,
)
from mailfollow.core.drafting import draft_to_mime
from mailfollow.errors import CredentialError, SendRejected, SendUnavailable
from mailfollow.model import Address, Draft
from mailfollow.transport import is_loopback_host
from tests.factories import ME, NOW
from tests.servers import TlsAuthority
from tests.servers.smtp import SmtpSink

TIMEOUT = 5.0
RECIPIENT = "jane@acme.example"


def raw_message() -> bytes:
    draft = Draft(
        conversation_id="conv-1",
        mailfollow_id="mf1-abc-1",
        message_id="mailfollow.t1@example.org",
        sender=ME,
        to=Address(RECIPIENT, "Jane Smith"),
        subject="Re: Application for Senior Backend Engineer \u2013 München",
        in_reply_to="app@example.org",
        references=("app@example.org",),
        body="Hi Jane,\n\n.A line starting with a dot.\nVielen Dank für Ihre Zeit.\n",
        created_at=NOW,
    )
    return draft_to_mime(draft)


def settings_for(sink: SmtpSink, **changes: object) -> SmtpSettings:
    settings = SmtpSettings(
        host=sink.host,
        port=sink.port,
        security="tls" if sink.implicit_tls else "starttls",
        username=sink.username,
        ca_file=sink.ca_file,
        timeout=TIMEOUT,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def send(
    sink: SmtpSink,
    raw: bytes | None = None,
    *,
    password: str | None = None,
    recipients: tuple[str, ...] = (RECIPIENT,),
    **changes: object,
) -> SendResult:
    return send_message_sync(
        raw if raw is not None else raw_message(),
        sender=ME.email,
        recipients=recipients,
        settings=settings_for(sink, **changes),
        password=password if password is not None else sink.password,
    )


# --- against the sink --------------------------------------------------------------------


def test_the_exact_bytes_are_sent_over_starttls_with_auth(smtp_server: SmtpSink) -> None:
    raw = raw_message()
    result = send(smtp_server, raw)
    [received] = smtp_server.messages
    assert received.data == raw
    assert received.tls
    assert received.authenticated
    assert received.auth_username == smtp_server.username
    assert received.mail_from == ME.email
    assert received.rcpt_tos == (RECIPIENT,)
    assert result.code == 250
    assert "queued" in result.message


def test_implicit_tls_delivers_too(smtps_server: SmtpSink) -> None:
    send(smtps_server)
    [received] = smtps_server.messages
    assert received.tls
    assert received.authenticated


def test_a_server_certificate_from_an_unknown_ca_is_refused(
    smtp_server: SmtpSink, tmp_path: Path
) -> None:
    stranger = TlsAuthority.create(tmp_path)
    with pytest.raises(SendUnavailable, match="certificate verify failed"):
        send(smtp_server, ca_file=stranger.ca_file)
    assert smtp_server.messages == []


def test_implicit_tls_also_verifies_the_certificate(smtps_server: SmtpSink, tmp_path: Path) -> None:
    stranger = TlsAuthority.create(tmp_path)
    with pytest.raises(SendUnavailable, match="certificate verify failed"):
        send(smtps_server, ca_file=stranger.ca_file)
    assert smtps_server.messages == []


@pytest.mark.parametrize("at", ["mail", "rcpt", "data"])
def test_a_permanent_refusal_keeps_the_servers_code_and_text(
    smtp_server: SmtpSink, at: str
) -> None:
    smtp_server.fail_next(554, "5.7.1 Message refused by policy", at=at)  # type: ignore[arg-type]
    with pytest.raises(SendRejected) as refused:
        send(smtp_server)
    assert refused.value.code == 554
    assert "5.7.1 Message refused by policy" in str(refused.value)
    assert smtp_server.messages == []


@pytest.mark.parametrize("at", ["mail", "rcpt", "data"])
def test_a_temporary_refusal_is_unavailable_and_can_be_retried(
    smtp_server: SmtpSink, at: str
) -> None:
    smtp_server.fail_next(451, "4.3.0 Try again later", at=at)  # type: ignore[arg-type]
    with pytest.raises(SendUnavailable, match=r"451 4\.3\.0 Try again later"):
        send(smtp_server)
    assert smtp_server.messages == []
    send(smtp_server)
    assert len(smtp_server.messages) == 1


def test_one_refused_recipient_stops_the_whole_message(smtp_server: SmtpSink) -> None:
    smtp_server.fail_next(550, "5.1.1 No such user", at="rcpt")
    with pytest.raises(SendRejected) as refused:
        send(smtp_server, recipients=("nobody@acme.example", RECIPIENT))
    assert refused.value.code == 550
    assert smtp_server.messages == []


def test_a_stopped_server_is_unavailable(smtp_server: SmtpSink) -> None:
    smtp_server.stop()
    with pytest.raises(SendUnavailable, match="cannot reach"):
        send(smtp_server)


def test_a_wrong_password_is_a_credential_error(smtp_server: SmtpSink) -> None:
    with pytest.raises(CredentialError, match="refused the login"):
        send(smtp_server, password="not-the-password")
    assert smtp_server.messages == []


def test_a_user_without_password_or_token_is_a_credential_error(smtp_server: SmtpSink) -> None:
    with pytest.raises(CredentialError, match="no password"):
        send_message_sync(
            raw_message(),
            sender=ME.email,
            recipients=[RECIPIENT],
            settings=settings_for(smtp_server),
        )


def test_the_password_never_reaches_the_log(
    smtp_server: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    send(smtp_server)
    with pytest.raises(CredentialError):
        send(smtp_server, password=smtp_server.password + "x")
    assert "logged in" in caplog.text
    assert smtp_server.password not in caplog.text


def test_plain_smtp_to_loopback_needs_allow_insecure(smtp_server: SmtpSink) -> None:
    with pytest.raises(SendRejected, match="allow_insecure"):
        send(smtp_server, security="none", username=None)
    assert smtp_server.messages == []
    send(smtp_server, security="none", username=None, allow_insecure=True)
    [received] = smtp_server.messages
    assert not received.tls


@pytest.mark.parametrize("host", ["smtp.example.com", "192.0.2.1", "10.0.0.1"])
def test_plain_smtp_to_another_host_is_refused_without_connecting(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    async def no_connect(self: aiosmtplib.SMTP, **kwargs: object) -> None:
        attempts.append(kwargs)

    monkeypatch.setattr(aiosmtplib.SMTP, "connect", no_connect)
    settings = SmtpSettings(host=host, port=25, security="none", allow_insecure=True)
    with pytest.raises(SendRejected, match="without TLS"):
        send_message_sync(raw_message(), sender=ME.email, recipients=[RECIPIENT], settings=settings)
    assert attempts == []


@pytest.mark.parametrize("recipient", ["not an address", "jane@", "jane@acme.example\r\nX: y"])
def test_invalid_recipients_are_refused_before_connecting(
    recipient: str, smtp_server: SmtpSink
) -> None:
    smtp_server.stop()  # a connection attempt would raise SendUnavailable instead
    with pytest.raises(SendRejected, match="invalid recipient"):
        send(smtp_server, recipients=(recipient,))


def test_an_unknown_security_mode_is_refused() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=1, security="ssl")
    with pytest.raises(SendRejected, match="unknown SMTP security mode"):
        send_message_sync(raw_message(), sender=ME.email, recipients=[RECIPIENT], settings=settings)


def test_an_unreadable_ca_file_is_refused(tmp_path: Path) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=1, ca_file=tmp_path / "missing.pem")
    with pytest.raises(SendRejected, match="cannot load the CA file"):
        send_message_sync(raw_message(), sender=ME.email, recipients=[RECIPIENT], settings=settings)


def test_a_message_without_recipients_is_refused() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=1)
    with pytest.raises(SendRejected, match="no recipients"):
        send_message_sync(raw_message(), sender=ME.email, recipients=[], settings=settings)


def test_loopback_hosts_are_recognised() -> None:
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("127.8.9.10")
    assert is_loopback_host("::1")
    assert is_loopback_host("[::1]")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("localhost.example.com")
    assert not is_loopback_host("192.168.1.1")


# --- replies the sink does not give: a scripted peer on loopback ------------------------


@dataclass
class ScriptedPeer:
    """A one-connection plain SMTP peer answering from a script, for the replies
    the sink cannot give (no STARTTLS, XOAUTH2, hanging up during DATA)."""

    extensions: tuple[str, ...] = ()
    auth_replies: list[str] = field(default_factory=list)
    hang_up_after_data: bool = False
    lines: list[bytes] = field(default_factory=list)
    port: int = 0
    _listener: socket.socket | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join(TIMEOUT)
        if self._listener is not None:
            self._listener.close()

    def _serve(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as reader:
            conn.settimeout(TIMEOUT)
            with contextlib.suppress(OSError):  # the client hung up: the script is over
                self._converse(conn, reader.readline)

    def _converse(self, conn: socket.socket, readline: Callable[[], bytes]) -> None:
        conn.sendall(b"220 scripted peer ready\r\n")
        while line := readline():
            self.lines.append(line)
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                features = ["scripted", *self.extensions]
                reply = "".join(f"250-{f}\r\n" for f in features[:-1]) + f"250 {features[-1]}\r\n"
                conn.sendall(reply.encode())
            elif verb == b"AUTH":
                for reply in self.auth_replies:
                    conn.sendall(reply.encode() + b"\r\n")
                    if not reply.startswith("334"):
                        break
                    self.lines.append(readline())
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                conn.sendall(b"250 OK\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while (content := readline()) not in (b".\r\n", b""):
                    self.lines.append(content)
                if self.hang_up_after_data:
                    return
                conn.sendall(b"250 accepted\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 not scripted\r\n")


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    scripted = ScriptedPeer()
    yield scripted
    scripted.stop()


def peer_settings(peer: ScriptedPeer, **changes: object) -> SmtpSettings:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=peer.port,
        security="none",
        allow_insecure=True,
        timeout=TIMEOUT,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def commands(peer: ScriptedPeer) -> list[bytes]:
    return [line.split(b" ", 1)[0].strip().upper() for line in peer.lines]


def test_a_server_without_starttls_gets_nothing_but_ehlo(peer: ScriptedPeer) -> None:
    peer.start()
    with pytest.raises(SendUnavailable, match="does not offer STARTTLS"):
        send_message_sync(
            raw_message(),
            sender=ME.email,
            recipients=[RECIPIENT],
            settings=peer_settings(peer, security="starttls", allow_insecure=False),
            password="secret",
        )
    peer.stop()
    assert commands(peer) == [b"EHLO"]


def test_a_hang_up_after_the_message_was_sent_is_an_unknown_outcome(peer: ScriptedPeer) -> None:
    peer.hang_up_after_data = True
    peer.start()
    with pytest.raises(SendOutcomeUnknown, match="may or may not have been delivered"):
        send_message_sync(
            raw_message(), sender=ME.email, recipients=[RECIPIENT], settings=peer_settings(peer)
        )
    peer.stop()
    assert commands(peer)[:4] == [b"EHLO", b"MAIL", b"RCPT", b"DATA"]
    assert not issubclass(SendOutcomeUnknown, (SendUnavailable, SendRejected))


def test_xoauth2_sends_the_sasl_string_with_the_bearer_token(peer: ScriptedPeer) -> None:
    peer.extensions = ("AUTH PLAIN XOAUTH2",)
    peer.auth_replies = ["235 2.7.0 Accepted"]
    peer.start()
    result = send_message_sync(
        raw_message(),
        sender=ME.email,
        recipients=[RECIPIENT],
        settings=peer_settings(peer, username="alex.doe@example.org"),
        oauth2_token="ya29.token",
    )
    peer.stop()
    assert result == SendResult(250, "accepted")
    auth = next(line for line in peer.lines if line.startswith(b"AUTH"))
    verb, mechanism, argument = auth.split()
    assert (verb, mechanism) == (b"AUTH", b"XOAUTH2")
    assert base64.b64decode(argument) == (
        b"user=alex.doe@example.org\x01auth=Bearer ya29.token\x01\x01"
    )


def test_a_refused_xoauth2_token_is_a_credential_error(peer: ScriptedPeer) -> None:
    peer.extensions = ("AUTH XOAUTH2",)
    challenge = base64.b64encode(b'{"status":"401","schemes":"bearer"}').decode()
    peer.auth_replies = [f"334 {challenge}", "535 5.7.8 Username and Password not accepted"]
    peer.start()
    with pytest.raises(CredentialError, match="535"):
        send_message_sync(
            raw_message(),
            sender=ME.email,
            recipients=[RECIPIENT],
            settings=peer_settings(peer, username="alex.doe@example.org"),
            oauth2_token="expired",
        )
    peer.stop()
    assert b"MAIL" not in commands(peer)


def test_a_server_without_xoauth2_is_a_credential_error(peer: ScriptedPeer) -> None:
    peer.extensions = ("AUTH PLAIN",)
    peer.start()
    with pytest.raises(CredentialError, match="XOAUTH2"):
        send_message_sync(
            raw_message(),
            sender=ME.email,
            recipients=[RECIPIENT],
            settings=peer_settings(peer, username="alex.doe@example.org"),
            oauth2_token="token",
        )
    peer.stop()


def test_a_password_login_uses_auth_login_when_plain_is_not_offered(peer: ScriptedPeer) -> None:
    peer.extensions = ("AUTH LOGIN",)
    peer.auth_replies = ["334 UGFzc3dvcmQ6", "235 2.7.0 Accepted"]
    peer.start()
    send_message_sync(
        raw_message(),
        sender=ME.email,
        recipients=[RECIPIENT],
        settings=peer_settings(peer, username="alex"),
        password="secret",
    )
    peer.stop()
    auth_line, password_line = peer.lines[1:3]
    assert auth_line == b"AUTH LOGIN " + base64.b64encode(b"alex") + b"\r\n"
    assert password_line == base64.b64encode(b"secret") + b"\r\n"
    assert b"DATA" in commands(peer)


def test_a_server_without_password_login_is_a_credential_error(peer: ScriptedPeer) -> None:
    peer.extensions = ("AUTH CRAM-MD5",)
    peer.start()
    with pytest.raises(CredentialError, match="no password login"):
        send_message_sync(
            raw_message(),
            sender=ME.email,
            recipients=[RECIPIENT],
            settings=peer_settings(peer, username="alex"),
            password="secret",
        )
    peer.stop()


def test_a_password_and_a_token_together_are_a_programming_error() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=1)
    with pytest.raises(ValueError, match="not both"):
        send_message_sync(
            b"x",
            sender=ME.email,
            recipients=[RECIPIENT],
            settings=settings,
            password="p",
            oauth2_token="t",
        )
