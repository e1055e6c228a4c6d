"""The oracle: the views a from-scratch build gives, from the domain documents read fresh.

It never reads boiler's records, ledger or views: each declared source says what to read for
a root (``paths``, ``collections``) and how ``build()`` sees it (``assemble``), the oracle
reads exactly that and builds. The chaos harness, the tests and the benchmarks compare the
stored views with it::

    assert stored_views(MeetingSession, db) == expected_views(MeetingSession, db)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from google.cloud import firestore

from ..errors import InvalidDocument
from ..paths import document_id_problem
from ..runtime.client import documents_of
from ..views import ViewModel

Fields = dict[str, Any]
# Called for every document read; raising InvalidDocument holds its aggregate back.
Check = Callable[[str, Fields], None]
BATCH = 300  # documents per batched read


def expected_views(
    view: type[ViewModel],
    client: firestore.Client,
    *,
    check: Check | None = None,
    held: set[str] | None = None,
) -> dict[str, Fields]:
    """Every view document ``view`` should have now, by path, as stored fields.

    An aggregate with an invalid source raises ``InvalidDocument``; with ``held`` given, its
    key is added there instead and its views are left out (boiler holds them back too).
    """
    spec = view.spec()
    sources = spec.sources
    if sources.__aggregates__:
        return _expected_aggregate_views(view, client, check=check, held=held)
    root_spec = sources.root()
    specs = list(sources.__sources__.values())

    def ids_valid(model: Any, path: str) -> None:
        for source in specs:
            source.paths(model, path)  # ids that are no document ids make the root invalid

    roots = list(_valid_roots(root_spec, client, check, held, ids_valid))
    documents: dict[str, Fields | None] = {}
    children: dict[str, list[str]] = {}  # collection path -> its documents' paths
    for _, root_path, model in roots:
        for source in specs:
            for collection in source.collections(model, root_path):
                for child in client.collection(collection).stream():
                    documents[child.reference.path] = child.to_dict() or {}
                    children.setdefault(collection, []).append(child.reference.path)
    # What the roots name, then what those name (chained joins), until nothing new.
    while True:
        wanted: set[str] = set()
        for _, root_path, model in roots:
            try:
                wanted.update(
                    path for source in specs for path in source.paths(model, root_path, documents)
                )
            except InvalidDocument:  # a chained join's holder: decided per aggregate below
                continue
        wanted -= documents.keys()
        if not wanted:
            break
        documents.update(_read(client, sorted(wanted)))
    expected: dict[str, Fields] = {}
    for key, root_path, model in roots:
        try:
            mine = {
                path: documents.get(path)
                for source in specs
                for path in [
                    *source.paths(model, root_path, documents),
                    *(
                        child
                        for collection in source.collections(model, root_path)
                        for child in children.get(collection, [])
                    ),
                ]
            }
            if check is not None:
                for path, found in mine.items():
                    if found is not None:
                        check(path, found)
            loaded = {source.name: source.assemble(model, root_path, mine) for source in specs}
            _check_bounds(specs, loaded, root_path)
        except InvalidDocument:
            if held is None:
                raise
            held.add(key)
            continue
        built = view.build_paths(sources(key, **loaded))
        expected.update({path: model.to_firestore() for path, model in built.items()})
    return expected


def _check_bounds(specs: list[Any], loaded: dict[str, Any], root_path: str) -> None:
    """An aggregate whose Many or Children holds more than its max is held back by boiler."""
    for source in specs:
        bound = source.bound()
        if bound is not None and isinstance(loaded[source.name], dict):
            if len(loaded[source.name]) > bound:
                raise InvalidDocument(root_path, [(source.name, f"more than {bound} documents")])


def _expected_aggregate_views(
    view: type[ViewModel],
    client: firestore.Client,
    *,
    check: Check | None = None,
    held: set[str] | None = None,
) -> dict[str, Fields]:
    """An aggregate view from scratch: every member of every query read, each aggregate
    recounted, resorted and cut, nothing of boiler's incremental state used."""
    spec = view.spec()
    sources = spec.sources
    root_spec = sources.__root__
    aggregates = list(sources.__aggregates__.values())
    held_keys: set[str] = set()
    members: dict[str, list[tuple[str, Any]]] = {}  # key -> [(path, model)] per query model
    for model in {a.query.model for a in aggregates}:
        template = model.__dict__["__path_template__"]
        collection = documents_of(client, template)
        relations = {a.query.relation for a in aggregates if a.query.model is model}
        for snapshot in collection.stream():
            path = snapshot.reference.path
            if template.match(path) is None:
                continue
            fields = snapshot.to_dict() or {}
            try:
                if check is not None:
                    check(path, fields)
                member = model.from_firestore(path, fields)
            except InvalidDocument:
                if held is None:
                    raise
                held_keys.update(_raw_keys(model, fields, relations))
                continue
            for relation in relations:
                assert relation is not None
                value = getattr(member, relation.field)
                keys = [value] if relation.op == "==" else list(value or ())
                for key in {k for k in keys if document_id_problem(k) is None}:
                    members.setdefault(key, []).append((path, member))
    expected: dict[str, Fields] = {}
    for key, loaded in _roots(root_spec, client, check, held, members, aggregates):
        if key in held_keys:
            assert held is not None
            held.add(key)
            continue
        values = dict(loaded)
        for aggregate in aggregates:
            related = [
                (path, member)
                for path, member in members.get(key, [])
                if aggregate.query.model is type(member) and key in aggregate.query.keys_of(member)
            ]
            values[aggregate.name] = aggregate.value(_recount(aggregate, related))
        built = view.build_paths(sources(key, **values))
        expected.update({path: model.to_firestore() for path, model in built.items()})
    return expected


def _roots(
    root_spec: Any,
    client: firestore.Client,
    check: Check | None,
    held: set[str] | None,
    members: dict[str, list[tuple[str, Any]]],
    aggregates: list[Any],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, {root name: root model}) per view: one per valid root document; without a Root,
    one per key some member contributes to."""
    if root_spec is None:
        for key in sorted(members):
            if any(
                a.contribution(m) is not None
                for _, m in members[key]
                for a in aggregates
                if a.query.model is type(m) and key in a.query.keys_of(m)
            ):
                yield key, {}
        return
    for key, _, root in _valid_roots(root_spec, client, check, held):
        yield key, {root_spec.name: root}


def _valid_roots(
    root_spec: Any,
    client: firestore.Client,
    check: Check | None,
    held: set[str] | None,
    validate: Callable[[Any, str], None] | None = None,
) -> Iterator[tuple[str, str, Any]]:
    """(key, path, model) of every root document that validates (and passes ``validate``);
    an invalid one raises, or with ``held`` given is added there."""
    for snapshot in client.collection(root_spec.template.collection).stream():
        path = snapshot.reference.path
        try:
            fields = snapshot.to_dict() or {}
            if check is not None:
                check(path, fields)
            model = root_spec.model.from_firestore(path, fields)
            if validate is not None:
                validate(model, path)
        except InvalidDocument:
            if held is None:
                raise
            held.add(snapshot.id)
            continue
        yield snapshot.id, path, model


def _raw_keys(model: Any, fields: Fields, relations: set[Any]) -> set[str]:
    """The keys an invalid member's raw fields seem to relate it to (to hold them back)."""
    keys: set[str] = set()
    for relation in relations:
        alias = model.model_fields[relation.field].alias or relation.field
        value = fields.get(alias)
        values = value if isinstance(value, list) else [value]
        keys.update(v for v in values if isinstance(v, str))
    return keys


def _recount(aggregate: Any, related: list[tuple[str, Any]]) -> dict[str, Any]:
    """A tally (runtime/tally_state.py's shape) computed over every related member at once."""
    from fractions import Fraction

    from ..aggregates import TopSpec, stored_sum

    contributions = [
        (path, member, c)
        for path, member in related
        if (c := aggregate.contribution(member)) is not None
    ]
    if isinstance(aggregate, TopSpec):
        ranked = sorted(contributions, key=lambda item: [*item[2], item[0]])
        return {
            "n": len(ranked),
            "top": [
                {"p": path, "k": [*key, path], "f": aggregate.entry_fields(member)}
                for path, member, key in ranked[: aggregate.limit]
            ],
        }
    total = sum((Fraction(c) for _, _, c in contributions), Fraction(0))
    return {"n": len(contributions), "s": stored_sum(total)}


def _read(client: firestore.Client, paths: list[str]) -> Iterator[tuple[str, Fields | None]]:
    for start in range(0, len(paths), BATCH):
        refs = [client.document(path) for path in paths[start : start + BATCH]]
        for snapshot in client.get_all(refs):
            yield snapshot.reference.path, (snapshot.to_dict() or {}) if snapshot.exists else None


def stored_views(view: type[ViewModel], client: firestore.Client) -> dict[str, Fields]:
    """Every view document of ``view`` as stored now, by path."""
    template = view.spec().template
    return {
        snapshot.reference.path: snapshot.to_dict() or {}
        for snapshot in client.collection_group(template.segments[-2]).stream()
        if template.match(snapshot.reference.path) is not None
    }


def first_divergence(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """The first path (sorted) where the two differ, with both values; ``None`` if equal."""
    for path in sorted(expected.keys() | actual.keys()):
        if expected.get(path) != actual.get(path):
            return f"{path}: expected {expected.get(path)!r}, stored {actual.get(path)!r}"
    return None


def wrong_views(view: type[ViewModel], client: firestore.Client) -> dict[str, int]:
    """How far the stored views are from the oracle: counts of wrong, missing and extra."""
    expected, actual = expected_views(view, client), stored_views(view, client)
    return {
        "views": len(expected),
        "wrong": sum(1 for p in expected.keys() & actual.keys() if expected[p] != actual[p]),
        "missing": len(expected.keys() - actual.keys()),
        "extra": len(actual.keys() - expected.keys()),
    }
