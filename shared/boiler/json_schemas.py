"""JSON Schemas of what clients see: the served views and the commands, from one pydantic call.

Views as stored and served (serialization mode), commands as a client may write them
(validation mode: exactly their camelCase fields, no other), under one naming of ``$defs``.
The OpenAPI document (``api/openapi.py``) and the front-end contract (``frontend_types.py``)
both start here, so they never disagree on a shape or a name::

    schemas = document_schemas(compile_app(app), ref_template="#/$defs/{model}")
    schemas.views[MeetingSession]  # 'MeetingSession', its key in schemas.defs
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .api.resources import Resources
from .commands import Command
from .compiler import Build
from .views import ViewModel


@dataclass(frozen=True)
class DocumentSchemas:
    """Each served view's and command's name in ``defs``; ``defs`` sorted by name (nested
    models included, referenced through the ``ref_template`` given)."""

    views: dict[type[ViewModel], str]
    commands: dict[type[Command], str]
    defs: dict[str, Any]


def document_schemas(build: Build, ref_template: str) -> DocumentSchemas:
    """The JSON Schemas of ``build``'s served views (those with ``readable_by``) and commands."""
    resources = Resources.of(build)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((view, "serialization") for view in resources.views),
        *((command, "validation") for command in resources.commands),
    ]
    refs, definitions = models_json_schema(models, ref_template=ref_template)

    def name(model: type[BaseModel], mode: JsonSchemaMode) -> str:
        return str(refs[(model, mode)]["$ref"]).rsplit("/", 1)[-1]

    return DocumentSchemas(
        views={view: name(view, "serialization") for view in resources.views},
        commands={command: name(command, "validation") for command in resources.commands},
        defs=dict(sorted(definitions.get("$defs", {}).items())),
    )


def description(schema: Any) -> str | None:
    """A schema's ``description`` (a model's or field's docstring), if it has a text one."""
    text = schema.get("description") if isinstance(schema, dict) else None
    return text if isinstance(text, str) else None
