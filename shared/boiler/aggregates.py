"""Aggregates over a query: counts, sums, averages, extremes and top-N lists of many documents.

A ``Query`` names the documents of one model (a domain model, or another view model) that
belong to an aggregate: one filter relates them to its key (the root's id), others narrow
them down. Each aggregate source reduces a query to one value ``build()`` sees::

    KEY                                        # the aggregate's key: the root document's id
    upcoming = (Query(MeetingCard)
                .where("participant_ids", "array-contains", KEY)
                .where("status", "!=", "closed"))

    class AgendaData(Sources):
        user: User = Root(User)
        meetings: dict[str, MeetingCard] = Top(upcoming, 50, by=("starts_at",))
        num_upcoming: int = Count(upcoming)

The runtime (runtime/tallies.py) keeps each aggregate from the one document that changed,
never by reading the query's documents: a count or sum moves by that document's old and new
contribution; a top-N list (and a min or max, a top-1) asks a bounded query only when one of
its entries leaves. Filters are evaluated on the validated model with Python's comparisons.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from pydantic import BaseModel, create_model

from .documents import Document
from .errors import DeclarationError
from .paths import PathTemplate, document_id_problem


class _Key:
    """Stands for the aggregate's key (its root's id) in a ``Query.where`` filter."""

    def __repr__(self) -> str:
        return "KEY"


KEY: Any = _Key()

CONSTANT_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array-contains")
# Relations boiler can invert: from one changed document to the keys of the aggregates it
# belongs to (the field's value, or each element of the list).
RELATION_OPS = ("==", "array-contains")
CLIENT_OPS = {"array-contains": "array_contains"}  # how google-cloud-firestore spells them
MAX_TOP = 500  # entries a Top keeps in its aggregate's state document


@dataclass(frozen=True)
class Filter:
    """``field op value`` on a model's (snake_case) attribute."""

    field: str
    op: str
    value: Any

    def holds(self, member: BaseModel) -> bool:
        actual = getattr(member, self.field)
        op, value = self.op, self.value
        if op == "==":
            return bool(actual == value)
        if op == "!=":
            return bool(actual != value)
        if op == "in":
            return actual in value
        if op == "not-in":
            return actual not in value
        if op == "array-contains":
            return actual is not None and value in actual
        if actual is None:  # an ordering comparison with a missing value never holds
            return False
        return bool(
            {
                "<": actual < value,
                "<=": actual <= value,
                ">": actual > value,
                ">=": actual >= value,
            }[op]
        )

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value!r}"


@dataclass(frozen=True)
class Query:
    """The documents of ``model`` related to an aggregate's key, narrowed by constant filters.

    Immutable: ``where`` returns a new query, so one base query serves several aggregates.
    """

    model: type[Document]
    relation: Filter | None = None
    filters: tuple[Filter, ...] = ()

    def where(self, field_name: str, op: str, value: Any) -> Query:
        """Add a filter; ``value`` is ``KEY`` for the one filter relating documents to the key."""
        op = {"array_contains": "array-contains", "not_in": "not-in"}.get(op, op)  # client spelling
        owner = f"Query({self.model.__name__}).where({field_name!r}, {op!r}, {value!r})"
        annotation = _field_type(self.model, field_name, owner)
        if value is KEY:
            if self.relation is not None:
                raise DeclarationError(
                    f"{owner}: the query is already related to the key by "
                    f"{self.relation}; relate it by one filter only",
                    code="query-relation-twice",
                )
            _check_relation(self.model, field_name, op, annotation, owner)
            return Query(self.model, Filter(field_name, op, KEY), self.filters)
        if op not in CONSTANT_OPS:
            raise DeclarationError(
                f"{owner}: unknown operator {op!r}; use one of {list(CONSTANT_OPS)}",
                code="query-operator-unknown",
            )
        if op in ("in", "not-in") and not isinstance(value, list | tuple | set | frozenset):
            raise DeclarationError(
                f"{owner}: {op!r} needs a list of values, e.g. "
                f".where({field_name!r}, {op!r}, ['a', 'b'])",
                code="query-operator-unknown",
            )
        return Query(self.model, self.relation, (*self.filters, Filter(field_name, op, value)))

    def __post_init__(self) -> None:
        if not (isinstance(self.model, type) and issubclass(self.model, Document)):
            raise DeclarationError(
                f"Query({self.model!r}): query a DomainModel or ViewModel class",
                code="query-model-invalid",
            )
        if self.model.__dict__.get("__path_template__") is None:
            raise DeclarationError(
                f"Query({self.model.__name__}): {self.model.__name__} declares no path=; "
                "query a domain model or a view model bound to a path",
                code="query-model-invalid",
            )

    @property
    def template(self) -> PathTemplate:
        template: PathTemplate = self.model.__dict__["__path_template__"]
        return template

    @property
    def group(self) -> str:
        """What identifies the membership this query tracks (aggregates over the same model and
        relation share one membership entry per document)."""
        assert self.relation is not None
        return f"{self.model.__name__}.{self.relation.field}.{self.relation.op}"

    def keys_of(self, member: BaseModel) -> list[str]:
        """The keys of the aggregates ``member`` is related to (before the constant filters)."""
        assert self.relation is not None
        value = getattr(member, self.relation.field)
        if self.relation.op == "==":
            values = [value]
        else:
            values = list(value or ())
        # A value that is no document id ("", "a/b", "__x__") names no root: no aggregate.
        return sorted({v for v in values if document_id_problem(v) is None})

    def describe_affected(self) -> str:
        """How a member's change finds its keys (runtime/tallies.py, ``apply_member``)."""
        assert self.relation is not None
        field, op = self.relation.field, self.relation.op
        held = "the key it holds" if op == "==" else "each key it lists"
        return (
            f"{held} in {field} now ({field} {op} KEY), and each key its membership entries "
            "say it counted in before"
        )

    def matches(self, member: BaseModel) -> bool:
        return all(condition.holds(member) for condition in self.filters)

    def describe(self) -> str:
        conditions = [self.relation] if self.relation else []
        conditions += list(self.filters)
        return f"Query({self.model.__name__})" + "".join(
            f".where({c.field!r}, {c.op!r}, {c.value!r})" for c in conditions
        )


# -- aggregate sources -------------------------------------------------------------------------
@dataclass(frozen=True)
class AggregateSpec:
    """One value reduced from a query; ``name`` is the Sources attribute it is loaded into.

    A tally (the stored state of one aggregate) is a small dict: ``{"n": count}`` plus ``"s"``
    (an exact sum) or ``"top"`` (ranked entries). A member's contribution is ``None`` when the
    member is outside the query's filters.
    """

    query: Query
    name: str = ""
    kind: ClassVar[str]
    sorted: ClassVar[bool] = False

    def describe(self) -> str:
        """The declaration, e.g. ``Sum(Query(MeetingCard).where(...), 'num_attending')``."""
        arguments = [self.query.describe(), *self._arguments()]
        return f"{type(self).__name__.removesuffix('Spec')}({', '.join(arguments)})"

    def _arguments(self) -> list[str]:
        return []

    def validate(self, owner: type) -> None:
        if self.query.relation is None:
            raise DeclarationError(
                f"{owner.__name__}.{self.name}: {self.describe()} is not related to the "
                f"aggregate's key; add one filter such as "
                f'.where("<field holding the root id>", "==", KEY)',
                code="query-relation-missing",
            )

    def contribution(self, member: BaseModel) -> Any:
        """What ``member`` (already related to the key) adds to this aggregate."""
        return 1 if self.query.matches(member) else None

    def value(self, tally: Mapping[str, Any]) -> Any:
        return int(tally.get("n", 0))


@dataclass(frozen=True)
class CountSpec(AggregateSpec):
    """How many members match the query."""

    kind: ClassVar[str] = "count"


@dataclass(frozen=True)
class SumSpec(AggregateSpec):
    """The exact sum of a numeric field (floats add up exactly, then round once)."""

    field: str = ""
    kind: ClassVar[str] = "sum"

    def _arguments(self) -> list[str]:
        return [repr(self.field)]

    def validate(self, owner: type) -> None:
        super().validate(owner)
        _numeric_field(self.query.model, self.field, f"{owner.__name__}.{self.name}", self)

    def contribution(self, member: BaseModel) -> Any:
        if not self.query.matches(member):
            return None
        value = getattr(member, self.field)
        return None if value is None else value

    def value(self, tally: Mapping[str, Any]) -> Any:
        total = exact(tally.get("s", 0))
        if _is_int_field(self.query.model, self.field):
            return int(total)
        return float(total)


@dataclass(frozen=True)
class AvgSpec(SumSpec):
    """The mean of a numeric field over the members that have it; ``None`` when there are none."""

    kind: ClassVar[str] = "avg"

    def value(self, tally: Mapping[str, Any]) -> Any:
        count = int(tally.get("n", 0))
        return float(exact(tally.get("s", 0)) / count) if count else None


@dataclass(frozen=True)
class TopSpec(AggregateSpec):
    """The first ``limit`` members by ``by`` (fields; ``-field`` descending), ties by path.

    A member whose sort field is ``None`` comes after all others. ``fields`` keeps only the
    named fields of each entry (smaller state; ``build`` sees a model of just those fields).
    """

    limit: int = 1
    by: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    kind: ClassVar[str] = "top"
    sorted: ClassVar[bool] = True

    def _arguments(self) -> list[str]:
        named = {"by": self.by, "fields": self.fields}
        return [str(self.limit), *(f"{name}={value!r}" for name, value in named.items() if value)]

    def validate(self, owner: type) -> None:
        super().validate(owner)
        where = f"{owner.__name__}.{self.name}"
        if not 1 <= self.limit <= MAX_TOP:
            raise DeclarationError(
                f"{where}: {type(self).__name__} keeps 1 to {MAX_TOP} entries, got {self.limit}; "
                "for more, page through the collection with a query instead",
                code="aggregate-limit",
            )
        for name in self.by:
            descending = name.startswith("-")
            annotation = _field_type(self.query.model, name.lstrip("-"), where)
            if _base_type(annotation) not in (str, int, float, dt.datetime, bool):
                # Sort keys are stored as Firestore arrays, which cannot hold lists or maps.
                raise DeclarationError(
                    f"{where}: order by a str, number, bool or datetime field; "
                    f"{self.query.model.__name__}.{name.lstrip('-')} is {annotation!r}",
                    code="aggregate-order",
                )
            if descending and _base_type(annotation) not in (int, float, dt.datetime, bool):
                raise DeclarationError(
                    f"{where}: descending order needs a number, bool or datetime field; "
                    f"{self.query.model.__name__}.{name.lstrip('-')} is {annotation!r}. "
                    "Order ascending, or add a numeric rank field",
                    code="aggregate-order",
                )
        for name in self.fields:
            _field_type(self.query.model, name, where)

    def contribution(self, member: BaseModel) -> Any:
        return sort_key(member, self.by) if self.query.matches(member) else None

    def value(self, tally: Mapping[str, Any]) -> Any:
        model = self.entry_model()
        return {
            entry["p"].rsplit("/", 1)[1]: model.model_validate(entry["f"])
            for entry in tally.get("top", [])
        }

    def entry_model(self) -> type[BaseModel]:
        return projected(self.query.model, self.fields)

    def entry_fields(self, member: Document) -> dict[str, Any]:
        """What the state keeps of a listed member (Firestore names, as stored)."""
        raw = member.to_firestore()
        if not self.fields:
            return raw
        keep = {self.query.model.model_fields[name].alias or name for name in self.fields}
        return {name: value for name, value in raw.items() if name in keep}


@dataclass(frozen=True)
class MinSpec(TopSpec):
    """The smallest value of a field (``None`` when no member has one)."""

    field: str = ""
    kind: ClassVar[str] = "min"

    def _arguments(self) -> list[str]:
        return [repr(self.field)]

    def validate(self, owner: type) -> None:
        _field_type(self.query.model, self.field, f"{owner.__name__}.{self.name}")
        super().validate(owner)

    def contribution(self, member: BaseModel) -> Any:
        if not self.query.matches(member) or getattr(member, self.field) is None:
            return None
        return sort_key(member, self.by)

    def value(self, tally: Mapping[str, Any]) -> Any:
        top = tally.get("top", [])
        return _field_of(self.query.model, top[0]["f"], self.field) if top else None


@dataclass(frozen=True)
class MaxSpec(MinSpec):
    """The largest value of a field (``None`` when no member has one)."""

    kind: ClassVar[str] = "max"


def Count(query: Query) -> Any:  # noqa: N802 - reads like a field declaration
    """Declare how many documents match ``query``."""
    return CountSpec(query)


def Sum(query: Query, field: str) -> Any:  # noqa: N802
    """Declare the sum of a numeric ``field`` over ``query`` (0 when empty)."""
    return SumSpec(query, field=field)


def Avg(query: Query, field: str) -> Any:  # noqa: N802
    """Declare the mean of a numeric ``field`` over ``query`` (``None`` when empty)."""
    return AvgSpec(query, field=field)


def Min(query: Query, field: str) -> Any:  # noqa: N802
    """Declare the smallest ``field`` value over ``query`` (``None`` when empty)."""
    return MinSpec(query, limit=1, by=(field,), fields=(field,), field=field)


def Max(query: Query, field: str) -> Any:  # noqa: N802
    """Declare the largest ``field`` value over ``query`` (``None`` when empty)."""
    return MaxSpec(query, limit=1, by=(f"-{field}",), fields=(field,), field=field)


def Top(  # noqa: N802
    query: Query, limit: int, *, by: Sequence[str] = (), fields: Sequence[str] = ()
) -> Any:
    """Declare the first ``limit`` documents of ``query`` ordered by ``by`` (``"-f"``:
    descending; missing values last; ties by document path), as ``{id: model}`` in order."""
    return TopSpec(query, limit=limit, by=tuple(by), fields=tuple(fields))


# -- exact arithmetic and ordering -------------------------------------------------------------
def exact(stored: Any) -> Fraction:
    """A stored sum (an int, or ``"p/q"``) as an exact fraction."""
    if isinstance(stored, str):
        return Fraction(stored)
    return Fraction(stored)


def stored_sum(total: Fraction) -> int | str:
    """An exact sum as Firestore keeps it: an int when whole and in range, else ``"p/q"``."""
    if total.denominator == 1 and -(2**63) <= total.numerator < 2**63:
        return total.numerator
    return f"{total.numerator}/{total.denominator}"


def sort_key(member: BaseModel, by: Sequence[str]) -> list[Any]:
    """An order Firestore and Python agree on: ``[missing?, value]`` per field, then the path
    (appended by the caller). Stored as an array, which Firestore orders element by element."""
    key: list[Any] = []
    for name in by:
        descending = name.startswith("-")
        value = getattr(member, name.lstrip("-"))
        if value is None:
            key += [1, None]
            continue
        if isinstance(value, dt.datetime):
            value = _micros(value)
        elif isinstance(value, bool):
            value = int(value)
        key += [0, -value if descending else value]
    return key


def _micros(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# -- declaration checks --------------------------------------------------------------------
def _field_type(model: type[BaseModel], name: str, owner: str) -> Any:
    fields = model.model_fields
    if name not in fields:
        raise DeclarationError(
            f"{owner}: {model.__name__} has no field {name!r}; choose one of {sorted(fields)}",
            code="query-field-unknown",
        )
    return fields[name].annotation


def _base_type(annotation: Any) -> Any:
    """``int`` for ``int | None``; the annotation itself otherwise."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _check_relation(
    model: type[BaseModel], name: str, op: str, annotation: Any, owner: str
) -> None:
    base = _base_type(annotation)
    is_list = typing.get_origin(base) in (list, tuple, set, frozenset)
    if op not in RELATION_OPS:
        raise DeclarationError(
            f"{owner}: boiler cannot tell from a changed {model.__name__} which aggregates "
            f"{op!r} relates it to (the reverse mapping is not derivable). Relate it with "
            f"'==' on a field holding the key, or 'array-contains' on a list of keys",
            code="query-relation-not-derivable",
        )
    if op == "==" and base is not str:
        raise DeclarationError(
            f"{owner}: {model.__name__}.{name} must be a str (a document id) to equal the key, "
            f"it is {annotation!r}",
            code="query-relation-not-derivable",
        )
    if op == "array-contains" and not is_list:
        raise DeclarationError(
            f"{owner}: 'array-contains' needs a list of ids; {model.__name__}.{name} is "
            f"{annotation!r}. Use '==' for a single id",
            code="query-relation-not-derivable",
        )


def _is_int_field(model: type[BaseModel], name: str) -> bool:
    return _base_type(model.model_fields[name].annotation) is int


def _numeric_field(model: type[BaseModel], name: str, owner: str, spec: AggregateSpec) -> None:
    annotation = _field_type(model, name, owner)
    if _base_type(annotation) not in (int, float):
        raise DeclarationError(
            f"{owner}: {type(spec).__name__.removesuffix('Spec')} needs a numeric field; "
            f"{model.__name__}.{name} is {annotation!r}. Aggregate an int or float field "
            f"(or Count a filtered query)",
            code="aggregate-not-numeric",
        )


_PROJECTIONS: dict[tuple[type[BaseModel], tuple[str, ...]], type[BaseModel]] = {}


def projected(model: type[BaseModel], names: tuple[str, ...]) -> type[BaseModel]:
    """``model`` itself, or a model of only ``names`` (same types and Firestore names)."""
    if not names:
        return model
    found = _PROJECTIONS.get((model, names))
    if found is None:
        definitions: dict[str, Any] = {
            name: (model.model_fields[name].annotation, model.model_fields[name]) for name in names
        }
        found = create_model(  # type: ignore[call-overload]
            f"{model.__name__}Entry", __config__=model.model_config, **definitions
        )
        _PROJECTIONS[(model, names)] = found
    return found


def _field_of(model: type[BaseModel], raw: Mapping[str, Any], name: str) -> Any:
    return getattr(projected(model, (name,)).model_validate(raw), name)
