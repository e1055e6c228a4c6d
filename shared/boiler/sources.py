"""What a view is built from: the root document of an aggregate and the documents joined to it.

>>> class MeetingData(Sources):
...     meeting: Meeting = Root(Meeting)
...     location: Location | None = Join(Location, on="location_id")
...     tickets: dict[str, Ticket] = Children(Ticket)
...     participants: dict[str, User] = Many(User, ids="participant_ids")

Each kind of source is one ``SourceSpec`` subclass; the runtime (``AggregateBuilder``,
``Pipeline``) only loops over ``Sources.__sources__`` and calls the interface below. A new
kind is one new class here (and a declaring function such as ``Join``).
"""

from __future__ import annotations

import dataclasses
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from .aggregates import AggregateSpec
from .documents import DomainModel
from .errors import DeclarationError, InvalidDocument
from .paths import PathTemplate, document_id_problem

Fields = Mapping[str, Any] | None  # a loaded document's fields, or None when it does not exist
KeyPage = tuple[list[str], bool]  # aggregate keys, and whether more pages follow


class AggregateIndex(Protocol):
    """What the runtime offers a source to find aggregates (``AggregateBuilder`` is one)."""

    def key_of(self, template_values: Mapping[str, str]) -> str:
        """The aggregate key among the wildcard values of a source document's path."""
        ...

    def dependents(self, document: str) -> Iterator[KeyPage]:
        """Pages of the keys of the aggregates whose records list ``document`` as a dependency."""
        ...


@dataclass(frozen=True)
class SourceSpec(ABC):
    """One declared source of an aggregate; ``name`` is the attribute it is loaded into.

    The interface every kind implements (``root`` is the validated root model, ``root_path``
    its path; a loader reads ``paths`` and ``collections``, then calls ``assemble``)::

        spec.validate(MeetingData, MeetingData.__root__)          # at declaration
        spec.paths(meeting, "meetings/m1")         # ['locations/l1']: documents to read
        spec.collections(meeting, "meetings/m1")   # child collections to read whole
        spec.assemble(meeting, "meetings/m1", {path: fields})  # what build() sees
        spec.dependencies(meeting, "meetings/m1")  # documents whose change must find it
        spec.affected("locations/l1", {"locationId": "l1"}, builder)  # key pages it affects

    ``paths`` runs whenever a root is parsed, so an id the root cannot name fails there. A
    kind whose ``affected`` asks ``index.dependents`` must list those documents in
    ``dependencies`` (the record's ``deps`` are what that query finds).
    """

    model: type[DomainModel]
    name: str = ""

    @property
    def template(self) -> PathTemplate:
        return self.model.path_template()

    def describe(self) -> str:
        return f"{type(self).__name__.removesuffix('Spec')}({self.model.__name__})"

    @abstractmethod
    def validate(self, owner: type, root: RootSpec) -> None:
        """Check the declaration against the root; a ``DeclarationError`` names the fix."""

    def paths(self, root: DomainModel, root_path: str) -> Sequence[str]:
        """Documents to read for this root; ``InvalidDocument`` if the root names an invalid id."""
        return ()

    def collections(self, root: DomainModel, root_path: str) -> Sequence[str]:
        """Collections to read whole for this root (every document in them)."""
        return ()

    @abstractmethod
    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        """The value ``build()`` sees, from the documents read (``paths`` and ``collections``)."""

    def dependencies(self, root: DomainModel, root_path: str) -> Sequence[str]:
        """Documents a change to which finds this aggregate only through its record."""
        return ()

    @abstractmethod
    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        """Pages of the aggregate keys a change of ``document`` (path ``values``) affects."""


@dataclass(frozen=True)
class RootSpec(SourceSpec):
    """The aggregate's root document; its id is the aggregate key."""

    def validate(self, owner: type, root: RootSpec) -> None:
        if self.template.id_wildcard is None:
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: the root path {self.template} "
                "needs an {id} wildcard"
            )

    def paths(self, root: DomainModel, root_path: str) -> Sequence[str]:
        return (root_path,)

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        return root

    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        yield [index.key_of(values)], False


@dataclass(frozen=True)
class ChildrenSpec(SourceSpec):
    """Every document of a subcollection of the root, loaded as ``{id: model}``."""

    def validate(self, owner: type, root: RootSpec) -> None:
        if self.template.parent != root.template:
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: {self.model.__name__} ({self.template}) "
                f"is not a subcollection "
                f"of the root {root.model.__name__} ({root.template}); its path must start with "
                f"'{root.template}/'"
            )

    def collections(self, root: DomainModel, root_path: str) -> Sequence[str]:
        return (f"{root_path}/{self.template.segments[-2]}",)

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        prefix = f"{root_path}/{self.template.segments[-2]}/"
        return {
            path[len(prefix) :]: self.model.from_firestore(path, raw)
            for path, raw in sorted(documents.items())
            if raw is not None and path.startswith(prefix) and "/" not in path[len(prefix) :]
        }

    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        yield [index.key_of(values)], False  # the root's id is in the child's path


@dataclass(frozen=True)
class ReferencedSpec(SourceSpec):
    """Documents whose ids a root field holds; a change finds them through the records' deps."""

    holds_list: ClassVar[bool]  # the root field is a list of ids (else a single id)

    @property
    @abstractmethod
    def root_field(self) -> str:
        """The root field naming the documents."""

    def validate(self, owner: type, root: RootSpec) -> None:
        template = self.template
        if len(template.wildcards) != 1 or template.id_wildcard is None:
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: {self.model.__name__} ({template}) "
                "must live in a top-level "
                "collection with one {id} wildcard to be joined by id"
            )
        field = self.root_field
        annotation = _root_field_type(owner, root, field, self)
        is_list = typing.get_origin(annotation) in (list, tuple, set, frozenset)
        if is_list != self.holds_list:
            kind = "a list of document ids" if self.holds_list else "a single document id (str)"
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: {root.model.__name__}.{field} must be {kind}, "
                f"it is declared as {annotation!r}"
            )

    def dependencies(self, root: DomainModel, root_path: str) -> Sequence[str]:
        return self.paths(root, root_path)

    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        return index.dependents(document)

    def _models(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]
    ) -> dict[str, DomainModel]:
        return {
            path.rsplit("/", 1)[1]: self.model.from_firestore(path, raw)
            for path in self.paths(root, root_path)
            if (raw := documents.get(path)) is not None
        }


@dataclass(frozen=True)
class JoinSpec(ReferencedSpec):
    """One document whose id is held in a field of the root (``None`` when the field is empty)."""

    on: str = ""
    holds_list: ClassVar[bool] = False

    @property
    def root_field(self) -> str:
        return self.on

    def paths(self, root: DomainModel, root_path: str = "") -> list[str]:
        """The joined document's path; none when the field is empty (``None`` or ``""``)."""
        value = getattr(root, self.on)
        return _paths_of_ids(
            self, root, root_path, [(_alias(root, self.on), value)] if value else []
        )

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        return next(iter(self._models(root, root_path, documents).values()), None)


@dataclass(frozen=True)
class ManySpec(ReferencedSpec):
    """Documents whose ids are listed in a field of the root, loaded as ``{id: model}``."""

    ids: str = ""
    holds_list: ClassVar[bool] = True

    @property
    def root_field(self) -> str:
        return self.ids

    def paths(self, root: DomainModel, root_path: str = "") -> list[str]:
        """The listed documents' paths, in list order, each once."""
        field = _alias(root, self.ids)
        ids = [(f"{field}.{index}", value) for index, value in enumerate(getattr(root, self.ids))]
        return list(dict.fromkeys(_paths_of_ids(self, root, root_path, ids)))

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        return self._models(root, root_path, documents)


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
    # Checked above, in a top-level collection (validate() requires it): no format() needed.
    return [f"{spec.template.collection}/{value}" for _, value in ids]


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
    # Count/Sum/Avg/Min/Max/Top over a Query (aggregates.py), kept by runtime/tallies.py.
    __aggregates__: ClassVar[dict[str, AggregateSpec]]

    key: str

    def __init__(self, key: str, **loaded: Any) -> None:
        self.key = key
        for name, value in loaded.items():
            setattr(self, name, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs: dict[str, SourceSpec] = {}
        aggregates: dict[str, AggregateSpec] = {}
        for name, value in list(vars(cls).items()):
            if isinstance(value, SourceSpec):
                specs[name] = dataclasses.replace(value, name=name)
                delattr(cls, name)  # instances get real values; no spec left as a default
            elif isinstance(value, AggregateSpec):
                aggregates[name] = dataclasses.replace(value, name=name)
                delattr(cls, name)
        cls.__sources__ = specs
        cls.__aggregates__ = aggregates
        roots = [spec for spec in specs.values() if isinstance(spec, RootSpec)]
        if len(roots) != 1:
            raise DeclarationError(
                f"{cls.__name__} declares {len(roots)} Root(...) sources; declare exactly one, "
                "e.g. `meeting: Meeting = Root(Meeting)`"
            )
        cls.__root__ = roots[0]
        for spec in specs.values():
            spec.validate(cls, cls.__root__)
        for aggregate in aggregates.values():
            aggregate.validate(cls)
        joined = [spec for spec in specs.values() if not isinstance(spec, RootSpec)]
        if aggregates and joined:
            raise DeclarationError(
                f"{cls.__name__} mixes aggregates ({', '.join(aggregates)}) with joined sources "
                f"({', '.join(spec.name for spec in joined)}); an aggregate view is built from "
                "its root and its aggregates only. Aggregate over a view model that does the "
                "joining (e.g. Query(MeetingCard) where MeetingCard joins the location)",
                code="sources-mixed-kinds",
            )


def _root_field_type(owner: type, root: RootSpec, field: str, source: SourceSpec) -> Any:
    fields = root.model.model_fields
    if field not in fields:
        raise DeclarationError(
            f"{owner.__name__}.{source.name}: {root.model.__name__} has no field {field!r}; "
            f"choose one of {sorted(fields)}"
        )
    return fields[field].annotation
