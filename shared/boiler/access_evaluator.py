"""Deciding an ``Access`` in Python, the way the generated security rules decide it.

The rules the CLI generates enforce ``readable_by``/``creatable_by`` for Firestore clients;
this evaluator is the same decision for code that serves documents itself (and the oracle
that tests/test_rules.py checks the generated rules against, in the Firestore emulator)::

    >>> world = {"meetings/m1": {"participantIds": ["u2"]}}
    >>> meeting = document(Meeting, meetingId=path_param("meetingId"))
    >>> allowed(meeting.lists_uid("participant_ids"), model=StatusRequest, uid="u2", claims={},
    ...         path_params={"meetingId": "m1", "requestId": "r1"}, fields={}, lookup=world.get)
    True

Like the rules, a condition that cannot be evaluated (a missing field or document, an id
that is not one path segment) denies, and every alternative but a ``public()`` one needs a
signed-in caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .access import (
    Access,
    Anyone,
    AuthUid,
    Claim,
    Condition,
    DocumentCheck,
    FieldValue,
    PathParam,
    SignedIn,
    UidInField,
    UidInPath,
    firestore_field,
)
from .paths import document_id_problem

Lookup = Callable[[str], Mapping[str, Any] | None]
"""Fetch a document's stored fields by path; ``None`` when it does not exist."""


def allowed(
    access: Access | None,
    *,
    model: type,
    uid: str | None,
    claims: Mapping[str, Any],
    path_params: Mapping[str, str],
    fields: Mapping[str, Any],
    lookup: Lookup,
) -> bool:
    """True when ``access`` lets the caller at the guarded document.

    ``model`` is the guarded document's class (field names in ``access`` may be spelled
    either way), ``uid``/``claims`` the caller's auth (``None``: signed out), ``path_params``
    the wildcard values of the document's path, ``fields`` its stored (camelCase) fields: the
    existing document for a read, the requested one for a create. ``None`` access: closed.
    """
    if access is None:
        return False
    request = _Request(model, uid, claims, path_params, fields, lookup)
    return any(
        (Anyone() in alternative or uid is not None)
        and all(request.holds(condition) for condition in alternative)
        for alternative in access.alternatives
    )


def reads_documents(access: Access | None) -> bool:
    """True when deciding ``access`` may read other documents (a ``document(...)`` check);
    False: the caller, the path and the guarded document's own fields decide it at once."""
    return access is not None and any(
        isinstance(condition, DocumentCheck)
        for alternative in access.alternatives
        for condition in alternative
    )


def decided_by_path(access: Access | None) -> bool:
    """True when the caller and the document's path alone decide ``access`` (no stored
    field, no other document): a refusal is then known before the document is read."""
    pure = (Anyone, SignedIn, UidInPath, Claim)
    return access is None or all(
        isinstance(condition, pure)
        for alternative in access.alternatives
        for condition in alternative
    )


def _same(left: Any, right: Any) -> bool:
    """Equality as the rules language sees it: ``true`` is not ``1``."""
    return isinstance(left, bool) == isinstance(right, bool) and bool(left == right)


@dataclass(frozen=True)
class _Request:
    """One decision's inputs (see ``allowed``)."""

    model: type
    uid: str | None
    claims: Mapping[str, Any]
    path_params: Mapping[str, str]
    fields: Mapping[str, Any]
    lookup: Lookup

    def holds(self, condition: Condition) -> bool:
        if isinstance(condition, Anyone | SignedIn):
            return True  # sign-in itself is checked with the alternative
        if isinstance(condition, UidInPath):
            return self.uid is not None and self.path_params.get(condition.wildcard) == self.uid
        if isinstance(condition, UidInField):
            stored = self.fields.get(firestore_field(self.model, condition.field))
            return self.uid is not None and stored == self.uid
        if isinstance(condition, Claim):
            return condition.name in self.claims and _same(
                self.claims[condition.name], condition.value
            )
        return self._document_holds(condition)

    def _id(self, source: PathParam | FieldValue | AuthUid) -> Any:
        if isinstance(source, PathParam):
            return self.path_params.get(source.name)
        if isinstance(source, FieldValue):
            return self.fields.get(firestore_field(self.model, source.name))
        return self.uid

    def _document_holds(self, check: DocumentCheck) -> bool:
        ids = {name: self._id(source) for name, source in check.ids}
        if any(document_id_problem(value) is not None for value in ids.values()):
            return False  # the rules guard every id to be one path segment
        target = self.lookup(check.model.path_template().format(**ids))
        if check.test == "exists":
            return target is not None
        if target is None or check.field not in target:
            return False
        value = target[check.field]
        if check.test == "lists_uid":
            return isinstance(value, list) and self.uid in value
        return _same(value, check.value)


def may_list(
    access: Access | None,
    *,
    model: type,
    id_wildcard: str | None,
    uid: str | None,
    claims: Mapping[str, Any],
    path_params: Mapping[str, str],
    lookup: Lookup,
) -> bool:
    """True when a plain list of the collection is allowed, as the rules decide a list query.

    A list is allowed only by an alternative that holds for every document of the collection
    without looking at one: it may not need a document's fields (``uid_in_field``, a lookup
    id from a field) nor its id (``{id_wildcard}``). ``path_params`` are the collection's
    wildcard values (the id is not among them).
    """
    if access is None:
        return False
    return any(
        holds_for_every_document(alternative, id_wildcard)
        and allowed(
            Access((alternative,)),
            model=model,
            uid=uid,
            claims=claims,
            path_params=path_params,
            fields={},
            lookup=lookup,
        )
        for alternative in access.alternatives
    )


def holds_for_every_document(alternative: tuple[Condition, ...], id_wildcard: str | None) -> bool:
    """Whether ``alternative`` can be decided without a document's fields or its id
    (``{id_wildcard}``): the only kind that can allow a plain list."""

    def per_document(source: PathParam | FieldValue | AuthUid) -> bool:
        return isinstance(source, FieldValue) or (
            isinstance(source, PathParam) and source.name == id_wildcard
        )

    for condition in alternative:
        if isinstance(condition, UidInField):
            return False
        if isinstance(condition, UidInPath) and condition.wildcard == id_wildcard:
            return False
        if isinstance(condition, DocumentCheck) and any(
            per_document(source) for _, source in condition.ids
        ):
            return False
    return True
