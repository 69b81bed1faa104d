"""Fetching the account's password or OAuth2 token from where the config says it lives.

The configuration names a source, never the secret (see ``[account.password]``):
the system keyring (default), a command such as ``pass show mail``, a systemd
credential file, or a command that prints an OAuth2 access token. Every failure
becomes one :class:`~mailfollow.errors.CredentialError` saying what to do next;
no message ever contains the secret or a command's output.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import keyring
import keyring.errors

from mailfollow.config import CredentialSettings, CredentialSource
from mailfollow.errors import CredentialError
from mailfollow.logs import redact

if TYPE_CHECKING:
    from mailfollow.config import Config

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT = 30.0  # seconds; long enough for a GPG agent, short enough to notice a hang
_SYSTEMD_CREDENTIALS_PREFIX = "%d/"
_ENV_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


class Secret:
    """A password or token whose repr and str never show it; ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


class AuthMechanism(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 (a mechanism name) IMAP LOGIN, SMTP AUTH PLAIN/LOGIN
    XOAUTH2 = "xoauth2"  # SASL XOAUTH2 with an access token (Gmail, Microsoft 365)


@dataclass(frozen=True)
class Credentials:
    """What the adapters log in with; printing it shows no secret."""

    username: str
    secret: Secret
    mechanism: AuthMechanism


def get_credentials(
    config: Config, *, environ: Mapping[str, str] | None = None, timeout: float = COMMAND_TIMEOUT
) -> Credentials:
    """The username and the password or token, from whichever source is configured."""
    settings = config.account.credentials
    if settings.uses_oauth2:
        token = _run_secret_command(settings.command, what="oauth2_token_command", timeout=timeout)
        return Credentials(config.account.username, Secret(token), AuthMechanism.XOAUTH2)
    password = _fetch_password(config, settings, environ=environ, timeout=timeout)
    return Credentials(config.account.username, Secret(password), AuthMechanism.PASSWORD)


def get_password(
    config: Config, *, environ: Mapping[str, str] | None = None, timeout: float = COMMAND_TIMEOUT
) -> str:
    """The account password; raises CredentialError with a hint when unavailable."""
    settings = config.account.credentials
    if settings.uses_oauth2:
        raise CredentialError(
            "this account logs in with OAuth2 (account.password.oauth2_token_command), "
            "not a password"
        )
    return _fetch_password(config, settings, environ=environ, timeout=timeout)


def get_oauth2_token(config: Config, *, timeout: float = COMMAND_TIMEOUT) -> str:
    """A fresh OAuth2 access token printed by ``oauth2_token_command``."""
    settings = config.account.credentials
    if not settings.uses_oauth2:
        raise CredentialError(
            "no account.password.oauth2_token_command is configured; this account uses a "
            f"password ({settings.source.value})"
        )
    return _run_secret_command(settings.command, what="oauth2_token_command", timeout=timeout)


def store_password(config: Config, password: str) -> None:
    """Save the password in the system keyring (for ``mailfollow login``)."""
    settings = config.account.credentials
    if settings.source is not CredentialSource.KEYRING:
        raise CredentialError(
            f"this account takes its secret from account.password.{settings.source.value}, "
            "so there is nothing to store in the keyring; remove that setting to use the keyring"
        )
    if not password:
        raise CredentialError("refusing to store an empty password")
    try:
        keyring.set_password(settings.keyring_service, settings.keyring_user, password)
    except keyring.errors.NoKeyringError as exc:
        raise CredentialError(_no_backend_message()) from exc
    except Exception as exc:  # backends raise their own exception types
        raise CredentialError(f"could not save to the keyring: {_describe_error(exc)}") from exc


# --------------------------------------------------------------------------- sources


def _fetch_password(
    config: Config,
    settings: CredentialSettings,
    *,
    environ: Mapping[str, str] | None,
    timeout: float,
) -> str:
    if settings.source is CredentialSource.COMMAND:
        return _run_secret_command(settings.command, what="password_command", timeout=timeout)
    if settings.source is CredentialSource.FILE:
        env = os.environ if environ is None else environ
        return _read_credential_file(settings.credential_file, env)
    return _read_keyring(settings.keyring_service, settings.keyring_user)


def _read_keyring(service: str, user: str) -> str:
    try:
        password = keyring.get_password(service, user)
    except keyring.errors.NoKeyringError as exc:
        raise CredentialError(_no_backend_message()) from exc
    except Exception as exc:  # backends raise their own exception types
        raise CredentialError(
            f"could not read the keyring (service {service!r}, user {user!r}): "
            f"{_describe_error(exc)}; is it locked?"
        ) from exc
    if not password:
        raise CredentialError(
            f"no password in the keyring for service {service!r}, user {user!r}: "
            "run `mailfollow login` to store it"
        )
    return password


def _no_backend_message() -> str:
    return (
        "no usable keyring backend (a desktop keyring such as GNOME Keyring or KWallet, reached "
        "over the user's D-Bus session); run mailfollow as a user service, or set "
        "account.password.password_command or credential_file instead"
    )


def _run_secret_command(argv: Sequence[str], *, what: str, timeout: float) -> str:
    """Run the command; its first stdout line is the secret. Output is never shown."""
    command = [os.path.expanduser(argv[0]), *argv[1:]]
    shown = shlex.join(argv)
    try:
        completed = subprocess.run(  # noqa: S603 (the user's own configured command, no shell)
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CredentialError(f"{what}: command not found: {argv[0]}") from exc
    except PermissionError as exc:
        raise CredentialError(f"{what}: {argv[0]} is not executable") from exc
    except subprocess.TimeoutExpired as exc:
        raise CredentialError(
            f"{what} `{shown}` did not finish within {timeout:g} s "
            "(is it waiting for a passphrase prompt?)"
        ) from exc
    except OSError as exc:
        raise CredentialError(f"{what} `{shown}` could not start: {exc.strerror}") from exc
    if completed.returncode != 0:
        detail = _first_line(completed.stderr.decode("utf-8", "replace"))
        detail = f": {redact(detail)[:200]}" if detail else " (nothing on stderr)"
        raise CredentialError(
            f"{what} `{shown}` failed with exit status {completed.returncode}{detail}"
        )
    return _secret_from_output(completed.stdout, f"{what} `{shown}`")


def _read_credential_file(spec: str, environ: Mapping[str, str]) -> str:
    path = resolve_credential_file(spec, environ=environ)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        hint = (
            " (under systemd, check the unit's LoadCredential= or LoadCredentialEncrypted= name)"
            if environ.get("CREDENTIALS_DIRECTORY")
            else ""
        )
        raise CredentialError(f"credential file {path} does not exist{hint}") from exc
    except OSError as exc:
        raise CredentialError(f"cannot read credential file {path}: {exc.strerror}") from exc
    _warn_if_readable_by_others(path, environ)
    return _secret_from_output(data, f"credential file {path}")


def resolve_credential_file(spec: str, *, environ: Mapping[str, str] | None = None) -> Path:
    """Where ``credential_file`` points.

    A bare name ("mailfollow-password") or "%d/name" is a systemd credential in
    $CREDENTIALS_DIRECTORY; anything else is a path (``~`` and $VARS expanded).
    """
    env = os.environ if environ is None else environ
    name = spec.removeprefix(_SYSTEMD_CREDENTIALS_PREFIX)
    if name != spec or "/" not in spec:
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise CredentialError(
                f"credential_file {spec!r} is a systemd credential, but $CREDENTIALS_DIRECTORY "
                "is not set: run mailfollow from a unit with LoadCredential= (or give a path)"
            )
        return Path(directory) / name
    try:
        expanded = _ENV_VAR.sub(lambda m: env[m[1] or m[2]], _expand_user(spec, env))
    except KeyError as exc:
        raise CredentialError(
            f"credential_file {spec!r} uses ${exc.args[0]}, which is not set"
        ) from None
    return Path(expanded)


def _expand_user(text: str, env: Mapping[str, str]) -> str:
    if text == "~" or text.startswith("~/"):
        return (env.get("HOME") or str(Path.home())) + text[1:]
    return text


def _warn_if_readable_by_others(path: Path, environ: Mapping[str, str]) -> None:
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if directory and path.parent == Path(directory):
        return  # systemd manages those permissions
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o077:
        logger.warning("credential file %s is readable by other users; chmod 600 it", path)


def _secret_from_output(data: bytes, origin: str) -> str:
    """The first line, without its line ending; surrounding spaces are part of it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CredentialError(f"{origin} produced bytes that are not UTF-8 text") from exc
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise CredentialError(f"{origin} produced an empty first line")
    return secret


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _describe_error(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {redact(text)}" if text else type(exc).__name__
