"""The configuration file: defaults, every rejected mistake, lookup order, describe()."""

from __future__ import annotations

import copy
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailfollow import model
from mailfollow.config import (
    Config,
    CredentialSource,
    Digest,
    SaveSent,
    Security,
    format_duration,
    load_config,
    locate_config,
    parse_config,
    parse_duration,
)
from mailfollow.errors import ConfigError
from mailfollow.transport import is_loopback_host

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
ENV = {"HOME": "/home/alex"}
MINIMAL: dict[str, Any] = {
    "account": {
        "address": "alex@example.org",
        "imap": {"host": "imap.example.org"},
        "smtp": {"host": "smtp.example.org"},
    }
}


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def config_with(patch: dict[str, Any] | None = None, **environ: str) -> Config:
    data = _merge(copy.deepcopy(MINIMAL), patch or {})
    return parse_config(data, environ={**ENV, **environ})


def problems_of(patch: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_with(patch)
    return caught.value.problems


def parse_toml(text: str) -> Config:
    return parse_config(tomllib.loads(text), environ=ENV)


# --------------------------------------------------------------------------- the example


def test_the_shipped_example_is_a_valid_configuration() -> None:
    config = load_config(EXAMPLE, environ=ENV)

    assert config.account.address == "alex@example.org"
    assert config.account.imap.host == "imap.example.org"
    assert config.account.credentials.source is CredentialSource.KEYRING
    assert config.path == str(EXAMPLE)


def test_the_example_documents_every_setting_with_a_default() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    described_keys = {line.split(" ")[0].rstrip(":") for line in config_with().describe()[1:]}

    missing = sorted(
        key for key in described_keys if key.rsplit(".", 1)[-1] not in text.replace("#", "")
    )

    assert missing == []
    for name in ("keyring_service", "password_command", "credential_file", "oauth2_token_command"):
        assert name in text


# --------------------------------------------------------------------------- defaults


def test_a_minimal_configuration_gets_the_models_default_policy() -> None:
    config = config_with()

    assert config.policy_settings() == model.PolicySettings()
    assert config.policy_settings().thresholds == model.Thresholds()
    assert config.detection_rules() == model.DetectionRules()


def test_default_ports_follow_the_security_mode() -> None:
    config = config_with(
        {"account": {"imap": {"security": "starttls"}, "smtp": {"security": "starttls"}}}
    )
    tls = config_with()

    assert (config.account.imap.port, config.account.smtp.port) == (143, 587)
    assert (tls.account.imap.port, tls.account.smtp.port) == (993, 465)
    assert tls.account.imap.security is Security.TLS


def test_the_login_name_defaults_to_the_address() -> None:
    assert config_with().account.username == "alex@example.org"
    assert config_with({"account": {"username": "alex"}}).account.username == "alex"


def test_the_keyring_entry_is_named_after_the_login_name() -> None:
    credentials = config_with({"account": {"username": "alex"}}).account.credentials

    assert credentials.source is CredentialSource.KEYRING
    assert (credentials.keyring_service, credentials.keyring_user) == ("mailfollow", "alex")


def test_addresses_are_lower_cased_and_every_alias_is_part_of_the_identity() -> None:
    config = config_with(
        {
            "account": {
                "name": "Alex Doe",
                "address": "Alex@Example.ORG",
                "aliases": ["A.Doe@Example.net", "alex@example.org", "a.doe@example.net"],
            }
        }
    )

    assert config.account.address == "alex@example.org"
    assert config.account.aliases == ("a.doe@example.net",)
    assert config.identity() == model.Identity(
        name="Alex Doe", addresses=frozenset({"alex@example.org", "a.doe@example.net"})
    )


def test_extra_tracked_folders_become_detection_track_folders() -> None:
    config = config_with(
        {
            "folders": {"extra_tracked": ["Job search"]},
            "detection": {"track_domains": ["@Lever.co"]},
        }
    )

    assert config.detection_rules().track_folders == frozenset({"Job search"})
    assert config.detection_rules().track_domains == frozenset({"lever.co"})


def test_drafts_and_daemon_settings_have_documented_defaults() -> None:
    config = config_with()

    assert config.drafts.save_sent is SaveSent.AUTO
    assert (config.drafts.daily_send_cap, config.drafts.hourly_send_cap) == (20, 5)
    assert config.drafts.approve_by_flag is False
    assert config.daemon.poll_interval == timedelta(minutes=5)
    assert config.daemon.idle is True
    assert config.daemon.digest is Digest.LOG
    assert config.daemon.digest_time == time(8, 0)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, timedelta(days=7)),
        (1.5, timedelta(hours=36)),
        ("36h", timedelta(hours=36)),
        ("10d", timedelta(days=10)),
        ("2w", timedelta(days=14)),
        ("1d 12h", timedelta(hours=36)),
        ("3 days", timedelta(days=3)),
        ("5", timedelta(days=5)),
    ],
)
def test_a_threshold_is_a_number_of_days_or_a_duration(value: object, expected: timedelta) -> None:
    config = config_with({"thresholds": {"networking": value}})

    assert config.policy_settings().thresholds.networking == expected


def test_a_bare_poll_interval_is_in_seconds() -> None:
    assert config_with({"daemon": {"poll_interval": 90}}).daemon.poll_interval == timedelta(
        seconds=90
    )
    assert config_with({"daemon": {"poll_interval": "1s"}}).daemon.poll_interval == timedelta(
        seconds=1
    )


def test_toml_native_dates_and_times_are_accepted() -> None:
    config = parse_toml(
        """
        [account]
        address = "alex@example.org"
        imap = { host = "imap.example.org" }
        smtp = { host = "smtp.example.org" }
        [policy]
        holidays = [2026-12-25, "2026-12-26"]
        quiet_hours = { start = 21:30:00, end = 07:00:00 }
        """
    )

    assert config.policy.holidays == frozenset({"2026-12-25", "2026-12-26"})
    assert config.policy.quiet_hours == model.QuietHours(start=time(21, 30), end=time(7, 0))


def test_quiet_hours_may_wrap_midnight() -> None:
    config = config_with({"policy": {"quiet_hours": {"start": "21:00", "end": "08:00"}}})

    assert config.policy.quiet_hours == model.QuietHours(start=time(21), end=time(8))


def test_a_password_command_string_is_split_like_a_shell_would() -> None:
    config = config_with(
        {"account": {"password": {"password_command": "pass show 'mail/alex example'"}}}
    )

    assert config.account.credentials.source is CredentialSource.COMMAND
    assert config.account.credentials.command == ("pass", "show", "mail/alex example")


def test_an_oauth2_token_command_selects_xoauth2() -> None:
    config = config_with(
        {"account": {"password": {"oauth2_token_command": ["oama", "access", "alex"]}}}
    )

    assert config.account.credentials.uses_oauth2
    assert config.account.credentials.command == ("oama", "access", "alex")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_plaintext_to_a_loopback_host_is_allowed_when_asked_for(host: str) -> None:
    config = config_with(
        {"account": {"imap": {"host": host, "security": "none", "allow_insecure": True}}}
    )

    assert config.account.imap.security is Security.NONE
    assert config.account.imap.port == 143


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("LOCALHOST", True),
        ("localhost.", True),
        ("10.0.0.1", False),
        ("192.168.1.2", False),
        ("imap.example.org", False),
        ("localhost.example.org", False),
    ],
)
def test_only_loopback_hosts_count_as_local(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


# --------------------------------------------------------------------------- state dir


def test_the_state_directory_follows_xdg_state_home() -> None:
    config = config_with(XDG_STATE_HOME="/var/lib/alex-state")

    assert config.state_dir == Path("/var/lib/alex-state/mailfollow")
    assert config.store_path() == Path("/var/lib/alex-state/mailfollow/mailfollow.sqlite3")


def test_the_state_directory_defaults_to_local_state_in_home() -> None:
    assert config_with().state_dir == Path("/home/alex/.local/state/mailfollow")


def test_the_state_directory_expands_home_and_variables() -> None:
    home = config_with({"state": {"dir": "~/mf"}})
    variable = config_with({"state": {"dir": "${DATA}/mf"}}, DATA="/srv/data")

    assert home.state_dir == Path("/home/alex/mf")
    assert variable.state_dir == Path("/srv/data/mf")


def test_a_relative_state_directory_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        'state = { dir = "state" }\n'
        '[account]\naddress = "alex@example.org"\n'
        'imap = { host = "imap.example.org" }\nsmtp = { host = "smtp.example.org" }\n',
        encoding="utf-8",
    )

    assert load_config(config_file, environ=ENV).state_dir == tmp_path / "state"


# --------------------------------------------------------------------------- mistakes


BROKEN = [
    pytest.param(
        {"thresholds": {"application": "soon"}},
        ["thresholds.application: expected a positive number of days", 'got "soon"'],
        id="threshold-soon",
    ),
    pytest.param(
        {"thresholds": {"application": -3}},
        ["thresholds.application: expected a positive number of days", "got -3"],
        id="threshold-negative",
    ),
    pytest.param(
        {"thresholds": {"informational": 0}},
        ["thresholds.informational: expected a positive number of days", "got 0"],
        id="threshold-zero",
    ),
    pytest.param(
        {"thresholds": {"aplication": 7}},
        ['thresholds.aplication: unknown key (did you mean "application"?)'],
        id="unknown-key",
    ),
    pytest.param(
        {"polcy": {"max_nudges": 1}},
        ['polcy: unknown section (did you mean "policy"?)'],
        id="unknown-section",
    ),
    pytest.param(
        {"account": {"address": "alex(at)example.org"}},
        ['account.address: "alex(at)example.org" is not a valid email address'],
        id="bad-address",
    ),
    pytest.param(
        {"account": {"aliases": ["ok@example.org", "no-at-sign"]}},
        ['account.aliases[1]: "no-at-sign" is not a valid email address'],
        id="bad-alias",
    ),
    pytest.param(
        {"account": {"imap": {"host": "imap.example.org", "security": "none"}}},
        [
            'account.imap.security: "none" would send your password and mail unencrypted',
            "only allowed to a loopback host",
        ],
        id="plaintext-to-remote-host",
    ),
    pytest.param(
        {
            "account": {
                "smtp": {"host": "smtp.example.org", "security": "none", "allow_insecure": True}
            }
        },
        ['account.smtp.security: "none" would send', "loopback"],
        id="plaintext-to-remote-host-even-with-allow-insecure",
    ),
    pytest.param(
        {"account": {"smtp": {"host": "127.0.0.1", "security": "none"}}},
        ["account.smtp.security:", "account.smtp.allow_insecure = true"],
        id="plaintext-to-loopback-without-allow-insecure",
    ),
    pytest.param(
        {"account": {"imap": {"security": "ssl"}}},
        ['account.imap.security: expected one of "tls", "starttls", "none", got "ssl"', "tls"],
        id="unknown-security",
    ),
    pytest.param(
        {"account": {"imap": {"port": 0}}},
        ["account.imap.port: expected a whole number (1 to 65535), got 0"],
        id="port-zero",
    ),
    pytest.param(
        {"account": {"imap": {"host": "imaps://imap.example.org"}}},
        ["account.imap.host: give the host name only"],
        id="host-with-scheme",
    ),
    pytest.param(
        {"account": {"imap": {"ca_file": "/nonexistent/ca.pem"}}},
        ["account.imap.ca_file: no such file: /nonexistent/ca.pem"],
        id="missing-ca-file",
    ),
    pytest.param(
        {"policy": {"timezone": "Europe/Berln"}},
        ['policy.timezone: unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?)'],
        id="bad-timezone",
    ),
    pytest.param(
        {"policy": {"holidays": ["2026-12-25", "2026-13-01"]}},
        ['policy.holidays[1]: expected a date "YYYY-MM-DD", got "2026-13-01"'],
        id="bad-holiday",
    ),
    pytest.param(
        {"policy": {"holidays": ["25.12.2026"]}},
        ['policy.holidays[0]: expected a date "YYYY-MM-DD", got "25.12.2026"'],
        id="holiday-in-another-format",
    ),
    pytest.param(
        {"policy": {"quiet_hours": {"start": "25:00", "end": "08:00"}}},
        ['policy.quiet_hours.start: expected a time of day "HH:MM"', 'got "25:00"'],
        id="quiet-hours-bad-time",
    ),
    pytest.param(
        {"policy": {"quiet_hours": {"start": "21:00"}}},
        ["policy.quiet_hours.end: required"],
        id="quiet-hours-without-end",
    ),
    pytest.param(
        {"policy": {"quiet_hours": "21:00-08:00"}},
        ['policy.quiet_hours: expected a table like { start = "21:00", end = "08:00" }'],
        id="quiet-hours-as-a-string",
    ),
    pytest.param(
        {"policy": {"quiet_hours": {"start": "08:00", "end": "08:00"}}},
        ["policy.quiet_hours.end: equals start (08:00)"],
        id="quiet-hours-empty",
    ),
    pytest.param(
        {"policy": {"max_nudges": True}},
        ["policy.max_nudges: expected a whole number (0 to 10), got true"],
        id="boolean-as-number",
    ),
    pytest.param(
        {"policy": {"business_days_only": "yes"}},
        ['policy.business_days_only: expected true or false, got "yes"'],
        id="string-as-boolean",
    ),
    pytest.param(
        {
            "account": {
                "password": {
                    "password_command": ["pass", "show", "mail"],
                    "credential_file": "mailfollow-password",
                }
            }
        },
        [
            "account.password.credential_file: choose one password source, "
            "found password_command and credential_file"
        ],
        id="two-password-sources",
    ),
    pytest.param(
        {"account": {"password": {"keyring_service": "mail", "oauth2_token_command": "oama"}}},
        ["account.password.oauth2_token_command: choose one password source"],
        id="keyring-and-oauth2",
    ),
    pytest.param(
        {"account": {"password": {"source": "keyring"}}},
        ["account.password.source: not a setting: the source is the key you set"],
        id="source-key",
    ),
    pytest.param(
        {"account": {"password": {"password_command": []}}},
        ["account.password.password_command: expected a command", "got an empty command"],
        id="empty-command",
    ),
    pytest.param(
        {"account": {"password": {"password_command": "pass show 'mail"}}},
        ["account.password.password_command: cannot split the command into words"],
        id="unbalanced-quotes",
    ),
    pytest.param(
        {"drafts": {"save_sent": "sometimes"}},
        ['drafts.save_sent: expected one of "auto", "always", "never", got "sometimes"'],
        id="bad-save-sent",
    ),
    pytest.param(
        {"drafts": {"daily_send_cap": 3, "hourly_send_cap": 5}},
        ["drafts.hourly_send_cap: is 5, more than daily_send_cap (3)"],
        id="hourly-cap-above-daily",
    ),
    pytest.param(
        {"daemon": {"poll_interval": 0}},
        ["daemon.poll_interval: expected a duration of at least 1s", "got 0"],
        id="zero-poll-interval",
    ),
    pytest.param(
        {"daemon": {"digest": "sms"}},
        ['daemon.digest: expected one of "email", "log", "both", "none", got "sms"'],
        id="bad-digest",
    ),
    pytest.param(
        {"detection": {"track_domains": ["acme.example"], "ignore_domains": ["ACME.example"]}},
        ['detection.ignore_domains: "acme.example" is also in detection.track_domains'],
        id="domain-tracked-and-ignored",
    ),
    pytest.param(
        {"detection": {"track_domains": ["jane@acme.example"]}},
        ['detection.track_domains[0]: expected a domain like "acme.example"'],
        id="address-instead-of-domain",
    ),
    pytest.param(
        {"state": {"dir": "$NOT_SET_ANYWHERE/mf"}},
        ["state.dir: uses $NOT_SET_ANYWHERE, which is not set"],
        id="unset-variable-in-path",
    ),
    pytest.param(
        {"drafts": {"templates_dir": "/nonexistent/templates"}},
        ["drafts.templates_dir: no such directory: /nonexistent/templates"],
        id="missing-templates-dir",
    ),
    pytest.param(
        {"thresholds": {"application": float("nan")}},
        ["thresholds.application: expected a positive number of days", "got nan"],
        id="threshold-nan",
    ),
    pytest.param(
        {"thresholds": {"application": 100000}},
        ["thresholds.application: expected a positive number of days"],
        id="threshold-absurdly-long",
    ),
    pytest.param(
        {"folders": "INBOX"},
        ['folders: expected a table ([folders]), got "INBOX"'],
        id="section-that-is-not-a-table",
    ),
]


@pytest.mark.parametrize(("patch", "fragments"), BROKEN)
def test_a_broken_setting_is_rejected_with_a_message_naming_its_key(
    patch: dict[str, Any], fragments: list[str]
) -> None:
    problems = problems_of(patch)

    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0]


def test_a_missing_account_section_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({}, environ=ENV)

    assert caught.value.problems == [
        'account: required section: [account] with address = "you@example.org"'
    ]


def test_missing_address_and_hosts_are_each_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"account": {}}, environ=ENV)

    keys = [problem.split(":")[0] for problem in caught.value.problems]
    assert keys == ["account.address", "account.imap.host", "account.smtp.host"]


def test_every_problem_is_collected_into_one_error_with_the_file_name() -> None:
    data = _merge(
        copy.deepcopy(MINIMAL),
        {
            "thresholds": {"application": "soon"},
            "policy": {"timezone": "Mars/Olympus"},
            "drafts": {"colour": "blue"},
        },
    )

    with pytest.raises(ConfigError) as caught:
        parse_config(data, path="/home/alex/.config/mailfollow/config.toml", environ=ENV)

    assert [p.split(":")[0] for p in caught.value.problems] == [
        "thresholds.application",
        "policy.timezone",
        "drafts.colour",
    ]
    assert caught.value.path == "/home/alex/.config/mailfollow/config.toml"
    assert "in /home/alex/.config/mailfollow/config.toml" in str(caught.value)


@pytest.mark.parametrize(
    "patch",
    [
        {"account": {"imap": {"password": "hunter2-secret"}}},
        {"account": {"password": "hunter2-secret"}},
        {"account": {"password": {"password": "hunter2-secret"}}},
        {"password": "hunter2-secret"},
        {"account": {"smtp": {"token": "hunter2-secret"}}},
        {"account": {"imap": {"Password": "hunter2-secret"}}},
    ],
    ids=[
        "in-imap",
        "as-account-password",
        "inside-password-section",
        "top-level",
        "a-token",
        "capitalised",
    ],
)
def test_a_plaintext_password_is_refused_without_echoing_it(patch: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        config_with(patch)

    assert len(caught.value.problems) == 1
    message = caught.value.problems[0]
    assert "must not be written in the configuration file" in message
    assert "mailfollow login" in message
    assert "password_command" in message
    assert "hunter2" not in str(caught.value)


def test_the_plaintext_password_key_is_named_in_the_message() -> None:
    problems = problems_of({"account": {"imap": {"password": "x"}}})

    assert problems[0].startswith("account.imap.password: ")


def test_invalid_toml_is_reported_with_its_line(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[account]\naddress = "alex@example.org\n', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(config_file, environ=ENV)

    assert caught.value.problems[0].startswith("syntax: not valid TOML")
    assert "line 2" in caught.value.problems[0]


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_bytes(b'[account]\nname = "Ren\xe9"\n')

    with pytest.raises(ConfigError) as caught:
        load_config(config_file, environ=ENV)

    assert caught.value.problems == ["config: the file is not UTF-8 text"]


# --------------------------------------------------------------------------- locating


def test_an_explicit_config_path_wins(tmp_path: Path) -> None:
    explicit, named = tmp_path / "explicit.toml", tmp_path / "named.toml"
    explicit.touch()
    named.touch()

    found = locate_config(str(explicit), environ={"MAILFOLLOW_CONFIG": str(named), **ENV})

    assert found == explicit


def test_mailfollow_config_is_used_without_an_explicit_path(tmp_path: Path) -> None:
    named = tmp_path / "named.toml"
    named.touch()
    xdg = tmp_path / "xdg"
    (xdg / "mailfollow").mkdir(parents=True)
    (xdg / "mailfollow" / "config.toml").touch()

    environ = {"MAILFOLLOW_CONFIG": str(named), "XDG_CONFIG_HOME": str(xdg), **ENV}

    assert locate_config(None, environ=environ) == named


def test_the_xdg_config_home_is_the_fallback(tmp_path: Path) -> None:
    (tmp_path / "mailfollow").mkdir()
    (tmp_path / "mailfollow" / "config.toml").touch()

    found = locate_config(None, environ={"XDG_CONFIG_HOME": str(tmp_path), **ENV})

    assert found == tmp_path / "mailfollow" / "config.toml"


def test_without_xdg_config_home_the_file_is_in_dot_config(tmp_path: Path) -> None:
    (tmp_path / ".config" / "mailfollow").mkdir(parents=True)
    (tmp_path / ".config" / "mailfollow" / "config.toml").touch()

    found = locate_config(None, environ={"HOME": str(tmp_path), "XDG_CONFIG_HOME": "relative"})

    assert found == tmp_path / ".config" / "mailfollow" / "config.toml"


def test_a_missing_config_file_says_to_copy_the_example(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        locate_config(None, environ={"XDG_CONFIG_HOME": str(tmp_path), **ENV})

    message = caught.value.problems[0]
    assert str(tmp_path / "mailfollow" / "config.toml") in message
    assert "copy config.example.toml" in message
    assert "the default location" in message


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        locate_config(str(tmp_path), environ=ENV)

    assert "is a directory" in caught.value.problems[0]


# --------------------------------------------------------------------------- describe


def test_describe_shows_the_effective_settings_and_where_the_password_comes_from() -> None:
    lines = config_with(
        {
            "account": {"password": {"password_command": ["pass", "show", "mail/alex"]}},
            "thresholds": {"application": "36h"},
        }
    ).describe()

    assert "thresholds.application = 1d12h" in lines
    assert "account.imap: imap.example.org:993 (tls)" in lines
    assert any("`pass show mail/alex`" in line for line in lines)
    assert 'policy.timezone = "UTC"' in lines


def test_describe_never_contains_the_secret_of_a_credential_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret-value\n", encoding="utf-8")
    config = config_with({"account": {"password": {"credential_file": str(secret_file)}}})

    text = "\n".join(config.describe())

    assert str(secret_file) in text
    assert "s3cret-value" not in text


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("36h", timedelta(hours=36)),
        ("2w", timedelta(weeks=2)),
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("1d12h", timedelta(hours=36)),
        (" 1 day 2 hours ", timedelta(hours=26)),
        ("1.5d", timedelta(hours=36)),
        ("10D", timedelta(days=10)),
    ],
)
def test_parse_duration_reads_common_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "5", "-3d", "3 months", "d", "1d extra"])
def test_parse_duration_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=3650 * 86400))
def test_a_formatted_duration_parses_back_to_itself(seconds: int) -> None:
    value = timedelta(seconds=seconds)

    assert parse_duration(format_duration(value)) == value
