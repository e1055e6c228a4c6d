"""Document path templates such as ``users/{uid}/meetingSessions/{meetingId}``, compiled once."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from .errors import DeclarationError

_WILDCARD = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9_\-]+$")
_RESERVED_ID = re.compile(r"^__.*__$")
MAX_ID_BYTES = 1500


def document_id_problem(value: object) -> str | None:
    """Why ``value`` cannot be a Firestore document id, or ``None`` if it can.

    >>> document_id_problem("a/b")
    "contains '/'"
    """
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not a string"
    if not value:
        return "is empty"
    if "/" in value:
        return "contains '/'"
    if value in (".", ".."):
        return "is '.' or '..'"
    if _RESERVED_ID.match(value):
        return "matches __.*__, which Firestore reserves"
    if len(value.encode()) > MAX_ID_BYTES:
        return f"is longer than {MAX_ID_BYTES} bytes"
    return None


@dataclass(frozen=True)
class PathTemplate:
    """A Firestore document path with ``{wildcard}`` segments.

    >>> t = PathTemplate.parse("meetings/{meetingId}/tickets/{uid}")
    >>> t.match("meetings/m1/tickets/u7")
    {'meetingId': 'm1', 'uid': 'u7'}
    >>> t.format(meetingId="m1", uid="u7")
    'meetings/m1/tickets/u7'
    """

    text: str
    segments: tuple[str, ...] = field(repr=False)
    wildcards: tuple[str, ...] = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        segments = tuple(text.strip("/").split("/"))
        if len(segments) % 2 != 0:
            raise DeclarationError(
                f"path {text!r} has {len(segments)} segments; a document path needs an even "
                "number (collection/document pairs), e.g. 'users/{uid}'",
                code="path-odd-segments",
            )
        wildcards: list[str] = []
        for index, segment in enumerate(segments):
            wildcard = _WILDCARD.match(segment)
            if wildcard:
                name = wildcard.group(1)
                if name in wildcards:
                    raise DeclarationError(
                        f"path {text!r} uses {{{name}}} twice; name each wildcard once",
                        code="path-wildcard-repeated",
                    )
                if index % 2 == 0:
                    raise DeclarationError(
                        f"path {text!r}: collection segment {segment} cannot be a wildcard; "
                        "only document ids may vary",
                        code="path-collection-wildcard",
                    )
                wildcards.append(name)
            elif not _LITERAL.match(segment):
                raise DeclarationError(
                    f"path {text!r}: segment {segment!r} is neither a literal id "
                    "nor a {wildcard}",
                    code="path-bad-segment",
                )
        return cls("/".join(segments), segments, tuple(wildcards))

    @property
    def collection(self) -> str:
        """The template of the collection holding these documents."""
        return "/".join(self.segments[:-1])

    @property
    def collection_ids(self) -> tuple[str, ...]:
        """The collection segments (never wildcards): paths that can overlap have equal ones."""
        return self.segments[::2]

    @property
    def parent(self) -> PathTemplate | None:
        """The template of the document this one is nested under, if any."""
        if len(self.segments) <= 2:
            return None
        return PathTemplate.parse("/".join(self.segments[:-2]))

    @property
    def id_wildcard(self) -> str | None:
        """The wildcard naming the document id (last segment), if the id varies."""
        match = _WILDCARD.match(self.segments[-1])
        return match.group(1) if match else None

    @functools.cached_property
    def _slots(self) -> tuple[tuple[str, str | None], ...]:
        """Each segment with its wildcard's name (None: a literal); parsed once, used per event."""
        return tuple(
            (segment, wildcard.group(1) if (wildcard := _WILDCARD.match(segment)) else None)
            for segment in self.segments
        )

    def match(self, path: str) -> dict[str, str] | None:
        """The wildcard values if ``path`` is a document of this template, else ``None``."""
        parts = path.strip("/").split("/")
        if len(parts) != len(self.segments):
            return None
        values: dict[str, str] = {}
        for (segment, name), part in zip(self._slots, parts, strict=True):
            if name is not None:
                values[name] = part
            elif segment != part:
                return None
        return values

    def format(self, **values: str) -> str:
        """The concrete path; every wildcard must be given a valid document id (else ValueError)."""
        parts = []
        for segment, name in self._slots:
            if name is None:
                parts.append(segment)
                continue
            value = values.get(name)
            problem = document_id_problem(value)
            if problem is not None:
                raise ValueError(
                    f"{self.text}: {{{name}}} needs a document id; {value!r} {problem}"
                )
            parts.append(value)  # type: ignore[arg-type]  # checked above
        return "/".join(parts)

    def overlaps(self, other: PathTemplate) -> bool:
        """True if a document path can match both (a write to one could trigger the other)."""
        if len(self.segments) != len(other.segments):
            return False
        for (mine, my_name), (theirs, their_name) in zip(self._slots, other._slots, strict=True):
            if my_name is None and their_name is None and mine != theirs:
                return False
        return True

    def trigger_pattern(self) -> str:
        """The pattern for ``firestore_fn.on_document_written(document=...)``."""
        return self.text

    def __str__(self) -> str:
        return self.text
