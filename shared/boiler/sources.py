"""What a view is built from: the root document of an aggregate and the documents joined to it.

>>> class MeetingData(Sources):
...     meeting: Meeting = Root(Meeting)
...     location: Location | None = Join(Location, on="location_id")
...     tickets: dict[str, Ticket] = Children(Ticket)
...     participants: dict[str, User] = Many(User, ids="participant_ids")
...     # A chained join: each participant's organization, {uid: Organization}.
...     organizations: dict[str, Organization] = Join(Organization, on="org_id", of="participants")

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

    # Documents of this source one aggregate may hold (Many, Children); None: one at most.
    def bound(self) -> int | None:
        return None

    @property
    def template(self) -> PathTemplate:
        return self.model.path_template()

    def describe(self) -> str:
        """The declaration, e.g. ``Join(Location, on='location_id')`` (arguments given only)."""
        arguments = [self.model.__name__] + [
            f"{field.name}={value!r}"
            for field in dataclasses.fields(self)
            if field.name not in ("model", "name", "parent")
            and (value := getattr(self, field.name)) not in ("", None)
        ]
        return f"{type(self).__name__.removesuffix('Spec')}({', '.join(arguments)})"

    def describe_affected(self) -> str:
        """How ``affected`` finds the aggregates a change of one of its documents affects."""
        return f"the keys {type(self).__name__}.affected yields"

    @abstractmethod
    def validate(self, owner: type, root: RootSpec) -> None:
        """Check the declaration against the root; a ``DeclarationError`` names the fix."""

    def paths(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> Sequence[str]:
        """Documents to read for this root; ``InvalidDocument`` if the root names an invalid id.

        ``documents`` are those loaded so far: a chained join (``Join(..., of=...)``) names
        its documents from another source's, so it returns none until those are loaded.
        """
        return ()

    def collections(self, root: DomainModel, root_path: str) -> Sequence[str]:
        """Collections to read whole for this root (every document in them)."""
        return ()

    @abstractmethod
    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        """The value ``build()`` sees, from the documents read (``paths`` and ``collections``)."""

    def dependencies(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> Sequence[str]:
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

    def paths(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> Sequence[str]:
        return (root_path,)

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        return root

    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        yield [index.key_of(values)], False

    def describe_affected(self) -> str:
        return f"its own aggregate: the key is the document's id, {self.template.segments[-1]}"


# How many documents a Many or Children source may bring into one aggregate unless it declares
# max=: a record view rebuilds whole, so its cost per event grows with them. Past the bound
# the aggregate is held back with a clear error (``aggregate-over-bound``), never read whole.
DEFAULT_MAX_DOCUMENTS = 1000


@dataclass(frozen=True)
class ChildrenSpec(SourceSpec):
    """Every document of a subcollection of the root, loaded as ``{id: model}``; at most
    ``max`` of them (``DEFAULT_MAX_DOCUMENTS``)."""

    max: int = DEFAULT_MAX_DOCUMENTS

    def bound(self) -> int | None:
        return self.max

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

    def describe_affected(self) -> str:
        key = self.template.segments[-3]
        return f"its root's aggregate: the key is {key} in the document's path"


@dataclass(frozen=True)
class ReferencedSpec(SourceSpec):
    """Documents whose ids a field holds: a root field, or (``of=``) a field of the documents
    of another source (a chained join). A change finds them through the records' deps."""

    holds_list: ClassVar[bool]  # the field is a list of ids (else a single id)
    of: str = ""  # the source whose documents hold the field ("": the root)
    parent: SourceSpec | None = None  # that source, resolved by Sources

    @property
    @abstractmethod
    def root_field(self) -> str:
        """The field naming the documents (on the root, or on the ``of`` source's documents)."""

    def validate(self, owner: type, root: RootSpec) -> None:
        template = self.template
        if len(template.wildcards) != 1 or template.id_wildcard is None:
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: {self.model.__name__} ({template}) "
                "must live in a top-level "
                "collection with one {id} wildcard to be joined by id"
            )
        holder = root if self.parent is None else self.parent
        field = self.root_field
        annotation = _root_field_type(owner, holder, field, self)
        is_list = typing.get_origin(annotation) in (list, tuple, set, frozenset)
        if is_list != self.holds_list:
            kind = "a list of document ids" if self.holds_list else "a single document id (str)"
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: {holder.model.__name__}.{field} must be {kind}, "
                f"it is declared as {annotation!r}"
            )

    def paths(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> list[str]:
        if self.parent is None:
            return self._ids_paths(root, root_path)
        if documents is None:
            return []  # the holders are not loaded yet
        paths: list[str] = []
        for holder_path, holder in self._holders(root, root_path, documents):
            paths.extend(self._ids_paths(holder, holder_path))
        return list(dict.fromkeys(paths))

    @abstractmethod
    def _ids_paths(self, holder: DomainModel, holder_path: str) -> list[str]:
        """The paths of the documents ``holder``'s field names."""

    def _holders(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]
    ) -> list[tuple[str, DomainModel]]:
        """The loaded documents of the ``of`` source, validated (``InvalidDocument`` if not)."""
        assert self.parent is not None
        parent = self.parent
        found = list(parent.paths(root, root_path, documents))
        for collection in parent.collections(root, root_path):
            prefix = f"{collection}/"
            found += sorted(
                path
                for path in documents
                if path.startswith(prefix) and "/" not in path[len(prefix) :]
            )
        return [
            (path, parent.model.from_firestore(path, raw))
            for path in found
            if (raw := documents.get(path)) is not None
        ]

    def dependencies(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields] | None = None
    ) -> Sequence[str]:
        return self.paths(root, root_path, documents)

    def affected(
        self, document: str, values: Mapping[str, str], index: AggregateIndex
    ) -> Iterator[KeyPage]:
        return index.dependents(document)

    def describe_affected(self) -> str:
        holder = f"a {self.of} document's" if self.of else "the root's"
        return (
            f"the aggregates whose records list the document in deps ({holder} "
            f"{self.root_field} named it at their last build): an array-contains query on the "
            "records, a page at a time"
        )

    def _models(
        self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]
    ) -> dict[str, DomainModel]:
        return {
            path.rsplit("/", 1)[1]: self.model.from_firestore(path, raw)
            for path in self.paths(root, root_path, documents)
            if (raw := documents.get(path)) is not None
        }


@dataclass(frozen=True)
class JoinSpec(ReferencedSpec):
    """One document whose id is held in a field of the root (``None`` when the field is empty).

    With ``of=`` the field is on the documents of another source: joined to a ``Join`` it is
    one document (or ``None``); to a ``Many`` or ``Children``, ``{holder id: document}``.
    """

    on: str = ""
    holds_list: ClassVar[bool] = False

    @property
    def root_field(self) -> str:
        return self.on

    def _ids_paths(self, holder: DomainModel, holder_path: str) -> list[str]:
        """The joined document's path; none when the field is empty (``None`` or ``""``)."""
        value = getattr(holder, self.on)
        return _paths_of_ids(
            self, holder, holder_path, [(_alias(holder, self.on), value)] if value else []
        )

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        if self.parent is None or isinstance(self.parent, JoinSpec):
            return next(iter(self._models(root, root_path, documents).values()), None)
        joined = {}
        for holder_path, holder in self._holders(root, root_path, documents):
            for path in self._ids_paths(holder, holder_path):
                raw = documents.get(path)
                if raw is not None:
                    joined[holder_path.rsplit("/", 1)[1]] = self.model.from_firestore(path, raw)
        return joined


@dataclass(frozen=True)
class ManySpec(ReferencedSpec):
    """Documents whose ids are listed in a field of the root, loaded as ``{id: model}``."""

    ids: str = ""
    max: int = DEFAULT_MAX_DOCUMENTS
    holds_list: ClassVar[bool] = True

    def bound(self) -> int | None:
        return self.max

    @property
    def root_field(self) -> str:
        return self.ids

    def _ids_paths(self, holder: DomainModel, holder_path: str) -> list[str]:
        """The listed documents' paths, in list order, each once."""
        field = _alias(holder, self.ids)
        ids = [(f"{field}.{index}", value) for index, value in enumerate(getattr(holder, self.ids))]
        return list(dict.fromkeys(_paths_of_ids(self, holder, holder_path, ids)))

    def assemble(self, root: DomainModel, root_path: str, documents: Mapping[str, Fields]) -> Any:
        return self._models(root, root_path, documents)


def _alias(root: DomainModel, field: str) -> str:
    return type(root).model_fields[field].alias or field


def _paths_of_ids(
    spec: SourceSpec, root: DomainModel, root_path: str, ids: list[tuple[str, object]]
) -> list[str]:
    """Paths of the documents ``ids`` name; a value that is no document id makes the document
    holding it (the root, or a chained join's holder) invalid.

    Such a document is data to report (``InvalidDocument``: path, field, value), never a crash.
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


def Join(model: type[DomainModel], *, on: str, of: str = "") -> Any:  # noqa: N802
    """Declare a document referenced by the root field ``on`` (a document id); with ``of=``,
    by the field ``on`` of the documents of the source named ``of`` (a chained join:
    ``Join(Organization, on="organization_id", of="user")``)."""
    return JoinSpec(model, on=on, of=of)


def Many(  # noqa: N802
    model: type[DomainModel], *, ids: str, of: str = "", max: int = DEFAULT_MAX_DOCUMENTS
) -> Any:
    """Declare the documents referenced by the root field ``ids`` (a list of document ids);
    ``of=`` as for ``Join``; ``max``: how many one aggregate may list (else held back)."""
    return ManySpec(model, ids=ids, of=of, max=_max(model, max))


def Children(model: type[DomainModel], *, max: int = DEFAULT_MAX_DOCUMENTS) -> Any:  # noqa: N802
    """Declare every document of a subcollection of the root document (at most ``max``)."""
    return ChildrenSpec(model, max=_max(model, max))


def _max(model: type[DomainModel], value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DeclarationError(
            f"max= for {model.__name__} must be a positive int (how many documents one "
            f"aggregate may hold), got {value!r}",
            code="source-max-invalid",
        )
    return value


class Sources:
    """Base of a sources declaration; at build time an instance holds the loaded documents.

    Attributes declared with ``Root``/``Join``/``Many``/``Children`` are filled in by the
    runtime; ``key`` is the root document's id.
    """

    __sources__: ClassVar[dict[str, SourceSpec]]
    # None only for an aggregate view grouped by its query: one view per key its members name.
    __root__: ClassVar[RootSpec | None]
    # Count/Sum/Avg/Min/Max/Top over a Query (aggregates.py), kept by runtime/tallies.py.
    __aggregates__: ClassVar[dict[str, AggregateSpec]]

    key: str

    def __init__(self, key: str, **loaded: Any) -> None:
        self.key = key
        for name, value in loaded.items():
            setattr(self, name, value)

    @classmethod
    def root(cls) -> RootSpec:
        """The root source (record views always have one)."""
        if cls.__root__ is None:
            raise DeclarationError(
                f"{cls.__name__} declares no Root: only aggregate views may be grouped by their "
                "query",
                code="sources-root-missing",
            )
        return cls.__root__

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
        grouped = not roots and aggregates and not specs  # one view per key, no root document
        if len(roots) != 1 and not grouped:
            raise DeclarationError(
                f"{cls.__name__} declares {len(roots)} Root(...) sources; declare exactly one, "
                "e.g. `meeting: Meeting = Root(Meeting)` (only a Sources of aggregates alone "
                "may declare none: one view per key its query's documents name)"
            )
        root = cls.__root__ = roots[0] if roots else None
        for name, spec in list(specs.items()):
            if isinstance(spec, ReferencedSpec) and spec.of:
                specs[name] = _chained(cls, spec, specs)
        for spec in specs.values():
            assert root is not None
            spec.validate(cls, root)
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


def _chained(owner: type, spec: ReferencedSpec, specs: Mapping[str, SourceSpec]) -> SourceSpec:
    """``spec`` with its ``of`` source resolved: a Join, Many or Children declared before it."""
    names = list(specs)
    parent = specs.get(spec.of)
    earlier = names[: names.index(spec.name)]
    if parent is None or spec.of not in earlier or isinstance(parent, RootSpec):
        choices = [n for n in earlier if not isinstance(specs[n], RootSpec)]
        raise DeclarationError(
            f"{owner.__name__}.{spec.name}: of={spec.of!r} must name a Join, Many or Children "
            f"source declared above it; choose one of {choices} (or drop of= to join from the "
            "root)",
            code="join-of-unknown",
        )
    return dataclasses.replace(spec, parent=parent)


def _root_field_type(owner: type, root: SourceSpec, field: str, source: SourceSpec) -> Any:
    fields = root.model.model_fields
    if field not in fields:
        raise DeclarationError(
            f"{owner.__name__}.{source.name}: {root.model.__name__} has no field {field!r}; "
            f"choose one of {sorted(fields)}"
        )
    return fields[field].annotation
