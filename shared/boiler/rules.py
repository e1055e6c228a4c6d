"""``firestore.rules`` generated from the declarations: what clients may read and write.

>>> text = generate_rules(compile_app(app))
>>> "match /users/{uid}/meetingSessions/{meetingId}" in text
True

Deny by default: domain collections and boiler's own collections get no allow rule at all.
Views are readable (get, list) by the users their ``readable_by`` names, never writable.
Commands are creatable by the users ``creatable_by`` names, only in the declared shape;
readable by their creator (to watch ``status``/``reason``); never updatable or deletable.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Iterable
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .access import (
    Access,
    Anyone,
    AuthUid,
    Claim,
    Condition,
    DocumentCheck,
    FieldValue,
    PathParam,
    SignedIn,
    UidInField,
    UidInPath,
    firestore_field,
)
from .commands import RESERVED_FIELDS, Command
from .compiler import Build
from .errors import DeclarationError
from .paths import PathTemplate
from .runtime.bookkeeping import INTERNAL_COLLECTIONS

SIGNED_IN = "request.auth != null"


def literal(value: Any) -> str:
    """A Python constant as a rules literal.

    >>> literal("it's"), literal(True), literal(3)
    ("'it\\\\'s'", 'true', '3')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise DeclarationError(
        f"cannot write {value!r} ({type(value).__name__}) as a rules literal; "
        "use a string, bool, int, float or None",
        code="rules-literal",
    )


# -- access conditions ------------------------------------------------------------------------
def _id_expression(source: Any, owner: type, data: str) -> tuple[str, list[str]]:
    """The rules expression of a lookup id, and the guards that keep it one path segment."""
    if isinstance(source, PathParam):
        return source.name, []
    if isinstance(source, AuthUid):
        return "request.auth.uid", []
    if isinstance(source, FieldValue):
        expr = f"{data}.{firestore_field(owner, source.name)}"
        # A '/' in a client-chosen id would point get() at a different document.
        return expr, [f"{expr} is string", f"{expr}.matches('[^/]+')"]
    raise DeclarationError(
        f"unknown id source {source!r}; use path_param(), field_value() or auth_uid()",
        code="rules-unexpressible",
    )


def _document_path(check: DocumentCheck, owner: type, data: str) -> tuple[str, list[str]]:
    values = dict(check.ids)
    parts, guards = [], []
    for segment in check.model.path_template().segments:
        name = segment[1:-1] if segment.startswith("{") else None
        if name is None:
            parts.append(segment)
            continue
        expr, more = _id_expression(values[name], owner, data)
        parts.append(f"$({expr})")
        guards += more
    return "/databases/$(database)/documents/" + "/".join(parts), guards


def render_condition(condition: Condition, owner: type, data: str) -> list[str]:
    """One condition as rules terms to AND; ``data`` is the (requested) document's data."""
    if isinstance(condition, Anyone | SignedIn):
        return []  # sign-in is required by every alternative that is not public (below)
    if isinstance(condition, UidInPath):
        return [f"request.auth.uid == {condition.wildcard}"]
    if isinstance(condition, UidInField):
        return [f"{data}.{firestore_field(owner, condition.field)} == request.auth.uid"]
    if isinstance(condition, Claim):
        return [
            f"request.auth.token.get({literal(condition.name)}, null) == {literal(condition.value)}"
        ]
    if isinstance(condition, DocumentCheck):
        path, guards = _document_path(condition, owner, data)
        if condition.test == "exists":
            test = f"exists({path})"
        elif condition.test == "lists_uid":
            test = f"request.auth.uid in get({path}).data.{condition.field}"
        else:
            test = f"get({path}).data.{condition.field} == {literal(condition.value)}"
        return [*guards, test]
    raise DeclarationError(
        f"cannot express {condition!r} in security rules; build access from uid_in_path, "
        "uid_in_field, has_claim, signed_in, public and document(...)",
        code="rules-unexpressible",
    )


def render_access(access: Access, owner: type, data: str, sep: str = " && ") -> str:
    """Alternatives joined by ``||``, terms by ``sep``; all but public alternatives need sign-in."""
    alternatives = []
    for alternative in access.alternatives:
        terms = [] if Anyone() in alternative else [SIGNED_IN]
        for condition in alternative:
            terms += render_condition(condition, owner, data)
        alternatives.append(sep.join(dict.fromkeys(terms)) or "true")
    if not alternatives:
        return "false"
    if len(alternatives) == 1:
        return alternatives[0]
    return " || ".join(f"({a})" for a in alternatives)


# -- command shapes ---------------------------------------------------------------------------
def _constraints(expr: str, metadata: Iterable[Any]) -> list[str]:
    checks = []
    for item in metadata:
        if isinstance(item, annotated_types.MaxLen):
            checks.append(f"{expr}.size() <= {item.max_length}")
        elif isinstance(item, annotated_types.MinLen):
            checks.append(f"{expr}.size() >= {item.min_length}")
        elif isinstance(item, annotated_types.Ge):
            checks.append(f"{expr} >= {literal(item.ge)}")
        elif isinstance(item, annotated_types.Gt):
            checks.append(f"{expr} > {literal(item.gt)}")
        elif isinstance(item, annotated_types.Le):
            checks.append(f"{expr} <= {literal(item.le)}")
        elif isinstance(item, annotated_types.Lt):
            checks.append(f"{expr} < {literal(item.lt)}")
        elif getattr(item, "pattern", None):
            checks.append(f"{expr}.matches({literal(item.pattern)})")
    return checks


_TYPE_TESTS: dict[Any, str] = {
    str: "string",
    bool: "bool",
    int: "int",
    float: "number",  # strict pydantic floats accept ints too
    list: "list",
    tuple: "list",
    dict: "map",
    dt.datetime: "timestamp",
}


def type_check(expr: str, annotation: Any, metadata: Iterable[Any] = (), where: str = "") -> str:
    """A rules expression true when ``expr`` holds a value of the pydantic type ``annotation``.

    >>> type_check("data.n", int)
    'data.n is int'
    """
    metadata = list(metadata)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        extra = [
            m for item in extra for m in (item.metadata if isinstance(item, FieldInfo) else [item])
        ]
        return type_check(expr, inner, [*metadata, *extra], where)
    if origin is typing.Literal:
        return f"{expr} in [{', '.join(literal(v) for v in typing.get_args(annotation))}]"
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        checks = [type_check(expr, o, metadata, where) for o in options if o is not type(None)]
        if type(None) in options:
            checks.insert(0, f"{expr} == null")
        return "(" + " || ".join(checks) + ")"
    base = origin or annotation
    if isinstance(base, type) and issubclass(base, BaseModel):
        return f"{expr} is map"
    if base not in _TYPE_TESTS:
        raise DeclarationError(
            f"{where}: rules cannot check values of type {annotation!r}; use str, bool, int, "
            "float, Literal, list, dict, datetime or a pydantic model",
            code="rules-unsupported-type",
        )
    return " && ".join([f"{expr} is {_TYPE_TESTS[base]}", *_constraints(expr, metadata)])


def shape_function(command: type[Command]) -> str:
    """A rules function ``valid<Command>(data)``: declared keys only, required ones, typed."""
    fields = command.model_fields
    names = {name: info.alias or name for name, info in fields.items()}
    required = [names[name] for name, info in fields.items() if info.is_required()]
    lines = [f"data.keys().hasOnly([{', '.join(literal(n) for n in names.values())}])"]
    if required:
        lines.append(f"data.keys().hasAll([{', '.join(literal(n) for n in required)}])")
    for name, info in fields.items():
        alias, where = names[name], f"{command.__name__}.{name}"
        check = type_check(f"data.{alias}", info.annotation, info.metadata, where)
        lines.append(check if info.is_required() else f"(!({literal(alias)} in data) || {check})")
    body = "\n        && ".join(lines)
    return f"function valid{command.__name__}(data) {{\n      return {body};\n    }}"


# -- the file ---------------------------------------------------------------------------------
def _match(template: PathTemplate, body: list[str]) -> list[str]:
    return [f"    match /{template.text} {{", *(f"      {line}" for line in body), "    }"]


def generate_rules(build: Build) -> str:
    """The complete ``firestore.rules`` text for ``build``; a pure function of the declarations."""
    out = [
        "rules_version = '2';",
        f"// Generated by boiler from the {build.app.name!r} declarations. Do not edit:",
        f"// run `python -m boiler generate --app {build.app.name}`.",
        "service cloud.firestore {",
        "  match /databases/{database}/documents {",
    ]
    commands = [spec.command for spec in build.commands]
    for command in commands:
        out += ["    " + shape_function(command), ""]
    for view in build.app.views:
        spec = view.spec()
        if spec.readable_by is None:
            # An empty match body does not compile; deny-by-default already closes it.
            out += [
                f"    // View {spec.name} ({spec.template}): no readable_by, closed to clients.",
                "",
            ]
            continue
        out.append(
            f"    // View {spec.name}: read-only for the users it names; written by boiler alone."
        )
        out += _match(
            spec.template,
            [f"allow get, list: if {render_access(spec.readable_by, view, 'resource.data')};"],
        )
        out.append("")
    for command in commands:
        declared = command.spec()
        create = render_access(
            declared.creatable_by, command, "request.resource.data", "\n          && "
        )
        read = render_access(declared.readable_by, command, "resource.data")
        out.append(f"    // Command {declared.name}: created by clients, processed once by boiler.")
        out += _match(
            declared.template,
            [
                f"allow get, list: if {read};",
                f"allow create: if valid{declared.name}(request.resource.data)",
                f"  && ({create}",
                "  );",
                f"// update, delete: never (boiler writes {', '.join(RESERVED_FIELDS)})",
            ],
        )
        out.append("")
    domain = ", ".join(str(model.path_template()) for model in build.app.domain)
    out += [
        f"    // Closed to clients: domain data ({domain or 'none'})",
        f"    // and boiler's bookkeeping ({', '.join(INTERNAL_COLLECTIONS)}).",
        "    match /{document=**} {",
        "      allow read, write: if false;",
        "    }",
        "  }",
        "}",
        "",
    ]
    return "\n".join(out)
