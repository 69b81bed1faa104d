"""Commands: scan, demo, login."""

from __future__ import annotations

import click


def add_commands(group: click.Group) -> None:
    """Attach this module's commands to the root group."""
