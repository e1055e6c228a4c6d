"""Who may read a view or create a command; compiled into ``firestore.rules``.

>>> uid_in_path("uid")                            # the uid in the document's path
>>> uid_in_field("ownerId")                       # a uid stored in the document
>>> has_claim("role", "admin")                    # a custom auth claim
>>> uid_in_path("uid") | has_claim("role", "admin")
>>> in_meeting = document(Meeting, meetingId=field_value("meetingId")).lists_uid("participant_ids")
>>> uid_in_path("uid") & in_meeting               # both must hold

An ``Access`` is a disjunction of conjunctions: ``|`` adds alternatives, ``&`` requires both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import DeclarationError

if TYPE_CHECKING:
    from .documents import DomainModel
    from .paths import PathTemplate


# -- where a document id in a lookup comes from -------------------------------------------
@dataclass(frozen=True)
class PathParam:
    """The value of ``{name}`` in the guarded document's path."""

    name: str


@dataclass(frozen=True)
class FieldValue:
    """The value of a field of the guarded document (camelCase or snake_case name)."""

    name: str


@dataclass(frozen=True)
class AuthUid:
    """The signed-in caller's uid."""


IdSource = PathParam | FieldValue | AuthUid


def path_param(name: str) -> PathParam:
    """Use ``{name}`` of the guarded document's path as a lookup id."""
    return PathParam(name)


def field_value(name: str) -> FieldValue:
    """Use a field of the guarded (or requested) document as a lookup id."""
    return FieldValue(name)


def auth_uid() -> AuthUid:
    """Use the caller's uid as a lookup id."""
    return AuthUid()


# -- single conditions --------------------------------------------------------------------
@dataclass(frozen=True)
class UidInPath:
    """The caller's uid fills ``{wildcard}`` in the guarded document's path."""

    wildcard: str


@dataclass(frozen=True)
class UidInField:
    """The caller's uid is stored in the guarded document's ``field``."""

    field: str


@dataclass(frozen=True)
class Claim:
    """The caller's token carries the custom claim ``name == value``."""

    name: str
    value: str | bool


@dataclass(frozen=True)
class Anyone:
    """Anyone at all, signed in or not."""


@dataclass(frozen=True)
class SignedIn:
    """Any signed-in user (every alternative but ``public()`` requires sign-in anyway)."""


@dataclass(frozen=True)
class DocumentCheck:
    """A test on another document, expressible in rules with ``get()``/``exists()``.

    ``test`` is "exists", "lists_uid" (``uid in doc.field``) or "equals" (``doc.field == value``).
    """

    model: type[DomainModel]
    ids: tuple[tuple[str, IdSource], ...]
    test: str
    field: str = ""
    value: str | bool | int | None = None


Condition = UidInPath | UidInField | Claim | Anyone | SignedIn | DocumentCheck


@dataclass(frozen=True)
class Access:
    """Alternatives (any one suffices), each a conjunction of conditions (all must hold)."""

    alternatives: tuple[tuple[Condition, ...], ...] = ()

    def __or__(self, other: Access) -> Access:
        return Access(self.alternatives + other.alternatives)

    def __and__(self, other: Access) -> Access:
        return Access(
            tuple(mine + theirs for mine in self.alternatives for theirs in other.alternatives)
        )

    def conditions(self) -> list[Condition]:
        return [condition for alternative in self.alternatives for condition in alternative]

    @property
    def path_wildcards(self) -> tuple[str, ...]:
        return tuple(c.wildcard for c in self.conditions() if isinstance(c, UidInPath))

    @property
    def uid_fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.conditions() if isinstance(c, UidInField))

    @property
    def claims(self) -> tuple[tuple[str, str | bool], ...]:
        return tuple((c.name, c.value) for c in self.conditions() if isinstance(c, Claim))

    @property
    def public(self) -> bool:
        return any(alternative == (Anyone(),) for alternative in self.alternatives)


def _one(condition: Condition) -> Access:
    return Access(((condition,),))


def uid_in_path(wildcard: str) -> Access:
    """Allowed for the signed-in user whose uid fills ``{wildcard}`` in the document's path."""
    return _one(UidInPath(wildcard))


def uid_in_field(field: str) -> Access:
    """Allowed for the signed-in user whose uid is stored in the document's ``field``."""
    return _one(UidInField(field))


def has_claim(claim: str, value: str | bool = True) -> Access:
    """Allowed for any signed-in user whose token carries ``claim == value``."""
    return _one(Claim(claim, value))


def signed_in() -> Access:
    """Allowed for any signed-in user."""
    return _one(SignedIn())


def public() -> Access:
    """Allowed for anyone, signed in or not."""
    return _one(Anyone())


class DocumentLookup:
    """Another document named by ids from the path, the document's fields or the caller.

    >>> ticket = document(Ticket, meetingId=path_param("meetingId"), uid=auth_uid())
    >>> host = ticket.has("role", "host")
    """

    def __init__(self, model: type[DomainModel], ids: dict[str, IdSource]) -> None:
        template = model.path_template()
        missing = [name for name in template.wildcards if name not in ids]
        unknown = [name for name in ids if name not in template.wildcards]
        if missing or unknown:
            raise DeclarationError(
                f"document({model.__name__}, ...): {template} needs exactly the ids "
                f"{list(template.wildcards)}; missing {missing}, unknown {unknown}",
                code="document-lookup-ids",
            )
        self.model = model
        self.ids = tuple((name, ids[name]) for name in template.wildcards)

    def _field(self, name: str) -> str:
        return firestore_field(self.model, name)

    def exists(self) -> Access:
        """The document exists."""
        return _one(DocumentCheck(self.model, self.ids, "exists"))

    def lists_uid(self, field: str) -> Access:
        """The caller's uid is in the document's list field ``field``."""
        return _one(DocumentCheck(self.model, self.ids, "lists_uid", self._field(field)))

    def has(self, field: str, value: str | bool | int) -> Access:
        """The document's ``field`` equals ``value``."""
        return _one(DocumentCheck(self.model, self.ids, "equals", self._field(field), value))


def document(model: type[DomainModel], **ids: IdSource) -> DocumentLookup:
    """Refer to a domain document in an access rule; one ``get()`` per check in the rules."""
    return DocumentLookup(model, ids)


def firestore_field(model: type, name: str) -> str:
    """The stored (camelCase) name of ``model``'s field ``name``, given in either spelling."""
    fields = model.model_fields  # type: ignore[attr-defined]
    if name in fields:
        return fields[name].alias or name
    if any(info.alias == name for info in fields.values()):
        return name
    raise DeclarationError(
        f"{model.__name__} has no field {name!r}; choose one of {sorted(fields)}",
        code="unknown-field",
    )


# The security rules language binds these names; a path wildcard named so would shadow one.
RULES_RESERVED_NAMES = frozenset(
    {"database", "request", "resource", "path", "math", "duration", "timestamp", "hashing"}
)


def check_wildcards_for_rules(owner: type, template: PathTemplate) -> None:
    """A document the rules guard (a view, a command) has no wildcard the rules reserve."""
    clash = sorted(set(template.wildcards) & RULES_RESERVED_NAMES)
    if clash:
        raise DeclarationError(
            f"{owner.__name__}: path {template} uses {clash}, which security rules reserve; "
            "rename the wildcard",
            code="reserved-wildcard",
        )


def check_access(owner: type, access: Access | None, template: PathTemplate) -> None:
    """Every wildcard and field an access rule names exists on the guarded document."""
    for condition in access.conditions() if access is not None else []:
        if isinstance(condition, UidInPath):
            named_by = f"access names {{{condition.wildcard}}}"
            _require_wildcard(owner, template, condition.wildcard, named_by)
        if isinstance(condition, UidInField):
            firestore_field(owner, condition.field)
        if isinstance(condition, DocumentCheck):
            for _, source in condition.ids:
                if isinstance(source, PathParam):
                    named_by = (
                        f"document({condition.model.__name__}) uses path_param({source.name!r})"
                    )
                    _require_wildcard(owner, template, source.name, named_by)
                if isinstance(source, FieldValue):
                    firestore_field(owner, source.name)


def _require_wildcard(owner: type, template: PathTemplate, name: str, named_by: str) -> None:
    if name not in template.wildcards:
        raise DeclarationError(
            f"{owner.__name__}: {named_by} but {template} has only {list(template.wildcards)}",
            code="access-unknown-wildcard",
        )
