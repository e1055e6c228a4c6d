"""The one pure compile step: declarations in, a ``Build`` (triggers, checks) out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from .aggregates import Query
from .app import App
from .commands import Command, check_access
from .errors import BoilerError, DeclarationError
from .naming import to_snake
from .paths import PathTemplate
from .runtime import bookkeeping
from .sources import SourceSpec
from .views import ViewModel, ViewSpec


@dataclass(frozen=True)
class TriggerSpec:
    """One Firestore-triggered function: keeps ``view`` in step with writes to ``source``
    (a source of a record view, or the root or a queried model of an aggregate view)."""

    name: str
    view: type[ViewModel]
    source: SourceSpec | Query

    @property
    def document(self) -> str:
        return self.source.template.trigger_pattern()

    @property
    def view_spec(self) -> ViewSpec:
        return self.view.spec()


@dataclass(frozen=True)
class CommandTriggerSpec:
    """One Firestore-triggered function: applies each ``command`` document created by a client."""

    name: str
    command: type[Command]

    @property
    def document(self) -> str:
        return self.command.spec().template.trigger_pattern()


@dataclass(frozen=True)
class Build:
    """Everything derived from an ``App``."""

    app: App
    triggers: tuple[TriggerSpec, ...]
    commands: tuple[CommandTriggerSpec, ...] = ()

    def trigger(self, name: str) -> TriggerSpec:
        for trigger in self.triggers:
            if trigger.name == name:
                return trigger
        raise KeyError(name)

    def view(self, name: str) -> type[ViewModel]:
        """The app's view model named ``name``; ``BoilerError`` (``unknown-view``) naming
        the app's views otherwise."""
        views = {view.spec().name: view for view in self.app.views}
        if name not in views:
            raise BoilerError(
                f"no view named {name!r} in the app {self.app.name!r}; "
                f"its views: {', '.join(views) or 'none'}",
                code="unknown-view",
            )
        return views[name]


def compile_app(app: App) -> Build:
    """Check the declarations as a whole and derive one trigger per (view model, source)."""
    triggers: list[TriggerSpec] = []
    names: set[str] = set()
    for view in app.views:
        spec = view.spec()
        if "build" not in vars(view):
            raise DeclarationError(
                f"{view.__name__} must define `@classmethod def build(cls, data)`"
            )
        listened: list[SourceSpec | Query] = list(spec.sources.__sources__.values())
        # An aggregate view listens to its root and to each model its queries read, once.
        queried = {a.query.model: a.query for a in spec.sources.__aggregates__.values()}
        listened += list(queried.values())
        for source in listened:
            name = f"{to_snake(spec.name)}_on_{to_snake(source.model.__name__)}"
            if name in names:
                raise DeclarationError(
                    f"{view.__name__}: two sources read {source.model.__name__}; "
                    "declare each domain model once per Sources class"
                )
            names.add(name)
            triggers.append(TriggerSpec(name=name, view=view, source=source))
    _check_paths(app, triggers)
    for view in app.views:
        if view.spec().readable_by is not None:
            check_access(view, view.spec().readable_by, view.spec().template)
    commands = _compile_commands(app, names)
    return Build(app=app, triggers=tuple(triggers), commands=commands)


def _compile_commands(app: App, names: set[str]) -> tuple[CommandTriggerSpec, ...]:
    """One trigger per command."""
    specs = []
    for command in app.commands:
        if not (isinstance(command, type) and issubclass(command, Command)):
            raise DeclarationError(f"App.commands: {command!r} is not a Command subclass")
        name = f"apply_{to_snake(command.__name__)}"
        if name in names:
            raise DeclarationError(f"{command.__name__}: a function named {name} already exists")
        names.add(name)
        specs.append(CommandTriggerSpec(name=name, command=command))
    return tuple(specs)


def _check_paths(app: App, triggers: list[TriggerSpec]) -> None:
    """Every path boiler or a client writes must be its own: a view where a trigger listens
    re-triggers forever; a command over domain data or a view lets clients write there."""
    listened = {t.source.model: t for t in triggers if not issubclass(t.source.model, ViewModel)}
    # Who owns which paths, in declaration order, by collection ids (only equal ones can overlap).
    owners: dict[tuple[str, ...], list[tuple[str, PathTemplate]]] = {}
    for model in dict.fromkeys([*app.domain, *listened]):
        template = model.__path_template__
        owners.setdefault(template.collection_ids, []).append(
            (f"domain model {model.__name__}", template)
        )
    # Each listened path once, with the first trigger on it: views x paths, not views x triggers.
    sources: dict[PathTemplate, TriggerSpec] = {}
    for trigger in triggers:
        if not issubclass(trigger.source.model, ViewModel):  # views read views: _check_view_graph
            sources.setdefault(trigger.source.template, trigger)
    _check_view_graph(app, triggers)
    for view in app.views:
        template = view.spec().template
        if template.segments[0] in bookkeeping.INTERNAL_COLLECTIONS:
            raise DeclarationError(
                f"{view.__name__} writes {template}, inside boiler's own {template.segments[0]}"
            )
        for source, trigger in sources.items():
            if template.overlaps(source):
                raise DeclarationError(
                    f"{view.__name__} writes {template}, which {trigger.name} listens to "
                    f"({source}); a view must not live where a source lives. "
                    "Give the view its own collection name."
                )
        same_collections = owners.setdefault(template.collection_ids, [])
        for what, other in same_collections:
            if template.overlaps(other):
                clash = (
                    f"{view.__name__} and {what} both write {template}"
                    if what.startswith("view")
                    else f"{view.__name__} writes {template}, where {what} lives ({other})"
                )
                raise DeclarationError(f"{clash}; give the view its own collection name")
        same_collections.append((f"view {view.__name__}", template))
    for command in _commands(app):
        template = command.spec().template
        same_collections = owners.setdefault(template.collection_ids, [])
        for what, other in same_collections:
            if template.overlaps(other):
                raise DeclarationError(
                    f"{command.__name__} ({template}) overlaps {what.split()[-1]} ({other}); "
                    "clients could write there. Give the command its own collection name."
                )
        same_collections.append((f"command {command.__name__}", template))


def _check_view_graph(app: App, triggers: list[TriggerSpec]) -> None:
    """A view may aggregate another view of the app, never itself, even through others."""
    reads: dict[type[ViewModel], set[type[ViewModel]]] = {view: set() for view in app.views}
    for trigger in triggers:
        model = trigger.source.model
        if issubclass(model, ViewModel):
            if model not in reads:
                raise DeclarationError(
                    f"{trigger.view.__name__} aggregates the view model {model.__name__}, "
                    "which the app does not declare; add it to App(views=[...])",
                    code="view-source-undeclared",
                )
            reads[trigger.view].add(model)

    def visit(view: type[ViewModel], trail: tuple[type[ViewModel], ...]) -> None:
        if view in trail:
            cycle = " -> ".join(v.__name__ for v in (*trail[trail.index(view) :], view))
            raise DeclarationError(
                f"views read each other in a cycle ({cycle}): each write would trigger the "
                "next forever; break the cycle",
                code="view-cycle",
            )
        for source in reads[view]:
            visit(source, (*trail, view))

    for view in app.views:
        visit(view, ())


def _commands(app: App) -> list[type[Command]]:
    return [c for c in app.commands if isinstance(c, type) and issubclass(c, Command)]
