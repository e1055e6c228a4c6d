"""Who may read a view document; compiled into ``firestore.rules``.

>>> readable_by_path("uid")                       # the uid in the view's path
>>> readable_by_field("ownerId")                  # a uid stored in the view document
>>> readable_by_claim("role", "admin")            # a custom auth claim
>>> readable_by_path("uid") | readable_by_claim("role", "admin")
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Access:
    """A set of alternatives: a request is allowed when any one of them holds."""

    path_wildcards: tuple[str, ...] = ()
    uid_fields: tuple[str, ...] = ()
    claims: tuple[tuple[str, str | bool], ...] = ()
    public: bool = False

    def __or__(self, other: Access) -> Access:
        return Access(
            path_wildcards=self.path_wildcards + other.path_wildcards,
            uid_fields=self.uid_fields + other.uid_fields,
            claims=self.claims + other.claims,
            public=self.public or other.public,
        )


def readable_by_path(wildcard: str) -> Access:
    """Readable by the signed-in user whose uid fills ``{wildcard}`` in the view's path."""
    return Access(path_wildcards=(wildcard,))


def readable_by_field(field: str) -> Access:
    """Readable by the signed-in user whose uid is stored in the view field ``field`` (camelCase)."""
    return Access(uid_fields=(field,))


def readable_by_claim(claim: str, value: str | bool = True) -> Access:
    """Readable by any signed-in user whose token carries ``claim == value``."""
    return Access(claims=((claim, value),))


def public() -> Access:
    """Readable by anyone, signed in or not."""
    return Access(public=True)
