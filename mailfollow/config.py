"""The configuration file: TOML in, frozen dataclasses out.

``load_config`` reads the file with :mod:`tomllib`, and ``parse_config`` turns
the resulting dict into a :class:`Config`. Parsing never stops at the first
mistake: every problem is collected as ``"dotted.key: message"`` and they are
raised together as one :class:`~mailfollow.errors.ConfigError`, so the user
can fix the whole file in one go.

Two rules are enforced here rather than left to the adapters:

* the file never holds a password or token (any ``password``-like key is
  refused, its value never echoed); ``[account.password]`` names where the
  secret lives instead (keyring, a command, a systemd credential);
* mail is never sent or read over plaintext except to a loopback host, and
  only when the user says so with ``allow_insecure = true``.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import os
import re
import shlex
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email

from mailfollow import model
from mailfollow.errors import ConfigError
from mailfollow.transport import is_loopback_host

CONFIG_FILE_NAME = "config.toml"
STORE_FILE_NAME = "mailfollow.sqlite3"
DEFAULT_KEYRING_SERVICE = "mailfollow"

_MISSING: Any = object()
_LONGEST_DURATION = timedelta(days=3650)  # anything longer is a typo, not a plan

# Keys that would hold a secret in plain text. Refused wherever they appear.
_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "app_password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "oauth2_token",
        "client_secret",
    }
)
_WHERE_SECRETS_GO = (
    "a password or token must not be written in the configuration file (its value is not shown "
    "here); remove it and tell mailfollow where to get it in [account.password]: leave the "
    "section empty to use the system keyring (store the password with `mailfollow login`), or "
    'set password_command (e.g. ["pass", "show", "mail/alex"]), credential_file (a systemd '
    "credential) or oauth2_token_command (OAuth2, e.g. Gmail or Microsoft 365)"
)


# --------------------------------------------------------------------------- schema


class Security(enum.StrEnum):
    """How the connection to a mail server is protected."""

    TLS = "tls"  # implicit TLS from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"  # plaintext greeting, then upgraded to TLS
    NONE = "none"  # plaintext: loopback only, and only with allow_insecure


_DEFAULT_PORTS = {
    "imap": {Security.TLS: 993, Security.STARTTLS: 143, Security.NONE: 143},
    "smtp": {Security.TLS: 465, Security.STARTTLS: 587, Security.NONE: 25},
}


@dataclass(frozen=True)
class ServerSettings:
    """One mail server (IMAP or SMTP) and how to reach it."""

    host: str
    port: int
    security: Security = Security.TLS
    ca_file: Path | None = None  # extra CA / pinned certificate, e.g. Proton Bridge's
    allow_insecure: bool = False

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.security.value})"


class CredentialSource(enum.StrEnum):
    """Where the account's secret comes from."""

    KEYRING = "keyring"
    COMMAND = "password_command"
    FILE = "credential_file"
    OAUTH2 = "oauth2_token_command"


@dataclass(frozen=True)
class CredentialSettings:
    """Where to find the password or OAuth2 token: never the secret itself."""

    source: CredentialSource = CredentialSource.KEYRING
    keyring_service: str = DEFAULT_KEYRING_SERVICE
    keyring_user: str = ""
    command: tuple[str, ...] = ()  # password_command or oauth2_token_command argv
    credential_file: str = ""  # as written; resolved when read (needs $CREDENTIALS_DIRECTORY)

    @property
    def uses_oauth2(self) -> bool:
        return self.source is CredentialSource.OAUTH2


@dataclass(frozen=True)
class AccountSettings:
    name: str
    address: str  # lower-case
    aliases: tuple[str, ...]  # lower-case, without the main address
    username: str
    imap: ServerSettings
    smtp: ServerSettings
    credentials: CredentialSettings


@dataclass(frozen=True)
class FolderSettings:
    """Folder names; an empty string means detect it (SPECIAL-USE, then common names)."""

    inbox: str = ""
    sent: str = ""
    drafts: str = ""
    archive: str = ""
    all_mail: str = ""
    extra_tracked: tuple[str, ...] = ()


class SaveSent(enum.StrEnum):
    """Whether to APPEND a copy of a sent follow-up to the Sent folder."""

    AUTO = "auto"  # not for providers that file it themselves (Gmail, Microsoft 365...)
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class DraftSettings:
    signature: str = ""
    templates_dir: Path | None = None
    approve_by_flag: bool = False
    quote_original: bool = True
    save_sent: SaveSent = SaveSent.AUTO
    daily_send_cap: int = 20
    hourly_send_cap: int = 5


class Digest(enum.StrEnum):
    EMAIL = "email"
    LOG = "log"
    BOTH = "both"
    NONE = "none"


@dataclass(frozen=True)
class DaemonSettings:
    poll_interval: timedelta = timedelta(minutes=5)
    idle: bool = True
    digest: Digest = Digest.LOG
    digest_time: time = time(8, 0)


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    account: AccountSettings
    state_dir: Path  # holds the database; created by the store, not here
    folders: FolderSettings = field(default_factory=FolderSettings)
    policy: model.PolicySettings = field(default_factory=model.PolicySettings)
    detection: model.DetectionRules = field(default_factory=model.DetectionRules)
    drafts: DraftSettings = field(default_factory=DraftSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    path: str = ""  # the file it came from, for messages

    def identity(self) -> model.Identity:
        """The user: display name and every address they send from."""
        addresses = frozenset({self.account.address, *self.account.aliases})
        return model.Identity(name=self.account.name, addresses=addresses)

    def policy_settings(self) -> model.PolicySettings:
        return self.policy

    def detection_rules(self) -> model.DetectionRules:
        return self.detection

    def store_path(self) -> Path:
        return self.state_dir / STORE_FILE_NAME

    def describe(self) -> list[str]:
        """The effective configuration, one readable line per setting; never a secret."""
        return _describe(self)


# --------------------------------------------------------------------------- locating


def default_config_path(*, environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/mailfollow/config.toml`` (``~/.config`` when unset)."""
    env = os.environ if environ is None else environ
    return _xdg_dir("XDG_CONFIG_HOME", ".config", env) / "mailfollow" / CONFIG_FILE_NAME


def default_state_dir(*, environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/mailfollow`` (``~/.local/state`` when unset)."""
    env = os.environ if environ is None else environ
    return _xdg_dir("XDG_STATE_HOME", ".local/state", env) / "mailfollow"


def locate_config(explicit: str | None, *, environ: Mapping[str, str] | None = None) -> Path:
    """Find the configuration file: ``--config``, then ``MAILFOLLOW_CONFIG``, then XDG.

    Raises ConfigError, saying where it looked, when the file does not exist.
    """
    env = os.environ if environ is None else environ
    if explicit:
        path, origin = Path(explicit), "given with --config"
    elif env.get("MAILFOLLOW_CONFIG"):
        path, origin = Path(env["MAILFOLLOW_CONFIG"]), "named by MAILFOLLOW_CONFIG"
    else:
        path, origin = default_config_path(environ=env), "the default location"
    path = Path(_expand_home(str(path), env))
    if path.is_dir():
        raise ConfigError([f"config: {path} ({origin}) is a directory, not a file"], path=str(path))
    if not path.exists():
        raise ConfigError(
            [
                f"config: no configuration file at {path} ({origin}); copy config.example.toml "
                "from the mailfollow sources there and edit it, or name your file with "
                "--config FILE or MAILFOLLOW_CONFIG"
            ],
            path=str(path),
        )
    return path


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate ``path``; raises one ConfigError listing every problem."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(["config: file not found"], path=str(path)) from None
    except OSError as exc:
        raise ConfigError(
            [f"config: cannot read it: {exc.strerror or exc}"], path=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(["config: the file is not UTF-8 text"], path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"syntax: not valid TOML: {exc}"], path=str(path)) from exc
    return parse_config(data, path=str(path), environ=environ)


def parse_config(
    data: Mapping[str, Any], *, path: str = "", environ: Mapping[str, str] | None = None
) -> Config:
    """Validate an already-parsed TOML document (a dict) into a Config.

    Relative paths in the file are relative to the file's directory (the current
    directory when ``path`` is empty). ``environ`` (default ``os.environ``)
    expands ``~`` and ``$VARS`` in paths.
    """
    env = os.environ if environ is None else environ
    base_dir = Path(path).absolute().parent if path else Path.cwd()
    problems: list[str] = []
    _report_secret_keys(data, "", problems)
    root = _Table(data, "", problems, env=env, base_dir=base_dir)

    account_table = root.table("account")  # reports a non-table value
    if "account" not in data:
        problems.append('account: required section: [account] with address = "you@example.org"')
    account = _read_account(account_table) if isinstance(data.get("account"), dict) else None
    folders = _read_folders(root.table("folders"))
    thresholds = _read_thresholds(root.table("thresholds"))
    policy = _read_policy(root.table("policy"), thresholds)
    detection = _read_detection(root.table("detection"), folders)
    drafts = _read_drafts(root.table("drafts"))
    daemon = _read_daemon(root.table("daemon"))
    state_dir = _read_state(root.table("state"))
    root.reject_unknown()

    if problems or account is None:
        raise ConfigError(problems or ["account: missing section"], path=path)
    return Config(
        account=account,
        folders=folders,
        policy=policy,
        detection=detection,
        drafts=drafts,
        daemon=daemon,
        state_dir=state_dir,
        path=path,
    )


# --------------------------------------------------------------------------- durations


_DURATION_UNITS = {
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "seconds": "seconds",
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "wk": "weeks",
    "wks": "weeks",
    "week": "weeks",
    "weeks": "weeks",
}
_UNIT_ALTERNATION = "|".join(sorted(_DURATION_UNITS, key=len, reverse=True))
_DURATION_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT_ALTERNATION})", re.IGNORECASE)
_DURATION_WHOLE = re.compile(rf"\s*(?:(?:\d+(?:\.\d+)?)\s*(?:{_UNIT_ALTERNATION})\s*)+", re.I)


def parse_duration(text: str) -> timedelta:
    """Parse "36h", "10d", "2w", "1d 12h", "90s", "5 minutes"; raises ValueError.

    ``m`` is minutes. There is no month unit: months differ in length.
    """
    if not _DURATION_WHOLE.fullmatch(text):
        raise ValueError(f"not a duration: {text!r}")
    total = timedelta()
    for number, unit in _DURATION_PART.findall(text):
        total += timedelta(**{_DURATION_UNITS[unit.lower()]: float(number)})
    return total


def format_duration(value: timedelta) -> str:
    """Short form such as "7d", "36h", "1d12h", "5m", "0s" (whole seconds)."""
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + ("".join(parts) or "0s")


# --------------------------------------------------------------------------- reading helpers

E = TypeVar("E", bound=enum.StrEnum)
T = TypeVar("T")


def _show(value: Any, *, limit: int = 60) -> str:
    """A value as it would look in TOML, shortened to ``limit``, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
        return shown if len(shown) <= limit else shown[: limit - 4] + '..."'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date | time):
        return value.isoformat()
    return repr(value)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{lowered[close[0]]}"?)' if close else ""


class _Table:
    """One TOML table being read: remembers the keys it knows and reports problems."""

    def __init__(
        self,
        data: Mapping[str, Any],
        prefix: str,
        problems: list[str],
        *,
        env: Mapping[str, str],
        base_dir: Path,
    ) -> None:
        self.data = data
        self.prefix = prefix
        self.problems = problems
        self.env = env
        self.base_dir = base_dir
        self._known: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.key(name)}: {message}")

    def has(self, name: str) -> bool:
        self._known.add(name)
        return name in self.data

    def raw(self, name: str) -> Any:
        self._known.add(name)
        return self.data.get(name, _MISSING)

    def table(self, name: str) -> _Table:
        value = self.raw(name)
        if value is _MISSING or not isinstance(value, dict):
            if value is not _MISSING and name.lower() not in _SECRET_KEYS:
                self.problem(name, f"expected a table ([{self.key(name)}]), got {_show(value)}")
            value = {}
        return _Table(value, self.key(name), self.problems, env=self.env, base_dir=self.base_dir)

    def reject_unknown(self) -> None:
        for name in self.data:
            if name in self._known or name.lower() in _SECRET_KEYS:
                continue  # secret keys were reported by _report_secret_keys
            kind = "section" if isinstance(self.data[name], dict) else "key"
            hint = _did_you_mean(name, self._known)
            self.problem(name, f"unknown {kind}{hint}")

    # Typed accessors: each returns the default after reporting a problem.

    def convert(
        self, name: str, default: T, expected: str, convert: Callable[[Any], T | None]
    ) -> T:
        value = self.raw(name)
        if value is _MISSING:
            return default
        result = convert(value)
        if result is None:
            self.problem(name, f"expected {expected}, got {_show(value)}")
            return default
        return result

    def string(self, name: str, default: str = "", *, required: str = "") -> str:
        if required and not self.has(name):
            self.problem(name, f"required: {required}")
            return default
        value = self.convert(name, default, "a string", _as_str)
        if required and not value.strip():
            self.problem(name, f"must not be empty: {required}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        return self.convert(name, default, "true or false", _as_bool)

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        bounds = f"at least {minimum}" if maximum is None else f"{minimum} to {maximum}"
        expected = f"a whole number ({bounds})"

        def convert(value: Any) -> int | None:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
            return value if ok and (maximum is None or value <= maximum) else None

        return self.convert(name, default, expected, convert)

    def choice(self, name: str, default: E) -> E:
        enum_cls = type(default)
        values = [member.value for member in enum_cls]
        value = self.raw(name)
        if value is _MISSING:
            return default
        if isinstance(value, str) and value.strip().lower() in values:
            return enum_cls(value.strip().lower())
        listed = ", ".join(f'"{v}"' for v in values)
        hint = _did_you_mean(value, values) if isinstance(value, str) else ""
        self.problem(name, f"expected one of {listed}, got {_show(value)}{hint}")
        return default

    def duration(
        self, name: str, default: timedelta, *, bare_unit: str, minimum: timedelta, expected: str
    ) -> timedelta:
        def convert(value: Any) -> timedelta | None:
            result = _as_duration(value, bare_unit)
            if result is None or result < minimum or result > _LONGEST_DURATION:
                return None
            return result

        return self.convert(name, default, expected, convert)

    def time_of_day(self, name: str, default: time | None) -> time | None:
        return self.convert(name, default, 'a time of day "HH:MM" (24-hour clock)', _as_time)

    def string_list(self, name: str, *, what: str = "a string") -> tuple[str, ...]:
        value = self.raw(name)
        if value is _MISSING:
            return ()
        if isinstance(value, str):
            value = [value]  # a lone string is a list of one: forgiving, and unambiguous
        if not isinstance(value, list):
            self.problem(name, f"expected a list of strings, got {_show(value)}")
            return ()
        items: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.problem(f"{name}[{index}]", f"expected {what}, got {_show(item)}")
            else:
                items.append(item.strip())
        return tuple(items)

    def path(self, name: str, *, must_be: str) -> Path | None:
        """An optional path; ``must_be`` is "file" or "dir" (it must exist)."""
        value = self.raw(name)
        if value is _MISSING or value == "":
            return None
        if not isinstance(value, str):
            self.problem(name, f"expected a path (a string), got {_show(value)}")
            return None
        resolved = self.expand_path(name, value)
        if resolved is None:
            return None
        exists = resolved.is_file() if must_be == "file" else resolved.is_dir()
        if not exists:
            self.problem(
                name, f"no such {'file' if must_be == 'file' else 'directory'}: {resolved}"
            )
            return None
        return resolved

    def expand_path(self, name: str, text: str) -> Path | None:
        try:
            expanded = _expand_vars(_expand_home(text, self.env), self.env)
        except KeyError as exc:
            self.problem(name, f"uses ${exc.args[0]}, which is not set in the environment")
            return None
        path = Path(expanded)
        return path if path.is_absolute() else self.base_dir / path


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _as_duration(value: Any, bare_unit: str) -> timedelta | None:
    number = _as_number(value)
    if number is None and isinstance(value, str):
        try:
            return parse_duration(value)
        except (ValueError, OverflowError):
            number = _as_number(_float_or_none(value))
    if number is None:
        return None
    try:
        return timedelta(**{bare_unit: number})
    except OverflowError:
        return None


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_HH_MM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _as_time(value: Any) -> time | None:
    if isinstance(value, time) and value.tzinfo is None:
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str) and (match := _HH_MM.fullmatch(value.strip())):
        return time(int(match[1]), int(match[2]))
    return None


_ENV_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def _expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Expand $VAR and ${VAR}; an unset variable raises KeyError (never silently kept)."""
    return _ENV_VAR.sub(lambda m: env[m[1] or m[2]], text)


def _expand_home(text: str, env: Mapping[str, str]) -> str:
    if text == "~" or text.startswith("~/"):
        home = env.get("HOME") or str(Path.home())
        return home + text[1:]
    return text


def _xdg_dir(variable: str, fallback: str, env: Mapping[str, str]) -> Path:
    value = env.get(variable, "")
    if value and Path(value).is_absolute():  # the XDG spec says to ignore relative values
        return Path(value)
    return Path(env.get("HOME") or str(Path.home())) / fallback


def _report_secret_keys(data: Mapping[str, Any], prefix: str, problems: list[str]) -> None:
    """Refuse every password-like key, wherever it is, without echoing its value."""
    for name, value in data.items():
        dotted = f"{prefix}.{name}" if prefix else name
        is_password_section = dotted == "account.password" and isinstance(value, dict)
        if name.lower() in _SECRET_KEYS and not is_password_section:
            problems.append(f"{dotted}: {_WHERE_SECRETS_GO}")
        elif isinstance(value, dict):
            _report_secret_keys(value, dotted, problems)


# --------------------------------------------------------------------------- sections


def _read_address(table: _Table, name: str, value: Any) -> str | None:
    if not isinstance(value, str):
        table.problem(name, f"expected an email address (a string), got {_show(value)}")
        return None
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        table.problem(name, f"{_show(value)} is not a valid email address: {exc}")
        return None
    return checked.normalized.lower()


def _read_account(table: _Table) -> AccountSettings | None:
    name = table.string("name")
    address_value = table.raw("address")
    address = None
    if address_value is _MISSING:
        table.problem("address", 'required: your email address, e.g. "alex@example.org"')
    else:
        address = _read_address(table, "address", address_value)
    aliases: list[str] = []
    for index, alias in enumerate(table.string_list("aliases", what="an email address")):
        normalized = _read_address(table, f"aliases[{index}]", alias)
        if normalized and normalized != address and normalized not in aliases:
            aliases.append(normalized)
    username = table.string("username", address or "")
    if table.has("username") and not username.strip():
        table.problem("username", "must not be empty (leave it out to log in with the address)")
    imap = _read_server(table.table("imap"), "imap")
    smtp = _read_server(table.table("smtp"), "smtp")
    credentials = _read_credentials(table.table("password"), username)
    table.reject_unknown()
    if address is None or imap is None or smtp is None or credentials is None:
        return None
    return AccountSettings(
        name=name.strip(),
        address=address,
        aliases=tuple(aliases),
        username=username,
        imap=imap,
        smtp=smtp,
        credentials=credentials,
    )


def _read_server(table: _Table, protocol: str) -> ServerSettings | None:
    example = f"{protocol}.example.org"
    host = table.string("host", required=f'the {protocol.upper()} server name, e.g. "{example}"')
    if "://" in host or "/" in host or " " in host.strip():
        table.problem("host", f'give the host name only, e.g. "{example}", got {_show(host)}')
    security = table.choice("security", Security.TLS)
    port = table.integer("port", _DEFAULT_PORTS[protocol][security], minimum=1, maximum=65535)
    ca_file = table.path("ca_file", must_be="file")
    allow_insecure = table.boolean("allow_insecure", False)
    table.reject_unknown()
    if security is Security.NONE and host.strip():
        _check_plaintext_allowed(table, host.strip(), allow_insecure=allow_insecure)
    if not host.strip():
        return None
    return ServerSettings(
        host=host.strip(),
        port=port,
        security=security,
        ca_file=ca_file,
        allow_insecure=allow_insecure,
    )


def _check_plaintext_allowed(table: _Table, host: str, *, allow_insecure: bool) -> None:
    """Plaintext is allowed only to a loopback host, and only when asked for explicitly."""
    if not is_loopback_host(host):
        table.problem(
            "security",
            f'"none" would send your password and mail unencrypted to {_show(host)}; '
            "plaintext is only allowed to a loopback host (127.0.0.1, ::1, localhost) "
            'with allow_insecure = true: use "tls" or "starttls"',
        )
    elif not allow_insecure:
        table.problem(
            "security",
            f'"none" (plaintext) to {_show(host)} also needs {table.key("allow_insecure")} = true; '
            "plaintext is only allowed to a loopback host, and only when you ask for it",
        )


_SOURCE_KEYS = ("password_command", "credential_file", "oauth2_token_command")


def _read_credentials(table: _Table, username: str) -> CredentialSettings | None:
    """Exactly one source: the keyring (default), a command, a credential file or OAuth2."""
    chosen = [name for name in ("keyring_service", "keyring_user") if table.has(name)][:1]
    chosen += [name for name in _SOURCE_KEYS if table.has(name)]
    if len(chosen) > 1:
        listed = " and ".join(chosen)
        table.problem(
            chosen[1],
            f"choose one password source, found {listed}; keep only one of the keyring "
            "(the default), password_command, credential_file and oauth2_token_command",
        )
    if table.has("source"):
        table.problem(
            "source",
            "not a setting: the source is the key you set, nothing for the keyring (the "
            "default), or password_command, credential_file or oauth2_token_command",
        )
    service = table.string("keyring_service", DEFAULT_KEYRING_SERVICE).strip()
    keyring_user = table.string("keyring_user", username).strip()
    for name, value in (("keyring_service", service), ("keyring_user", keyring_user)):
        if table.has(name) and not value:
            table.problem(name, "must not be empty")
    password_command = _read_command(table, "password_command")
    token_command = _read_command(table, "oauth2_token_command")
    credential_file = _read_credential_file(table)
    table.reject_unknown()
    if len(chosen) > 1:
        return None
    source = CredentialSource(chosen[0]) if chosen and chosen[0] in _SOURCE_KEYS else None
    if source is CredentialSource.COMMAND:
        return CredentialSettings(source, command=password_command) if password_command else None
    if source is CredentialSource.OAUTH2:
        return CredentialSettings(source, command=token_command) if token_command else None
    if source is CredentialSource.FILE:
        return (
            CredentialSettings(source, credential_file=credential_file) if credential_file else None
        )
    return CredentialSettings(keyring_service=service, keyring_user=keyring_user)


def _read_command(table: _Table, name: str) -> tuple[str, ...]:
    value = table.raw(name)
    if value is _MISSING:
        return ()
    expected = 'a command as a list (["pass", "show", "mail/alex"]) or a string'
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            table.problem(name, f"cannot split the command into words: {exc}")
            return ()
    elif isinstance(value, list) and all(isinstance(part, str) for part in value):
        argv = list(value)
    else:
        table.problem(name, f"expected {expected}, got {_show(value)}")
        return ()
    if not argv or not argv[0].strip():
        table.problem(name, f"expected {expected}, got an empty command")
        return ()
    return tuple(argv)


def _read_credential_file(table: _Table) -> str:
    value = table.raw("credential_file")
    if value is _MISSING:
        return ""
    if not isinstance(value, str) or not value.strip():
        table.problem(
            "credential_file",
            'expected a systemd credential name ("mailfollow-password") or a path, '
            f"got {_show(value)}",
        )
        return ""
    return value.strip()


def _read_folders(table: _Table) -> FolderSettings:
    names = {
        key: table.string(key).strip() for key in ("inbox", "sent", "drafts", "archive", "all_mail")
    }
    extra = table.string_list("extra_tracked", what="a folder or label name")
    table.reject_unknown()
    return FolderSettings(**names, extra_tracked=extra)


_POSITIVE_DAYS = 'a positive number of days or a duration like "36h", "10d", "2w"'
_DAYS_OR_ZERO = 'a number of days (0 or more) or a duration like "12h", "2d"'


def _read_thresholds(table: _Table) -> model.Thresholds:
    defaults = model.Thresholds()
    values = {
        stage.value: table.duration(
            stage.value,
            getattr(defaults, stage.value),
            bare_unit="days",
            minimum=timedelta(seconds=1),
            expected=_POSITIVE_DAYS,
        )
        for stage in model.Stage
    }
    table.reject_unknown()
    return model.Thresholds(**values)


def _read_policy(table: _Table, thresholds: model.Thresholds) -> model.PolicySettings:
    defaults = model.PolicySettings()

    def days(name: str, default: timedelta, *, positive: bool) -> timedelta:
        minimum = timedelta(seconds=1) if positive else timedelta()
        expected = _POSITIVE_DAYS if positive else _DAYS_OR_ZERO
        return table.duration(name, default, bare_unit="days", minimum=minimum, expected=expected)

    max_nudges = table.integer("max_nudges", defaults.max_nudges, minimum=0, maximum=10)
    nudge_spacing = days("nudge_spacing", defaults.nudge_spacing, positive=True)
    business_days_only = table.boolean("business_days_only", defaults.business_days_only)
    holidays = _read_holidays(table)
    quiet_hours = _read_quiet_hours(table)
    timezone = _read_timezone(table, defaults.timezone)
    promise_grace = days("promise_grace", defaults.promise_grace, positive=False)
    per_recipient_window = days(
        "per_recipient_window", defaults.per_recipient_window, positive=False
    )
    per_company_limit = table.integer("per_company_limit", defaults.per_company_limit, minimum=1)
    conversation_window = days("conversation_window", defaults.conversation_window, positive=True)
    table.reject_unknown()
    return model.PolicySettings(
        thresholds=thresholds,
        max_nudges=max_nudges,
        nudge_spacing=nudge_spacing,
        business_days_only=business_days_only,
        holidays=holidays,
        quiet_hours=quiet_hours,
        timezone=timezone,
        promise_grace=promise_grace,
        per_recipient_window=per_recipient_window,
        per_company_limit=per_company_limit,
        conversation_window=conversation_window,
    )


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_iso_date(value: Any) -> str | None:
    if isinstance(value, date) and not hasattr(value, "hour"):  # TOML local date, not datetime
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


def _read_holidays(table: _Table) -> frozenset[str]:
    value = table.raw("holidays")
    if value is _MISSING:
        return frozenset()
    if not isinstance(value, list):
        table.problem("holidays", f'expected a list of dates "YYYY-MM-DD", got {_show(value)}')
        return frozenset()
    holidays = set()
    for index, item in enumerate(value):
        iso = _as_iso_date(item)
        if iso is None:
            table.problem(f"holidays[{index}]", f'expected a date "YYYY-MM-DD", got {_show(item)}')
        else:
            holidays.add(iso)
    return frozenset(holidays)


def _read_quiet_hours(table: _Table) -> model.QuietHours | None:
    value = table.raw("quiet_hours")
    if value is _MISSING:
        return None
    if not isinstance(value, dict):
        table.problem(
            "quiet_hours",
            f'expected a table like {{ start = "21:00", end = "08:00" }}, got {_show(value)}',
        )
        return None
    quiet = table.table("quiet_hours")
    for name in ("start", "end"):
        if not quiet.has(name):
            quiet.problem(name, 'required: a time of day "HH:MM"')
    start = quiet.time_of_day("start", None)
    end = quiet.time_of_day("end", None)
    quiet.reject_unknown()
    if start is None or end is None:
        return None
    if start == end:
        quiet.problem("end", f"equals start ({start:%H:%M}); leave quiet_hours out for none")
        return None
    return model.QuietHours(start=start, end=end)


def _read_timezone(table: _Table, default: str) -> str:
    name = table.convert("timezone", default, 'an IANA time zone like "Europe/Berlin"', _as_str)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = _did_you_mean(name, zoneinfo.available_timezones())
        table.problem(
            "timezone",
            f'unknown time zone {_show(name)}{hint}; use an IANA name like "Europe/Berlin"',
        )
        return default
    return name


_DOMAIN = re.compile(r"[^\s@/\\:]+")


def _read_domains(table: _Table, name: str) -> frozenset[str]:
    domains = set()
    for index, raw in enumerate(table.string_list(name, what="a domain")):
        domain = raw.lower().removeprefix("@").removeprefix("*.").rstrip(".")
        if not _DOMAIN.fullmatch(domain):
            table.problem(
                f"{name}[{index}]", f'expected a domain like "acme.example", got {_show(raw)}'
            )
        else:
            domains.add(domain)
    return frozenset(domains)


def _read_detection(table: _Table, folders: FolderSettings) -> model.DetectionRules:
    track_domains = _read_domains(table, "track_domains")
    ignore_domains = _read_domains(table, "ignore_domains")
    for domain in sorted(track_domains & ignore_domains):
        table.problem("ignore_domains", f'"{domain}" is also in {table.key("track_domains")}')
    track_keywords = table.string_list("track_keywords", what="a keyword")
    ignore_keywords = table.string_list("ignore_keywords", what="a keyword")
    table.reject_unknown()
    return model.DetectionRules(
        track_domains=track_domains,
        ignore_domains=ignore_domains,
        track_keywords=track_keywords,
        ignore_keywords=ignore_keywords,
        track_folders=frozenset(folders.extra_tracked),
    )


def _read_drafts(table: _Table) -> DraftSettings:
    defaults = DraftSettings()
    signature = table.string("signature")
    templates_dir = table.path("templates_dir", must_be="dir")
    approve_by_flag = table.boolean("approve_by_flag", defaults.approve_by_flag)
    quote_original = table.boolean("quote_original", defaults.quote_original)
    save_sent = table.choice("save_sent", defaults.save_sent)
    daily = table.integer("daily_send_cap", defaults.daily_send_cap, minimum=1)
    hourly = table.integer("hourly_send_cap", defaults.hourly_send_cap, minimum=1)
    if hourly > daily:
        table.problem("hourly_send_cap", f"is {hourly}, more than daily_send_cap ({daily})")
    table.reject_unknown()
    return DraftSettings(
        signature=signature,
        templates_dir=templates_dir,
        approve_by_flag=approve_by_flag,
        quote_original=quote_original,
        save_sent=save_sent,
        daily_send_cap=daily,
        hourly_send_cap=hourly,
    )


def _read_daemon(table: _Table) -> DaemonSettings:
    defaults = DaemonSettings()
    poll_interval = table.duration(
        "poll_interval",
        defaults.poll_interval,
        bare_unit="seconds",
        minimum=timedelta(seconds=1),
        expected='a duration of at least 1s like "5m" or "90s" (a bare number is seconds)',
    )
    idle = table.boolean("idle", defaults.idle)
    digest = table.choice("digest", defaults.digest)
    digest_time = table.time_of_day("digest_time", defaults.digest_time) or defaults.digest_time
    table.reject_unknown()
    return DaemonSettings(
        poll_interval=poll_interval, idle=idle, digest=digest, digest_time=digest_time
    )


def _read_state(table: _Table) -> Path:
    value = table.raw("dir")
    default = default_state_dir(environ=table.env)
    table.reject_unknown()
    if value is _MISSING or value == "":
        return default
    if not isinstance(value, str):
        table.problem("dir", f"expected a directory path (a string), got {_show(value)}")
        return default
    return table.expand_path("dir", value) or default


# --------------------------------------------------------------------------- describe


def _describe(config: Config) -> list[str]:
    account, policy, drafts, daemon = config.account, config.policy, config.drafts, config.daemon

    def line(key: str, value: Any) -> str:
        return f"{key} = {_describe_value(value)}"

    lines = [f"config file: {config.path or '(not from a file)'}"]
    lines += [
        line("account.name", account.name),
        line("account.address", account.address),
        line("account.aliases", list(account.aliases)),
        line("account.username", account.username),
    ]
    for protocol, server in (("imap", account.imap), ("smtp", account.smtp)):
        lines.append(f"account.{protocol}: {server}")
        if server.ca_file:
            lines.append(line(f"account.{protocol}.ca_file", str(server.ca_file)))
        if server.allow_insecure:
            lines.append(line(f"account.{protocol}.allow_insecure", True))
    lines.append("account.password: " + _describe_credentials(account.credentials))
    folders = config.folders
    for name in ("inbox", "sent", "drafts", "archive", "all_mail"):
        lines.append(line(f"folders.{name}", getattr(folders, name) or "(auto-detect)"))
    lines.append(line("folders.extra_tracked", list(folders.extra_tracked)))
    for stage in model.Stage:
        lines.append(line(f"thresholds.{stage.value}", policy.thresholds.for_stage(stage)))
    quiet = policy.quiet_hours
    lines += [
        line("policy.max_nudges", policy.max_nudges),
        line("policy.nudge_spacing", policy.nudge_spacing),
        line("policy.business_days_only", policy.business_days_only),
        line("policy.holidays", sorted(policy.holidays)),
        line(
            "policy.quiet_hours",
            f"({quiet.start:%H:%M} to {quiet.end:%H:%M})" if quiet else "(none)",
        ),
        line("policy.timezone", policy.timezone),
        line("policy.promise_grace", policy.promise_grace),
        line("policy.per_recipient_window", policy.per_recipient_window),
        line("policy.per_company_limit", policy.per_company_limit),
        line("policy.conversation_window", policy.conversation_window),
    ]
    detection = config.detection
    lines += [
        line("detection.track_domains", sorted(detection.track_domains)),
        line("detection.ignore_domains", sorted(detection.ignore_domains)),
        line("detection.track_keywords", list(detection.track_keywords)),
        line("detection.ignore_keywords", list(detection.ignore_keywords)),
    ]
    signature = drafts.signature.strip().splitlines()
    lines += [
        line("drafts.signature", f"({len(signature)} line(s))" if signature else "(none)"),
        line(
            "drafts.templates_dir",
            str(drafts.templates_dir) if drafts.templates_dir else "(built-in)",
        ),
        line("drafts.approve_by_flag", drafts.approve_by_flag),
        line("drafts.quote_original", drafts.quote_original),
        line("drafts.save_sent", drafts.save_sent.value),
        line("drafts.daily_send_cap", drafts.daily_send_cap),
        line("drafts.hourly_send_cap", drafts.hourly_send_cap),
        line("daemon.poll_interval", daemon.poll_interval),
        line("daemon.idle", daemon.idle),
        line("daemon.digest", daemon.digest.value),
        line("daemon.digest_time", daemon.digest_time),
        line("state.dir", str(config.state_dir)),
    ]
    return lines


def _describe_value(value: Any) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, list):
        return "[" + ", ".join(_describe_value(item) for item in value) + "]"
    if isinstance(value, str) and value.startswith("("):
        return value  # a placeholder such as "(auto-detect)", not a literal
    return _show(value, limit=1000) if isinstance(value, str | bool) else str(value)


def _describe_credentials(credentials: CredentialSettings) -> str:
    """Where the secret comes from: commands are shown, their output never is."""
    if credentials.source is CredentialSource.KEYRING:
        return (
            f'system keyring (service "{credentials.keyring_service}", '
            f'user "{credentials.keyring_user}"); store it with `mailfollow login`'
        )
    if credentials.source is CredentialSource.FILE:
        return f"read from credential file {_show(credentials.credential_file, limit=1000)}"
    what = "OAuth2 token (XOAUTH2)" if credentials.uses_oauth2 else "password"
    return f"{what} printed by the command `{shlex.join(credentials.command)}`"
