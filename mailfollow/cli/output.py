"""Formatting shared by the command modules: tables, times, JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import click

from mailfollow.config import Config


def user_zone(config: Config) -> tzinfo:
    try:
        return ZoneInfo(config.policy_settings().timezone)
    except (KeyError, ValueError):
        return UTC


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with offset, or None."""
    return None if moment is None else moment.isoformat()


def short_time(moment: datetime | None, zone: tzinfo) -> str:
    return "-" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def parse_moment(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read in the user's zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"expected an ISO 8601 date-time, got {text!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, limits: Sequence[int] = ()
) -> None:
    """A plain aligned table; column i is cut to limits[i] characters when given."""

    def cut(text: str, i: int) -> str:
        limit = limits[i] if i < len(limits) else 0
        return text if not limit or len(text) <= limit else text[: limit - 1] + "…"

    cells = [[cut(str(c), i) for i, c in enumerate(row)] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
