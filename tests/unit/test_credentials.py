"""Fetching the secret from the keyring, a command or a credential file, never showing it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.backends.fail
import pytest

from mailfollow.config import Config, parse_config
from mailfollow.credentials import (
    AuthMechanism,
    Secret,
    get_credentials,
    get_oauth2_token,
    get_password,
    resolve_credential_file,
    store_password,
)
from mailfollow.errors import CredentialError

ENV = {"HOME": "/home/alex"}


def config_with_password(password: dict[str, Any] | None = None) -> Config:
    account: dict[str, Any] = {
        "address": "alex@example.org",
        "imap": {"host": "imap.example.org"},
        "smtp": {"host": "smtp.example.org"},
    }
    if password is not None:
        account["password"] = password
    return parse_config({"account": account}, environ=ENV)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict, so tests need no D-Bus session."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


# --------------------------------------------------------------------------- keyring


def test_a_stored_password_is_read_back_from_the_keyring(memory_keyring: MemoryKeyring) -> None:
    config = config_with_password()

    store_password(config, "s3cret")

    assert memory_keyring.entries == {("mailfollow", "alex@example.org"): "s3cret"}
    assert get_password(config) == "s3cret"


def test_the_keyring_service_and_user_can_be_chosen(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.entries[("work-mail", "alex")] = "s3cret"

    config = config_with_password({"keyring_service": "work-mail", "keyring_user": "alex"})

    assert get_password(config) == "s3cret"


def test_a_missing_keyring_entry_points_to_mailfollow_login(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(CredentialError, match="run `mailfollow login`"):
        get_password(config_with_password())


def test_a_missing_keyring_backend_suggests_the_alternatives(no_keyring: None) -> None:
    with pytest.raises(CredentialError) as caught:
        get_password(config_with_password())

    assert "no usable keyring backend" in str(caught.value)
    assert "password_command" in str(caught.value)


def test_storing_without_a_keyring_backend_is_a_credential_error(no_keyring: None) -> None:
    with pytest.raises(CredentialError, match="no usable keyring backend"):
        store_password(config_with_password(), "s3cret")


def test_login_refuses_to_store_when_the_password_comes_from_elsewhere(
    memory_keyring: MemoryKeyring,
) -> None:
    config = config_with_password({"password_command": ["pass", "show", "mail"]})

    with pytest.raises(CredentialError, match="password_command"):
        store_password(config, "s3cret")
    assert memory_keyring.entries == {}


def test_an_empty_password_is_not_stored(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(CredentialError, match="empty"):
        store_password(config_with_password(), "")
    assert memory_keyring.entries == {}


# --------------------------------------------------------------------------- commands


def test_a_password_command_prints_the_password() -> None:
    config = config_with_password({"password_command": ["printf", "%s", "s3cret"]})

    assert get_password(config) == "s3cret"


def test_only_the_first_output_line_is_the_password() -> None:
    config = config_with_password({"password_command": "printf 's3cret \\nlogin: alex\\n'"})

    assert get_password(config) == "s3cret "


def test_a_failing_command_reports_its_stderr_but_never_its_output(tmp_path: Path) -> None:
    script = tmp_path / "password-helper"
    script.write_text(
        "echo leaked-s3cret\necho 'gpg: decryption failed: No secret key' >&2\nexit 2\n",
        encoding="utf-8",
    )
    config = config_with_password({"password_command": ["sh", str(script)]})

    with pytest.raises(CredentialError) as caught:
        get_password(config)

    message = str(caught.value)
    assert "failed with exit status 2: gpg: decryption failed: No secret key" in message
    assert "leaked-s3cret" not in message


def test_a_missing_command_is_named() -> None:
    config = config_with_password({"password_command": ["no-such-password-helper", "x"]})

    with pytest.raises(CredentialError, match="command not found: no-such-password-helper"):
        get_password(config)


def test_a_hanging_command_times_out() -> None:
    config = config_with_password({"password_command": ["sleep", "5"]})

    with pytest.raises(CredentialError, match=r"did not finish within 0\.2 s"):
        get_password(config, timeout=0.2)


def test_a_command_that_prints_nothing_is_an_error() -> None:
    config = config_with_password({"password_command": ["true"]})

    with pytest.raises(CredentialError, match="empty first line"):
        get_password(config)


def test_an_oauth2_token_comes_from_its_command() -> None:
    config = config_with_password({"oauth2_token_command": ["printf", "%s\n", "ya29.token"]})

    credentials = get_credentials(config)

    assert get_oauth2_token(config) == "ya29.token"
    assert credentials.mechanism is AuthMechanism.XOAUTH2
    assert credentials.secret.reveal() == "ya29.token"
    assert credentials.username == "alex@example.org"


def test_an_oauth2_account_has_no_password() -> None:
    config = config_with_password({"oauth2_token_command": ["printf", "token"]})

    with pytest.raises(CredentialError, match="OAuth2"):
        get_password(config)


def test_a_password_account_has_no_oauth2_token() -> None:
    config = config_with_password({"password_command": ["printf", "s3cret"]})

    with pytest.raises(CredentialError, match=r"no account\.password\.oauth2_token_command"):
        get_oauth2_token(config)


# --------------------------------------------------------------------------- credential files


def test_a_credential_file_path_holds_the_password(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("s3cret\n", encoding="utf-8")
    secret_file.chmod(0o600)

    config = config_with_password({"credential_file": str(secret_file)})

    assert get_password(config) == "s3cret"


@pytest.mark.parametrize("spec", ["mailfollow-password", "%d/mailfollow-password"])
def test_a_systemd_credential_is_read_from_the_credentials_directory(
    tmp_path: Path, spec: str
) -> None:
    (tmp_path / "mailfollow-password").write_text("s3cret", encoding="utf-8")
    config = config_with_password({"credential_file": spec})

    password = get_password(config, environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})

    assert password == "s3cret"


def test_a_systemd_credential_outside_systemd_explains_why_it_is_missing() -> None:
    config = config_with_password({"credential_file": "mailfollow-password"})

    with pytest.raises(CredentialError, match=r"\$CREDENTIALS_DIRECTORY is not set"):
        get_password(config, environ={})


def test_a_missing_credential_file_is_named(tmp_path: Path) -> None:
    config = config_with_password({"credential_file": "mailfollow-password"})

    with pytest.raises(CredentialError, match="mailfollow-password does not exist"):
        get_password(config, environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})


def test_a_credential_file_path_expands_home_and_variables() -> None:
    environ = {"HOME": "/home/alex", "SECRETS": "/run/user/1000/secrets"}

    assert resolve_credential_file("~/pw", environ=environ) == Path("/home/alex/pw")
    assert resolve_credential_file("$SECRETS/pw", environ=environ) == Path(
        "/run/user/1000/secrets/pw"
    )
    with pytest.raises(CredentialError, match=r"\$UNSET_DIR, which is not set"):
        resolve_credential_file("${UNSET_DIR}/pw", environ=environ)


def test_a_credential_file_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("s3cret\n", encoding="utf-8")
    secret_file.chmod(0o644)
    config = config_with_password({"credential_file": str(secret_file)})

    with caplog.at_level(logging.WARNING, logger="mailfollow.credentials"):
        get_password(config)

    assert "readable by other users" in caplog.text
    assert "s3cret" not in caplog.text


# --------------------------------------------------------------------------- hiding


def test_a_secret_never_shows_itself_when_printed() -> None:
    secret = Secret("s3cret")

    assert "s3cret" not in repr(secret)
    assert "s3cret" not in str(secret)
    assert "s3cret" not in f"{secret}"
    assert secret.reveal() == "s3cret"


def test_credentials_can_be_logged_without_leaking_the_password() -> None:
    config = config_with_password({"password_command": ["printf", "%s", "s3cret"]})

    credentials = get_credentials(config)

    assert credentials.mechanism is AuthMechanism.PASSWORD
    assert credentials.secret.reveal() == "s3cret"
    assert "s3cret" not in repr(credentials)
