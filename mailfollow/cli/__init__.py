"""Command-line interface: the only package that prints or picks exit codes.

Commands live in one module per group (config, mailbox, conversations, queue,
daemon) so each stays small; this module holds the root group, the shared
options and the single table from exception to message and exit code.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mailfollow import __version__, errors
from mailfollow.logs import setup_logging

if TYPE_CHECKING:
    from mailfollow.config import Config

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


@dataclass
class AppContext:
    """What every command gets: where the config is and how loud to be."""

    config_path: str | None
    debug: bool
    verbose: int
    _config: Config | None = field(default=None, repr=False)

    def config(self) -> Config:
        """Load (once) and validate the configuration; raises ConfigError."""
        if self._config is None:
            from mailfollow.config import load_config, locate_config

            self._config = load_config(locate_config(self.config_path))
        return self._config


pass_app = click.make_pass_decorator(AppContext)


def handle_error(exc: BaseException, *, debug: bool) -> NoReturn:
    """Turn an expected error into one line and an exit code; bugs keep their traceback."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, errors.ConfigError):
        click.echo(f"mailfollow: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if isinstance(exc, errors.CredentialError):
        click.echo(f"mailfollow: credentials: {exc}", err=True)
        click.echo(
            "  hint: run `mailfollow login`, or check [account.password]"
            " (password_command, credential_file, oauth2_token_command)",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    if isinstance(exc, errors.MailfollowError):
        click.echo(f"mailfollow: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    if not debug:
        traceback.print_exception(exc, file=sys.stderr)
    click.echo("mailfollow: unexpected error (see above); please report it", err=True)
    sys.exit(EXIT_ERROR)


class MailfollowGroup(click.Group):
    """Root group that routes every expected error through handle_error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except errors.MailfollowError as exc:
            handle_error(exc, debug=bool(ctx.params.get("debug")))
        except BrokenPipeError:
            # The reader went away (`mailfollow threads | head`): not an error.
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("mailfollow: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 (the one place that reports bugs)
            handle_error(exc, debug=bool(ctx.params.get("debug")))


@click.group(cls=MailfollowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="mailfollow")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="MAILFOLLOW_CONFIG",
    help="Configuration file [env MAILFOLLOW_CONFIG; default "
    "$XDG_CONFIG_HOME/mailfollow/config.toml].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output: -v progress, -vv debug, -vvv IMAP protocol.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, verbose: int) -> None:
    """mailfollow: notices job-search email that went silent and drafts
    polite follow-ups, which wait for your approval before anything is sent."""
    setup_logging(verbose=max(verbose, 2) if debug else verbose)
    ctx.obj = AppContext(config_path=config_path, debug=debug, verbose=verbose)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="mailfollow")


def register(*modules: Callable[[click.Group], None]) -> None:
    for add in modules:
        add(cli)


# Command modules attach themselves to the root group.
from mailfollow.cli import (  # noqa: E402
    commands_config,
    commands_conversations,
    commands_daemon,
    commands_mailbox,
    commands_queue,
)

register(
    commands_config.add_commands,
    commands_mailbox.add_commands,
    commands_conversations.add_commands,
    commands_queue.add_commands,
    commands_daemon.add_commands,
)
