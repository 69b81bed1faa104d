"""Commands: config check."""

from __future__ import annotations

import click

from mailfollow.cli import AppContext, pass_app


@click.group("config")
def config_group() -> None:
    """Inspect and validate the configuration file."""


@config_group.command("check")
@click.option(
    "--credentials",
    "check_credentials",
    is_flag=True,
    help="Also fetch the password or token (never shown) to prove it is reachable.",
)
@pass_app
def check(app: AppContext, check_credentials: bool) -> None:
    """Validate the configuration and print the effective settings.

    Exits 0 when the file is valid; otherwise prints one problem per line,
    each naming its key, and exits 2.
    """
    config = app.config()
    click.echo(f"{config.path}: configuration OK")
    for line in config.describe():
        click.echo(f"  {line}")
    if check_credentials:
        from mailfollow.credentials import get_credentials

        credentials = get_credentials(config)
        click.echo(
            f"credentials: {credentials.mechanism.value} for {credentials.username!r} "
            "is available (not shown)"
        )


def add_commands(group: click.Group) -> None:
    """Attach this module's commands to the root group."""
    group.add_command(config_group)
