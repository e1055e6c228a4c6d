"""What an API path names: a view document or collection, a command collection or document.

Only views with ``readable_by`` are served (a view without one is internal, as in the rules);
domain data and boiler's bookkeeping are never resources.

>>> resources = Resources.of(compile_app(app))
>>> resources.resolve("users/u1/meetingSessions/m1")
ViewDocument(view=<class 'meeting_room.views.MeetingSession'>, ...)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..commands import Command
from ..compiler import Build
from ..paths import PathTemplate, document_id_problem
from ..views import ViewModel
from .problems import bad_request, not_found


@dataclass(frozen=True)
class ViewDocument:
    view: type[ViewModel]
    path: str
    params: dict[str, str]


@dataclass(frozen=True)
class ViewCollection:
    view: type[ViewModel]
    path: str
    params: dict[str, str]  # the collection's wildcards (not the document id)


@dataclass(frozen=True)
class CommandCollection:
    command: type[Command]
    path: str
    params: dict[str, str]


@dataclass(frozen=True)
class CommandDocument:
    command: type[Command]
    path: str
    params: dict[str, str]


Resource = ViewDocument | ViewCollection | CommandCollection | CommandDocument


@dataclass(frozen=True)
class Resources:
    """The served views and commands of one build, in declaration order."""

    views: tuple[type[ViewModel], ...]
    commands: tuple[type[Command], ...]

    @classmethod
    def of(cls, build: Build) -> Resources:
        views = tuple(view for view in build.app.views if view.spec().readable_by is not None)
        return cls(views, tuple(spec.command for spec in build.commands))

    def resolve(self, path: str) -> Resource:
        """The resource at ``path`` (no leading ``/v1/``); 404 if none, 400 for a bad id."""
        parts = path.strip("/").split("/")
        for view in self.views:
            template = view.spec().template
            if (params := _match(template, parts)) is not None:
                return ViewDocument(view, "/".join(parts), params)
            if (params := _match(template, parts, collection=True)) is not None:
                return ViewCollection(view, "/".join(parts), params)
        for command in self.commands:
            template = command.spec().template
            if (params := _match(template, parts)) is not None:
                return CommandDocument(command, "/".join(parts), params)
            if (params := _match(template, parts, collection=True)) is not None:
                return CommandCollection(command, "/".join(parts), params)
        raise not_found(
            f"nothing is served at {path!r}: the API serves the views clients may read and the "
            "commands they may create (see /openapi.json)"
        )


def _match(
    template: PathTemplate, parts: list[str], collection: bool = False
) -> dict[str, str] | None:
    segments = template.segments[:-1] if collection else template.segments
    if len(parts) != len(segments):
        return None
    params: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment.startswith("{"):
            params[segment[1:-1]] = part
        elif segment != part:
            return None
    for name, value in params.items():
        problem = document_id_problem(value)
        if problem is not None:
            raise bad_request(f"{{{name}}} must be a document id; {value!r} {problem}", "bad-id")
    return params
