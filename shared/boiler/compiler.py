"""The one pure compile step: declarations in, a ``Build`` (triggers, checks) out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from .app import App
from .errors import DeclarationError
from .naming import to_snake
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
class Build:
    """Everything derived from an ``App``."""

    app: App
    triggers: tuple[TriggerSpec, ...]

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
            raise DeclarationError(f"{view.__name__} must define `@classmethod def build(cls, data)`")
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
    return Build(app=app, triggers=tuple(triggers))


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
    paths = {}
    for view in app.views:
        template = view.spec().template
        for other_name, other in paths.items():
            if template.overlaps(other):
                raise DeclarationError(
                    f"{view.__name__} and {other_name} both write {template}; give each view its own collection"
                )
        paths[view.__name__] = template
