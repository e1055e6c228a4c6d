"""The one pure compile step: declarations in, a ``Build`` (triggers, checks) out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from .app import App
from .commands import Command, check_access
from .errors import DeclarationError
from .naming import to_snake
from .paths import PathTemplate
from .runtime import store
from .sources import SourceSpec
from .views import ViewModel, ViewSpec


@dataclass(frozen=True)
class TriggerSpec:
    """One Firestore-triggered function: keeps ``view`` in step with writes to ``source``."""

    name: str
    view: type[ViewModel]
    source: SourceSpec

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
        for source in spec.sources.__sources__.values():
            name = f"{to_snake(spec.name)}_on_{to_snake(source.model.__name__)}"
            if name in names:
                raise DeclarationError(
                    f"{view.__name__}: two sources read {source.model.__name__}; "
                    "declare each domain model once per Sources class"
                )
            names.add(name)
            triggers.append(TriggerSpec(name=name, view=view, source=source))
    _reject_loops(app, triggers)
    for view in app.views:
        if view.spec().readable_by is not None:
            check_access(view, view.spec().readable_by, view.spec().template)
    commands = _compile_commands(app, names)
    return Build(app=app, triggers=tuple(triggers), commands=commands)


def _compile_commands(app: App, names: set[str]) -> tuple[CommandTriggerSpec, ...]:
    """One trigger per command; a command must never live where domain data or a view lives."""
    occupied = {model.__name__: model.path_template() for model in app.domain}
    occupied.update({view.__name__: view.spec().template for view in app.views})
    specs = []
    for command in app.commands:
        if not (isinstance(command, type) and issubclass(command, Command)):
            raise DeclarationError(f"App.commands: {command!r} is not a Command subclass")
        template = command.spec().template
        for other, other_template in occupied.items():
            if template.overlaps(other_template):
                raise DeclarationError(
                    f"{command.__name__} ({template}) overlaps {other} ({other_template}); clients "
                    "could write there. Give the command its own collection name."
                )
        occupied[command.__name__] = template
        name = f"apply_{to_snake(command.__name__)}"
        if name in names:
            raise DeclarationError(f"{command.__name__}: a function named {name} already exists")
        names.add(name)
        specs.append(CommandTriggerSpec(name=name, command=command))
    return tuple(specs)


def _reject_loops(app: App, triggers: list[TriggerSpec]) -> None:
    """A view written where a trigger listens would re-trigger itself or another view forever."""
    for view in app.views:
        written = view.spec().template
        for trigger in triggers:
            if written.overlaps(trigger.source.template):
                raise DeclarationError(
                    f"{view.__name__} writes {written}, which {trigger.name} listens to "
                    f"({trigger.source.template}); a view must not live where a source lives. "
                    "Give the view its own collection name."
                )
    # Other places a view must not land: where commands trigger, domain documents live, or
    # boiler keeps its records (internal collections are closed to clients and unwatched).
    occupied = [(f"command {c.__name__}", c.spec().template) for c in _commands(app)]
    occupied += [(f"domain model {m.__name__}", m.path_template()) for m in app.domain]
    for view in app.views:
        written = view.spec().template
        if written.segments[0] in store.INTERNAL_COLLECTIONS:
            raise DeclarationError(
                f"{view.__name__} writes {written}, inside boiler's own {written.segments[0]}"
            )
        for what, template in occupied:
            if written.overlaps(template):
                raise DeclarationError(
                    f"{view.__name__} writes {written}, where {what} lives ({template}); "
                    "give the view its own collection name"
                )
    paths: dict[str, PathTemplate] = {}
    for view in app.views:
        template = view.spec().template
        for other_name, other in paths.items():
            if template.overlaps(other):
                raise DeclarationError(
                    f"{view.__name__} and {other_name} both write {template}; "
                    "give each view its own collection"
                )
        paths[view.__name__] = template


def _commands(app: App) -> list[type[Command]]:
    return [c for c in app.commands if isinstance(c, type) and issubclass(c, Command)]
