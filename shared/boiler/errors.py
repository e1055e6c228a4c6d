"""One error hierarchy: every failure boiler raises on purpose is a ``BoilerError``."""

from __future__ import annotations

from collections.abc import Sequence


class BoilerError(Exception):
    """Base of every error boiler raises on purpose."""


class DeclarationError(BoilerError):
    """A model, view or command declaration is wrong; raised at import/compile time.

    The message names the class, the offending field or path, and the fix.
    """


class InvalidDocument(BoilerError):
    """A Firestore document does not match its declared model.

    >>> InvalidDocument("meetings/m1/tickets/u1", [("attendance", "not a boolean")])
    InvalidDocument('meetings/m1/tickets/u1: attendance: not a boolean')
    """

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

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RetriesExhausted(BoilerError):
    """No commit within MAX_RETRIES attempts; the work goes to the durable path."""


class BuildFailed(BoilerError):
    """An aggregate's views cannot be built or stored: ``build()`` raised, or a view or the
    aggregate's record would exceed Firestore's 1 MiB document limit. Its views stay as they
    were and the problem is recorded in ``_boilerErrors``; other aggregates go on.

    >>> BuildFailed("MeetingSession", "m1", "build() raised KeyError('u9')")
    BuildFailed("MeetingSession m1: build() raised KeyError('u9')")
    """

    def __init__(self, view: str, key: str, message: str) -> None:
        self.view, self.key, self.message = view, key, message
        super().__init__(f"{view} {key}: {message}")

    def __repr__(self) -> str:
        return f"BuildFailed({str(self)!r})"
