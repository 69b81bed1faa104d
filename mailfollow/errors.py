"""Exceptions raised by mailfollow.

Tree::

    MailfollowError
    ├── ConfigError           problems: list of "key: message" lines
    ├── CredentialError       password / token missing or rejected
    ├── MailboxError
    │   └── MailboxUnavailable   (also ConnectionError) server down, timeout
    ├── StoreError
    │   └── SchemaVersionError   database newer than this program
    └── SendError
        ├── SendUnavailable   transient: retry later
        └── SendRejected      permanent: the server's code and text are kept

Expected errors (all of the above) are shown to the user as one line without
a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MailfollowError(Exception):
    """Base class of every error mailfollow expects and explains."""


class ConfigError(MailfollowError):
    def __init__(self, problems: list[str], *, path: str = "") -> None:
        self.problems = list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{len(self.problems)} configuration problem(s)")

    def __str__(self) -> str:
        where = f" in {self.path}" if self.path else ""
        return f"configuration problem(s){where}:\n" + "\n".join(f"  {p}" for p in self.problems)


class CredentialError(MailfollowError):
    pass


class MailboxError(MailfollowError):
    pass


class MailboxUnavailable(MailboxError, ConnectionError):  # noqa: N818 (reads as a state)
    pass


class TextsPending(MailboxError):  # noqa: N818 (reads as a state)
    """Messages that could join a conversation are stored without their text
    (a large sync left it on the server) and it could not be fetched now."""


class StoreError(MailfollowError):
    pass


class SchemaVersionError(StoreError):
    pass


class SendError(MailfollowError):
    pass


class SendUnavailable(SendError):  # noqa: N818
    pass


class SendRejected(SendError):  # noqa: N818
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
