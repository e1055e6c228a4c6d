"""Pydantic base of every document boiler reads or writes.

Fields are camelCase in Firestore and snake_case in Python.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import DeclarationError, InvalidDocument
from .naming import to_camel
from .paths import PathTemplate


class Document(BaseModel):
    """A Firestore document's fields, validated; subclasses declare ``path=`` as a class keyword."""

    # strict: Firestore values are typed; "yes" is not a bool and 1.5 is not an int.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True
    )

    __path_template__: ClassVar[PathTemplate]

    def __init_subclass__(cls, *, path: str | None = None, **kwargs: Any) -> None:
        # Class keywords (path=, sources=, ...) are declarations, not pydantic config.
        super().__init_subclass__()
        if path is not None:
            cls.__path_template__ = PathTemplate.parse(path)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__()

    @classmethod
    def from_firestore(cls, path: str, data: Mapping[str, Any]) -> Self:
        """Validate raw Firestore fields; a mismatch raises ``InvalidDocument`` (path, fields)."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = [
                (".".join(str(part) for part in issue["loc"]) or "<document>", issue["msg"])
                for issue in error.errors()
            ]
            raise InvalidDocument(path, problems) from None

    def to_firestore(self) -> dict[str, Any]:
        """Fields as stored in Firestore (camelCase keys)."""
        return self.model_dump(by_alias=True, mode="python")


# pydantic evaluates its bases' annotations again for each subclass; a string costs a compile.
Document.__annotations__["__path_template__"] = ClassVar[PathTemplate]


class DomainModel(Document):
    """A source-of-truth document bound to a path template.

    >>> class Location(DomainModel, path="locations/{locationId}"):
    ...     address: str
    >>> Location.path_template().text
    'locations/{locationId}'
    """

    # Domain documents may carry fields other code owns: keep reading them.
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def declared_fields(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The part of raw Firestore fields this model reads (validating it gives the same model).

        What boiler caches of a domain document: a 400 KB avatar no model declares stays out.
        """
        keys = _declared_keys(cls)
        if keys is None:
            return dict(raw)
        return {name: value for name, value in raw.items() if name in keys}

    @classmethod
    def path_template(cls) -> PathTemplate:
        message = (
            "{name} has no path: declare it as "
            '`class {name}(DomainModel, path="collection/{{id}}")`'
        )
        return declared(cls, "__path_template__", message, code="model-path-missing")  # type: ignore[no-any-return]


def declared(cls: type, attribute: str, message: str, code: str) -> Any:
    """What ``cls`` itself declared under ``attribute`` (not inherited); else a DeclarationError
    with ``message`` (``{name}``: the class's name; formatted only then, as this runs per event).
    """
    value = cls.__dict__.get(attribute)
    if value is None:
        raise DeclarationError(message.format(name=cls.__name__), code=code)
    return value


@functools.cache
def _declared_keys(model: type[DomainModel]) -> frozenset[str] | None:
    """Every key validation may read (aliases and, with populate_by_name, names); None: all."""
    if model.model_config.get("extra") == "allow":
        return None  # extra fields become model attributes: keep them all
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.update((name, info.alias or name))
        aliases = info.validation_alias
        choices = getattr(aliases, "choices", [aliases])
        for choice in choices:
            if isinstance(choice, str):
                keys.add(choice)
            elif choice is not None:  # an AliasPath: its first element is the top-level key
                first = choice.path[0] if hasattr(choice, "path") else None
                if isinstance(first, str):
                    keys.add(first)
    return frozenset(keys)
