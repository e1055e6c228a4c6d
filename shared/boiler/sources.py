"""What a view is built from: the root document of an aggregate and the documents joined to it.

>>> class MeetingData(Sources):
...     meeting: Meeting = Root(Meeting)
...     location: Location | None = Join(Location, on="location_id")
...     tickets: dict[str, Ticket] = Children(Ticket)
...     participants: dict[str, User] = Many(User, ids="participant_ids")
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from .documents import DomainModel
from .errors import DeclarationError, InvalidDocument
from .paths import PathTemplate, document_id_problem


@dataclass(frozen=True)
class SourceSpec:
    """One declared source of an aggregate; ``name`` is the attribute it is loaded into."""

    model: type[DomainModel]
    name: str = ""

    @property
    def template(self) -> PathTemplate:
        return self.model.path_template()

    def describe(self) -> str:
        return f"{type(self).__name__.removesuffix('Spec')}({self.model.__name__})"


@dataclass(frozen=True)
class RootSpec(SourceSpec):
    """The aggregate's root document; its id is the aggregate key."""


@dataclass(frozen=True)
class JoinSpec(SourceSpec):
    """One document whose id is held in a field of the root (``None`` when the field is empty)."""

    on: str = ""

    def paths(self, root: DomainModel, root_path: str = "") -> list[str]:
        """The joined document's path; none when the field is empty (``None`` or ``""``)."""
        value = getattr(root, self.on)
        return _paths_of_ids(
            self, root, root_path, [(_alias(root, self.on), value)] if value else []
        )


@dataclass(frozen=True)
class ManySpec(SourceSpec):
    """Documents whose ids are listed in a field of the root, loaded as ``{id: model}``."""

    ids: str = ""

    def paths(self, root: DomainModel, root_path: str = "") -> list[str]:
        """The listed documents' paths, in list order, each once."""
        field = _alias(root, self.ids)
        ids = [(f"{field}.{index}", value) for index, value in enumerate(getattr(root, self.ids))]
        return list(dict.fromkeys(_paths_of_ids(self, root, root_path, ids)))


@dataclass(frozen=True)
class ChildrenSpec(SourceSpec):
    """Every document of a subcollection of the root, loaded as ``{id: model}``."""


def _alias(root: DomainModel, field: str) -> str:
    return type(root).model_fields[field].alias or field


def _paths_of_ids(
    spec: SourceSpec, root: DomainModel, root_path: str, ids: list[tuple[str, object]]
) -> list[str]:
    """Paths of the documents ``ids`` name; a value that is no document id makes the root invalid.

    Such a root is data to report (``InvalidDocument``: path, field, value), never a crash.
    """
    problems = [
        (label, f"{value!r} is not a document id: it {problem}")
        for label, value in ids
        if (problem := document_id_problem(value)) is not None
    ]
    if problems:
        raise InvalidDocument(root_path or f"a {type(root).__name__} document", problems)
    wildcard = spec.template.wildcards[0]
    return [spec.template.format(**{wildcard: str(value)}) for _, value in ids]


def Root(model: type[DomainModel]) -> Any:  # noqa: N802 - reads like a field declaration
    """Declare the aggregate root: one aggregate (and its views) per root document."""
    return RootSpec(model)


def Join(model: type[DomainModel], *, on: str) -> Any:  # noqa: N802
    """Declare a document referenced by the root field ``on`` (a document id)."""
    return JoinSpec(model, on=on)


def Many(model: type[DomainModel], *, ids: str) -> Any:  # noqa: N802
    """Declare the documents referenced by the root field ``ids`` (a list of document ids)."""
    return ManySpec(model, ids=ids)


def Children(model: type[DomainModel]) -> Any:  # noqa: N802
    """Declare every document of a subcollection of the root document."""
    return ChildrenSpec(model)


class Sources:
    """Base of a sources declaration; at build time an instance holds the loaded documents.

    Attributes declared with ``Root``/``Join``/``Many``/``Children`` are filled in by the
    runtime; ``key`` is the root document's id.
    """

    __sources__: ClassVar[dict[str, SourceSpec]]
    __root__: ClassVar[RootSpec]

    key: str

    def __init__(self, key: str, **loaded: Any) -> None:
        self.key = key
        for name, value in loaded.items():
            setattr(self, name, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs: dict[str, SourceSpec] = {}
        for name, value in list(vars(cls).items()):
            if isinstance(value, SourceSpec):
                spec = type(value)(**{**value.__dict__, "name": name})
                specs[name] = spec
                delattr(cls, name)  # instances get real values; no spec left as a default
        cls.__sources__ = specs
        roots = [spec for spec in specs.values() if isinstance(spec, RootSpec)]
        if len(roots) != 1:
            raise DeclarationError(
                f"{cls.__name__} declares {len(roots)} Root(...) sources; declare exactly one, "
                "e.g. `meeting: Meeting = Root(Meeting)`"
            )
        cls.__root__ = roots[0]
        for spec in specs.values():
            _validate(cls, spec, cls.__root__)

    @classmethod
    def joined(cls) -> Iterable[JoinSpec | ManySpec]:
        """Sources found through a field of the root (their changes need a reverse lookup)."""
        return [spec for spec in cls.__sources__.values() if isinstance(spec, JoinSpec | ManySpec)]

    @classmethod
    def children(cls) -> Iterable[ChildrenSpec]:
        return [spec for spec in cls.__sources__.values() if isinstance(spec, ChildrenSpec)]


def _root_field_type(owner: type, root: RootSpec, field: str, source: SourceSpec) -> Any:
    fields = root.model.model_fields
    if field not in fields:
        raise DeclarationError(
            f"{owner.__name__}.{source.name}: {root.model.__name__} has no field {field!r}; "
            f"choose one of {sorted(fields)}"
        )
    return fields[field].annotation


def _validate(owner: type, spec: SourceSpec, root: RootSpec) -> None:
    template = spec.template
    if isinstance(spec, RootSpec):
        if template.id_wildcard is None:
            raise DeclarationError(
                f"{owner.__name__}.{spec.name}: the root path {template} needs an {{id}} wildcard"
            )
        return
    if isinstance(spec, ChildrenSpec):
        if template.parent != root.template:
            raise DeclarationError(
                f"{owner.__name__}.{spec.name}: {spec.model.__name__} ({template}) "
                f"is not a subcollection "
                f"of the root {root.model.__name__} ({root.template}); its path must start with "
                f"'{root.template}/'"
            )
        return
    if len(template.wildcards) != 1 or template.id_wildcard is None:
        raise DeclarationError(
            f"{owner.__name__}.{spec.name}: {spec.model.__name__} ({template}) "
            "must live in a top-level "
            "collection with one {id} wildcard to be joined by id"
        )
    field = spec.on if isinstance(spec, JoinSpec) else spec.ids  # type: ignore[attr-defined]
    annotation = _root_field_type(owner, root, field, spec)
    wanted_list = isinstance(spec, ManySpec)
    is_list = typing.get_origin(annotation) in (list, tuple, set, frozenset)
    if is_list != wanted_list:
        kind = "a list of document ids" if wanted_list else "a single document id (str)"
        raise DeclarationError(
            f"{owner.__name__}.{spec.name}: {root.model.__name__}.{field} must be {kind}, "
            f"it is declared as {annotation!r}"
        )
