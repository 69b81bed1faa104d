"""The daily digest: what waits for the user, and what they must fix.

It lists every pending draft with the command that approves it (and, with
``drafts.approve_by_flag``, the mail-client way: flag the draft in Drafts),
and puts credential and connection problems first, loudly. When there is
nothing to say, there is no digest.

``daemon.digest`` decides where it goes: the log, an email to the user's own
address, or both. An email that cannot be sent is written to the log instead.
"""

from __future__ import annotations

import email.policy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from mailfollow.config import Digest
from mailfollow.model import QueueState

if TYPE_CHECKING:
    from mailfollow.adapters.store import DraftRecord
    from mailfollow.config import Config
    from mailfollow.daemon import Problem

logger = logging.getLogger(__name__)

DIGEST_HEADER = "X-Mailfollow-Digest"  # marks our own digest mail, which is not a conversation


@dataclass(frozen=True)
class DigestText:
    subject: str
    body: str


def build_digest(
    *,
    drafts: Sequence[DraftRecord],
    problems: Sequence[Problem],
    now: datetime,
    timezone: str = "UTC",
    approve_by_flag: bool = False,
) -> DigestText | None:
    """The digest for these pending drafts and current problems; None when both are empty."""
    if not drafts and not problems:
        return None
    zone = ZoneInfo(timezone)
    lines = [f"mailfollow, {now.astimezone(zone):%A %d %B %Y}", ""]
    if problems:
        lines += _problem_lines(problems, zone)
    if drafts:
        lines += _draft_lines(drafts, zone, approve_by_flag=approve_by_flag)
        lines += [
            "Nothing is sent without your approval. `mailfollow pending` lists the drafts,",
            "`mailfollow skip ID` dismisses one.",
        ]
    return DigestText(subject=_subject(drafts, problems), body="\n".join(lines).rstrip() + "\n")


def _subject(drafts: Sequence[DraftRecord], problems: Sequence[Problem]) -> str:
    parts = []
    loud = [p for p in problems if p.loud]
    if loud:
        parts.append(f"ACTION NEEDED: {loud[0].headline().split(':')[0]}")
    elif problems:
        parts.append(problems[0].headline().split(":")[0])
    if drafts:
        n = len(drafts)
        parts.append(f"{n} follow-up{'s' if n != 1 else ''} to approve")
    return "mailfollow: " + "; ".join(parts)


def _problem_lines(problems: Sequence[Problem], zone: ZoneInfo) -> list[str]:
    lines = ["PROBLEMS", ""]
    for problem in problems:
        mark = "!!" if problem.loud else "--"
        since = problem.since.astimezone(zone)
        lines.append(f"  {mark} {problem.headline()}")
        lines.append(
            f"     since {since:%a %d %b %H:%M}, {problem.failures} failed "
            f"attempt{'s' if problem.failures != 1 else ''}"
        )
    lines.append("")
    return lines


def _draft_lines(
    drafts: Sequence[DraftRecord], zone: ZoneInfo, *, approve_by_flag: bool
) -> list[str]:
    n = len(drafts)
    lines = [
        f"{n} follow-up{'s' if n != 1 else ''} wait{'s' if n == 1 else ''} for your approval:",
        "",
    ]
    for draft in drafts:
        created = draft.created_at.astimezone(zone)
        lines += [
            f"  [{draft.id}] To: {draft.recipient}",
            f"       Subject: {draft.subject}",
            f"       Drafted {created:%a %d %b}, follow-up {draft.nudge_number}",
            f"       Approve: mailfollow approve {draft.id}",
        ]
        if approve_by_flag and draft.imap_folder:
            lines.append(
                f"       Or flag (star) it in your mail client's {draft.imap_folder} folder."
            )
        lines.append("")
    return lines


# --------------------------------------------------------------------------- the daemon's job


def run_digest(config: Config, *, now: datetime, problems: Sequence[Problem]) -> bool:
    """Build today's digest and deliver it as configured; False when there was nothing to say."""
    from mailfollow.adapters.store import Store

    with Store.open(config.store_path()) as store:
        drafts = store.list_drafts([QueueState.PENDING])
    digest = build_digest(
        drafts=drafts,
        problems=problems,
        now=now,
        timezone=config.policy_settings().timezone,
        approve_by_flag=config.drafts.approve_by_flag,
    )
    if digest is None:
        logger.debug("digest: nothing to say today")
        return False
    deliver_digest(config, digest, now=now)
    return True


def deliver_digest(config: Config, digest: DigestText, *, now: datetime) -> None:
    """Log and/or email the digest; an email that fails is logged instead, then re-raised."""
    mode = config.daemon.digest
    if mode in (Digest.LOG, Digest.BOTH):
        log_digest(digest)
    if mode not in (Digest.EMAIL, Digest.BOTH):
        return
    try:
        send_digest_email(config, digest, now=now)
    except Exception:
        if mode is Digest.EMAIL:
            log_digest(digest, level=logging.WARNING, note=" (it could not be emailed)")
        raise
    logger.info("digest emailed to %s: %s", config.account.address, digest.subject)


def log_digest(digest: DigestText, *, level: int = logging.INFO, note: str = "") -> None:
    """One log line per digest line, so journald keeps each one readable."""
    logger.log(level, "digest%s: %s", note, digest.subject)
    for line in digest.body.splitlines():
        if line.strip():
            logger.log(level, "digest: %s", line)


def compose_digest_email(config: Config, digest: DigestText, *, now: datetime) -> bytes:
    """The digest as a message from the user to the user, marked as automatic."""
    address = config.account.address
    message = EmailMessage()
    message["From"] = formataddr((config.account.name, address))
    message["To"] = address
    message["Subject"] = digest.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("digest", domain=address.rpartition("@")[2] or None)
    # RFC 3834: automatic mail; and our own marker so it never counts as a conversation.
    message["Auto-Submitted"] = "auto-generated"
    message[DIGEST_HEADER] = now.date().isoformat()
    message.set_content(digest.body)
    return message.as_bytes(policy=email.policy.SMTP)


def send_digest_email(config: Config, digest: DigestText, *, now: datetime) -> None:
    from mailfollow.adapters.smtp import send_message_sync
    from mailfollow.credentials import AuthMechanism, get_credentials
    from mailfollow.outbox import smtp_settings_from_config

    credentials = get_credentials(config)
    secret = credentials.secret.reveal()
    oauth2 = credentials.mechanism is AuthMechanism.XOAUTH2
    send_message_sync(
        compose_digest_email(config, digest, now=now),
        sender=config.account.address,
        recipients=[config.account.address],
        settings=smtp_settings_from_config(config),
        password=None if oauth2 else secret,
        oauth2_token=secret if oauth2 else None,
    )
