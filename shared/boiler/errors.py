"""One error hierarchy: every failure boiler raises on purpose is a ``BoilerError``.

Each carries a stable kebab-case ``code`` (the class's own, or a more precise one given where
it is raised); docs/errors.md lists every code, what it means and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence


class BoilerError(Exception):
    """Base of every error boiler raises on purpose; ``code`` names the problem, stably.

    >>> BoilerError("no firebase.json in /tmp or above", code="project-root-not-found").code
    'project-root-not-found'
    """

    code: str = "boiler-error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class DeclarationError(BoilerError):
    """A model, view or command declaration is wrong; raised when the class is created, or
    at ``compile_app`` for checks that need the whole app.

    The message names the class, the offending field or path, and the fix.

    >>> DeclarationError("Bad: path 'a' has 1 segments", code="path-odd-segments").code
    'path-odd-segments'
    """

    code = "invalid-declaration"


class InvalidDocument(BoilerError):
    """A Firestore document does not match its declared model.

    >>> InvalidDocument("meetings/m1/tickets/u1", [("attendance", "not a boolean")])
    InvalidDocument('meetings/m1/tickets/u1: attendance: not a boolean')
    """

    code = "invalid-document"

    def __init__(self, path: str, problems: Sequence[tuple[str, str]]) -> None:
        self.path = path
        self.problems = list(problems)
        details = "; ".join(f"{field}: {message}" for field, message in self.problems)
        super().__init__(f"{path}: {details}")

    @property
    def fields(self) -> list[str]:
        return [field for field, _ in self.problems]

    def __repr__(self) -> str:
        return f"InvalidDocument({str(self)!r})"


class CommandRejected(BoilerError):
    """A command was valid in shape but refused by a domain check; ``reason`` is for the client."""

    code = "command-rejected"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RetriesExhausted(BoilerError):
    """No commit within MAX_RETRIES attempts; the work goes to the durable path."""

    code = "retries-exhausted"


class CommandMisuse(BoilerError):
    """``Command.apply`` used its ``CommandContext`` wrongly (the wrong number of ids, a field
    the model does not have): a bug in the command's code, not in the client's request. The
    runner rejects the command with "internal error" and records it in ``_boilerErrors``.

    >>> CommandMisuse("Ticket needs ids ['meetingId', 'uid'], got ['m1']", code="apply-wrong-ids")
    CommandMisuse("Ticket needs ids ['meetingId', 'uid'], got ['m1']")
    """

    code = "command-misuse"


class BuildFailed(BoilerError):
    """An aggregate's views cannot be built or stored: ``build()`` raised, or a view or the
    aggregate's record would exceed Firestore's 1 MiB document limit. Its views stay as they
    were and the problem is recorded in ``_boilerErrors``; other aggregates go on.

    >>> BuildFailed("MeetingSession", "m1", "build() raised KeyError('u9')")
    BuildFailed("MeetingSession m1: build() raised KeyError('u9')")
    """

    code = "build-failed"

    def __init__(self, view: str, key: str, message: str, *, code: str | None = None) -> None:
        self.view, self.key, self.message = view, key, message
        super().__init__(f"{view} {key}: {message}", code=code)

    def __repr__(self) -> str:
        return f"BuildFailed({str(self)!r})"
